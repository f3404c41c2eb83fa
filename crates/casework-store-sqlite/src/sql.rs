//! The store's SQL: each function runs on a connection (or a savepoint of the writer's
//! transaction) and translates rusqlite's errors into `StoreError` at this boundary.

use std::collections::{BTreeMap, BTreeSet};

use casework_core::event::{Event, EventKind, replay};
use casework_core::ids::CaseNumber;
use casework_core::model::{
    ApiToken, Article, Case, Defect, Field, NewArticle, OutboxMessage, OutboxStatus, Person,
    Visibility,
};
use casework_core::ports::{
    CaseFilter, Commit, Created, DeliveryOutcome, Page, PageRequest, ReportGroup, ReportQuery,
    ReportRow, Scope, SearchHit, SearchQuery, StoreError, StoreStats, key_reused,
};
use casework_core::{report, text};
use jiff::{SignedDuration, Timestamp};
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

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON does not parse: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(format!("cannot encode JSON: {e}")))
}

/// Runs a query whose one column is a JSON `body`, and decodes every row.
fn json_rows<T: serde::de::DeserializeOwned>(
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

fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Internal(format!("bad time: {e}")))
}

fn number_of(n: i64) -> Result<CaseNumber, StoreError> {
    u64::try_from(n)
        .ok()
        .and_then(CaseNumber::new)
        .ok_or_else(|| StoreError::Internal(format!("bad case number {n}")))
}

fn case_rowid(n: CaseNumber) -> i64 {
    n.get() as i64 * 3
}

// ---------------------------------------------------------------------------------------
// cases and events

fn write_case_row(conn: &Connection, case: &Case, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                            product_area, primary_resolution, reopen_count, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    } else {
        "UPDATE cases SET version = ?2, status = ?3, status_category = ?4, owner = ?5,
                          customer_email = ?6, product_area = ?7, primary_resolution = ?8,
                          reopen_count = ?9, state = ?10
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
            ])
        })
        .map_err(map_err)?;
    Ok(())
}

