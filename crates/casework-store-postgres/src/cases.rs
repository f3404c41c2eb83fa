//! The case log: creating cases (once per idempotency key), loading them, committing events
//! with a version-checked `UPDATE`, and everything derived from events (report rows, search
//! rows) written in the same transaction.

use casework_core::event::{Event, EventKind, Opened, replay};
use casework_core::ids::CaseNumber;
use casework_core::model::{Case, Field, OutboxMessage, Visibility};
use casework_core::ports::{
    CaseRecord, Commit, Created, Imported, StoreError, check_record, key_reused, plan_import,
    priority_rank, updated_key,
};
use casework_core::report;
use deadpool_postgres::{GenericClient, Transaction};
use jiff::Timestamp;

use crate::db::{big, db_err, dec, enc, exec, get, json, jsonb, num, one, opt, rows};
use crate::schema;
use crate::text::{Weight, tsvector};

/// Writes a case's row: a new one (`expected` is `None`; with the moment after which lists
/// may show it), or the new state of an existing one still at version `expected`. The number
/// of rows written.
async fn write_case_row(
    tx: &Transaction<'_>,
    case: &Case,
    expected: Option<u64>,
) -> Result<u64, StoreError> {
    let sql = if expected.is_none() {
        "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                            product_area, primary_resolution, reopen_count, state,
                            updated_us, priority_rank, settled_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                 pg_current_xact_id())"
    } else {
        "UPDATE cases SET version = $2, status = $3, status_category = $4, owner = $5,
                          customer_email = $6, product_area = $7, primary_resolution = $8,
                          reopen_count = $9, state = $10, updated_us = $11, priority_rank = $12
         WHERE number = $1 AND version = $13"
    };
    let reopens = i32::try_from(case.reopen_count).unwrap_or(i32::MAX);
    let primary = case.resolution.as_ref().map(|r| enc(&r.primary));
    let state = jsonb(case)?;
    let owner = case.owner.as_deref().map(enc);
    let area = case.category.product_area.as_deref().map(enc);
    let expected = expected.map(big);
    let updated = updated_key(case.updated_at);
    let rank = priority_rank(case.priority);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
        &num(case.number),
        &big(case.version),
        &enc(case.status.as_str()),
        &case.status_category.as_str(),
        &owner,
        &enc(case.customer.email.as_str()),
        &area,
        &primary,
        &reopens,
        &state,
        &updated,
        &rank,
        &expected,
    ];
    let params = if expected.is_some() {
        &params[..]
    } else {
        &params[..12]
    };
    exec(tx, sql, params).await
}

/// Appends events and what derives from them: report rows, search rows. `before` is the
/// case's state before the events (`None` for a new case); report rows need the state
/// right after each closure.
async fn append_events(
    tx: &Transaction<'_>,
    case: &Case,
    before: Option<Case>,
    events: &[Event],
) -> Result<(), StoreError> {
    let number = num(case.number);
    let seqs: Vec<i64> = events.iter().map(|e| big(e.seq)).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    let bodies = events.iter().map(jsonb).collect::<Result<Vec<_>, _>>()?;
    exec(
        tx,
        "INSERT INTO events (case_number, seq, kind, body)
         SELECT $1, s, k, b FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS u(s, k, b)",
        &[&number, &seqs, &kinds, &bodies],
    )
    .await?;
    let reports = events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Closed { .. } | EventKind::Reopened { .. }
        )
    });
    if reports {
        let facts =
            report::facts(before, events).map_err(|e| StoreError::Invalid(e.to_string()))?;
        for f in facts {
            crate::reports::record_fact(tx, number, f).await?;
        }
    }
    let (mut public, mut internal) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for e in events {
        if let Some((vis, text)) = e.text() {
            let side = if vis == Visibility::Customer {
                &mut public
            } else {
                &mut internal
            };
            side.0.push(big(e.seq));
            side.1.push(tsvector(&[(text, Weight::Body)]));
        }
    }
    if !public.0.is_empty() {
        exec(
            tx,
            "INSERT INTO search_public (kind, doc, seq, customer, tsv)
             SELECT 'case', $1, s, $2, t::tsvector FROM unnest($3::bigint[], $4::text[]) AS u(s, t)",
            &[&number, &enc(case.customer.email.as_str()), &public.0, &public.1],
        )
        .await?;
    }
    if !internal.0.is_empty() {
        exec(
            tx,
            "INSERT INTO search_internal (kind, doc, seq, tsv)
             SELECT 'case', $1, s, t::tsvector FROM unnest($2::bigint[], $3::text[]) AS u(s, t)",
            &[&number, &internal.0, &internal.1],
        )
        .await?;
    }
    Ok(())
}

