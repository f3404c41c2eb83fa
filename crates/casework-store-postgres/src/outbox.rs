//! The transactional outbox: messages queued with their commit, listed, claimed by one
//! worker at a time across every server (`FOR UPDATE SKIP LOCKED`), and finished by the
//! claim's holder.

use std::borrow::Cow;

use casework_core::ids::CaseNumber;
use casework_core::model::{OutboxMessage, OutboxStatus};
use casework_core::ports::{DeliveryOutcome, OutboxAction, StoreError};
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};

use crate::db::{Ts, dec, enc, exec, get, json, jsonb, num, opt, rows};

const COLUMNS: &str =
    "status, attempts, last_error, next_attempt_at, claimed_by, claimed_until, sent_at, body, seq";

/// Adds a message with its delivery state (the column order of [`Values::params`]).
const INSERT: &str = "INSERT INTO outbox (id, case_number, status, attempts, last_error,
                                        next_attempt_at, claimed_by, claimed_until, sent_at, body)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// A message's column values, as stored.
struct Values<'a> {
    id: Cow<'a, str>,
    case: i64,
    status: &'static str,
    attempts: i32,
    last_error: Option<Cow<'a, str>>,
    next_attempt_at: Ts,
    claimed_by: Option<Cow<'a, str>>,
    claimed_until: Option<Ts>,
    sent_at: Option<Ts>,
    body: Json<serde_json::Value>,
}

