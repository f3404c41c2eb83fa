//! Quarantine: refused inbound messages, their bytes in `bytea`, listed oldest first.

use casework_core::ports::{QuarantineEntry, QuarantinedMessage, StoreError};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::db::{Ts, dec, enc, exec, get, opt, rows};

const COLUMNS: &str = "id, received_at, source, reason, raw";

fn message(r: &Row) -> Result<QuarantinedMessage, StoreError> {
    Ok(QuarantinedMessage {
        id: dec(get(r, 0)?),
        received_at: get::<Ts>(r, 1)?.0,
        source: dec(get(r, 2)?),
        reason: dec(get(r, 3)?),
        raw: get(r, 4)?,
    })
}

/// Keeps a refused message; `Duplicate` when its id is taken.
pub async fn put(c: &impl GenericClient, m: &QuarantinedMessage) -> Result<(), StoreError> {
    exec(
        c,
        "INSERT INTO quarantine (id, received_at, source, reason, raw) VALUES ($1, $2, $3, $4, $5)",
        &[
            &enc(&m.id),
            &Ts(m.received_at),
            &enc(&m.source),
            &enc(&m.reason),
            &m.raw,
        ],
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate(_) => StoreError::Duplicate(format!("quarantined message {}", m.id)),
        other => other,
    })?;
    Ok(())
}

/// Up to `limit` kept messages without their bytes, oldest first.
pub async fn list(c: &impl GenericClient, limit: u32) -> Result<Vec<QuarantineEntry>, StoreError> {
    rows(
        c,
        "SELECT id, received_at, source, reason, octet_length(raw)::bigint FROM quarantine \
         ORDER BY received_at, id LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(QuarantineEntry {
            id: dec(get(r, 0)?),
            received_at: get::<Ts>(r, 1)?.0,
            source: dec(get(r, 2)?),
            reason: dec(get(r, 3)?),
            size: u64::try_from(get::<i64>(r, 4)?).unwrap_or(0),
        })
    })
    .collect()
}

/// One kept message; `NotFound` when there is none.
pub async fn get_one(c: &impl GenericClient, id: &str) -> Result<QuarantinedMessage, StoreError> {
    let row = opt(
        c,
        &format!("SELECT {COLUMNS} FROM quarantine WHERE id = $1"),
        &[&enc(id)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("quarantined message {id}")))?;
    message(&row)
}

/// Removes a kept message; `NotFound` when there is none.
pub async fn remove(c: &impl GenericClient, id: &str) -> Result<(), StoreError> {
    let n = exec(c, "DELETE FROM quarantine WHERE id = $1", &[&enc(id)]).await?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("quarantined message {id}")));
    }
    Ok(())
}
