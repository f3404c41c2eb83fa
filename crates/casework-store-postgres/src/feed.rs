//! The change feed on PostgreSQL: positions that become visible in position order.
//!
//! Positions come from a sequence. Were they taken anywhere in a transaction, two commits
//! in flight could become visible out of position order, and a consumer past the higher
//! one would skip the lower one for good. So a transaction takes its positions last, just
//! before it commits, under an advisory lock that it holds until the commit ends: the next
//! writer takes its positions only after this one is committed (or rolled back), so every
//! position below a visible one is already visible or never will be, on every server. The
//! price: commits pass the lock one at a time for their last statement and their commit.

use casework_core::ids::EmailAddress;
use casework_core::ports::{FeedEntry, StoreError};
use deadpool_postgres::{GenericClient, Transaction};

use crate::db::{enc, exec, get, json, rows};
use crate::schema;

/// The advisory lock held from taking positions until the commit.
const FEED_LOCK: i64 = schema::LOCK_KEY + 2;

/// Gives the events appended in `tx` (each case's number and its events' seqs) their
/// positions, in that order. Call it last, right before the commit: it takes the lock the
/// commit releases. Writes the events' webhook deliveries too.
pub async fn append(tx: &Transaction<'_>, appended: &[(i64, Vec<i64>)]) -> Result<(), StoreError> {
    let (numbers, seqs): (Vec<i64>, Vec<i64>) = appended
        .iter()
        .flat_map(|(n, seqs)| seqs.iter().map(move |s| (*n, *s)))
        .unzip();
    if seqs.is_empty() {
        return Ok(());
    }
    exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK]).await?;
    let positioned = rows(
        tx,
        "INSERT INTO feed (position, case_number, seq)
         SELECT nextval('feed_positions'), n, s
         FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u(n, s, i) ORDER BY i
         RETURNING position, case_number, seq",
        &[&numbers, &seqs],
    )
    .await?
    .iter()
    .map(|r| Ok((get::<i64>(r, 0)?, get::<i64>(r, 1)?, get::<i64>(r, 2)?)))
    .collect::<Result<Vec<_>, StoreError>>()?;
    // the events' webhook deliveries, in the same transaction
    crate::webhooks::fan_out_appended(tx, &positioned).await
}

/// Up to `limit` events after `after` in position order; with `customer`, only the events
/// of that customer's cases.
pub async fn feed(
    c: &impl GenericClient,
    after: u64,
    limit: u32,
    customer: Option<&EmailAddress>,
) -> Result<Vec<FeedEntry>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::from(limit);
    let found = match customer {
        None => {
            rows(
                c,
                "SELECT f.position, e.body FROM feed f
                 JOIN events e ON e.case_number = f.case_number AND e.seq = f.seq
                 WHERE f.position > $1 ORDER BY f.position LIMIT $2",
                &[&after, &limit],
            )
            .await?
        }
        Some(email) => {
            rows(
                c,
                "SELECT f.position, e.body FROM feed f
                 JOIN cases k ON k.number = f.case_number
                 JOIN events e ON e.case_number = f.case_number AND e.seq = f.seq
                 WHERE f.position > $1 AND k.customer_email = $3
                 ORDER BY f.position LIMIT $2",
                &[&after, &limit, &enc(email.as_str())],
            )
            .await?
        }
    };
    found
        .iter()
        .map(|r| {
            let position = get::<i64>(r, 0)?;
            Ok(FeedEntry {
                position: u64::try_from(position)
                    .map_err(|_| StoreError::Internal(format!("feed position {position}")))?,
                event: json(r, 1)?,
            })
        })
        .collect()
}
