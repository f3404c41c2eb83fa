//! The store's SQL: each function runs on a connection (or a savepoint of the writer's
//! transaction) and translates rusqlite's errors into `StoreError` at this boundary.

use casework_core::event::{Event, EventKind, Opened, replay};
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    ApiToken, Article, Case, Defect, Field, NewArticle, OutboxMessage, OutboxStatus, Person,
    Visibility,
};
use casework_core::ports::{
    CaseFilter, CaseOrder, CaseRecord, Commit, Created, DeliveryOutcome, EndSessions, FeedEntry,
    Imported, MailboxPosition, OutboxAction, Page, PageRequest, QuarantineAfter, QuarantineEntry,
    QuarantinedMessage, Scope, SearchHit, SearchQuery, Session, SignInLink, StatusCount,
    StoreError, StoreStats, check_record, key_reused, plan_import, priority_rank, updated_key,
};
use casework_core::query::{self, Clause};
use casework_core::{report, text};
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params, params_from_iter};

/// Translates a rusqlite error. Busy and locked mean "try again later"; constraint
/// violations are duplicates; everything else is a fault inside the store.
pub fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Unavailable(format!("database busy: {e}"))
            }
            ErrorCode::ConstraintViolation => StoreError::Duplicate(format!("record ({e})")),
            ErrorCode::DiskFull | ErrorCode::CannotOpen | ErrorCode::ReadOnly => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(e.to_string()),
        },
        _ => StoreError::Internal(e.to_string()),
    }
}

pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON does not parse: {e}"))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

/// Runs a query whose one column is a JSON `body`, and decodes every row.
pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = st
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row.map_err(map_err)?).map_err(json_err)?);
    }
    Ok(out)
}

/// A timestamp as microseconds since the epoch, for indexed comparisons.
pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Internal(format!("bad time: {e}")))
}

pub(crate) fn number_of(n: i64) -> Result<CaseNumber, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(CaseNumber::new)
        .ok_or_else(|| StoreError::Internal(format!("bad case number {n}")))
}

// ---------------------------------------------------------------------------------------
// cases and events

fn write_case_row(conn: &Connection, case: &Case, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                            product_area, primary_resolution, reopen_count, state,
                            updated_us, priority_rank)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    } else {
        "UPDATE cases SET version = ?2, status = ?3, status_category = ?4, owner = ?5,
                          customer_email = ?6, product_area = ?7, primary_resolution = ?8,
                          reopen_count = ?9, state = ?10, updated_us = ?11, priority_rank = ?12
         WHERE number = ?1"
    };
    let state = to_json(case)?;
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.execute(params![
                case.number.get() as i64,
                case.version as i64,
                case.status.as_str(),
                case.status_category.as_str(),
                case.owner,
                case.customer.email.as_str(),
                case.category.product_area,
                case.resolution.as_ref().map(|r| r.primary.as_str()),
                case.reopen_count,
                state,
                updated_key(case.updated_at),
                priority_rank(case.priority),
            ])
        })
        .map_err(map_err)?;
    Ok(())
}

/// Appends events, and the report rows they make (closures with their keys at close,
/// reopens with the keys of the closure they left), given the case's state before them
/// (`None` for a new case; only read when the events close or reopen).
fn insert_events(
    conn: &Connection,
    before: impl FnOnce() -> Result<Option<Case>, StoreError>,
    events: &[Event],
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached("INSERT INTO events (case_number, seq, kind, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(map_err)?;
    let mut feed = conn
        .prepare_cached("INSERT INTO feed (case_number, seq) VALUES (?1, ?2)")
        .map_err(map_err)?;
    let endpoints = crate::webhooks::live_endpoints(conn)?;
    for e in events {
        st.execute(params![
            e.case.get() as i64,
            e.seq as i64,
            e.kind.name(),
            to_json(e)?
        ])
        .map_err(map_err)?;
        feed.execute(params![e.case.get() as i64, e.seq as i64])
            .map_err(map_err)?;
        crate::webhooks::fan_out_event(conn, &endpoints, conn.last_insert_rowid(), e)?;
    }
    let reports = events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Closed { .. } | EventKind::Reopened { .. }
        )
    });
    let Some(first) = events.first().filter(|_| reports) else {
        return Ok(());
    };
    let n = first.case.get() as i64;
    let facts = report::facts(before()?, events).map_err(|e| StoreError::Invalid(e.to_string()))?;
    crate::reports::record_facts(conn, n, facts)
}

// ---------------------------------------------------------------------------------------
// the search index: passages (schema v5, see `schema.rs`)

/// Kinds of document, as `doc % 3`.
const DOC_CASE: i64 = 0;
const DOC_ARTICLE: i64 = 1;
const DOC_DEFECT: i64 = 2;

/// The document a case is in the search index.
fn case_doc(n: CaseNumber) -> i64 {
    n.get() as i64 * 3 + DOC_CASE
}

/// Adds one passage of a document: to `search_full`, and to `search_public` when customers
/// may read it. Tokenizes this text only.
fn add_passage(
    conn: &Connection,
    doc: i64,
    seq: u64,
    title: &str,
    body: &str,
    public: bool,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO search_passages (doc, seq) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![doc, seq as i64]))
        .map_err(map_err)?;
    let id = conn.last_insert_rowid();
    write_passage(conn, id, title, body, public)
}

fn write_passage(
    conn: &Connection,
    id: i64,
    title: &str,
    body: &str,
    public: bool,
) -> Result<(), StoreError> {
    let tables: &[&str] = if public {
        &["search_full", "search_public"]
    } else {
        &["search_full"]
    };
    let mirror = mirrored(conn, id)?;
    for table in tables {
        for suffix in if mirror {
            &["", "_next"][..]
        } else {
            &[""][..]
        } {
            conn.prepare_cached(&format!(
                "INSERT INTO {table}{suffix} (rowid, title, body) VALUES (?1, ?2, ?3)"
            ))
            .and_then(|mut s| s.execute(params![id, title, body]))
            .map_err(map_err)?;
        }
    }
    Ok(())
}

/// The passages of events: one per event with searchable text, public when the customer
/// may see it.
fn index_events(conn: &Connection, doc: i64, events: &[Event]) -> Result<(), StoreError> {
    for e in events {
        if let Some((vis, text)) = e.text() {
            add_passage(conn, doc, e.seq, "", text, vis == Visibility::Customer)?;
        }
    }
    Ok(())
}

/// Indexes a new case: its head (title and description) and its events.
fn index_case(conn: &Connection, case: &Case, events: &[Event]) -> Result<(), StoreError> {
    let doc = case_doc(case.number);
    add_passage(conn, doc, 0, &case.title, &case.description, true)?;
    index_events(conn, doc, events)
}

/// Keeps a case's passages in step with a commit: a passage per new event with text, and
/// the head rewritten (it alone) when the title or description changed. Older passages are
/// never read or rewritten, so this costs the commit's own text whatever the history.
fn reindex_case(conn: &Connection, case: &Case, new: &[Event]) -> Result<(), StoreError> {
    let doc = case_doc(case.number);
    let head_changed = new.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::FieldChanged {
                field: Field::Title | Field::Description,
                ..
            }
        )
    });
    if head_changed {
        let id: i64 = conn
            .prepare_cached("SELECT id FROM search_passages WHERE doc = ?1 AND seq = 0")
            .and_then(|mut s| s.query_row([doc], |r| r.get(0)))
            .map_err(map_err)?;
        let mirror = mirrored(conn, id)?;
        for table in ["search_full", "search_public"] {
            for suffix in if mirror {
                &["", "_next"][..]
            } else {
                &[""][..]
            } {
                conn.prepare_cached(&format!("DELETE FROM {table}{suffix} WHERE rowid = ?1"))
                    .and_then(|mut s| s.execute([id]))
                    .map_err(map_err)?;
            }
        }
        write_passage(conn, id, &case.title, &case.description, true)?;
    }
    index_events(conn, doc, new)
}

// ---------------------------------------------------------------------------------------
// reindexing the search tables (schema v9: the porter tokenizer), while serving

/// Stores with at most this many passages are reindexed inside the migration itself (a
/// fraction of a second); larger ones in the background after open, in batches.
pub const INLINE_REINDEX: u64 = 20_000;

/// Passages copied per batch of a background reindex: one writer transaction each, so
/// commits wait at most one batch.
pub const REINDEX_BATCH: u64 = 2_000;

/// Where a reindex stands: passages up to `done` are in the new tables, of `upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReindexProgress {
    /// Passages copied (by id: every id up to this one).
    pub done: u64,
    /// The last passage id to copy (passages written since the reindex began are written to
    /// both tables as they come).
    pub upto: u64,
}

/// The reindex under way, if any (none before schema v10 made its table).
pub fn reindex_state(conn: &Connection) -> Result<Option<ReindexProgress>, StoreError> {
    let exists: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'search_reindex')",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    if !exists {
        return Ok(None);
    }
    conn.prepare_cached("SELECT done, upto FROM search_reindex")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(ReindexProgress {
                    done: r.get::<_, i64>(0)? as u64,
                    upto: r.get::<_, i64>(1)? as u64,
                })
            })
            .optional()
        })
        .map_err(map_err)
}

/// What a thread knows of its connection's reindex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReindexKnown {
    /// Nothing: the state is read for every passage written (a connection that migrates).
    Uncached,
    /// Not yet over: read it for every passage written until it is seen over.
    Unknown,
    /// Over: a reindex only ever ends (schema v10 starts the one there is, before any
    /// writer runs), so it is not read again.
    Over,
}

thread_local! {
    static REINDEX_KNOWN: std::cell::Cell<ReindexKnown> =
        const { std::cell::Cell::new(ReindexKnown::Uncached) };
}

/// Lets this thread remember that its connection's reindex is over, so that writing a
/// passage costs no lookup of it (two queries) from then on. Only for a thread that writes
/// through one connection, migrated, for its whole life: the writer's.
pub fn remember_reindex_state() {
    REINDEX_KNOWN.with(|k| k.set(ReindexKnown::Unknown));
}

/// Whether a write of passage `id` goes to the new tables too: while a reindex runs, the
/// passages already copied and those added since it began.
fn mirrored(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    let known = REINDEX_KNOWN.with(std::cell::Cell::get);
    if known == ReindexKnown::Over {
        return Ok(false);
    }
    match reindex_state(conn)? {
        Some(p) => Ok(id as u64 <= p.done || id as u64 > p.upto),
        None => {
            if known == ReindexKnown::Unknown {
                REINDEX_KNOWN.with(|k| k.set(ReindexKnown::Over));
            }
            Ok(false)
        }
    }
}

/// Copies the next batch of passages into the new tables; at the end, puts the new tables
/// in place of the old in one step (readers move over at their next statement). Returns
/// where the reindex stands, `None` when none is under way.
pub fn reindex_step(conn: &Connection, batch: u64) -> Result<Option<ReindexProgress>, StoreError> {
    let Some(p) = reindex_state(conn)? else {
        return Ok(None);
    };
    let end = p.done.saturating_add(batch).min(p.upto);
    for table in ["search_full", "search_public"] {
        conn.prepare_cached(&format!(
            "INSERT INTO {table}_next (rowid, title, body) \
             SELECT rowid, title, body FROM {table} WHERE rowid > ?1 AND rowid <= ?2"
        ))
        .and_then(|mut s| s.execute([p.done as i64, end as i64]))
        .map_err(map_err)?;
    }
    if end >= p.upto {
        conn.execute_batch(
            "DROP TABLE search_full_vocab;
             DROP TABLE search_full;
             DROP TABLE search_public;
             ALTER TABLE search_full_next RENAME TO search_full;
             ALTER TABLE search_public_next RENAME TO search_public;
             CREATE VIRTUAL TABLE search_full_vocab USING fts5vocab(search_full, 'row');
             DELETE FROM search_reindex;",
        )
        .map_err(map_err)?;
    } else {
        conn.prepare_cached("UPDATE search_reindex SET done = ?1")
            .and_then(|mut s| s.execute([end as i64]))
            .map_err(map_err)?;
    }
    Ok(Some(ReindexProgress {
        done: end,
        upto: p.upto,
    }))
}