/// Indexes a case's title and description (search row 0), new or replaced.
async fn index_title(tx: &Transaction<'_>, case: &Case) -> Result<(), StoreError> {
    let tsv = tsvector(&[
        (&case.title, Weight::Title),
        (&case.description, Weight::Body),
    ]);
    exec(
        tx,
        "INSERT INTO search_public (kind, doc, seq, customer, tsv)
         VALUES ('case', $1, 0, $2, $3::text::tsvector)
         ON CONFLICT (kind, doc, seq) DO UPDATE SET tsv = excluded.tsv, normalized = true",
        &[&num(case.number), &enc(case.customer.email.as_str()), &tsv],
    )
    .await?;
    Ok(())
}

/// The advisory lock under which a transaction takes its id and a case number.
const NUMBER_LOCK: i64 = schema::LOCK_KEY + 1;

/// Takes the next case number inside `tx`. Creates take their transaction ids and their
/// numbers in the same order: both are taken under a lock held only while these statements
/// run on the server (an advisory lock inside a savepoint rolled back at once, which
/// releases the lock and keeps the id and the number; one round trip, and any failure
/// rolls the lock back with the transaction). So once a case's transaction id is older
/// than every transaction still running, no lower number can appear any more: lists use
/// that to never skip a case (see `queries::list_cases`).
async fn take_number(tx: &Transaction<'_>) -> Result<CaseNumber, StoreError> {
    let replies = tx
        .simple_query(&format!(
            "SAVEPOINT casework_number;
             SELECT pg_advisory_xact_lock({NUMBER_LOCK});
             SELECT nextval('case_numbers'), pg_current_xact_id();
             ROLLBACK TO SAVEPOINT casework_number"
        ))
        .await
        .map_err(db_err)?;
    let number = replies
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) if r.len() == 2 => r.get(0),
            _ => None,
        })
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| StoreError::Internal("nextval gave no number".into()))?;
    crate::db::number_of(number)
}

/// Opens a case inside `tx` with the next number, queuing its notices, numbered.
async fn open_in(
    tx: &Transaction<'_>,
    at: Timestamp,
    actor: String,
    opened: Opened,
    mut outbox: Vec<OutboxMessage>,
) -> Result<Case, StoreError> {
    let event = opened.event(take_number(tx).await?, at, actor);
    let case = replay([&event]).map_err(|e| StoreError::Invalid(e.to_string()))?;
    write_case_row(tx, &case, None).await?;
    append_events(tx, &case, None, std::slice::from_ref(&event)).await?;
    index_title(tx, &case).await?;
    casework_core::workflow::notify::number_notices(&mut outbox, case.number);
    for m in &outbox {
        crate::outbox::insert(tx, m).await?;
    }
    Ok(case)
}

/// Opens a case with the next number.
pub async fn create_case(
    client: &mut deadpool_postgres::Client,
    at: Timestamp,
    actor: String,
    opened: Opened,
    outbox: Vec<OutboxMessage>,
) -> Result<Case, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    let case = open_in(&tx, at, actor, opened, outbox).await?;
    crate::feed::append(&tx, &[(num(case.number), vec![1])]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(case)
}

