//! Quarantine: refused inbound messages, their bytes in `bytea`, listed oldest first; and
//! how far each IMAP mailbox has been read.

use casework_core::ports::{
    MailboxPosition, QuarantineAfter, QuarantineEntry, QuarantinedMessage, StoreError,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::db::{Ts, dec, enc, exec, get, one, opt, rows};

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

/// Up to `limit` kept messages without their bytes, oldest first, after `after`.
pub async fn list(
    c: &impl GenericClient,
    after: Option<&QuarantineAfter>,
    limit: u32,
) -> Result<Vec<QuarantineEntry>, StoreError> {
    let limit = i64::from(limit);
    let found = match after {
        None => {
            rows(
                c,
                "SELECT id, received_at, source, reason, octet_length(raw)::bigint \
                 FROM quarantine ORDER BY received_at, id LIMIT $1",
                &[&limit],
            )
            .await?
        }
        Some(a) => {
            rows(
                c,
                "SELECT id, received_at, source, reason, octet_length(raw)::bigint \
                 FROM quarantine WHERE (received_at, id) > ($1, $2) \
                 ORDER BY received_at, id LIMIT $3",
                &[&Ts(a.received_at), &enc(&a.id), &limit],
            )
            .await?
        }
    };
    found
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

/// The saved position of an IMAP mailbox (kept beside the quarantine: both are what the
/// inbound pipeline keeps of mail it has not made cases of).
pub async fn mailbox_position(
    c: &impl GenericClient,
    mailbox: &str,
) -> Result<Option<MailboxPosition>, StoreError> {
    opt(
        c,
        "SELECT uid_validity, last_uid FROM mailbox_positions WHERE mailbox = $1",
        &[&enc(mailbox)],
    )
    .await?
    .map(|r| position_of(&r))
    .transpose()
}

/// Saves a mailbox position by `MailboxPositions`' rule (never back under one UIDVALIDITY),
/// in one statement, and returns what is saved.
pub async fn advance_mailbox_position(
    c: &impl GenericClient,
    mailbox: &str,
    p: MailboxPosition,
) -> Result<MailboxPosition, StoreError> {
    let row = one(
        c,
        "INSERT INTO mailbox_positions AS m (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)
         ON CONFLICT (mailbox) DO UPDATE SET
             last_uid = CASE WHEN m.uid_validity = excluded.uid_validity
                             THEN GREATEST(m.last_uid, excluded.last_uid)
                             ELSE excluded.last_uid END,
             uid_validity = excluded.uid_validity
         RETURNING uid_validity, last_uid",
        &[
            &enc(mailbox),
            &i64::from(p.uid_validity),
            &i64::from(p.last_uid),
        ],
    )
    .await?;
    position_of(&row)
}

fn position_of(r: &Row) -> Result<MailboxPosition, StoreError> {
    let (validity, last): (i64, i64) = (get(r, 0)?, get(r, 1)?);
    let bad = || StoreError::Internal(format!("stored mailbox position {validity}/{last}"));
    Ok(MailboxPosition {
        uid_validity: u32::try_from(validity).map_err(|_| bad())?,
        last_uid: u32::try_from(last).map_err(|_| bad())?,
    })
}