/// The v9 migration's step: a small store is reindexed at once; a larger one is left to
/// the background reindex that opening the store starts.
pub fn reindex_if_small(conn: &Connection) -> Result<(), StoreError> {
    while let Some(p) = reindex_state(conn)? {
        if p.upto > INLINE_REINDEX {
            break;
        }
        reindex_step(conn, INLINE_REINDEX)?;
    }
    Ok(())
}

/// Fills every case's sort keys from its state (the v11 migration): the columns lists in
/// another order than by number sort on, with core's keys, as every commit writes them.
pub fn fill_sort_keys(conn: &Connection) -> Result<(), StoreError> {
    let numbers: Vec<i64> = conn
        .prepare("SELECT number FROM cases ORDER BY number")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(map_err)?;
    for n in numbers {
        let case = load_case(conn, number_of(n)?)?;
        conn.execute(
            "UPDATE cases SET updated_us = ?2, priority_rank = ?3 WHERE number = ?1",
            params![
                n,
                updated_key(case.updated_at),
                priority_rank(case.priority)
            ],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Builds the whole search index from the records (the v5 migration): every case's head and
/// events, every article, every defect.
pub fn rebuild_search(conn: &Connection) -> Result<(), StoreError> {
    let numbers: Vec<i64> = conn
        .prepare("SELECT number FROM cases ORDER BY number")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(map_err)?;
    for n in numbers {
        let number = number_of(n)?;
        let case = load_case(conn, number)?;
        let events = history(conn, number)?;
        index_case(conn, &case, &events)?;
    }
    let articles: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, title, body FROM articles ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(map_err)?;
    for (id, title, body) in articles {
        add_passage(conn, id * 3 + DOC_ARTICLE, 0, &title, &body, true)?;
    }
    let defects: Vec<(i64, String, String, String)> = conn
        .prepare("SELECT id, key, title, body FROM defects ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .map_err(map_err)?;
    for (id, key, title, body) in defects {
        add_passage(
            conn,
            id * 3 + DOC_DEFECT,
            0,
            &title,
            &format!("{key}\n{body}"),
            false,
        )?;
    }
    Ok(())
}

/// Opens a case with the next number (inside the writer's transaction, so numbers are
/// unique across processes too), queuing its notices, numbered.
pub fn create_case(
    conn: &Connection,
    at: Timestamp,
    actor: String,
    opened: Opened,
    mut outbox: Vec<OutboxMessage>,
) -> Result<Case, StoreError> {
    let next: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM cases")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    let event = opened.event(number_of(next)?, at, actor);
    let case = replay([&event]).map_err(|e| StoreError::Invalid(e.to_string()))?;
    write_case_row(conn, &case, true)?;
    insert_events(conn, || Ok(None), std::slice::from_ref(&event))?;
    index_case(conn, &case, std::slice::from_ref(&event))?;
    casework_core::workflow::notify::number_notices(&mut outbox, case.number);
    for m in &outbox {
        insert_outbox(conn, m)?;
    }
    Ok(case)
}

/// Opens a case at most once per idempotency key (inside the writer's transaction, so
/// concurrent calls with one key make one case, across processes too).
pub fn create_case_once(
    conn: &Connection,
    key: &str,
    fingerprint: &str,
    at: Timestamp,
    actor: String,
    opened: Opened,
    outbox: Vec<OutboxMessage>,
) -> Result<Created, StoreError> {
    let known: Option<(String, i64)> = conn
        .prepare_cached("SELECT fingerprint, case_number FROM idempotency WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_err)?;
    if let Some((fp, n)) = known {
        if fp != fingerprint {
            return Err(key_reused(key));
        }
        let first: String = conn
            .prepare_cached("SELECT body FROM events WHERE case_number = ?1 AND seq = 1")
            .and_then(|mut s| s.query_row([n], |r| r.get(0)))
            .map_err(map_err)?;
        let event: Event = serde_json::from_str(&first).map_err(json_err)?;
        let case = replay([&event]).map_err(|e| StoreError::Internal(e.to_string()))?;
        return Ok(Created {
            case,
            replayed: true,
        });
    }
    let case = create_case(conn, at, actor, opened, outbox)?;
    conn.prepare_cached(
        "INSERT INTO idempotency (key, fingerprint, case_number) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![key, fingerprint, case.number.get() as i64]))
    .map_err(map_err)?;
    Ok(Created {
        case,
        replayed: false,
    })
}

/// Imports a whole case from its history, checking it replays; the number must be free.
pub fn import_case(conn: &Connection, events: &[Event]) -> Result<Case, StoreError> {
    let case = replay(events).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if current_version(conn, case.number)?.is_some() {
        return Err(StoreError::Duplicate(format!("case {}", case.number)));
    }
    write_case_row(conn, &case, true)?;
    insert_events(conn, || Ok(None), events)?;
    index_case(conn, &case, events)?;
    Ok(case)
}

/// Imports whole cases as [`casework_core::ports::StoreTransfer::import_cases`] says
/// (inside the writer's savepoint: all or nothing).
pub fn import_cases(
    conn: &Connection,
    records: &[CaseRecord],
) -> Result<Vec<Imported>, StoreError> {
    let mut outcomes = Vec::with_capacity(records.len());
    for record in records {
        let state = check_record(record)?;
        let n = state.number;
        let stored = match current_version(conn, n)? {
            Some(_) => Some(history(conn, n)?),
            None => None,
        };
        let (outcome, have) = plan_import(stored.as_deref(), &record.history)?;
        let new = &record.history[have..];
        match outcome {
            Imported::Written => {
                write_case_row(conn, &state, true)?;
                insert_events(conn, || Ok(None), new)?;
                index_case(conn, &state, new)?;
            }
            Imported::Extended => {
                insert_events(conn, || load_case(conn, n).map(Some), new)?;
                write_case_row(conn, &state, false)?;
                reindex_case(conn, &state, new)?;
            }
            Imported::Unchanged => {}
        }
        for m in &record.outbox {
            let owner: Option<i64> = conn
                .prepare_cached("SELECT case_number FROM outbox WHERE id = ?1")
                .and_then(|mut st| st.query_row([&m.id], |r| r.get(0)).optional())
                .map_err(map_err)?;
            match owner {
                None if m.case == n => insert_outbox(conn, m)?,
                Some(c) if c == n.get() as i64 && m.case == n => {
                    conn.prepare_cached(
                        "UPDATE outbox SET status = ?2, attempts = ?3, last_error = ?4,
                                           next_attempt_at = ?5, claimed_by = ?6,
                                           claimed_until = ?7, sent_at = ?8
                         WHERE id = ?1",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            m.id,
                            m.status.as_str(),
                            m.attempts,
                            m.last_error,
                            micros(m.next_attempt_at),
                            m.claimed_by,
                            m.claimed_until.map(micros),
                            m.sent_at.map(micros),
                        ])
                    })
                    .map_err(map_err)?;
                }
                _ => return Err(StoreError::Duplicate(format!("outbox message {}", m.id))),
            }
        }
        crate::attachments::import(conn, &record.attachments)?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

pub(crate) fn current_version(conn: &Connection, n: CaseNumber) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT version FROM cases WHERE number = ?1")
        .and_then(|mut s| {
            s.query_row([n.get() as i64], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|v| v.map(|v| v as u64))
        .map_err(map_err)
}

/// Loads a case's stored state.
pub fn load_case(conn: &Connection, n: CaseNumber) -> Result<Case, StoreError> {
    load_case_sized(conn, n).map(|(case, _)| case)
}

/// Loads a case's stored state, with its size in bytes (what the read cache counts).
pub fn load_case_sized(conn: &Connection, n: CaseNumber) -> Result<(Case, usize), StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM cases WHERE number = ?1")
        .and_then(|mut s| s.query_row([n.get() as i64], |r| r.get(0)).optional())
        .map_err(map_err)?;
    let state = state.ok_or_else(|| StoreError::NotFound(format!("case {n}")))?;
    Ok((serde_json::from_str(&state).map_err(json_err)?, state.len()))
}

/// Commits events, state, outbox messages and attached files; all of it or none (the caller's savepoint).
pub fn commit(conn: &Connection, c: Commit) -> Result<Case, StoreError> {
    let current = current_version(conn, c.number)?
        .ok_or_else(|| StoreError::NotFound(format!("case {}", c.number)))?;
    if current != c.expected_version {
        return Err(StoreError::Conflict {
            expected_version: c.expected_version,
            current_version: current,
        });
    }
    for (i, e) in c.events.iter().enumerate() {
        if e.case != c.number || e.seq != current + 1 + i as u64 {
            return Err(StoreError::Invalid(format!(
                "event {} is not numbered to follow version {current}",
                e.seq
            )));
        }
    }
    if c.state.number != c.number || c.state.version != current + c.events.len() as u64 {
        return Err(StoreError::Invalid(
            "the new state does not match the events".into(),
        ));
    }
    casework_core::ports::check_attachments(&c)?;
    insert_events(conn, || load_case(conn, c.number).map(Some), &c.events)?;
    write_case_row(conn, &c.state, false)?;
    reindex_case(conn, &c.state, &c.events)?;
    for m in &c.outbox {
        insert_outbox(conn, m)?;
    }
    crate::attachments::insert(conn, &c)?;
    Ok(c.state)
}

/// A case's events, oldest first.
pub fn history(conn: &Connection, n: CaseNumber) -> Result<Vec<Event>, StoreError> {
    let out: Vec<Event> = json_rows(
        conn,
        "SELECT body FROM events WHERE case_number = ?1 ORDER BY seq",
        [n.get() as i64],
    )?;
    if out.is_empty() && current_version(conn, n)?.is_none() {
        return Err(StoreError::NotFound(format!("case {n}")));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// the change feed

/// Up to `limit` events after position `after`, in position order; with `customer`, only
/// of that customer's cases.
pub fn feed(
    conn: &Connection,
    after: u64,
    limit: u32,
    customer: Option<&EmailAddress>,
) -> Result<Vec<FeedEntry>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let read = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<FeedEntry>, StoreError> {
        let mut st = conn.prepare_cached(sql).map_err(map_err)?;
        let rows = st
            .query_map(params, |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(map_err)?;
        let mut out = Vec::new();
        for row in rows {
            let (position, body) = row.map_err(map_err)?;
            out.push(FeedEntry {
                position: u64::try_from(position)
                    .map_err(|_| StoreError::Internal(format!("feed position {position}")))?,
                event: serde_json::from_str(&body).map_err(json_err)?,
            });
        }
        Ok(out)
    };
    match customer {
        None => read(
            "SELECT f.position, e.body FROM feed f
               JOIN events e ON e.case_number = f.case_number AND e.seq = f.seq
              WHERE f.position > ?1 ORDER BY f.position LIMIT ?2",
            &[&after, &limit],
        ),
        Some(email) => read(
            "SELECT f.position, e.body FROM feed f
               JOIN cases c ON c.number = f.case_number
               JOIN events e ON e.case_number = f.case_number AND e.seq = f.seq
              WHERE f.position > ?1 AND c.customer_email = ?3
              ORDER BY f.position LIMIT ?2",
            &[&after, &limit, &email.as_str()],
        ),
    }
}

// ---------------------------------------------------------------------------------------
// lists and search

/// A string quoted for an FTS5 expression: whatever it holds is text to match, never syntax.
fn fts_string(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The FTS5 expression of one clause: every word inside a quoted string (a phrase is one
/// string of its words), a prefix followed by FTS5's `*`.
fn fts_clause(c: &Clause) -> String {
    match c {
        Clause::Word(w) => fts_string(w),
        Clause::Prefix(w) => format!("{} *", fts_string(w)),
        Clause::Phrase(ws) => fts_string(&ws.join(" ")),
    }
}

/// Prefixes longer than the prefix index's three characters, each with the terms of the
/// index that begin with it. FTS5 matches such a prefix by merging the doclists of all its
/// terms into one, for every evaluation: a prefix of a common word ("erro") would cost the
/// word's whole doclist per query, and per document checked. Expanded once into its most
/// frequent terms (an `OR` of plain terms, which FTS5 walks and seeks without merging), it
/// costs what those words cost. Cached for [`PREFIX_TTL`]: finding the terms counts their
/// rows. A term first written since is matched in full once typed (a prefix always matches
/// itself as a word), and by its prefixes when the entry is renewed.
#[derive(Debug, Default)]
pub struct PrefixCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (Expr, std::time::Instant)>>,
}

/// A clause's FTS5 expression, with what the index told of it when it was made.
#[derive(Debug, Clone)]
struct Expr {
    /// The expression.
    fts: String,
    /// How many words it stands for (each looked up when a document is checked).
    words: u64,
    /// For a prefix expanded into its words: the passages holding its most frequent word
    /// and the sum over its words, which bound the passages matching it from below and
    /// above.
    rows: Option<(u64, u64)>,
}

impl Expr {
    fn word(fts: String) -> Self {
        Self {
            fts,
            words: 1,
            rows: None,
        }
    }
}

/// How long a prefix's terms are used.
pub const PREFIX_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Most terms a prefix stands for: its most frequent ones.
pub const PREFIX_TERMS: usize = 16;
const PREFIX_CACHE_MAX: usize = 50_000;

impl PrefixCache {
    /// The FTS5 expression of clause `c`: [`fts_clause`], with a prefix longer than the
    /// prefix index expanded into its terms.
    fn expr(&self, conn: &Connection, c: &Clause) -> Result<String, StoreError> {
        Ok(self.clause(conn, c)?.fts)
    }

    /// [`Self::expr`], with the words it stands for and their passages.
    fn clause(&self, conn: &Connection, c: &Clause) -> Result<Expr, StoreError> {
        let Clause::Prefix(p) = c else {
            return Ok(Expr::word(fts_clause(c)));
        };
        if p.chars().count() <= query::MIN_PREFIX {
            return Ok(Expr::word(fts_clause(c)));
        }
        let now = std::time::Instant::now();
        {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((expr, at)) = map.get(p)
                && now.duration_since(*at) < PREFIX_TTL
            {
                return Ok(expr.clone());
            }
        }
        // the index holds folded words; the prefix is folded as the tokenizer folds it
        let folded = text::fold(p);
        let mut terms: Vec<(String, i64)> = conn
            .prepare_cached(
                "SELECT term, doc FROM search_full_vocab \
                 WHERE term >= ?1 AND term < ?1 || char(1114111)",
            )
            .and_then(|mut s| {
                s.query_map([&folded], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(map_err)?;
        terms.retain(|(t, _)| t.starts_with(&folded));
        terms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let chosen: Vec<&(String, i64)> = terms
            .iter()
            .filter(|(t, _)| *t != folded)
            .take(PREFIX_TERMS - 1)
            .chain(terms.iter().filter(|(t, _)| *t == folded))
            .collect();
        let mut words: Vec<String> = vec![fts_string(&folded)];
        words.extend(
            chosen
                .iter()
                .filter(|(t, _)| *t != folded)
                .map(|(t, _)| fts_string(t)),
        );
        let rows = chosen.iter().map(|(_, n)| (*n).max(0) as u64);
        let expr = Expr {
            fts: words.join(" OR "),
            words: words.len() as u64,
            rows: Some((rows.clone().max().unwrap_or(0), rows.sum())),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PREFIX_CACHE_MAX {
            map.clear();
        }
        map.insert(p.clone(), (expr.clone(), now));
        Ok(expr)
    }
}

/// The cases whose history records a Message-ID, newest first: the partial index
/// `events_by_message_id` (schema v14) over the email events' `message_id`.
pub fn cases_with_message_id(
    conn: &Connection,
    message_id: &str,
    limit: u32,
) -> Result<Vec<CaseNumber>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT case_number FROM events \
             WHERE kind IN ('email_received', 'email_queued') \
               AND json_extract(body, '$.message_id') = ?1 \
             ORDER BY case_number DESC LIMIT ?2",
        )
        .map_err(map_err)?;
    let numbers = stmt
        .query_map(rusqlite::params![message_id, i64::from(limit)], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    numbers.into_iter().map(number_of).collect()
}

/// The customer's latest cases, newest first: `cases_by_customer` read backwards.
pub fn latest_cases_of(
    conn: &Connection,
    customer: &EmailAddress,
    limit: u32,
) -> Result<Vec<Case>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT state FROM cases WHERE customer_email = ?1 ORDER BY number DESC LIMIT ?2",
        )
        .map_err(map_err)?;
    let states = stmt
        .query_map(
            rusqlite::params![customer.as_str(), i64::from(limit)],
            |r| r.get::<_, String>(0),
        )
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    states
        .iter()
        .map(|s| serde_json::from_str(s).map_err(json_err))
        .collect()
}

/// Lists cases in the page's order (ascending number unless asked otherwise).
pub fn list_cases(
    conn: &Connection,
    prefixes: &PrefixCache,
    f: &CaseFilter,
    page: &PageRequest,
) -> Result<Page<Case>, StoreError> {
    let (sql, args) = list_statement(conn, prefixes, f, page)?;
    let mut st = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = st
        .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut items = Vec::new();
    for row in rows {
        items.push(serde_json::from_str::<Case>(&row.map_err(map_err)?).map_err(json_err)?);
    }
    Ok(Page::in_order(items, page))
}

/// The statement of a list and its parameters: which clauses of `q` have their cases read
/// whole (`number IN (…)`) and which are checked per case as the walk goes (`EXISTS …`).
fn list_statement(
    conn: &Connection,
    prefixes: &PrefixCache,
    f: &CaseFilter,
    page: &PageRequest,
) -> Result<(String, Vec<Value>), StoreError> {
    let mut sql = String::from("SELECT state FROM cases WHERE true");
    let mut args: Vec<Value> = Vec::new();
    let mut deferred: Vec<(String, Value)> = Vec::new();
    let mut clause = |sql_part: &str, v: Value| {
        sql.push_str(sql_part);
        args.push(v);
    };
    // the cursor: past (key, number) in the order's direction
    let (column, direction) = match page.order {
        CaseOrder::Number => (None, "ASC"),
        CaseOrder::Updated => (Some("updated_us"), "DESC"),
        CaseOrder::Priority => (Some("priority_rank"), "ASC"),
    };
    let past = if page.order.descending() { "<" } else { ">" };
    if let Some(after) = page.after {
        let n = Value::Integer(after.get() as i64);
        match (column, page.after_key) {
            (Some(col), Some(key)) => {
                clause(
                    &format!(" AND ({col}, number) {past} (?, "),
                    Value::Integer(key),
                );
                clause("?)", n);
            }
            _ => clause(&format!(" AND number {past} ?"), n),
        }
    }
    if let Some(p) = f.priority {
        clause(" AND priority_rank = ?", Value::Integer(priority_rank(p)));
    }
    if let Some(s) = &f.status {
        clause(" AND status = ?", Value::Text(s.as_str().into()));
    }
    if let Some(c) = f.status_category {
        clause(" AND status_category = ?", Value::Text(c.as_str().into()));
    }
    if let Some(o) = &f.owner {
        clause(" AND owner = ?", Value::Text(o.clone()));
    }
    if let Some(a) = &f.product_area {
        clause(" AND product_area = ?", Value::Text(a.clone()));
    }
    if let Some(e) = &f.customer {
        clause(" AND customer_email = ?", Value::Text(e.as_str().into()));
    }
    if let Some(q) = &f.q {
        // every term in some passage of the case (a customer's list reads only the
        // passages they may see)
        let table = if f.customer.is_some() {
            "search_public"
        } else {
            "search_full"
        };
        // A clause with few matches has its cases read whole (and drives the query); one
        // matched more often is checked per case as the cases are walked in the page's
        // order, so the walk stops with the page (`query::list_whole_bound`: where reading
        // the matches stops being cheaper than the walk's checks).
        let q = query::parse(q);
        let cases: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(number), 0) FROM cases")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(map_err)?;
        let in_case = |not: &str| {
            format!(
                " AND number {not}IN (SELECT p.doc / 3 FROM {table} \
                 JOIN search_passages p ON p.id = {table}.rowid \
                 WHERE {table} MATCH ? AND p.doc % 3 = {DOC_CASE})"
            )
        };
        let probe = |not: &str| format!(" AND {not}{}", has_clause(table, "cases.number * 3"));
        let mut probes = Vec::new();
        for (c, not) in q
            .required
            .iter()
            .map(|c| (c, ""))
            .chain(q.excluded.iter().map(|c| (c, "NOT ")))
        {
            let expr = prefixes.clause(conn, c)?;
            let bound = query::list_whole_bound(cases.max(0) as u64, page.limit, expr.words);
            let whole = match expr.rows {
                // a prefix's words tell without counting, unless they straddle the bound
                Some((_, sum)) if sum <= bound => true,
                Some((most, _)) if most > bound => false,
                _ => matches_up_to(conn, table, &expr.fts, bound)? <= bound,
            };
            if whole {
                clause(&in_case(not), Value::Text(expr.fts));
            } else {
                probes.push((probe(not), Value::Text(expr.fts)));
            }
        }
        // checked after the cheaper conditions
        deferred = probes;
    }
    match f.reopened {
        Some(true) => sql.push_str(" AND reopen_count > 0"),
        Some(false) => sql.push_str(" AND reopen_count = 0"),
        None => {}
    }
    match f.unassigned {
        Some(true) => sql.push_str(" AND owner IS NULL"),
        Some(false) => sql.push_str(" AND owner IS NOT NULL"),
        None => {}
    }
    for (part, v) in deferred {
        sql.push_str(&part);
        args.push(v);
    }
    match column {
        Some(col) => sql.push_str(&format!(
            " ORDER BY {col} {direction}, number {direction} LIMIT ?"
        )),
        None => sql.push_str(" ORDER BY number LIMIT ?"),
    }
    args.push(Value::Integer(i64::from(page.limit) + 1));
    Ok((sql, args))
}

/// What a similar-cases query looks for: any of its terms (all rare, as core chose them),
/// and which documents count.
struct Ranked<'a> {
    scope: &'a Scope,
    terms: &'a [Clause],
    kind: Option<casework_core::model::RefKind>,
    exclude_doc: Option<i64>,
    limit: u32,
}

/// Ranked documents matching any term. Each passage is scored per term with FTS5's bm25
/// (k1 = 1.2, b = 0.75, over the passages of the scope's table); a document scores, for each
/// term, its best passage's, summed over the terms. One statement: a `UNION ALL` of one FTS
/// query per term, grouped by document. Every match of every term is read, so the terms must
/// be rare ([`text::similar_terms`] bounds their postings).
fn run_search(conn: &Connection, q: &Ranked<'_>) -> Result<Vec<SearchHit>, StoreError> {
    if q.terms.is_empty() {
        return Ok(Vec::new());
    }
    let table = match q.scope {
        Scope::Staff => "search_full",
        Scope::Customer(_) => "search_public",
    };
    // conditions on a passage's document; numbers are ours, the email a parameter
    let mut cond = String::new();
    cond.push_str(&kind_cond(q.kind));
    if let Some(d) = q.exclude_doc {
        cond.push_str(&format!(" AND p.doc != {d}"));
    }
    let customer = match q.scope {
        Scope::Customer(e) => {
            cond.push_str(&format!(
                " AND (p.doc % 3 = {DOC_ARTICLE} OR p.doc / 3 IN \
                 (SELECT number FROM cases WHERE customer_email = ?))"
            ));
            Some(e.as_str())
        }
        Scope::Staff => None,
    };
    // `LIMIT -1` keeps SQLite from flattening the scoring subquery into the aggregate,
    // where FTS5's bm25 cannot run
    let per_term = format!(
        "SELECT doc, min(s) AS best FROM (SELECT p.doc AS doc, bm25({table}) AS s \
         FROM {table} JOIN search_passages p ON p.id = {table}.rowid \
         WHERE {table} MATCH ?{cond} LIMIT -1) GROUP BY doc"
    );
    let sql = format!(
        "SELECT doc, sum(best) AS score FROM ({}) GROUP BY doc \
         ORDER BY score, doc LIMIT ?",
        vec![per_term; q.terms.len()].join(" UNION ALL ")
    );
    let mut args: Vec<Value> = Vec::new();
    for t in q.terms {
        args.push(Value::Text(fts_clause(t)));
        if let Some(c) = customer {
            args.push(Value::Text(c.to_string()));
        }
    }
    args.push(Value::Integer(i64::from(q.limit)));
    ranked_hits(conn, &sql, args)
}

/// The SQL condition keeping passages (`p`) of documents of this kind, if one is asked for.
fn kind_cond(kind: Option<casework_core::model::RefKind>) -> String {
    use casework_core::model::RefKind;
    match kind {
        None => String::new(),
        Some(k) => {
            let k = match k {
                RefKind::Case => DOC_CASE,
                RefKind::Article => DOC_ARTICLE,
                RefKind::Defect => DOC_DEFECT,
            };
            format!(" AND p.doc % 3 = {k}")
        }
    }
}

/// The hits of a ranking statement `sql` (rows of document and bm25 score, best first).
fn ranked_hits(
    conn: &Connection,
    sql: &str,
    args: Vec<Value>,
) -> Result<Vec<SearchHit>, StoreError> {
    let ranked: Vec<(i64, f64)> = conn
        .prepare_cached(sql)
        .and_then(|mut st| {
            st.query_map(params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(map_err)?;
    let mut hits = Vec::with_capacity(ranked.len());
    for (doc, score) in ranked {
        hits.push(hit(conn, doc, -score)?);
    }
    Ok(hits)
}

/// What a hit on a document shows: its kind, reference and title (the head's).
fn hit(conn: &Connection, doc: i64, score: f64) -> Result<SearchHit, StoreError> {
    use casework_core::model::RefKind;
    let title: String = conn
        .prepare_cached(
            "SELECT f.title FROM search_passages p JOIN search_full f ON f.rowid = p.id \
             WHERE p.doc = ?1 AND p.seq = 0",
        )
        .and_then(|mut s| s.query_row([doc], |r| r.get(0)))
        .map_err(map_err)?;
    let id = doc / 3;
    let (kind, reference) = match doc % 3 {
        DOC_CASE => (RefKind::Case, number_of(id)?.display()),
        DOC_ARTICLE => (RefKind::Article, id.to_string()),
        _ => {
            let key: String = conn
                .prepare_cached("SELECT key FROM defects WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |r| r.get(0)))
                .map_err(map_err)?;
            (RefKind::Defect, key)
        }
    };
    Ok(SearchHit {
        kind,
        reference,
        title,
        score,
    })
}

/// Whether at most [`query::CANDIDATES`] passages of `table` match `expr` (a rare clause):
/// counted up to one more than that, so a common clause costs no more to tell than a rare one.
fn is_rare(conn: &Connection, table: &str, expr: &str) -> Result<bool, StoreError> {
    Ok(matches_up_to(conn, table, expr, query::CANDIDATES)? <= query::CANDIDATES)
}

/// How many passages of `table` match FTS5 expression `expr`, counted up to one more than
/// `cap`.
fn matches_up_to(conn: &Connection, table: &str, expr: &str, cap: u64) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"
        ))
        .and_then(|mut s| s.query_row(params![expr, cap as i64 + 1], |r| r.get(0)))
        .map_err(map_err)?;
    Ok(n as u64)
}

/// An SQL condition: document `doc` (an SQL expression) has a passage in `table` matching
/// the next parameter. Its passages are looked up one by one (FTS5 seeks each row id in the
/// clause's doclist), so the check costs the document's passages, not the clause's matches.
fn has_clause(table: &str, doc: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM search_passages x CROSS JOIN {table} \
         ON {table}.rowid = x.id WHERE x.doc = {doc} AND {table} MATCH ?)"
    )
}

/// Ranked search; every clause of the query must match (in any passage of a document),
/// no excluded one may.
///
/// The cost is bounded by [`query::CANDIDATES`], not by the matches: the candidates are the
/// documents of the rarest clause's newest matching passages (all of them when it is rare);
/// every other clause is checked on them; they are ranked by the bm25 of the rare clauses
/// (each document's best passage per clause, summed; a common clause filters but does not
/// rank, as its weight would be small and FTS5 would read its whole doclist to weigh it),
/// then newest first.
///
/// The page is filled from the ranked candidates best first, and the checks stop with it: a
/// common clause or exclusion is looked up per candidate (a few dozen lookups, not 2,000),
/// and with no rare clause to score, the candidates come straight from the driver's
/// passages newest first (a document first met at its newest passage), so a common word
/// reads about a page of passages.
pub fn search(
    conn: &Connection,
    prefixes: &PrefixCache,
    q: &SearchQuery,
) -> Result<Vec<SearchHit>, StoreError> {
    let parsed = query::parse(&q.text);
    if parsed.is_empty() {
        return Ok(Vec::new());
    }
    let table = match q.scope {
        Scope::Staff => "search_full",
        Scope::Customer(_) => "search_public",
    };
    // the rarest required clause drives; each clause rare or common
    let mut exprs = Vec::with_capacity(parsed.required.len());
    let mut counts = Vec::with_capacity(parsed.required.len());
    for c in &parsed.required {
        let expr = prefixes.expr(conn, c)?;
        counts.push(matches_up_to(conn, table, &expr, query::CANDIDATES)?);
        exprs.push(expr);
    }
    let rare: Vec<bool> = counts.iter().map(|n| *n <= query::CANDIDATES).collect();
    let driver = (0..counts.len()).min_by_key(|i| counts[*i]).unwrap_or(0);
    // every other clause, checked on the candidates: a rare one by its documents (read
    // whole), a common one per candidate
    let mut sets = Vec::new();
    let mut checks = Vec::new();
    let others = exprs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != driver)
        .map(|(i, e)| Ok((e.clone(), true, rare[i])))
        .chain(parsed.excluded.iter().map(|c| {
            let expr = prefixes.expr(conn, c)?;
            let rare = is_rare(conn, table, &expr)?;
            Ok((expr, false, rare))
        }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    for (expr, wanted, rare) in others {
        if rare {
            let docs: std::collections::HashSet<i64> = conn
                .prepare_cached(&format!(
                    "SELECT p.doc FROM {table} JOIN search_passages p \
                     ON p.id = {table}.rowid WHERE {table} MATCH ?1"
                ))
                .and_then(|mut st| st.query_map([&expr], |r| r.get(0))?.collect())
                .map_err(map_err)?;
            sets.push((docs, wanted));
        } else {
            checks.push((expr, wanted));
        }
    }
    let check = format!("SELECT {}", has_clause(table, "?1"));
    let passes = |doc: i64| -> Result<bool, StoreError> {
        if sets
            .iter()
            .any(|(docs, wanted)| docs.contains(&doc) != *wanted)
        {
            return Ok(false);
        }
        for (expr, wanted) in &checks {
            let found: bool = conn
                .prepare_cached(&check)
                .and_then(|mut s| s.query_row(params![doc, expr], |r| r.get(0)))
                .map_err(map_err)?;
            if found != *wanted {
                return Ok(false);
            }
        }
        Ok(true)
    };
    let mut args: Vec<Value> = Vec::new();
    // conditions on a candidate passage's document (`p.doc`): the scope's are checked while
    // the driver's matches are walked, so a customer's candidates are all theirs
    let mut cond = String::new();
    cond.push_str(&kind_cond(q.kind));
    args.push(Value::Text(exprs[driver].clone()));
    if let Scope::Customer(e) = &q.scope {
        cond.push_str(&format!(
            " AND (p.doc % 3 = {DOC_ARTICLE} OR p.doc / 3 IN \
             (SELECT number FROM cases WHERE customer_email = ?))"
        ));
        args.push(Value::Text(e.as_str().to_string()));
    }
    args.push(Value::Integer(query::CANDIDATES as i64));
    let newest = format!(
        "SELECT p.doc AS doc, p.id AS id FROM {table} JOIN search_passages p \
         ON p.id = {table}.rowid WHERE {table} MATCH ?{cond} ORDER BY {table}.rowid DESC LIMIT ?"
    );
    // the score: each rare clause's best passage per document, summed
    let mut scored = Vec::new();
    for (expr, _) in exprs.iter().zip(&rare).filter(|(_, r)| **r) {
        // `LIMIT -1` keeps SQLite from flattening the scoring subquery into the aggregate,
        // where FTS5's bm25 cannot run
        scored.push(format!(
            "SELECT doc, min(s) AS best FROM (SELECT p.doc AS doc, bm25({table}) AS s \
             FROM {table} JOIN search_passages p ON p.id = {table}.rowid \
             WHERE {table} MATCH ? LIMIT -1) GROUP BY doc"
        ));
        args.push(Value::Text(expr.clone()));
    }
    // the candidates in rank order: scored, or (no rare clause) the driver's newest passages
    let sql = if scored.is_empty() {
        newest
    } else {
        format!(
            "SELECT c.doc, COALESCE(s.score, 0.0) AS score FROM \
             (SELECT doc, max(id) AS newest FROM ({newest}) GROUP BY doc) c \
             LEFT JOIN (SELECT doc, sum(best) AS score FROM ({}) GROUP BY doc) s \
             ON s.doc = c.doc ORDER BY score, c.newest DESC",
            scored.join(" UNION ALL ")
        )
    };
    let limit = q.limit as usize;
    let mut page: Vec<(i64, f64)> = Vec::with_capacity(limit);
    let mut seen = std::collections::HashSet::new();
    {
        let mut st = conn.prepare_cached(&sql).map_err(map_err)?;
        let mut rows = st.query(params_from_iter(args)).map_err(map_err)?;
        while page.len() < limit {
            let Some(row) = rows.next().map_err(map_err)? else {
                break;
            };
            let doc: i64 = row.get(0).map_err(map_err)?;
            let score: f64 = if scored.is_empty() {
                0.0
            } else {
                row.get(1).map_err(map_err)?
            };
            // a document is met first at its newest passage (or once, when scored)
            if seen.insert(doc) && passes(doc)? {
                page.push((doc, score));
            }
        }
    }
    page.into_iter()
        .map(|(doc, score)| hit(conn, doc, -score))
        .collect()
}

/// Document frequencies of terms: how many documents (cases, articles, defects) have the
/// term in some passage. A passage count would not do: a case repeats its own terms in its
/// emails and summaries, and would make them look common. Similar-case queries only use
/// the counts to drop terms held by more than about 1% of documents and to order the rest,
/// so a term is counted only up to [`text::similar_count_cap`] (a common word's whole
/// doclist is never walked: at 1M cases a first request counting every match of a case's
/// words took 10 s), and a count up to [`DF_TTL`] old is as good as a fresh one.
#[derive(Debug, Default)]
pub struct DfCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (u64, u64, std::time::Instant)>>,
}

/// How long a cached document frequency is used.
pub const DF_TTL: std::time::Duration = std::time::Duration::from_secs(600);
const DF_CACHE_MAX: usize = 200_000;
/// The documents holding a term (`?1`, an FTS5 string), counted up to `?2`.
const DF_COUNT: &str = "SELECT count(*) FROM (SELECT DISTINCT p.doc FROM search_full \
     JOIN search_passages p ON p.id = search_full.rowid WHERE search_full MATCH ?1 LIMIT ?2)";

impl DfCache {
    /// How many documents hold `term`, counted up to `cap`: `cap` means "at least".
    fn get(&self, conn: &Connection, term: &str, cap: u64) -> Result<u64, StoreError> {
        let now = std::time::Instant::now();
        {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            // a count that reached its cap tells nothing above it
            if let Some((df, counted_to, at)) = map.get(term)
                && now.duration_since(*at) < DF_TTL
                && (*df < *counted_to || *counted_to >= cap)
            {
                return Ok((*df).min(cap));
            }
        }
        let df = conn
            .prepare_cached(DF_COUNT)
            .and_then(|mut s| {
                s.query_row(params![fts_string(term), cap as i64], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map_err(map_err)? as u64;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= DF_CACHE_MAX {
            map.clear();
        }
        map.insert(term.to_string(), (df, cap, now));
        Ok(df)
    }
}

/// Documents like a case: any of its rare terms, excluding the case itself.
pub fn similar(
    conn: &Connection,
    dfs: &DfCache,
    n: CaseNumber,
    scope: &Scope,
    limit: u32,
) -> Result<Vec<SearchHit>, StoreError> {
    // Only the title, description and summaries are needed: let SQLite pick them out of the
    // JSON rather than decoding the whole state and every post.
    let (title, description): (String, String) = conn
        .prepare_cached(
            "SELECT json_extract(state, '$.title'), json_extract(state, '$.description')
             FROM cases WHERE number = ?1",
        )
        .and_then(|mut s| {
            s.query_row([n.get() as i64], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("case {n}")))?;
    // `instr` first: parsing every post's JSON to find the few summaries was most of this
    // query on a long case (and a seventh of the desk's case page); a summary's body holds
    // the word, so the cheap test only skips posts that cannot be one
    let mut st = conn
        .prepare_cached(
            "SELECT json_extract(body, '$.body') FROM events
             WHERE case_number = ?1 AND kind = 'post_added'
               AND instr(body, 'summary') > 0
               AND json_extract(body, '$.kind') = 'summary'",
        )
        .map_err(map_err)?;
    let summaries: Vec<String> = st
        .query_map([n.get() as i64], |r| r.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let total: i64 = conn
        .query_row(
            "SELECT (SELECT COALESCE(MAX(number), 0) FROM cases)
                  + (SELECT count(*) FROM articles) + (SELECT count(*) FROM defects)",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let mut failure = None;
    // a term held by this many documents is never chosen however many more hold it
    let cap = text::similar_count_cap(total as u64);
    let sources = [title.as_str(), description.as_str()]
        .into_iter()
        .chain(summaries.iter().map(String::as_str));
    let terms = text::similar_terms(
        sources,
        |t| match dfs.get(conn, t, cap) {
            Ok(v) => v,
            Err(e) => {
                failure = Some(e);
                u64::MAX
            }
        },
        total as u64,
    );
    if let Some(e) = failure {
        return Err(e);
    }
    let terms = query::Query::words(&terms).required;
    run_search(
        conn,
        &Ranked {
            scope,
            terms: &terms,
            kind: None,
            exclude_doc: Some(case_doc(n)),
            limit,
        },
    )
}

// ---------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------
// people and knowledge

/// Adds or replaces a person.
pub fn put_person(conn: &Connection, p: &Person) -> Result<(), StoreError> {
    let body = to_json(p)?;
    conn.prepare_cached(
        "INSERT INTO people (name, body) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET body = excluded.body",
    )
    .and_then(|mut s| s.execute(params![p.name, body]))
    .map_err(map_err)?;
    Ok(())
}

/// A person by name.
pub fn get_person(conn: &Connection, name: &str) -> Result<Person, StoreError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM people WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
        .map_err(map_err)?;
    let body = body.ok_or_else(|| StoreError::NotFound(format!("person {name:?}")))?;
    serde_json::from_str(&body).map_err(json_err)
}

/// Everyone, by name.
pub fn list_people(conn: &Connection) -> Result<Vec<Person>, StoreError> {
    json_rows(conn, "SELECT body FROM people ORDER BY name", [])
}

/// Adds an article and indexes it for everyone.
pub fn add_article(
    conn: &Connection,
    a: &NewArticle,
    at: Timestamp,
) -> Result<Article, StoreError> {
    conn.prepare_cached(
        "INSERT INTO articles (title, body, url, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![a.title, a.body, a.url, at.to_string()]))
    .map_err(map_err)?;
    let id = conn.last_insert_rowid();
    index_article(conn, id, &a.title, &a.body)?;
    Ok(Article {
        id: id as u64,
        title: a.title.clone(),
        body: a.body.clone(),
        url: a.url.clone(),
        created_at: at,
    })
}

/// Indexes an article for everyone.
fn index_article(conn: &Connection, id: i64, title: &str, body: &str) -> Result<(), StoreError> {
    add_passage(conn, id * 3 + DOC_ARTICLE, 0, title, body, true)
}

fn parse_time(s: &str) -> Result<Timestamp, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Internal(format!("bad time {s:?}: {e}")))
}

/// An article by id.
pub fn get_article(conn: &Connection, id: u64) -> Result<Article, StoreError> {
    let row = conn
        .prepare_cached("SELECT title, body, url, created_at FROM articles WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()
        })
        .map_err(map_err)?;
    let (title, body, url, created) =
        row.ok_or_else(|| StoreError::NotFound(format!("article {id}")))?;
    Ok(Article {
        id,
        title,
        body,
        url,
        created_at: parse_time(&created)?,
    })
}

/// Articles by ascending id after `after`.
pub fn list_articles(
    conn: &Connection,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<Article>, StoreError> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM articles WHERE id > ?1 ORDER BY id LIMIT ?2")
        .and_then(|mut st| {
            st.query_map(
                params![after.map_or(0, |a| a as i64), i64::from(limit)],
                |r| r.get(0),
            )?
            .collect()
        })
        .map_err(map_err)?;
    ids.into_iter()
        .map(|id| get_article(conn, id as u64))
        .collect()
}

/// Writes an article under its own id, with its search rows.
pub fn import_article(conn: &Connection, a: &Article) -> Result<Imported, StoreError> {
    match get_article(conn, a.id) {
        Ok(there) if there == *a => return Ok(Imported::Unchanged),
        Ok(_) => return Err(StoreError::Duplicate(format!("article {}", a.id))),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let id = a.id as i64;
    conn.prepare_cached(
        "INSERT INTO articles (id, title, body, url, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            id,
            a.title,
            a.body,
            a.url,
            a.created_at.to_string()
        ])
    })
    .map_err(map_err)?;
    index_article(conn, id, &a.title, &a.body)?;
    Ok(Imported::Written)
}

/// Defects by key (byte order) after `after`.
pub fn list_defects(
    conn: &Connection,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Defect>, StoreError> {
    let keys: Vec<String> = conn
        .prepare_cached(
            "SELECT key FROM defects WHERE ?1 IS NULL OR key > ?1 ORDER BY key LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![after, i64::from(limit)], |r| r.get(0))?
                .collect()
        })
        .map_err(map_err)?;
    keys.iter().map(|k| get_defect(conn, k)).collect()
}

/// Adds a defect (staff-only search).
pub fn add_defect(conn: &Connection, d: &Defect) -> Result<Defect, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO defects (key, title, body, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                d.key,
                d.title,
                d.body,
                d.state,
                d.created_at.to_string()
            ])
        });
    match inserted {
        Ok(_) => {}
        Err(e) => {
            return Err(match map_err(e) {
                StoreError::Duplicate(_) => StoreError::Duplicate(format!("defect {}", d.key)),
                other => other,
            });
        }
    }
    let id = conn.last_insert_rowid();
    let body = format!("{}\n{}", d.key, d.body);
    add_passage(conn, id * 3 + DOC_DEFECT, 0, &d.title, &body, false)?;
    Ok(d.clone())
}

/// A defect by key.
pub fn get_defect(conn: &Connection, key: &str) -> Result<Defect, StoreError> {
    let row = conn
        .prepare_cached("SELECT title, body, state, created_at FROM defects WHERE key = ?1")
        .and_then(|mut s| {
            s.query_row([key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()
        })
        .map_err(map_err)?;
    let (title, body, state, created) =
        row.ok_or_else(|| StoreError::NotFound(format!("defect {key}")))?;
    Ok(Defect {
        key: key.to_string(),
        title,
        body,
        state,
        created_at: parse_time(&created)?,
    })
}

// ---------------------------------------------------------------------------------------
// outbox

fn insert_outbox(conn: &Connection, m: &OutboxMessage) -> Result<(), StoreError> {
    let body = to_json(m)?;
    let r = conn
        .prepare_cached(
            "INSERT INTO outbox (id, case_number, status, attempts, last_error, next_attempt_at,
                                 claimed_by, claimed_until, sent_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                m.id,
                m.case.get() as i64,
                m.status.as_str(),
                m.attempts,
                m.last_error,
                micros(m.next_attempt_at),
                m.claimed_by,
                m.claimed_until.map(micros),
                m.sent_at.map(micros),
                body,
            ])
        });
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(match map_err(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate(format!("outbox message {}", m.id)),
            other => other,
        }),
    }
}

const OUTBOX_COLUMNS: &str =
    "status, attempts, last_error, next_attempt_at, claimed_by, claimed_until, sent_at, body";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        status: r.get(0)?,
        attempts: r.get(1)?,
        last_error: r.get(2)?,
        next_attempt_at: r.get(3)?,
        claimed_by: r.get(4)?,
        claimed_until: r.get(5)?,
        sent_at: r.get(6)?,
        body: r.get(7)?,
    })
}