fn insert_events(conn: &Connection, events: &[Event]) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached("INSERT INTO events (case_number, seq, kind, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(map_err)?;
    let mut closure = conn
        .prepare_cached("INSERT INTO closures (case_number, at, mode) VALUES (?1, ?2, ?3)")
        .map_err(map_err)?;
    let mut reopen = conn
        .prepare_cached(
            "INSERT INTO reopens (case_number, at, closed_at, close_mode) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(map_err)?;
    for e in events {
        let n = e.case.get() as i64;
        st.execute(params![n, e.seq as i64, e.kind.name(), to_json(e)?])
            .map_err(map_err)?;
        match &e.kind {
            EventKind::Closed { mode, .. } => {
                closure
                    .execute(params![n, micros(e.at), mode.as_str()])
                    .map_err(map_err)?;
            }
            EventKind::Reopened {
                close_mode,
                closed_at,
                ..
            } => {
                reopen
                    .execute(params![
                        n,
                        micros(e.at),
                        micros(*closed_at),
                        close_mode.as_str()
                    ])
                    .map_err(map_err)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The searchable text of events: (everything staff may see, what the customer may see).
fn event_texts<'a>(events: impl IntoIterator<Item = &'a Event>) -> (String, String) {
    let (mut full, mut public) = (String::new(), String::new());
    for e in events {
        if let Some((vis, t)) = e.text() {
            full.push('\n');
            full.push_str(t);
            if vis == Visibility::Customer {
                public.push('\n');
                public.push_str(t);
            }
        }
    }
    (full, public)
}

fn index_case(
    conn: &Connection,
    case: &Case,
    events: &[Event],
    insert: bool,
) -> Result<(), StoreError> {
    let (full, public) = event_texts(events);
    let rowid = case_rowid(case.number);
    let reference = case.number.display();
    if !insert {
        conn.prepare_cached("DELETE FROM search_full WHERE rowid = ?1")
            .and_then(|mut s| s.execute([rowid]))
            .map_err(map_err)?;
        conn.prepare_cached("DELETE FROM search_public WHERE rowid = ?1")
            .and_then(|mut s| s.execute([rowid]))
            .map_err(map_err)?;
    }
    conn.prepare_cached(
        "INSERT INTO search_full (rowid, title, body, kind, ref) VALUES (?1, ?2, ?3, 'case', ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            rowid,
            case.title,
            format!("{}{full}", case.description),
            reference
        ])
    })
    .map_err(map_err)?;
    conn.prepare_cached(
        "INSERT INTO search_public (rowid, title, body, kind, ref, customer)
         VALUES (?1, ?2, ?3, 'case', ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            rowid,
            case.title,
            format!("{}{public}", case.description),
            reference,
            case.customer.email.as_str()
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

/// Keeps the search rows of a case in step with new events: appends new text, and
/// rebuilds both rows when the title or description changed.
fn reindex_case(conn: &Connection, case: &Case, new: &[Event]) -> Result<(), StoreError> {
    let rewritten = new.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::FieldChanged {
                field: Field::Title | Field::Description,
                ..
            }
        )
    });
    if rewritten {
        let history = history(conn, case.number)?;
        return index_case(conn, case, &history, false);
    }
    let (full, public) = event_texts(new);
    let rowid = case_rowid(case.number);
    if !full.is_empty() {
        conn.prepare_cached("UPDATE search_full SET body = body || ?2 WHERE rowid = ?1")
            .and_then(|mut s| s.execute(params![rowid, full]))
            .map_err(map_err)?;
    }
    if !public.is_empty() {
        conn.prepare_cached("UPDATE search_public SET body = body || ?2 WHERE rowid = ?1")
            .and_then(|mut s| s.execute(params![rowid, public]))
            .map_err(map_err)?;
    }
    Ok(())
}

/// Opens a case with the next number (inside the writer's transaction, so numbers are
/// unique across processes too).
pub fn create_case(
    conn: &Connection,
    at: Timestamp,
    actor: String,
    opened: EventKind,
) -> Result<Case, StoreError> {
    if !matches!(opened, EventKind::Opened { .. }) {
        return Err(StoreError::Invalid(
            "a case starts with an opened event".into(),
        ));
    }
    let next: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(number), 0) + 1 FROM cases")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    let event = Event {
        case: number_of(next)?,
        seq: 1,
        at,
        actor,
        kind: opened,
    };
    let case = replay([&event]).map_err(|e| StoreError::Invalid(e.to_string()))?;
    write_case_row(conn, &case, true)?;
    insert_events(conn, std::slice::from_ref(&event))?;
    index_case(conn, &case, std::slice::from_ref(&event), true)?;
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
    opened: EventKind,
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
    let case = create_case(conn, at, actor, opened)?;
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
    insert_events(conn, events)?;
    index_case(conn, &case, events, true)?;
    Ok(case)
}

fn current_version(conn: &Connection, n: CaseNumber) -> Result<Option<u64>, StoreError> {
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
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM cases WHERE number = ?1")
        .and_then(|mut s| s.query_row([n.get() as i64], |r| r.get(0)).optional())
        .map_err(map_err)?;
    let state = state.ok_or_else(|| StoreError::NotFound(format!("case {n}")))?;
    serde_json::from_str(&state).map_err(json_err)
}

/// Commits events, state and outbox messages; all of it or none (the caller's savepoint).
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
    insert_events(conn, &c.events)?;
    write_case_row(conn, &c.state, false)?;
    reindex_case(conn, &c.state, &c.events)?;
    for m in &c.outbox {
        insert_outbox(conn, m)?;
    }
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
// lists and search

fn fts_query(terms: &[String], joiner: &str) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(joiner)
}

/// Lists cases by ascending number.
pub fn list_cases(
    conn: &Connection,
    f: &CaseFilter,
    page: &PageRequest,
) -> Result<Page<Case>, StoreError> {
    let mut sql = String::from("SELECT state FROM cases WHERE number > ?");
    let mut args: Vec<Value> = vec![Value::Integer(page.after.map_or(0, |n| n.get() as i64))];
    let mut clause = |sql_part: &str, v: Value| {
        sql.push_str(sql_part);
        args.push(v);
    };
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
        let terms = text::query_terms(q);
        if !terms.is_empty() {
            let table = if f.customer.is_some() {
                "search_public"
            } else {
                "search_full"
            };
            clause(
                &format!(
                    " AND number IN (SELECT rowid / 3 FROM {table} WHERE {table} MATCH ? AND kind = 'case')"
                ),
                Value::Text(fts_query(&terms, " ")),
            );
        }
    }
    match f.reopened {
        Some(true) => sql.push_str(" AND reopen_count > 0"),
        Some(false) => sql.push_str(" AND reopen_count = 0"),
        None => {}
    }
    sql.push_str(" ORDER BY number LIMIT ?");
    args.push(Value::Integer(i64::from(page.limit) + 1));
    let mut st = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = st
        .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut items = Vec::new();
    for row in rows {
        items.push(serde_json::from_str::<Case>(&row.map_err(map_err)?).map_err(json_err)?);
    }
    Ok(Page::from_overfetch(items, page.limit))
}