impl<'a> Values<'a> {
    fn of(m: &'a OutboxMessage) -> Result<Self, StoreError> {
        Ok(Self {
            id: enc(&m.id),
            case: num(m.case),
            status: m.status.as_str(),
            attempts: i32::try_from(m.attempts).unwrap_or(i32::MAX),
            last_error: m.last_error.as_deref().map(enc),
            next_attempt_at: Ts(m.next_attempt_at),
            claimed_by: m.claimed_by.as_deref().map(enc),
            claimed_until: m.claimed_until.map(Ts),
            sent_at: m.sent_at.map(Ts),
            body: jsonb(m)?,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.id,
            &self.case,
            &self.status,
            &self.attempts,
            &self.last_error,
            &self.next_attempt_at,
            &self.claimed_by,
            &self.claimed_until,
            &self.sent_at,
            &self.body,
        ]
    }
}

/// Queues a message (inside a commit's transaction). MUST give `Duplicate` for a taken id.
pub async fn insert(c: &impl GenericClient, m: &OutboxMessage) -> Result<(), StoreError> {
    let values = Values::of(m)?;
    match exec(c, INSERT, &values.params()).await {
        Ok(_) => Ok(()),
        Err(StoreError::Duplicate(_)) => {
            Err(StoreError::Duplicate(format!("outbox message {}", m.id)))
        }
        Err(e) => Err(e),
    }
}

/// Writes an imported message: added, or, when its id is there for the same case, given
/// this delivery state. `Duplicate` when another case holds the id.
pub async fn upsert(c: &impl GenericClient, m: &OutboxMessage) -> Result<(), StoreError> {
    let values = Values::of(m)?;
    let written = opt(
        c,
        &format!(
            "{INSERT} ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 attempts = excluded.attempts, last_error = excluded.last_error,
                 next_attempt_at = excluded.next_attempt_at, claimed_by = excluded.claimed_by,
                 claimed_until = excluded.claimed_until, sent_at = excluded.sent_at
             WHERE outbox.case_number = excluded.case_number
             RETURNING 1"
        ),
        &values.params(),
    )
    .await?;
    match written {
        Some(_) => Ok(()),
        None => Err(StoreError::Duplicate(format!("outbox message {}", m.id))),
    }
}

/// A message from a row of [`COLUMNS`]: the immutable body with the current delivery state.
fn message(r: &Row) -> Result<OutboxMessage, StoreError> {
    let mut m: OutboxMessage = json(r, 7)?;
    let status: String = get(r, 0)?;
    m.status = status
        .parse::<OutboxStatus>()
        .map_err(|_| StoreError::Internal(format!("bad outbox status {status}")))?;
    m.attempts = u32::try_from(get::<i32>(r, 1)?).unwrap_or(0);
    m.last_error = get::<Option<String>>(r, 2)?.map(dec);
    m.next_attempt_at = get::<Ts>(r, 3)?.0;
    m.claimed_by = get::<Option<String>>(r, 4)?.map(dec);
    m.claimed_until = get::<Option<Ts>>(r, 5)?.map(|t| t.0);
    m.sent_at = get::<Option<Ts>>(r, 6)?.map(|t| t.0);
    Ok(m)
}

/// Outbox messages, oldest first.
pub async fn list(
    c: &impl GenericClient,
    status: Option<OutboxStatus>,
    limit: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let found = rows(
        c,
        &format!(
            "SELECT {COLUMNS} FROM outbox WHERE ($1::text IS NULL OR status = $1)
             ORDER BY seq LIMIT $2"
        ),
        &[&status.map(|s| s.as_str()), &i64::from(limit)],
    )
    .await?;
    found.iter().map(message).collect()
}

/// One case's messages, oldest first.
pub async fn for_case(
    c: &impl GenericClient,
    case: CaseNumber,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let found = rows(
        c,
        &format!("SELECT {COLUMNS} FROM outbox WHERE case_number = $1 ORDER BY seq"),
        &[&num(case)],
    )
    .await?;
    found.iter().map(message).collect()
}

/// Claims due messages whose claim is free or lapsed. Rows another worker is claiming right
/// now are skipped, not waited for, and a claim committed meanwhile is seen (the row is
/// re-checked after it is locked): two workers never hold one message.
pub async fn claim(
    c: &impl GenericClient,
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let found = rows(
        c,
        &format!(
            "UPDATE outbox SET claimed_by = $2, claimed_until = $3
             WHERE seq IN (
                 SELECT seq FROM outbox
                 WHERE status = 'queued' AND next_attempt_at <= $1
                   AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY seq LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        ),
        &[&Ts(now), &enc(worker), &Ts(until), &i64::from(limit)],
    )
    .await?;
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        out.push((get::<i64>(r, 8)?, message(r)?));
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

/// Records a delivery attempt by the claim's holder and releases the claim, in one
/// statement that only matches while `worker` holds it.
pub async fn finish(
    c: &impl GenericClient,
    id: &str,
    worker: &str,
    now: Timestamp,
    outcome: &DeliveryOutcome,
) -> Result<OutboxMessage, StoreError> {
    let (status, error, next, sent) = match outcome {
        DeliveryOutcome::Sent => (OutboxStatus::Sent, None, None, Some(Ts(now))),
        DeliveryOutcome::Retry { error, at } => {
            (OutboxStatus::Queued, Some(enc(error)), Some(Ts(*at)), None)
        }
        DeliveryOutcome::Failed { error } => (OutboxStatus::Failed, Some(enc(error)), None, None),
    };
    let done = opt(
        c,
        &format!(
            "UPDATE outbox SET status = $3, attempts = attempts + 1,
                               last_error = COALESCE($4, last_error),
                               next_attempt_at = COALESCE($5, next_attempt_at),
                               claimed_by = NULL, claimed_until = NULL, sent_at = $6
             WHERE id = $1 AND claimed_by = $2 AND status = 'queued'
             RETURNING {COLUMNS}"
        ),
        &[
            &enc(id),
            &enc(worker),
            &status.as_str(),
            &error,
            &next,
            &sent,
        ],
    )
    .await?;
    match done {
        Some(r) => message(&r),
        None => {
            let exists = opt(c, "SELECT 1 FROM outbox WHERE id = $1", &[&enc(id)]).await?;
            Err(match exists {
                None => StoreError::NotFound(format!("outbox message {id}")),
                Some(_) => StoreError::ClaimLost(id.to_string()),
            })
        }
    }
}

/// Marks a message failed because a bounce came back for it, whatever its status, and
/// releases any claim on it.
pub async fn bounced(
    c: &impl GenericClient,
    id: &str,
    error: &str,
) -> Result<OutboxMessage, StoreError> {
    let done = opt(
        c,
        &format!(
            "UPDATE outbox SET status = 'failed', last_error = $2,
                               claimed_by = NULL, claimed_until = NULL
             WHERE id = $1
             RETURNING {COLUMNS}"
        ),
        &[&enc(id), &enc(error)],
    )
    .await?;
    match done {
        Some(r) => message(&r),
        None => Err(StoreError::NotFound(format!("outbox message {id}"))),
    }
}

/// Retries or cancels a message, as one conditional update: only when its status is one the
/// action applies to and no live claim holds it. When nothing matched, the message as it is
/// says why.
pub async fn act(
    c: &impl GenericClient,
    id: &str,
    action: OutboxAction,
    now: Timestamp,
) -> Result<OutboxMessage, StoreError> {
    let from: Vec<&str> = action.applies_to().iter().map(|s| s.as_str()).collect();
    let retry = action == OutboxAction::Retry;
    let done = opt(
        c,
        &format!(
            "UPDATE outbox SET status = $4,
                               attempts = CASE WHEN $5 THEN 0 ELSE attempts END,
                               next_attempt_at = CASE WHEN $5 THEN $3 ELSE next_attempt_at END,
                               claimed_by = NULL, claimed_until = NULL
             WHERE id = $1 AND status = ANY($2)
               AND (claimed_until IS NULL OR claimed_until <= $3)
             RETURNING {COLUMNS}"
        ),
        &[
            &enc(id),
            &from,
            &Ts(now),
            &action.status_after().as_str(),
            &retry,
        ],
    )
    .await?;
    if let Some(r) = done {
        return message(&r);
    }
    let found = opt(
        c,
        &format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"),
        &[&enc(id)],
    )
    .await?;
    match found {
        None => Err(StoreError::NotFound(format!("outbox message {id}"))),
        Some(r) => {
            let m = message(&r)?;
            // the update matched nothing, so the message did not qualify; should it have
            // changed since, say so rather than guess
            let why = action.refused(&m, now).unwrap_or_else(|| {
                format!("outbox message {id} changed while it was being updated; try again")
            });
            Err(StoreError::Invalid(why))
        }
    }
}