struct OutboxRow {
    status: String,
    attempts: u32,
    last_error: Option<String>,
    next_attempt_at: i64,
    claimed_by: Option<String>,
    claimed_until: Option<i64>,
    sent_at: Option<i64>,
    body: String,
}

impl OutboxRow {
    fn message(self) -> Result<OutboxMessage, StoreError> {
        let mut m: OutboxMessage = serde_json::from_str(&self.body).map_err(json_err)?;
        m.status = self
            .status
            .parse::<OutboxStatus>()
            .map_err(|_| StoreError::Internal(format!("bad outbox status {}", self.status)))?;
        m.attempts = self.attempts;
        m.last_error = self.last_error;
        m.next_attempt_at = from_micros(self.next_attempt_at)?;
        m.claimed_by = self.claimed_by;
        m.claimed_until = self.claimed_until.map(from_micros).transpose()?;
        m.sent_at = self.sent_at.map(from_micros).transpose()?;
        Ok(m)
    }
}

/// Outbox messages, oldest first.
pub fn outbox_list(
    conn: &Connection,
    status: Option<OutboxStatus>,
    limit: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) ORDER BY seq LIMIT ?2"
        ))
        .map_err(map_err)?;
    let rows = st
        .query_map(
            params![status.map(|s| s.as_str()), i64::from(limit)],
            outbox_row,
        )
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(map_err)?.message()?);
    }
    Ok(out)
}

