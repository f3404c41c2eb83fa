//! Webhooks on SQLite: endpoints and deliveries, each stored whole as JSON beside the
//! columns the claim query reads. Deliveries are inserted by `sql::insert_events`, in the
//! writer's transaction, right after each event's feed row; claims and outcomes go through
//! the writer, so two workers never hold one delivery.

use casework_core::event::Event;
use casework_core::ports::{DeliveryOutcome, StoreError};
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint, fan_out};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use crate::sql::{json_err, json_rows, map_err, micros, to_json};

/// The endpoints that receive new events, oldest first.
pub fn live_endpoints(conn: &Connection) -> Result<Vec<WebhookEndpoint>, StoreError> {
    json_rows(
        conn,
        "SELECT body FROM webhook_endpoints WHERE removed_at IS NULL ORDER BY seq",
        [],
    )
}

/// Writes the deliveries the event at `position` makes for `endpoints`.
pub fn fan_out_event(
    conn: &Connection,
    endpoints: &[WebhookEndpoint],
    position: i64,
    event: &Event,
) -> Result<(), StoreError> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let position = u64::try_from(position)
        .map_err(|_| StoreError::Internal(format!("feed position {position}")))?;
    for d in fan_out(endpoints, position, event) {
        insert_delivery(conn, &d)?;
    }
    Ok(())
}

fn insert_delivery(conn: &Connection, d: &WebhookDelivery) -> Result<(), StoreError> {
    let body = to_json(d)?;
    conn.prepare_cached(
        "INSERT INTO webhook_deliveries
           (id, endpoint, case_number, position, status, next_attempt_at, claimed_until, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            d.id,
            d.endpoint,
            d.case.get() as i64,
            d.position as i64,
            d.status.as_str(),
            micros(d.next_attempt_at),
            d.claimed_until.map(micros),
            body
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

fn update_delivery(conn: &Connection, d: &WebhookDelivery) -> Result<(), StoreError> {
    let body = to_json(d)?;
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET status = ?2, next_attempt_at = ?3, claimed_until = ?4,
                body = ?5
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            d.id,
            d.status.as_str(),
            micros(d.next_attempt_at),
            d.claimed_until.map(micros),
            body
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

fn endpoint(conn: &Connection, id: &str) -> Result<WebhookEndpoint, StoreError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM webhook_endpoints WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(map_err)?;
    let body = body.ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))?;
    serde_json::from_str(&body).map_err(json_err)
}

fn delivery(conn: &Connection, id: &str) -> Result<WebhookDelivery, StoreError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM webhook_deliveries WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(map_err)?;
    let body = body.ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))?;
    serde_json::from_str(&body).map_err(json_err)
}

/// Registers an endpoint.
pub fn add(conn: &Connection, e: &WebhookEndpoint) -> Result<(), StoreError> {
    let taken: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM webhook_endpoints WHERE id = ?1")
        .and_then(|mut s| s.query_row([&e.id], |r| r.get(0)).optional())
        .map_err(map_err)?;
    if taken.is_some() {
        return Err(StoreError::Duplicate(format!("webhook {}", e.id)));
    }
    let body = to_json(e)?;
    conn.prepare_cached("INSERT INTO webhook_endpoints (id, removed_at, body) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![e.id, e.removed_at.map(micros), body]))
        .map_err(map_err)?;
    Ok(())
}

/// Every endpoint, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<WebhookEndpoint>, StoreError> {
    json_rows(conn, "SELECT body FROM webhook_endpoints ORDER BY seq", [])
}

/// Removes an endpoint (once).
pub fn remove(conn: &Connection, id: &str, at: Timestamp) -> Result<WebhookEndpoint, StoreError> {
    let mut e = endpoint(conn, id)?;
    if e.removed_at.is_none() {
        e.removed_at = Some(at);
        let body = to_json(&e)?;
        conn.prepare_cached(
            "UPDATE webhook_endpoints SET removed_at = ?2, body = ?3 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, micros(at), body]))
        .map_err(map_err)?;
    }
    Ok(e)
}

/// An endpoint's deliveries, newest first.
pub fn deliveries(
    conn: &Connection,
    id: &str,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    endpoint(conn, id)?;
    json_rows(
        conn,
        "SELECT body FROM webhook_deliveries WHERE endpoint = ?1 ORDER BY seq DESC LIMIT ?2",
        params![id, i64::from(limit)],
    )
}

/// Claims due deliveries, each the first queued one of its endpoint and case.
pub fn claim(
    conn: &Connection,
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let due: Vec<WebhookDelivery> = json_rows(
        conn,
        "SELECT d.body FROM webhook_deliveries d
           JOIN webhook_endpoints e ON e.id = d.endpoint AND e.removed_at IS NULL
          WHERE d.status = 'queued' AND d.next_attempt_at <= ?1
            AND (d.claimed_until IS NULL OR d.claimed_until <= ?1)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                             WHERE p.endpoint = d.endpoint AND p.case_number = d.case_number
                               AND p.status = 'queued' AND p.position < d.position)
          ORDER BY d.seq LIMIT ?2",
        params![micros(now), i64::from(limit)],
    )?;
    let mut out = Vec::with_capacity(due.len());
    for mut d in due {
        d.claim(worker, until);
        update_delivery(conn, &d)?;
        out.push(d);
    }
    Ok(out)
}

/// Records an attempt by the claim holder.
pub fn finish(
    conn: &Connection,
    id: &str,
    worker: &str,
    now: Timestamp,
    outcome: DeliveryOutcome,
    response_status: Option<u16>,
) -> Result<WebhookDelivery, StoreError> {
    let mut d = delivery(conn, id)?;
    d.record(worker, now, outcome, response_status)?;
    update_delivery(conn, &d)?;
    Ok(d)
}

/// Queues a delivery again.
pub fn redeliver(
    conn: &Connection,
    id: &str,
    now: Timestamp,
) -> Result<WebhookDelivery, StoreError> {
    let mut d = delivery(conn, id)?;
    d.requeue(now);
    update_delivery(conn, &d)?;
    Ok(d)
}