/// Opens a case at most once per idempotency key: the key's row is claimed first, so a
/// concurrent call with the same key (on any server) waits for this transaction and then
/// finds the key taken.
pub async fn create_case_once(
    client: &mut deadpool_postgres::Client,
    key: &str,
    fingerprint: &str,
    at: Timestamp,
    actor: String,
    opened: Opened,
    outbox: Vec<OutboxMessage>,
) -> Result<Created, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    let claimed = opt(
        &tx,
        "INSERT INTO idempotency (key, fingerprint) VALUES ($1, $2)
         ON CONFLICT (key) DO NOTHING RETURNING key",
        &[&enc(key), &enc(fingerprint)],
    )
    .await?;
    if claimed.is_none() {
        let row = one(
            &tx,
            "SELECT i.fingerprint, e.body FROM idempotency i
             JOIN events e ON e.case_number = i.case_number AND e.seq = 1
             WHERE i.key = $1",
            &[&enc(key)],
        )
        .await?;
        let known = dec(get(&row, 0)?);
        if known != fingerprint {
            return Err(key_reused(key));
        }
        let first: Event = json(&row, 1)?;
        let case = replay([&first]).map_err(|e| StoreError::Internal(e.to_string()))?;
        return Ok(Created {
            case,
            replayed: true,
        });
    }
    let case = open_in(&tx, at, actor, opened, outbox).await?;
    exec(
        &tx,
        "UPDATE idempotency SET case_number = $2 WHERE key = $1",
        &[&enc(key), &num(case.number)],
    )
    .await?;
    crate::feed::append(&tx, &[(num(case.number), vec![1])]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(Created {
        case,
        replayed: false,
    })
}

async fn current_version(c: &impl GenericClient, n: CaseNumber) -> Result<Option<u64>, StoreError> {
    let row = opt(c, "SELECT version FROM cases WHERE number = $1", &[&num(n)]).await?;
    row.map(|r| get::<i64>(&r, 0).map(|v| v as u64)).transpose()
}

/// Loads a case's stored state.
pub async fn load_case(c: &impl GenericClient, n: CaseNumber) -> Result<Case, StoreError> {
    let row = opt(c, "SELECT state FROM cases WHERE number = $1", &[&num(n)])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {n}")))?;
    json(&row, 0)
}

/// Why a commit cannot apply: unknown case, stale version, or events out of sequence.
async fn refusal(c: &impl GenericClient, commit: &Commit) -> StoreError {
    match current_version(c, commit.number).await {
        Err(e) => e,
        Ok(None) => StoreError::NotFound(format!("case {}", commit.number)),
        Ok(Some(current)) if current != commit.expected_version => StoreError::Conflict {
            expected_version: commit.expected_version,
            current_version: current,
        },
        Ok(Some(current)) => StoreError::Invalid(format!(
            "the events are not numbered to follow version {current}, or the new state does not match them"
        )),
    }
}

/// Whether events change what search row 0 holds.
fn rewrites_title(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::FieldChanged {
                field: Field::Title | Field::Description,
                ..
            }
        )
    })
}