/// The statement that reads a case's outbox messages (the case page reads it on every
/// view): an index search on `outbox_case`, pinned by a test.
fn outbox_for_case_sql() -> String {
    format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_number = ?1 ORDER BY seq")
}

/// One case's messages, oldest first.
pub fn outbox_for_case(
    conn: &Connection,
    case: CaseNumber,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut st = conn
        .prepare_cached(&outbox_for_case_sql())
        .map_err(map_err)?;
    let rows = st
        .query_map(params![case.get() as i64], outbox_row)
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(map_err)?.message()?);
    }
    Ok(out)
}

/// Claims due messages for a worker (inside the writer's transaction: claims are exclusive).
pub fn outbox_claim(
    conn: &Connection,
    worker: &str,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let now_us = micros(now);
    let ids: Vec<i64> = {
        let mut st = conn
            .prepare_cached(
                "SELECT seq FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?1
                 AND (claimed_until IS NULL OR claimed_until <= ?1) ORDER BY seq LIMIT ?2",
            )
            .map_err(map_err)?;
        let rows = st
            .query_map(params![now_us, i64::from(limit)], |r| r.get(0))
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)?
    };
    let mut out = Vec::new();
    for seq in ids {
        conn.prepare_cached("UPDATE outbox SET claimed_by = ?2, claimed_until = ?3 WHERE seq = ?1")
            .and_then(|mut s| s.execute(params![seq, worker, micros(until)]))
            .map_err(map_err)?;
        let row = conn
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE seq = ?1"
            ))
            .and_then(|mut s| s.query_row([seq], outbox_row))
            .map_err(map_err)?;
        out.push(row.message()?);
    }
    Ok(out)
}

