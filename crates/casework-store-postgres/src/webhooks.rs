//! Webhooks on PostgreSQL: endpoints and deliveries, each stored whole as `jsonb` beside the
//! columns the claim query reads. `feed::append` writes an event's deliveries right after
//! giving it its position, in the commit's transaction; claims take rows with `FOR UPDATE
//! SKIP LOCKED`, so two workers on any servers never hold one delivery.

use casework_core::event::Event;
use casework_core::ports::{DeliveryOutcome, StoreError};
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint, fan_out};
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use crate::db::{Ts, big, enc, exec, json, jsonb, num, opt, rows};

/// Writes the deliveries the appended events (position, case, seq) make for the live
/// endpoints; reads nothing more when there is no endpoint.
pub async fn fan_out_appended(
    c: &impl GenericClient,
    appended: &[(i64, i64, i64)],
) -> Result<(), StoreError> {
    let endpoints: Vec<WebhookEndpoint> = rows(
        c,
        "SELECT body FROM webhook_endpoints WHERE removed_at IS NULL ORDER BY seq",
        &[],
    )
    .await?
    .iter()
    .map(|r| json(r, 0))
    .collect::<Result<_, _>>()?;
    if endpoints.is_empty() {
        return Ok(());
    }
    for (position, n, seq) in appended {
        let row = opt(
            c,
            "SELECT body FROM events WHERE case_number = $1 AND seq = $2",
            &[n, seq],
        )
        .await?
        .ok_or_else(|| StoreError::Internal(format!("feed names event {seq} of case {n}")))?;
        let event: Event = json(&row, 0)?;
        let position = u64::try_from(*position)
            .map_err(|_| StoreError::Internal(format!("feed position {position}")))?;
        for d in fan_out(&endpoints, position, &event) {
            exec(
                c,
                "INSERT INTO webhook_deliveries
                   (id, endpoint, case_number, position, status, next_attempt_at, claimed_until, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &enc(&d.id),
                    &enc(&d.endpoint),
                    &num(d.case),
                    &big(d.position),
                    &d.status.as_str(),
                    &Ts(d.next_attempt_at),
                    &d.claimed_until.map(Ts),
                    &jsonb(&d)?,
                ],
            )
            .await?;
        }
    }
    Ok(())
}

async fn update(c: &impl GenericClient, d: &WebhookDelivery) -> Result<(), StoreError> {
    exec(
        c,
        "UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3, claimed_until = $4,
                body = $5
         WHERE id = $1",
        &[
            &enc(&d.id),
            &d.status.as_str(),
            &Ts(d.next_attempt_at),
            &d.claimed_until.map(Ts),
            &jsonb(d)?,
        ],
    )
    .await?;
    Ok(())
}

async fn endpoint(c: &impl GenericClient, id: &str) -> Result<WebhookEndpoint, StoreError> {
    let row = opt(
        c,
        "SELECT body FROM webhook_endpoints WHERE id = $1",
        &[&enc(id)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
    json(&row, 0)
}

/// A delivery, its row locked until the transaction ends.
async fn delivery_for_update(
    c: &impl GenericClient,
    id: &str,
) -> Result<WebhookDelivery, StoreError> {
    let row = opt(
        c,
        "SELECT body FROM webhook_deliveries WHERE id = $1 FOR UPDATE",
        &[&enc(id)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))?;
    json(&row, 0)
}

/// Registers an endpoint.
pub async fn add(c: &impl GenericClient, e: &WebhookEndpoint) -> Result<(), StoreError> {
    let inserted = exec(
        c,
        "INSERT INTO webhook_endpoints (id, removed_at, body) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
        &[&enc(&e.id), &e.removed_at.map(Ts), &jsonb(e)?],
    )
    .await?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!("webhook {}", e.id)));
    }
    Ok(())
}

/// Every endpoint, oldest first.
pub async fn list(c: &impl GenericClient) -> Result<Vec<WebhookEndpoint>, StoreError> {
    rows(c, "SELECT body FROM webhook_endpoints ORDER BY seq", &[])
        .await?
        .iter()
        .map(|r| json(r, 0))
        .collect()
}

/// Removes an endpoint (once).
pub async fn remove(
    c: &impl GenericClient,
    id: &str,
    at: Timestamp,
) -> Result<WebhookEndpoint, StoreError> {
    let mut e = endpoint(c, id).await?;
    if e.removed_at.is_none() {
        e.removed_at = Some(at);
        // a concurrent removal keeps the first time
        exec(
            c,
            "UPDATE webhook_endpoints SET removed_at = $2, body = $3
             WHERE id = $1 AND removed_at IS NULL",
            &[&enc(id), &Ts(at), &jsonb(&e)?],
        )
        .await?;
        e = endpoint(c, id).await?;
    }
    Ok(e)
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    c: &impl GenericClient,
    id: &str,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    endpoint(c, id).await?;
    rows(
        c,
        "SELECT body FROM webhook_deliveries WHERE endpoint = $1 ORDER BY seq DESC LIMIT $2",
        &[&enc(id), &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| json(r, 0))
    .collect()
}

/// Claims due deliveries, each the first queued one of its endpoint and case.
pub async fn claim(
    client: &mut deadpool_postgres::Client,
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let tx = client.transaction().await.map_err(crate::db::db_err)?;
    let due = rows(
        &tx,
        "SELECT d.body FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.id = d.endpoint AND e.removed_at IS NULL
          WHERE d.status = 'queued' AND d.next_attempt_at <= $1
            AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                             WHERE p.endpoint = d.endpoint AND p.case_number = d.case_number
                               AND p.status = 'queued' AND p.position < d.position)
          ORDER BY d.seq LIMIT $2
          FOR UPDATE OF d SKIP LOCKED",
        &[&Ts(now), &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(due.len());
    for row in &due {
        let mut d: WebhookDelivery = json(row, 0)?;
        d.claim(worker, until);
        update(&tx, &d).await?;
        out.push(d);
    }
    tx.commit().await.map_err(crate::db::db_err)?;
    Ok(out)
}

/// Records an attempt by the claim holder.
pub async fn finish(
    client: &mut deadpool_postgres::Client,
    id: &str,
    worker: &str,
    now: Timestamp,
    outcome: DeliveryOutcome,
    response_status: Option<u16>,
) -> Result<WebhookDelivery, StoreError> {
    let tx = client.transaction().await.map_err(crate::db::db_err)?;
    let mut d = delivery_for_update(&tx, id).await?;
    d.record(worker, now, outcome, response_status)?;
    update(&tx, &d).await?;
    tx.commit().await.map_err(crate::db::db_err)?;
    Ok(d)
}

/// Queues a delivery again.
pub async fn redeliver(
    client: &mut deadpool_postgres::Client,
    id: &str,
    now: Timestamp,
) -> Result<WebhookDelivery, StoreError> {
    let tx = client.transaction().await.map_err(crate::db::db_err)?;
    let mut d = delivery_for_update(&tx, id).await?;
    d.requeue(now);
    update(&tx, &d).await?;
    tx.commit().await.map_err(crate::db::db_err)?;
    Ok(d)
}