/// Imports whole cases under their own numbers in one transaction, as
/// `StoreTransfer::import_cases` says; then moves the number sequence past them.
pub async fn import_cases(
    client: &mut deadpool_postgres::Client,
    records: &[CaseRecord],
) -> Result<Vec<Imported>, StoreError> {
    let tx = client.transaction().await.map_err(db_err)?;
    let mut outcomes = Vec::with_capacity(records.len());
    let mut appended = Vec::new();
    let mut highest = 0i64;
    for record in records {
        let state = check_record(record)?;
        let n = state.number;
        highest = highest.max(num(n));
        let stored = match current_version(&tx, n).await? {
            Some(_) => Some(history(&tx, n).await?),
            None => None,
        };
        let (outcome, have) = plan_import(stored.as_deref(), &record.history)?;
        let new = &record.history[have..];
        if outcome != Imported::Unchanged {
            appended.push((num(n), new.iter().map(|e| big(e.seq)).collect()));
        }
        match outcome {
            Imported::Written => {
                write_case_row(&tx, &state, None).await?;
                append_events(&tx, &state, None, new).await?;
                index_title(&tx, &state).await?;
            }
            Imported::Extended => {
                let before = replay(&record.history[..have])
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                if write_case_row(&tx, &state, Some(have as u64)).await? == 0 {
                    return Err(StoreError::Conflict {
                        expected_version: have as u64,
                        current_version: current_version(&tx, n).await?.unwrap_or(0),
                    });
                }
                append_events(&tx, &state, Some(before), new).await?;
                if rewrites_title(new) {
                    index_title(&tx, &state).await?;
                }
            }
            Imported::Unchanged => {}
        }
        for m in &record.outbox {
            if m.case != n {
                return Err(StoreError::Duplicate(format!("outbox message {}", m.id)));
            }
            crate::outbox::upsert(&tx, m).await?;
        }
        crate::attachments::import(&tx, &record.attachments).await?;
        outcomes.push(outcome);
    }
    exec(
        &tx,
        "SELECT setval('case_numbers', $1)
         WHERE $1 > COALESCE(pg_sequence_last_value('case_numbers'), 0)",
        &[&highest],
    )
    .await?;
    crate::feed::append(&tx, &appended).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(outcomes)
}

/// Commits events, state, outbox messages and attached files in one transaction. The version-checked
/// `UPDATE` comes first: it locks the case's row, so a concurrent commit on the same case
/// (from any server) waits, then finds the version changed and writes nothing.
pub async fn commit(client: &mut deadpool_postgres::Client, c: Commit) -> Result<Case, StoreError> {
    let numbered = c
        .events
        .iter()
        .enumerate()
        .all(|(i, e)| e.case == c.number && e.seq == c.expected_version + 1 + i as u64)
        && c.state.number == c.number
        && c.state.version == c.expected_version + c.events.len() as u64;
    if !numbered {
        return Err(refusal(&*client, &c).await);
    }
    casework_core::ports::check_attachments(&c)?;
    let tx = client.transaction().await.map_err(db_err)?;
    // Report rows need the state before a close or a reopen: read it under the row's lock
    // (if it is not at the expected version, the UPDATE below finds that and writes nothing).
    let reports = c.events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Closed { .. } | EventKind::Reopened { .. }
        )
    });
    let before = if reports {
        opt(
            &tx,
            "SELECT state FROM cases WHERE number = $1 FOR UPDATE",
            &[&num(c.number)],
        )
        .await?
        .map(|r| json::<Case>(&r, 0))
        .transpose()?
    } else {
        None
    };
    if write_case_row(&tx, &c.state, Some(c.expected_version)).await? == 0 {
        return Err(refusal(&tx, &c).await);
    }
    append_events(&tx, &c.state, before, &c.events).await?;
    if rewrites_title(&c.events) {
        index_title(&tx, &c.state).await?;
    }
    for m in &c.outbox {
        crate::outbox::insert(&tx, m).await?;
    }
    crate::attachments::insert(&tx, &c).await?;
    let seqs = c.events.iter().map(|e| big(e.seq)).collect();
    crate::feed::append(&tx, &[(num(c.number), seqs)]).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(c.state)
}

/// A case's events, oldest first.
pub async fn history(c: &impl GenericClient, n: CaseNumber) -> Result<Vec<Event>, StoreError> {
    let found = rows(
        c,
        "SELECT body FROM events WHERE case_number = $1 ORDER BY seq",
        &[&num(n)],
    )
    .await?;
    if found.is_empty() && current_version(c, n).await?.is_none() {
        return Err(StoreError::NotFound(format!("case {n}")));
    }
    found.iter().map(|r| json(r, 0)).collect()
}