/// Records a delivery attempt by the claim holder.
pub fn outbox_finish(
    conn: &Connection,
    id: &str,
    worker: &str,
    now: Timestamp,
    outcome: &DeliveryOutcome,
) -> Result<OutboxMessage, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], outbox_row).optional())
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("outbox message {id}")))?;
    if row.claimed_by.as_deref() != Some(worker) || row.status != OutboxStatus::Queued.as_str() {
        return Err(StoreError::ClaimLost(id.to_string()));
    }
    let (status, error, next, sent) = match outcome {
        DeliveryOutcome::Sent => (
            OutboxStatus::Sent,
            row.last_error.clone(),
            row.next_attempt_at,
            Some(micros(now)),
        ),
        DeliveryOutcome::Retry { error, at } => {
            (OutboxStatus::Queued, Some(error.clone()), micros(*at), None)
        }
        DeliveryOutcome::Failed { error } => (
            OutboxStatus::Failed,
            Some(error.clone()),
            row.next_attempt_at,
            None,
        ),
    };
    conn.prepare_cached(
        "UPDATE outbox SET status = ?2, attempts = attempts + 1, last_error = ?3,
                           next_attempt_at = ?4, claimed_by = NULL, claimed_until = NULL, sent_at = ?5
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, status.as_str(), error, next, sent]))
    .map_err(map_err)?;
    outbox_message(conn, id)
}