fn run_search(
    conn: &Connection,
    scope: &Scope,
    match_expr: &str,
    kind: Option<&str>,
    exclude_rowid: Option<i64>,
    limit: u32,
) -> Result<Vec<SearchHit>, StoreError> {
    let (table, customer) = match scope {
        Scope::Staff => ("search_full", None),
        Scope::Customer(e) => ("search_public", Some(e.as_str().to_string())),
    };
    let mut sql =
        format!("SELECT kind, ref, title, bm25({table}) AS s FROM {table} WHERE {table} MATCH ?1");
    let mut args: Vec<Value> = vec![Value::Text(match_expr.to_string())];
    if let Some(k) = kind {
        sql.push_str(&format!(" AND kind = ?{}", args.len() + 1));
        args.push(Value::Text(k.to_string()));
    }
    if let Some(c) = customer {
        sql.push_str(&format!(
            " AND (kind = 'article' OR customer = ?{})",
            args.len() + 1
        ));
        args.push(Value::Text(c));
    }
    if let Some(r) = exclude_rowid {
        sql.push_str(&format!(" AND rowid != ?{}", args.len() + 1));
        args.push(Value::Integer(r));
    }
    sql.push_str(&format!(" ORDER BY s LIMIT ?{}", args.len() + 1));
    args.push(Value::Integer(i64::from(limit)));
    let mut st = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = st
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, f64>(3)?,
            ))
        })
        .map_err(map_err)?;
    let mut hits = Vec::new();
    for row in rows {
        let (kind, reference, title, s) = row.map_err(map_err)?;
        hits.push(SearchHit {
            kind: kind
                .parse()
                .map_err(|_| StoreError::Internal(format!("bad kind {kind}")))?,
            reference,
            title,
            score: -s,
        });
    }
    Ok(hits)
}

/// Ranked search; every term must match.
pub fn search(conn: &Connection, q: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
    let terms = text::query_terms(&q.text);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let kind = q.kind.map(|k| k.as_str());
    run_search(conn, &q.scope, &fts_query(&terms, " "), kind, None, q.limit)
}

/// Document frequencies of terms, cached: `fts5vocab` counts a term's documents by walking
/// its whole doclist, which is slow for common terms in a large index. Similar-case queries
/// only use the counts to drop terms held by more than about 1% of documents and to order
/// the rest, so a count up to [`DF_TTL`] old is as good as a fresh one.
#[derive(Debug, Default)]
pub struct DfCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (u64, std::time::Instant)>>,
}

/// How long a cached document frequency is used.
pub const DF_TTL: std::time::Duration = std::time::Duration::from_secs(600);
const DF_CACHE_MAX: usize = 200_000;