/// Outbox message `id` as stored (which the caller knows exists).
fn outbox_message(conn: &Connection, id: &str) -> Result<OutboxMessage, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], outbox_row))
    .map_err(map_err)?
    .message()
}

/// Marks a message failed because it bounced, whatever its status.
pub fn outbox_bounced(
    conn: &Connection,
    id: &str,
    error: &str,
) -> Result<OutboxMessage, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET status = ?2, last_error = ?3, claimed_by = NULL, claimed_until = NULL
             WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, OutboxStatus::Failed.as_str(), error]))
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("outbox message {id}")));
    }
    outbox_message(conn, id)
}

/// Retries or cancels a message, when the action applies to it and no live claim holds it
/// (the writer runs one closure at a time, so the read and the write are one step).
pub fn outbox_act(
    conn: &Connection,
    id: &str,
    action: OutboxAction,
    now: Timestamp,
) -> Result<OutboxMessage, StoreError> {
    let m = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], outbox_row).optional())
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("outbox message {id}")))?
        .message()?;
    if let Some(why) = action.refused(&m, now) {
        return Err(StoreError::Invalid(why));
    }
    let (attempts, next) = match action {
        OutboxAction::Retry => (0, micros(now)),
        OutboxAction::Cancel => (m.attempts, micros(m.next_attempt_at)),
    };
    conn.prepare_cached(
        "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = ?4,
                           claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, action.status_after().as_str(), attempts, next]))
    .map_err(map_err)?;
    outbox_message(conn, id)
}

// ---------------------------------------------------------------------------------------
// tokens

/// Stores a new token.
pub fn put_token(conn: &Connection, t: &ApiToken) -> Result<(), StoreError> {
    let body = to_json(t)?;
    conn.prepare_cached("INSERT INTO tokens (id, hash, body) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![t.id, t.hash, body]))
        .map_err(|e| match map_err(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate(format!("token {}", t.id)),
            other => other,
        })?;
    Ok(())
}

fn token_where(
    conn: &Connection,
    column: &str,
    value: &str,
) -> Result<Option<ApiToken>, StoreError> {
    let body: Option<String> = conn
        .prepare_cached(&format!("SELECT body FROM tokens WHERE {column} = ?1"))
        .and_then(|mut s| s.query_row([value], |r| r.get(0)).optional())
        .map_err(map_err)?;
    body.map(|b| serde_json::from_str(&b).map_err(json_err))
        .transpose()
}

/// The token with this hash.
pub fn find_token(conn: &Connection, hash: &str) -> Result<ApiToken, StoreError> {
    token_where(conn, "hash", hash)?.ok_or_else(|| StoreError::NotFound("token".into()))
}

/// Every token, oldest first.
pub fn list_tokens(conn: &Connection) -> Result<Vec<ApiToken>, StoreError> {
    json_rows(conn, "SELECT body FROM tokens ORDER BY seq", [])
}

/// Marks a token revoked, keeping the first revocation time.
pub fn revoke_token(conn: &Connection, id: &str, at: Timestamp) -> Result<ApiToken, StoreError> {
    let mut t =
        token_where(conn, "id", id)?.ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
    t.revoked_at.get_or_insert(at);
    let body = to_json(&t)?;
    conn.prepare_cached("UPDATE tokens SET body = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, body]))
        .map_err(map_err)?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// sign-in: passwords, sessions, links, failures

/// Sets a person's password hash.
pub fn set_password(conn: &Connection, person: &str, hash: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO passwords (person, hash) VALUES (?1, ?2)
         ON CONFLICT (person) DO UPDATE SET hash = excluded.hash",
    )
    .and_then(|mut s| s.execute(params![person, hash]))
    .map_err(map_err)?;
    Ok(())
}

/// A person's password hash.
pub fn password(conn: &Connection, person: &str) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT hash FROM passwords WHERE person = ?1")
        .and_then(|mut s| s.query_row([person], |r| r.get(0)).optional())
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("password of {person:?}")))
}

/// Stores a new session.
pub fn put_session(conn: &Connection, s: &Session) -> Result<(), StoreError> {
    let user = to_json(&s.user)?;
    conn.prepare_cached(
        "INSERT INTO sessions (id, user_key, user, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.id,
            s.user.key(),
            user,
            micros(s.created_at),
            micros(s.last_seen_at)
        ])
    })
    .map_err(|e| match map_err(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("session".into()),
        other => other,
    })?;
    Ok(())
}

/// The session with this id.
pub fn get_session(conn: &Connection, id: &str) -> Result<Session, StoreError> {
    let row: Option<(String, i64, i64)> = conn
        .prepare_cached("SELECT user, created_at, last_seen_at FROM sessions WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(map_err)?;
    let (user, created, seen) = row.ok_or_else(|| StoreError::NotFound("session".into()))?;
    Ok(Session {
        id: id.to_string(),
        user: serde_json::from_str(&user).map_err(json_err)?,
        created_at: from_micros(created)?,
        last_seen_at: from_micros(seen)?,
    })
}

/// Moves a session's last use forward to `at`.
pub fn touch_session(conn: &Connection, id: &str, at: Timestamp) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached("UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, micros(at)]))
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound("session".into()));
    }
    Ok(())
}

/// Ends sessions; how many ended.
pub fn end_sessions(conn: &Connection, which: &EndSessions) -> Result<u64, StoreError> {
    let (sql, key) = match which {
        EndSessions::One { id } => ("DELETE FROM sessions WHERE id = ?1", id),
        EndSessions::Of { user } => ("DELETE FROM sessions WHERE user_key = ?1", user),
    };
    let n = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute([key]))
        .map_err(map_err)?;
    Ok(n as u64)
}

/// Stores a new sign-in link and queues its email (the writer's savepoint makes the two one
/// step).
pub fn put_sign_in_link(
    conn: &Connection,
    l: &SignInLink,
    message: &OutboxMessage,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sign_in_links (hash, email, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            l.hash,
            l.email.to_string(),
            micros(l.created_at),
            micros(l.expires_at)
        ])
    })
    .map_err(|e| match map_err(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate("sign-in link".into()),
        other => other,
    })?;
    insert_outbox(conn, message)
}

/// Uses a sign-in link: deletes it and answers it when it had not expired at `now`.
pub fn use_sign_in_link(
    conn: &Connection,
    hash: &str,
    now: Timestamp,
) -> Result<SignInLink, StoreError> {
    let row: Option<(String, i64, i64)> = conn
        .prepare_cached(
            "DELETE FROM sign_in_links WHERE hash = ?1 RETURNING email, created_at, expires_at",
        )
        .and_then(|mut s| {
            s.query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(map_err)?;
    let not_found = || StoreError::NotFound("sign-in link".into());
    let (email, created, expires) = row.ok_or_else(not_found)?;
    let link = SignInLink {
        hash: hash.to_string(),
        email: email
            .parse()
            .map_err(|e| StoreError::Internal(format!("stored address does not parse: {e}")))?,
        created_at: from_micros(created)?,
        expires_at: from_micros(expires)?,
    };
    if link.expires_at <= now {
        return Err(not_found());
    }
    Ok(link)
}

/// Records a failed sign-in under each key and forgets the keys' older failures.
pub fn sign_in_failed(
    conn: &Connection,
    keys: &[String],
    at: Timestamp,
    forget_before: Timestamp,
) -> Result<(), StoreError> {
    for key in keys {
        conn.prepare_cached("DELETE FROM sign_in_failures WHERE key = ?1 AND at < ?2")
            .and_then(|mut s| s.execute(params![key, micros(forget_before)]))
            .map_err(map_err)?;
        conn.prepare_cached("INSERT INTO sign_in_failures (key, at) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, micros(at)]))
            .map_err(map_err)?;
    }
    Ok(())
}

/// Failed sign-ins under `key` since `since`.
pub fn sign_in_failures(conn: &Connection, key: &str, since: Timestamp) -> Result<u32, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM sign_in_failures WHERE key = ?1 AND at >= ?2")
        .and_then(|mut s| s.query_row(params![key, micros(since)], |r| r.get(0)))
        .map_err(map_err)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Counts, for diagnostics.
pub fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(map_err)
    };
    Ok(StoreStats {
        cases: count("SELECT count(*) FROM cases")?,
        events: count("SELECT count(*) FROM events")?,
        queued_messages: count("SELECT count(*) FROM outbox WHERE status = 'queued'")?,
        people: count("SELECT count(*) FROM people")?,
        schema_version: Some(count("PRAGMA user_version")? as u32),
        statuses: status_counts(conn)?,
    })
}

/// How many cases are in each status (the column compares without case).
fn status_counts(conn: &Connection) -> Result<Vec<StatusCount>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT status, count(*) FROM cases GROUP BY status ORDER BY status")
        .map_err(map_err)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (status, n) = row.map_err(map_err)?;
        out.push(StatusCount {
            status: status
                .parse()
                .map_err(|e: casework_core::ids::ParseError| StoreError::Internal(e.to_string()))?,
            cases: n as u64,
        });
    }
    Ok(out)
}

/// Keeps a refused inbound message; `Duplicate` if its id is taken.
pub fn quarantine_put(conn: &Connection, m: &QuarantinedMessage) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO quarantine (id, received_at, source, reason, raw) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![m.id, micros(m.received_at), m.source, m.reason, m.raw],
    )
    .map_err(|e| match map_err(e) {
        StoreError::Duplicate(_) => StoreError::Duplicate(format!("quarantined message {}", m.id)),
        other => other,
    })?;
    Ok(())
}

const QUARANTINE_COLUMNS: &str = "SELECT id, received_at, source, reason, raw FROM quarantine";

fn quarantine_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, i64, String, String, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn quarantined(
    (id, at, source, reason, raw): (String, i64, String, String, Vec<u8>),
) -> Result<QuarantinedMessage, StoreError> {
    Ok(QuarantinedMessage {
        id,
        received_at: from_micros(at)?,
        source,
        reason,
        raw,
    })
}

/// Up to `limit` kept messages without their bytes, oldest first, after `after`.
pub fn quarantine_list(
    conn: &Connection,
    after: Option<&QuarantineAfter>,
    limit: u32,
) -> Result<Vec<QuarantineEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_at, source, reason, length(raw) FROM quarantine \
             WHERE ?1 IS NULL OR (received_at, id) > (?1, ?2) \
             ORDER BY received_at, id LIMIT ?3",
        )
        .map_err(map_err)?;
    let at = after.map(|a| micros(a.received_at));
    let id = after.map(|a| a.id.as_str());
    let rows = stmt
        .query_map(params![at, id, i64::from(limit)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    rows.into_iter()
        .map(|(id, at, source, reason, size)| {
            Ok(QuarantineEntry {
                id,
                received_at: from_micros(at)?,
                source,
                reason,
                size: u64::try_from(size).unwrap_or(0),
            })
        })
        .collect()
}

/// One kept message.
pub fn quarantine_get(conn: &Connection, id: &str) -> Result<QuarantinedMessage, StoreError> {
    let row = conn
        .query_row(
            &format!("{QUARANTINE_COLUMNS} WHERE id = ?1"),
            [id],
            quarantine_row,
        )
        .optional()
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("quarantined message {id}")))?;
    quarantined(row)
}

/// Removes a kept message.
pub fn quarantine_remove(conn: &Connection, id: &str) -> Result<(), StoreError> {
    let n = conn
        .execute("DELETE FROM quarantine WHERE id = ?1", [id])
        .map_err(map_err)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("quarantined message {id}")));
    }
    Ok(())
}

/// The saved position of an IMAP mailbox.
pub fn mailbox_position(
    conn: &Connection,
    mailbox: &str,
) -> Result<Option<MailboxPosition>, StoreError> {
    conn.query_row(
        "SELECT uid_validity, last_uid FROM mailbox_positions WHERE mailbox = ?1",
        [mailbox],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )
    .optional()
    .map_err(map_err)?
    .map(position_of)
    .transpose()
}