impl DfCache {
    fn get(&self, conn: &Connection, term: &str) -> Result<u64, StoreError> {
        let now = std::time::Instant::now();
        {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((df, at)) = map.get(term)
                && now.duration_since(*at) < DF_TTL
            {
                return Ok(*df);
            }
        }
        let df = conn
            .prepare_cached("SELECT doc FROM search_full_vocab WHERE term = ?1")
            .and_then(|mut s| s.query_row([term], |r| r.get::<_, i64>(0)).optional())
            .map_err(map_err)?
            .unwrap_or(0) as u64;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= DF_CACHE_MAX {
            map.clear();
        }
        map.insert(term.to_string(), (df, now));
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
    let mut st = conn
        .prepare_cached(
            "SELECT json_extract(body, '$.body') FROM events
             WHERE case_number = ?1 AND kind = 'post_added'
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
    let sources = [title.as_str(), description.as_str()]
        .into_iter()
        .chain(summaries.iter().map(String::as_str));
    let terms = text::similar_terms(
        sources,
        |t| match dfs.get(conn, t) {
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
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    run_search(
        conn,
        scope,
        &fts_query(&terms, " OR "),
        None,
        Some(case_rowid(n)),
        limit,
    )
}

// ---------------------------------------------------------------------------------------
// reports

/// The reopen report, aggregated in SQL; the median is taken in Rust with core's helper.
pub fn reopen_report(conn: &Connection, q: &ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
    let col = match q.group_by {
        ReportGroup::ProductArea => "product_area",
        ReportGroup::Owner => "owner",
        ReportGroup::PrimaryResolution => "primary_resolution",
    };
    let from = q.from.map_or(i64::MIN, micros);
    let to = q.to.map_or(i64::MAX, micros);
    let closed_sql = format!(
        "SELECT COALESCE(c.{col}, '{none}') AS k, COUNT(DISTINCT cl.case_number)
         FROM closures cl JOIN cases c ON c.number = cl.case_number
         WHERE cl.mode != 'temporary' AND cl.at >= ?1 AND cl.at < ?2
         GROUP BY k",
        none = report::NO_KEY
    );
    let reopen_sql = format!(
        "SELECT COALESCE(c.{col}, '{none}') AS k, r.case_number, r.at - r.closed_at
         FROM reopens r JOIN cases c ON c.number = r.case_number
         WHERE r.close_mode != 'temporary' AND r.closed_at >= ?1 AND r.closed_at < ?2",
        none = report::NO_KEY
    );
    let mut closed: BTreeMap<String, u64> = BTreeMap::new();
    let mut st = conn.prepare_cached(&closed_sql).map_err(map_err)?;
    let rows = st
        .query_map(params![from, to], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(map_err)?;
    for row in rows {
        let (k, n) = row.map_err(map_err)?;
        closed.insert(k, n as u64);
    }
    let mut reopened: BTreeMap<String, (BTreeSet<i64>, Vec<f64>)> = BTreeMap::new();
    let mut st = conn.prepare_cached(&reopen_sql).map_err(map_err)?;
    let rows = st
        .query_map(params![from, to], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(map_err)?;
    for row in rows {
        let (k, case, us) = row.map_err(map_err)?;
        let entry = reopened.entry(k).or_default();
        entry.0.insert(case);
        entry
            .1
            .push(SignedDuration::from_micros(us).as_secs_f64() / 86_400.0);
    }
    Ok(closed
        .into_iter()
        .map(|(key, closed)| {
            let (cases, days) = reopened.remove(&key).unwrap_or_default();
            report::row(key, closed, cases.len() as u64, days)
        })
        .collect())
}

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
    for table in ["search_full", "search_public"] {
        conn.prepare_cached(&format!(
            "INSERT INTO {table} (rowid, title, body, kind, ref) VALUES (?1, ?2, ?3, 'article', ?4)"
        ))
        .and_then(|mut s| s.execute(params![id * 3 + 1, a.title, a.body, id.to_string()]))
        .map_err(map_err)?;
    }
    Ok(Article {
        id: id as u64,
        title: a.title.clone(),
        body: a.body.clone(),
        url: a.url.clone(),
        created_at: at,
    })
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
    conn.prepare_cached(
        "INSERT INTO search_full (rowid, title, body, kind, ref) VALUES (?1, ?2, ?3, 'defect', ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id * 3 + 2,
            d.title,
            format!("{}\n{}", d.key, d.body),
            d.key
        ])
    })
    .map_err(map_err)?;
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

/// One case's messages, oldest first.
pub fn outbox_for_case(
    conn: &Connection,
    case: CaseNumber,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_number = ?1 ORDER BY seq"
        ))
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
        return Err(StoreError::Conflict {
            expected_version: 0,
            current_version: 0,
        });
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
    let row = conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"
        ))
        .and_then(|mut s| s.query_row([id], outbox_row))
        .map_err(map_err)?;
    row.message()
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

    #[test]
    fn fts_queries_quote_every_term() {
        let t = vec!["printer".to_string(), "off\"line".to_string()];
        assert_eq!(fts_query(&t, " "), "\"printer\" \"off\"\"line\"");
        assert_eq!(fts_query(&t, " OR "), "\"printer\" OR \"off\"\"line\"");
    }
}