/// Saves a mailbox position by `MailboxPositions`' rule (never back under one UIDVALIDITY),
/// in one statement, and returns what is saved.
pub fn advance_mailbox_position(
    conn: &Connection,
    mailbox: &str,
    p: MailboxPosition,
) -> Result<MailboxPosition, StoreError> {
    let saved = conn
        .query_row(
            "INSERT INTO mailbox_positions (mailbox, uid_validity, last_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT (mailbox) DO UPDATE SET
                 last_uid = CASE WHEN uid_validity = excluded.uid_validity
                                 THEN max(last_uid, excluded.last_uid)
                                 ELSE excluded.last_uid END,
                 uid_validity = excluded.uid_validity
             RETURNING uid_validity, last_uid",
            rusqlite::params![mailbox, i64::from(p.uid_validity), i64::from(p.last_uid)],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .map_err(map_err)?;
    position_of(saved)
}

fn position_of((validity, last): (i64, i64)) -> Result<MailboxPosition, StoreError> {
    let bad = || StoreError::Internal(format!("stored mailbox position {validity}/{last}"));
    Ok(MailboxPosition {
        uid_validity: u32::try_from(validity).map_err(|_| bad())?,
        last_uid: u32::try_from(last).map_err(|_| bad())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_spells_close_modes_and_kinds_as_core_does() {
        assert_eq!(
            casework_core::model::CloseMode::Temporary.as_str(),
            "temporary"
        );
        assert_eq!(OutboxStatus::Queued.as_str(), "queued");
        assert_eq!(casework_core::model::RefKind::Article.as_str(), "article");
    }

    /// A migrated in-memory database, as the writer's connection would be.
    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn a_cases_outbox_is_read_through_its_index_not_a_scan() {
        let conn = db();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", outbox_for_case_sql()))
            .unwrap()
            .query_map(params![7], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("USING INDEX outbox_case")),
            "{plan:?}"
        );
        // ordered by the index too: no sort step
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");
    }

    /// A customer-visible note of `words` distinct words (about 8 bytes each), unique to
    /// `salt`, so each post brings new terms to the index as a real note would.
    fn note(salt: usize, words: usize) -> EventKind {
        let body = (0..words)
            .map(|w| format!("w{salt}x{w}"))
            .collect::<Vec<_>>()
            .join(" ");
        EventKind::PostAdded {
            kind: casework_core::model::PostKind::Note,
            body,
            visibility: Visibility::Customer,
            from_customer: false,
        }
    }

    /// Commits `kinds` to case `n` in a transaction of its own (as one writer batch), and
    /// returns how many rows that wrote, in every table, the search index's own included.
    fn rows_written(conn: &Connection, n: CaseNumber, kinds: Vec<EventKind>) -> u64 {
        let case = load_case(conn, n).unwrap();
        let events = casework_core::workflow::stamp(&case, "ana", case.updated_at, kinds);
        let state = casework_core::event::apply_all(case.clone(), &events).unwrap();
        let before = conn.total_changes();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        commit(
            conn,
            Commit {
                number: n,
                expected_version: case.version,
                events,
                state,
                outbox: Vec::new(),
                attachments: Vec::new(),
            },
        )
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
        conn.total_changes() - before
    }

    fn open(conn: &Connection, title: &str) -> CaseNumber {
        let opened = casework_core::testing::opened(title);
        create_case(
            conn,
            casework_core::testing::START,
            "ana".into(),
            opened,
            Vec::new(),
        )
        .unwrap()
        .number
    }

    /// The typical cost of a run of commits: the median, since FTS5 merges its segments
    /// now and then inside some commit (work that depends on the size of the whole index,
    /// amortized over all writes, and on no case's history).
    fn typical(costs: &[u64]) -> u64 {
        let mut sorted = costs.to_vec();
        sorted.sort_unstable();
        sorted[sorted.len() / 2]
    }

    #[test]
    fn a_commit_indexes_its_own_text_whatever_the_cases_history() {
        // issue #11: each post used to re-index all of the case's text, so the Nth post of a
        // case cost N times the first, and every other writer waited behind it
        let conn = db();
        let n = open(&conn, "Printer offline");
        let cost: Vec<u64> = (0..48)
            .map(|i| rows_written(&conn, n, vec![note(i, 2_000)]))
            .collect();
        let (early, late) = (typical(&cost[..12]), typical(&cost[36..]));
        assert!(
            late <= early + early / 4,
            "rows written per post grow with the case's history: {early} early, {late} late \
             ({cost:?})"
        );
        // and the text is all there: the first post and the last still match
        for term in ["w0x1999", "w47x0"] {
            let hits = search(
                &conn,
                &PrefixCache::default(),
                &SearchQuery {
                    text: term.into(),
                    kind: None,
                    scope: Scope::Staff,
                    limit: 10,
                },
            )
            .unwrap();
            assert_eq!(hits.len(), 1, "{term}");
        }
    }

    #[test]
    fn another_cases_history_does_not_make_a_writer_pay() {
        // one writer per store, so a commit waits for those queued before it: what keeps
        // that wait short is that no commit's work depends on any case's history, its own or
        // another's. The same small posts cost the same rows beside a case with a big history.
        let small = |conn: &Connection, n: CaseNumber| -> u64 {
            typical(
                &(0..9)
                    .map(|i| rows_written(conn, n, vec![note(9_000 + i, 20)]))
                    .collect::<Vec<_>>(),
            )
        };
        let quiet = db();
        open(&quiet, "Printer offline");
        let b = open(&quiet, "Login loop");
        let alone = small(&quiet, b);

        let busy = db();
        let a = open(&busy, "Printer offline");
        let b = open(&busy, "Login loop");
        let first: Vec<u64> = (0..9)
            .map(|i| rows_written(&busy, a, vec![note(i, 2_000)]))
            .collect();
        for i in 9..40 {
            rows_written(&busy, a, vec![note(i, 2_000)]);
        }
        let beside = small(&busy, b);
        assert!(
            beside <= alone + alone / 4,
            "small posts beside a big case wrote {beside} rows each, alone {alone}"
        );
        // the big case's own next posts cost what its first ones did: the wait behind one
        // is bounded by that post's own size
        let later: Vec<u64> = (40..49)
            .map(|i| rows_written(&busy, a, vec![note(i, 2_000)]))
            .collect();
        assert!(
            typical(&later) <= typical(&first) + typical(&first) / 4,
            "{first:?} then {later:?}"
        );
    }

    #[test]
    fn fts_queries_quote_every_term() {
        let c = |w: &str| Clause::Word(w.into());
        assert_eq!(fts_clause(&c("off\"line")), "\"off\"\"line\"");
        assert_eq!(fts_clause(&Clause::Prefix("publ".into())), "\"publ\" *");
        assert_eq!(
            fts_clause(&Clause::Phrase(vec!["map".into(), "service".into()])),
            "\"map service\""
        );
    }

    /// What is left of an FTS5 expression once its quoted strings are taken out: only the
    /// operators this store writes itself.
    fn outside_quotes(expr: &str) -> String {
        let mut out = String::new();
        let mut quoted = false;
        let mut chars = expr.chars().peekable();
        while let Some(ch) = chars.next() {
            match (quoted, ch) {
                (false, '"') => quoted = true,
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                }
                (true, '"') => quoted = false,
                (false, ch) => out.push(ch),
                (true, _) => {}
            }
        }
        assert!(!quoted, "unterminated string in {expr:?}");
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]

        /// Whatever a user types, the engine sees only quoted strings and the store's own
        /// operators, and a search or a list never fails on it.
        #[test]
        fn hostile_queries_never_fail_or_inject(text in "[\\PC\"*^:()+{}\\-]{0,40}") {
            let parsed = query::parse(&text);
            for c in parsed.required.iter().chain(&parsed.excluded) {
                let rest = outside_quotes(&fts_clause(c));
                proptest::prop_assert!(rest.is_empty() || rest == " *", "{rest:?}");
            }
            let conn = hostile_db();
            for scope in [Scope::Staff, Scope::Customer("a@customer.example".parse::<EmailAddress>().unwrap())] {
                let found = search(&conn, &PrefixCache::default(), &SearchQuery { text: text.clone(), kind: None, scope, limit: 5 });
                proptest::prop_assert!(found.is_ok(), "{text:?}: {found:?}");
            }
            let listed = list_cases(
                &conn, &PrefixCache::default(),
                &CaseFilter { q: Some(text.clone()), ..Default::default() },
                &PageRequest { after: None, limit: 5, ..PageRequest::default() },
            );
            proptest::prop_assert!(listed.is_ok(), "{text:?}: {listed:?}");
        }
    }

    /// The title of case `n` set to `title` in a commit of its own.
    fn retitle(conn: &Connection, n: CaseNumber, title: &str) {
        let case = load_case(conn, n).unwrap();
        rows_written(
            conn,
            n,
            vec![EventKind::FieldChanged {
                field: Field::Title,
                from: Some(case.title.clone()),
                to: Some(title.into()),
            }],
        );
    }

    fn found(conn: &Connection, text: &str) -> Vec<String> {
        let mut refs: Vec<String> = search(
            conn,
            &PrefixCache::default(),
            &SearchQuery {
                text: text.into(),
                kind: None,
                scope: Scope::Staff,
                limit: 10,
            },
        )
        .unwrap()
        .into_iter()
        .map(|h| h.reference)
        .collect();
        refs.sort();
        refs
    }

    #[test]
    fn a_reindex_copies_every_passage_while_writes_go_on() {
        assert_eq!(
            reindex_state(&db()).unwrap(),
            None,
            "a new store needs none"
        );
        let (conn, a, b) = reindex_under_way();
        assert_eq!(
            reindex_state(&conn).unwrap(),
            Some(ReindexProgress { done: 0, upto: 2 })
        );
        let c = open(&conn, "Publishing fails"); // new: written to both
        assert_eq!(
            reindex_step(&conn, 1).unwrap(),
            Some(ReindexProgress { done: 1, upto: 2 })
        );
        retitle(&conn, a, "Printers publishing offline"); // copied already: both
        retitle(&conn, b, "Scanners jammed again"); // not yet copied: the copy takes it
        // the old tables serve until the end: no stemming yet
        // (a space after a word: a whole word, not a prefix)
        assert_eq!(found(&conn, "scanners "), [b.display()]);
        assert!(found(&conn, "scanner ").is_empty());
        assert_eq!(
            reindex_step(&conn, 10).unwrap(),
            Some(ReindexProgress { done: 2, upto: 2 })
        );
        assert_eq!(reindex_state(&conn).unwrap(), None);
        // every passage once, each with its latest text, stemmed
        let count = |t: &str| -> i64 {
            conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count("search_full"), count("search_passages"));
        assert_eq!(found(&conn, "publish "), [a.display(), c.display()]);
        assert_eq!(found(&conn, "scanner "), [b.display()]);
        assert_eq!(found(&conn, "printer offline"), [a.display()]);
        assert!(found(&conn, "jammed again").contains(&b.display()));
        // writes after the swap go to the one set of tables
        let d = open(&conn, "Published twice");
        assert_eq!(
            found(&conn, "publish "),
            [a.display(), c.display(), d.display()]
        );
    }

    #[test]
    fn the_list_walks_the_cases_for_a_word_in_more_than_it_reads_whole() {
        let conn = db();
        let total = query::LIST_WHOLE + 100;
        conn.execute_batch("BEGIN").unwrap();
        for n in 1..=total {
            open(
                &conn,
                if n % 1000 == 0 {
                    "Printer error"
                } else {
                    "Scanner error"
                },
            );
        }
        conn.execute_batch("COMMIT").unwrap();
        let numbers = |q: &str, order: CaseOrder, after: Option<(u64, Option<i64>)>| {
            let page = PageRequest {
                limit: 3,
                after: after.map(|(n, _)| CaseNumber::new(n).unwrap()),
                order,
                after_key: after.and_then(|(_, k)| k),
            };
            let filter = CaseFilter {
                q: Some(q.into()),
                ..Default::default()
            };
            list_cases(&conn, &PrefixCache::default(), &filter, &page)
                .unwrap()
                .items
                .iter()
                .map(|c| c.number.get())
                .collect::<Vec<_>>()
        };
        // "error" is in every case: walked in the page's order, from the cursor
        assert_eq!(numbers("error", CaseOrder::Number, None), [1, 2, 3]);
        assert_eq!(
            numbers("error", CaseOrder::Number, Some((999, None))),
            [1000, 1001, 1002]
        );
        let key = updated_key(casework_core::testing::START);
        assert_eq!(
            numbers("error", CaseOrder::Updated, Some((total, Some(key)))),
            [total - 1, total - 2, total - 3]
        );
        // with a rare word it is read whole; a common exclusion is checked per case
        assert_eq!(
            numbers("printer erro", CaseOrder::Number, None),
            [1000, 2000, 3000]
        );
        assert_eq!(
            numbers("error -scanner", CaseOrder::Number, Some((1000, None))),
            [2000, 3000, 4000]
        );
        assert_eq!(
            numbers("scanner -printer", CaseOrder::Number, Some((998, None))),
            [999, 1001, 1002]
        );
        // A typed prefix is checked per case word by word (`scan` stands for "scan" and
        // "scanner"): past the bound it is read whole, when the walk's checks of both words
        // would cost more than reading its matches. At 1M cases a prefix was walked, and a
        // page took 3-4 s.
        let statement = |q: &str, limit: u32| {
            let filter = CaseFilter {
                q: Some(q.into()),
                ..Default::default()
            };
            let page = PageRequest {
                limit,
                after: None,
                order: CaseOrder::Number,
                after_key: None,
            };
            list_statement(&conn, &PrefixCache::default(), &filter, &page)
                .unwrap()
                .0
        };
        let walks = |sql: &str| sql.contains("EXISTS") && !sql.contains(" IN (SELECT");
        let scanner = total - total / 1000;
        let bound = |limit, words| query::list_whole_bound(total, limit, words);
        assert!(bound(3, 2) < scanner && scanner <= bound(100, 2));
        assert!(
            walks(&statement("scan", 3)),
            "a walk of 4 cases beats reading 20,080"
        );
        assert!(
            !walks(&statement("scan", 100)),
            "{}",
            statement("scan", 100)
        );
        let page = PrefixCache::default();
        let filter = CaseFilter {
            q: Some("scan".into()),
            ..Default::default()
        };
        let read = list_cases(
            &conn,
            &page,
            &filter,
            &PageRequest {
                limit: 100,
                after: None,
                order: CaseOrder::Number,
                after_key: None,
            },
        )
        .unwrap();
        let read: Vec<u64> = read.items.iter().map(|c| c.number.get()).collect();
        assert_eq!(read.len(), 100);
        assert_eq!(read[..3], numbers("scan", CaseOrder::Number, None)[..]);
        assert!(!read.contains(&1000), "{read:?}");
    }

    #[test]
    fn a_document_frequency_is_counted_only_up_to_its_cap() {
        let conn = db();
        for _ in 0..60 {
            open(&conn, "Printer error");
        }
        let steps = || {
            conn.prepare_cached(DF_COUNT)
                .unwrap()
                .get_status(rusqlite::StatementStatus::VmStep)
        };
        let dfs = DfCache::default();
        assert_eq!(dfs.get(&conn, "error", 5).unwrap(), 5);
        let capped = steps();
        assert_eq!(dfs.get(&conn, "error", 5).unwrap(), 5, "from the cache");
        assert_eq!(steps(), capped, "a cached count is not counted again");
        // a higher cap than the count reached is counted again, up to it
        assert_eq!(dfs.get(&conn, "error", 1000).unwrap(), 60);
        let whole = steps() - capped;
        assert!(
            capped * 5 < whole,
            "5 documents: {capped} steps, 60: {whole}"
        );
        assert_eq!(
            dfs.get(&conn, "error", 7).unwrap(),
            7,
            "an exact count, capped"
        );
        assert_eq!(steps() - capped, whole);
    }

    /// The search tables as schema v9 left them, holding two cases, then a reindex begun
    /// over their two passages, as schema v10 begins one.
    fn reindex_under_way() -> (Connection, CaseNumber, CaseNumber) {
        let conn = db();
        conn.execute_batch(
            "DROP TABLE search_reindex;
             DROP TABLE search_full_vocab; DROP TABLE search_full; DROP TABLE search_public;
             CREATE VIRTUAL TABLE search_full USING fts5(title, body,
                 tokenize = 'unicode61 remove_diacritics 0');
             CREATE VIRTUAL TABLE search_public USING fts5(title, body,
                 tokenize = 'unicode61 remove_diacritics 0');
             CREATE VIRTUAL TABLE search_full_vocab USING fts5vocab(search_full, 'row');",
        )
        .unwrap();
        let a = open(&conn, "Printer offline");
        let b = open(&conn, "Scanner jammed");
        conn.execute_batch(crate::schema::V10).unwrap();
        (conn, a, b)
    }

    #[test]
    fn a_writer_looks_up_the_reindex_until_it_is_over_and_then_never() {
        let (conn, a, _) = reindex_under_way();
        // the writer's thread, on the migrated store, its reindex under way
        let conn = std::thread::spawn(move || {
            remember_reindex_state();
            let c = open(&conn, "Publishing fails"); // new: written to both
            reindex_step(&conn, 1).unwrap();
            retitle(&conn, a, "Printers publishing offline"); // copied already: both
            reindex_step(&conn, 10).unwrap();
            assert_eq!(reindex_state(&conn).unwrap(), None);
            // the writes while it ran reached the new tables
            assert_eq!(found(&conn, "publish "), [a.display(), c.display()]);
            // over: the state is no longer read. A row no reindex can leave behind would
            // send a write to tables that are gone, and this one does not read it.
            let d = open(&conn, "Published twice");
            conn.execute("INSERT INTO search_reindex VALUES (0, 0)", [])
                .unwrap();
            let e = open(&conn, "Published thrice");
            assert_eq!(
                found(&conn, "publish "),
                [a.display(), c.display(), d.display(), e.display()]
            );
            conn
        })
        .join()
        .unwrap();
        // a thread that does not remember reads the state each time (and here fails)
        let opened = create_case(
            &conn,
            casework_core::testing::START,
            "ana".into(),
            casework_core::testing::opened("Scanner offline"),
            Vec::new(),
        );
        assert!(opened.is_err(), "{opened:?}");
    }

    fn hostile_db() -> Connection {
        let conn = db();
        open(
            &conn,
            "Printer \"offline\" -after* update (NEAR) AND title:x",
        );
        conn
    }
}
