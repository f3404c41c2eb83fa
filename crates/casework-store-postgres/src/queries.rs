//! Queries and search: case lists (filters, full text, stable pages), ranked search and
//! similar cases, over the search rows of `search_public` (what a customer may see) and
//! `search_internal` (the rest).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{Case, RefKind};
use casework_core::ports::{
    CaseFilter, CaseOrder, Page, PageRequest, Scope, SearchHit, SearchQuery, StoreError,
    priority_rank,
};
use casework_core::text;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::db::{db_err, dec, enc, get, json, num, number_of, one, opt, rows};
use crate::text::{Lexemes, tsquery, tsquery_words};
use casework_core::query;

/// How long a list waits for creates in flight to settle before it answers with what it has.
pub const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// Owned statement parameters, built up with the SQL that names them.
#[derive(Default)]
struct Sql {
    text: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    /// Adds a parameter; its placeholder (`$n`).
    fn param(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(v));
        format!("${}", self.params.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The search rows `scope` may read that match tsquery `$q`, as `(kind, doc, seq, tsv)`.
fn scope_rows(sql: &mut Sql, scope: &Scope, q: &str) -> String {
    match scope {
        Scope::Staff => format!(
            "SELECT kind, doc, seq, tsv FROM search_public WHERE tsv @@ {q}::text::tsquery
             UNION ALL SELECT kind, doc, seq, tsv FROM search_internal
             WHERE tsv @@ {q}::text::tsquery"
        ),
        Scope::Customer(email) => {
            let c = sql.param(enc(email.as_str()).into_owned());
            format!(
                "SELECT kind, doc, seq, tsv FROM search_public WHERE tsv @@ {q}::text::tsquery
                 AND (kind = 'article' OR customer = {c})"
            )
        }
    }
}

/// An SQL condition: document (`{kind}`, `{doc}`, SQL expressions) has a row the scope may
/// read matching tsquery `$q`. The document's rows are found by their key and each tested,
/// so the check costs the document's rows, not the query's matches: the test is
/// `ts_match_vq` (what `@@` calls), which no index serves, so the planner cannot swap the
/// key lookup for the word's whole GIN bitmap, and the rows come through a `UNION ALL`,
/// which PostgreSQL never turns into a join or a hashed subplan (both read every match of
/// the word: a seq scan of the table for a common word).
fn doc_has(scope: &Scope, q: &str, kind: &str, doc: &str) -> String {
    let one = |table: &str| {
        format!(
            "SELECT 1 FROM {table} x WHERE x.kind = {kind} AND x.doc = {doc}
             AND ts_match_vq(x.tsv, {q}::text::tsquery)"
        )
    };
    match scope {
        // a customer's candidates are already theirs (or articles)
        Scope::Customer(_) => format!("EXISTS ({} OFFSET 0)", one("search_public")),
        Scope::Staff => format!(
            "EXISTS ({} UNION ALL {})",
            one("search_public"),
            one("search_internal")
        ),
    }
}

/// How many index rows the sample of the newest rows holds per search table
/// ([`clause_frequencies`]).
const SAMPLE_ROWS: i64 = 1_000;
/// Matches in the sample from which a clause counts as frequent: its frequency is taken from
/// the sample and its GIN bitmap is never read to count it.
const SAMPLE_FREQUENT: u64 = 10;

/// What reading one row costs in a walk newest first (the row fetched, its `tsvector`
/// tested), in matches read whole through a GIN bitmap (each on a heap page of its own).
/// Measured with `EXPLAIN ANALYZE` at 370,000 cases (docs/benchmarks.md, "PostgreSQL at
/// scale"): a walked row 0.5–1.4 µs (rows next to each other, read in key order), a match
/// through GIN 4–11 µs.
const WALK_ROW_COST: f64 = 0.15;
/// What checking one case costs while the list walks the cases (its rows looked up by key
/// in both tables and tested), in the same unit: 13–15 µs measured.
const CHECK_CASE_COST: f64 = 3.0;

/// How often a clause matches, as far as choosing how to read it goes.
#[derive(Debug, Clone, Copy)]
struct Frequency {
    /// Rows the scope may read that match: counted exactly up to the cap (one more than the
    /// cap means "more"), or, for a frequent clause, estimated from the sample.
    rows: u64,
    /// For a frequent clause, how many rows a walk newest first reads per match it finds.
    rows_per_match: Option<f64>,
    /// Rows GIN's bitmap holds for the clause: its rows, or for a phrase those holding all
    /// of its words (each is fetched to check their positions).
    bitmap_rows: u64,
    /// For a frequent clause, how many consecutive case numbers hold one case matching it,
    /// among the cases the sample covers.
    cases_per_match: Option<f64>,
}

impl Frequency {
    /// Whether finding `wanted` matches by walking rows newest first costs less than reading
    /// every match through the GIN bitmap.
    fn walk_is_cheaper(&self, wanted: u64) -> bool {
        self.rows_per_match
            .is_some_and(|r| wanted as f64 * r * WALK_ROW_COST < self.bitmap_rows as f64)
    }
}

/// How often each clause matches in what the scope may read. Staff queries first test the
/// clauses on a sample, the newest [`SAMPLE_ROWS`] case rows of each search table (a few
/// milliseconds, whatever the words): a clause found at least [`SAMPLE_FREQUENT`] times is
/// frequent, and its count is estimated from the sample and the tables' sizes, so a common
/// word's GIN bitmap (all of its matches: hundreds of milliseconds at 1M cases) is never
/// built to count it. The rest, and every clause of a customer's query, are counted
/// through the index up to `cap` ([`clause_counts`]), which for a rare word is cheap.
async fn clause_frequencies(
    c: &impl GenericClient,
    scope: &Scope,
    clauses: &[&query::Clause],
    lexemes: Lexemes,
    cap: u64,
) -> Result<Vec<Frequency>, StoreError> {
    let mut found: Vec<Option<Frequency>> = vec![None; clauses.len()];
    if *scope == Scope::Staff && !clauses.is_empty() {
        let queries: Vec<String> = clauses
            .iter()
            .map(|cl| tsquery(std::slice::from_ref(*cl), false, lexemes))
            .collect();
        // what the index looks up for a phrase: its words, wherever they are (a word or
        // prefix is looked up as it is tested: NULL, its own matches)
        let lookups: Vec<Option<String>> = clauses
            .iter()
            .map(|cl| match cl {
                query::Clause::Phrase(ws) => Some(tsquery_words(ws, true, lexemes)),
                _ => None,
            })
            .collect();
        // One pass over the sample: each row is tested once per clause (and once more per
        // phrase, for its words), the clauses parsed once, not once per row tested. The
        // cases holding a clause are counted among those both tables' samples cover.
        let sampled = rows(
            c,
            "WITH s AS MATERIALIZED (
               (SELECT 1 AS t, doc, tsv FROM search_public WHERE kind = 'case'
                ORDER BY kind DESC, doc DESC, seq DESC LIMIT $2)
               UNION ALL
               (SELECT 2 AS t, doc, tsv FROM search_internal WHERE kind = 'case'
                ORDER BY kind DESC, doc DESC, seq DESC LIMIT $2)),
             b AS (SELECT greatest(min(doc) FILTER (WHERE t = 1), min(doc) FILTER (WHERE t = 2))
                     AS lo, max(doc) AS hi FROM s),
             u AS MATERIALIZED (
               SELECT q::tsquery AS q, l::tsquery AS l, i
               FROM unnest($1::text[], $3::text[]) WITH ORDINALITY AS u(q, l, i))
             SELECT count(*) FILTER (WHERE x.t = 1 AND x.m), count(*) FILTER (WHERE x.t = 2 AND x.m),
                    count(*) FILTER (WHERE x.t = 1), count(*) FILTER (WHERE x.t = 2),
                    (SELECT reltuples::float8 FROM pg_class WHERE oid = 'search_public'::regclass),
                    (SELECT reltuples::float8 FROM pg_class WHERE oid = 'search_internal'::regclass),
                    count(*) FILTER (WHERE x.l),
                    count(DISTINCT x.doc) FILTER (WHERE x.m AND x.doc >= b.lo),
                    COALESCE(b.hi - b.lo + 1, 0)
             FROM u CROSS JOIN b
             LEFT JOIN LATERAL (
               SELECT s.t, s.doc, ts_match_vq(s.tsv, u.q) AS m,
                      u.l IS NOT NULL AND ts_match_vq(s.tsv, u.l) AS l
               FROM s OFFSET 0) x ON TRUE
             GROUP BY u.i, b.lo, b.hi ORDER BY u.i",
            &[&queries, &SAMPLE_ROWS, &lookups],
        )
        .await?;
        for (slot, r) in found.iter_mut().zip(&sampled) {
            let (m1, m2) = (get::<i64>(r, 0)? as f64, get::<i64>(r, 1)? as f64);
            let (s1, s2) = (get::<i64>(r, 2)? as f64, get::<i64>(r, 3)? as f64);
            let (t1, t2) = (get::<f64>(r, 4)?, get::<f64>(r, 5)?);
            // a word's or prefix's lookup finds its own matches; a phrase's, the rows
            // holding its words (0 only when the phrase matches nothing either)
            let looked_up = match get::<i64>(r, 6)? {
                0 => m1 + m2,
                n => n as f64,
            };
            let (cases_held, cases_covered) = (get::<i64>(r, 7)?, get::<i64>(r, 8)?);
            *slot = sampled_frequency([(m1, s1, t1), (m2, s2, t2)]).map(|f| Frequency {
                // the lookup's matches, spread over the tables as the clause's are
                bitmap_rows: (f.rows as f64 * looked_up / (m1 + m2).max(1.0)).round() as u64,
                cases_per_match: (cases_held > 0)
                    .then(|| cases_covered.max(cases_held) as f64 / cases_held as f64),
                ..f
            });
        }
    }
    let rest: Vec<&query::Clause> = clauses
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(c, _)| *c)
        .collect();
    let mut counted = clause_counts(c, scope, &rest, lexemes, cap)
        .await?
        .into_iter();
    found
        .into_iter()
        .map(|f| match f {
            Some(f) => Ok(f),
            None => counted
                .next()
                .map(|rows| Frequency {
                    rows,
                    rows_per_match: None,
                    bitmap_rows: rows,
                    cases_per_match: None,
                })
                .ok_or_else(|| StoreError::Internal("a clause left uncounted".into())),
        })
        .collect()
}

/// A frequent clause's frequency from its sample: per table, the matches in the sample, the
/// rows sampled and the table's size as of its last `ANALYZE`. `None` (count it) when the
/// sample found few matches, read a whole table (counting is then as cheap and exact), or
/// a table was never analyzed.
fn sampled_frequency(tables: [(f64, f64, f64); 2]) -> Option<Frequency> {
    let matches: f64 = tables.iter().map(|t| t.0).sum();
    let sampled: f64 = tables.iter().map(|t| t.1).sum();
    let partial = tables.iter().any(|t| t.1 >= SAMPLE_ROWS as f64);
    if matches < SAMPLE_FREQUENT as f64 || !partial {
        return None;
    }
    let mut rows = 0.0;
    for (m, s, total) in tables {
        if s >= SAMPLE_ROWS as f64 {
            if total < s {
                return None;
            }
            rows += m / s * total;
        } else {
            rows += m;
        }
    }
    Some(Frequency {
        rows: rows.round() as u64,
        rows_per_match: Some(sampled / matches),
        bitmap_rows: rows.round() as u64,
        cases_per_match: None,
    })
}

/// How many rows the scope may read match each clause, counted up to one more than `cap`
/// (so a common clause costs no more to tell than a rare one), in one statement for all the
/// clauses.
async fn clause_counts(
    c: &impl GenericClient,
    scope: &Scope,
    clauses: &[&query::Clause],
    lexemes: Lexemes,
    cap: u64,
) -> Result<Vec<u64>, StoreError> {
    if clauses.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::default();
    let queries: Vec<String> = clauses
        .iter()
        .map(|cl| tsquery(std::slice::from_ref(*cl), false, lexemes))
        .collect();
    let qs = sql.param(queries);
    let cap = sql.param(cap as i64 + 1);
    let source = scope_rows(&mut sql, scope, "u.q");
    let text = format!(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM ({source}) r LIMIT {cap}) x)
         FROM unnest({qs}::text[]) WITH ORDINALITY AS u(q, i) ORDER BY u.i"
    );
    let found = rows(c, &text, &sql.refs()).await?;
    found
        .iter()
        .map(|r| get::<i64>(r, 0).map(|n| n as u64))
        .collect()
}

/// The list query: cases after the cursor (and up to `upto`, in number order), filtered, in
/// the page's order,
/// each with whether it is settled (see [`list_cases`]) and its settling point.
fn list_sql(
    f: &CaseFilter,
    page: &PageRequest,
    upto: Option<i64>,
    lexemes: Lexemes,
    rare: &[bool],
    window: Option<&Window>,
) -> Sql {
    let mut sql = Sql::default();
    let mut text = "SELECT state, settled_after < pg_snapshot_xmin(pg_current_snapshot()),
                settled_after::text
         FROM cases WHERE true"
        .to_string();
    // the cursor: past (key, number) in the order's direction
    let (column, direction) = match page.order {
        CaseOrder::Number => (None, "ASC"),
        CaseOrder::Updated => (Some("updated_us"), "DESC"),
        CaseOrder::Priority => (Some("priority_rank"), "ASC"),
    };
    let past = if page.order.descending() { "<" } else { ">" };
    if let Some(after) = page.after {
        let n = sql.param(num(after));
        match (column, page.after_key) {
            (Some(col), Some(key)) => {
                let k = sql.param(key);
                text.push_str(&format!(" AND ({col}, number) {past} ({k}, {n})"));
            }
            _ => text.push_str(&format!(" AND number {past} {n}")),
        }
    }
    if let Some(w) = window {
        let lo = sql.param(w.lo);
        text.push_str(&format!(" AND number > {lo}"));
    }
    if let Some(p) = f.priority {
        let p = sql.param(priority_rank(p));
        text.push_str(&format!(" AND priority_rank = {p}"));
    }
    match f.unassigned {
        Some(true) => text.push_str(" AND owner IS NULL"),
        Some(false) => text.push_str(" AND owner IS NOT NULL"),
        None => {}
    }
    if let Some(u) = upto {
        let p = sql.param(u);
        text.push_str(&format!(" AND number <= {p}"));
    }
    if let Some(s) = &f.status {
        let p = sql.param(enc(s.as_str()).into_owned());
        text.push_str(&format!(" AND lower(status) = lower({p})"));
    }
    if let Some(c) = f.status_category {
        let p = sql.param(c.as_str().to_string());
        text.push_str(&format!(" AND status_category = {p}"));
    }
    if let Some(o) = &f.owner {
        let p = sql.param(enc(o).into_owned());
        text.push_str(&format!(" AND owner = {p}"));
    }
    if let Some(a) = &f.product_area {
        let p = sql.param(enc(a).into_owned());
        text.push_str(&format!(" AND product_area = {p}"));
    }
    if let Some(e) = &f.customer {
        let p = sql.param(enc(e.as_str()).into_owned());
        text.push_str(&format!(" AND customer_email = {p}"));
    }
    if let Some(q) = &f.q {
        let q = query::parse(q);
        let scope = match &f.customer {
            Some(e) => Scope::Customer(e.clone()),
            None => Scope::Staff,
        };
        // a rare clause's cases are read whole; a common one is checked per case as the
        // cases are walked in the page's order, so the walk stops with the page
        let mut probes = String::new();
        let clauses = q
            .required
            .iter()
            .map(|c| (c, ""))
            .chain(q.excluded.iter().map(|c| (c, "NOT ")));
        for (i, ((c, not), rare)) in clauses.zip(rare).enumerate() {
            let p = sql.param(tsquery(std::slice::from_ref(c), false, lexemes));
            if let Some((w, hi)) = window
                .and_then(|w| w.hi.map(|hi| (w, hi)))
                .filter(|(w, _)| w.clause == i)
            {
                // the clause's rows in the window, read in key order from both tables
                let (lo, hi) = (sql.param(w.lo), sql.param(hi));
                let one = |table: &str| {
                    format!(
                        "SELECT doc FROM {table} WHERE kind = 'case' AND doc > {lo}
                         AND doc <= {hi} AND ts_match_vq(tsv, {p}::text::tsquery)"
                    )
                };
                text.push_str(&format!(
                    " AND number > {lo} AND number <= {hi} AND number IN ({} UNION ALL {})",
                    one("search_public"),
                    one("search_internal")
                ));
            } else if *rare {
                let source = scope_rows(&mut sql, &scope, &p);
                text.push_str(&format!(
                    " AND number {not}IN (SELECT doc FROM ({source}) r WHERE kind = 'case')"
                ));
            } else {
                let has = doc_has(&scope, &p, "'case'", "cases.number");
                probes.push_str(&format!(" AND {not}{has}"));
            }
        }
        text.push_str(&probes);
    }
    match f.reopened {
        Some(true) => text.push_str(" AND reopen_count > 0"),
        Some(false) => text.push_str(" AND reopen_count = 0"),
        None => {}
    }
    let limit = sql.param(i64::from(page.limit) + 1);
    match column {
        Some(col) => text.push_str(&format!(
            " ORDER BY {col} {direction}, number {direction} LIMIT {limit}"
        )),
        None => text.push_str(&format!(" ORDER BY number LIMIT {limit}")),
    }
    sql.text = text;
    sql
}

/// The cases whose history records a Message-ID, newest first: the partial index
/// `events_by_message_id` (schema v8) over the email events' `message_id`.
pub async fn cases_with_message_id(
    c: &impl GenericClient,
    message_id: &str,
    limit: u32,
) -> Result<Vec<CaseNumber>, StoreError> {
    rows(
        c,
        "SELECT DISTINCT case_number FROM events
          WHERE kind IN ('email_received', 'email_queued') AND body->>'message_id' = $1
          ORDER BY case_number DESC LIMIT $2",
        &[&enc(message_id).into_owned(), &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| number_of(get(r, 0)?))
    .collect()
}

/// The customer's latest cases, newest first: `cases_by_customer` read backwards.
pub async fn latest_cases_of(
    c: &impl GenericClient,
    customer: &EmailAddress,
    limit: u32,
) -> Result<Vec<Case>, StoreError> {
    rows(
        c,
        "SELECT state FROM cases WHERE customer_email = $1 ORDER BY number DESC LIMIT $2",
        &[&enc(customer.as_str()).into_owned(), &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| json(r, 0))
    .collect()
}

/// Lists cases by ascending number, in pages that never skip a case.
///
/// Numbers come from a sequence, so two creates in flight may commit out of number order:
/// a page read between the two commits would show the higher number, and a cursor past it
/// would skip the lower one for good. Each case records the transaction that took its
/// number (`settled_after`; ids and numbers are taken in the same order); once every
/// transaction older than that has ended, no lower number can still appear. A page holding
/// an unsettled case waits (up to [`SETTLE_WAIT`], usually a few milliseconds) for that,
/// then reads again up to the same last number.
pub async fn list_cases(
    c: &impl GenericClient,
    f: &CaseFilter,
    page: &PageRequest,
    lexemes: Lexemes,
) -> Result<Page<Case>, StoreError> {
    let (rare, driver) = match &f.q {
        Some(q) => {
            let q = query::parse(q);
            let scope = match &f.customer {
                Some(e) => Scope::Customer(e.clone()),
                None => Scope::Staff,
            };
            let clauses: Vec<&query::Clause> = q.required.iter().chain(&q.excluded).collect();
            let freqs = clause_frequencies(c, &scope, &clauses, lexemes, query::LIST_WHOLE).await?;
            let rare: Vec<bool> = freqs
                .iter()
                .map(|f| list_reads_whole(f, page.limit))
                .collect();
            // in number order, the rarest required clause checked case by case is read in
            // windows of case numbers instead (below)
            let driver = (0..q.required.len())
                .filter(|i| !rare[*i])
                .filter_map(|i| freqs[i].cases_per_match.map(|per| (i, per)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|_| page.order == CaseOrder::Number);
            (rare, driver)
        }
        None => (Vec::new(), None),
    };
    let (found, window) = match driver {
        Some((clause, per)) => windowed(c, f, page, lexemes, &rare, clause, per).await?,
        None => {
            let sql = list_sql(f, page, None, lexemes, &rare, None);
            (rows(c, &sql.text, &sql.refs()).await?, None)
        }
    };
    if page.order != CaseOrder::Number {
        // the settling below keeps number-order cursors from skipping a case committed
        // late; in another order a case moves with every change anyway
        return page_of(&found, page);
    }
    let unsettled: Option<u64> = found
        .iter()
        .filter(|r| !r.get::<_, bool>(1))
        .filter_map(|r| r.get::<_, String>(2).parse().ok())
        .max();
    let (Some(target), Some(last)) = (unsettled, found.last()) else {
        return page_of(&found, page);
    };
    let last = num(json::<Case>(last, 0)?.number);
    let started = Instant::now();
    while started.elapsed() < SETTLE_WAIT {
        let row = one(
            c,
            "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8",
            &[&target.to_string()],
        )
        .await?;
        if get::<bool>(&row, 0)? {
            let sql = list_sql(f, page, Some(last), lexemes, &rare, window.as_ref());
            let found = rows(c, &sql.text, &sql.refs()).await?;
            return page_of(&found, page);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // A transaction has run for longer than the wait: answer with the settled part, or,
    // if nothing is settled, with what there is.
    let settled = found.iter().take_while(|r| r.get::<_, bool>(1)).count();
    if settled > 0 {
        let items = found[..settled]
            .iter()
            .map(|r| json(r, 0))
            .collect::<Result<Vec<Case>, _>>()?;
        let next_cursor = items
            .last()
            .map(|c| casework_core::ports::encode_cursor(c.number));
        return Ok(Page { items, next_cursor });
    }
    page_of(&found, page)
}

/// Case numbers a list reads a frequent clause in: above `lo`, and with `hi` up to it, the
/// clause's rows in that range read whole from both tables in key order (a few rows a case,
/// each next to the last) rather than each case's rows looked up and tested (two index
/// descents a case: 13–15 µs measured at 370,000 cases).
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Which clause (of the required ones) is read in the window.
    clause: usize,
    lo: i64,
    /// `None`: no window; the cases above `lo` are walked and checked one by one.
    hi: Option<i64>,
}

/// How many times the cases a page is expected to need (from the sample's cases per match)
/// a list's first window spans.
const WINDOW_MARGIN: f64 = 2.0;
/// Windows read before the list goes on checking cases one by one.
const WINDOW_TRIES: u32 = 3;

/// A number-order page of a list whose clause `clause` (in `per` cases, one matches) is read
/// in windows of case numbers: each window spans what the rest of the page is expected to
/// need, twice over, and the next starts where it ended; after [`WINDOW_TRIES`] windows
/// (other filters rejecting most of them, or a clause much rarer here than in the newest
/// cases) the rest of the page is found checking cases one by one. The rows are those a
/// single query over the windows' union would give. With them, the window to read them
/// again with (`None` when the last read checked cases one by one).
async fn windowed(
    c: &impl GenericClient,
    f: &CaseFilter,
    page: &PageRequest,
    lexemes: Lexemes,
    rare: &[bool],
    clause: usize,
    per: f64,
) -> Result<(Vec<Row>, Option<Window>), StoreError> {
    let want = page.limit as usize + 1;
    let first = page.after.map(num).unwrap_or(0);
    let mut found: Vec<Row> = Vec::new();
    let mut lo = first;
    for tries in 0..=WINDOW_TRIES {
        let need = want - found.len();
        let hi = (tries < WINDOW_TRIES).then(|| {
            let span = (need as f64 * per * WINDOW_MARGIN * f64::from(1 + tries)).ceil();
            lo.saturating_add((span as i64).max(1))
        });
        let w = Window { clause, lo, hi };
        let sql = list_sql(f, page, None, lexemes, rare, Some(&w));
        found.extend(
            rows(c, &sql.text, &sql.refs())
                .await?
                .into_iter()
                .take(need),
        );
        match hi {
            Some(hi) if found.len() < want => lo = hi,
            _ => {
                let again = hi.map(|_| Window {
                    clause,
                    lo: first,
                    hi,
                });
                return Ok((found, again));
            }
        }
    }
    Ok((found, None))
}

/// Whether the list reads a clause's matches whole (and has them drive the query) rather
/// than checking it case by case as it walks the cases in the page's order: whichever reads
/// less. A walk checks about `(limit + 1) × rows_per_match` cases to fill a page (fewer
/// when a case holds the word in several rows); a clause too rare for the sample to tell
/// is read whole up to [`query::LIST_WHOLE`] matches, and none beyond
/// [`query::LIST_WHOLE_MAX`] (the case numbers of a query stay a few MiB).
fn list_reads_whole(f: &Frequency, limit: u32) -> bool {
    match f.rows_per_match {
        Some(r) => {
            f.rows <= query::LIST_WHOLE_MAX
                && (f.rows as f64) < (f64::from(limit) + 1.0) * r * CHECK_CASE_COST
        }
        None => f.rows <= query::LIST_WHOLE,
    }
}

fn page_of(found: &[Row], page: &PageRequest) -> Result<Page<Case>, StoreError> {
    let items = found
        .iter()
        .map(|r| json(r, 0))
        .collect::<Result<Vec<Case>, _>>()?;
    Ok(Page::in_order(items, page))
}

/// What a similar-cases query looks for: any of its terms (all rare, as core chose them).
struct Ranked<'a> {
    scope: &'a Scope,
    /// The clauses a document matches (any of them).
    terms: &'a [query::Clause],
    /// This case does not count.
    exclude: Option<CaseNumber>,
    limit: u32,
    lexemes: Lexemes,
}

/// Ranks the documents of the scope matching any clause, best first: the sum over a
/// document's rows of `ts_rank`. Every match is read, so the terms must be rare
/// ([`text::similar_terms`] bounds them).
async fn ranked(c: &impl GenericClient, q: Ranked<'_>) -> Result<Vec<SearchHit>, StoreError> {
    let Ranked {
        scope,
        terms,
        exclude,
        limit,
        lexemes,
    } = q;
    let mut sql = Sql::default();
    let any = sql.param(tsquery(terms, false, lexemes));
    let source = scope_rows(&mut sql, scope, &any);
    let mut filter = String::from("TRUE");
    if let Some(n) = exclude {
        let p = sql.param(num(n));
        filter.push_str(&format!(" AND NOT (kind = 'case' AND doc = {p})"));
    }
    let limit = sql.param(i64::from(limit));
    let inner = format!(
        "SELECT kind, doc, score, row_number() OVER (ORDER BY score DESC, kind, doc) AS pos
         FROM (SELECT kind, doc, sum(ts_rank(tsv, {any}::text::tsquery))::float8 AS score
               FROM ({source}) r WHERE {filter} GROUP BY kind, doc) g
         ORDER BY pos LIMIT {limit}"
    );
    hits(c, &inner, &sql).await
}

/// The hits of a ranked query `inner` (rows of `kind, doc, score, pos`): each document's
/// reference and title, in `pos` order.
async fn hits(
    c: &impl GenericClient,
    inner: &str,
    sql: &Sql,
) -> Result<Vec<SearchHit>, StoreError> {
    let text = format!(
        "SELECT h.kind, h.doc, h.score, c.state->>'title', a.body->>'title', d.key, d.body->>'title'
         FROM ({inner}) h
         LEFT JOIN cases c ON h.kind = 'case' AND c.number = h.doc
         LEFT JOIN articles a ON h.kind = 'article' AND a.id = h.doc
         LEFT JOIN defects d ON h.kind = 'defect' AND d.id = h.doc
         ORDER BY h.pos"
    );
    let found = rows(c, &text, &sql.refs()).await?;
    found
        .iter()
        .map(|r| {
            let kind: String = get(r, 0)?;
            let doc: i64 = get(r, 1)?;
            let score: f64 = get(r, 2)?;
            let (kind, reference, title) = match kind.as_str() {
                "case" => (
                    RefKind::Case,
                    crate::db::number_of(doc)?.display(),
                    get::<Option<String>>(r, 3)?,
                ),
                "article" => (RefKind::Article, doc.to_string(), get(r, 4)?),
                "defect" => (
                    RefKind::Defect,
                    dec(get::<Option<String>>(r, 5)?.unwrap_or_default()),
                    get(r, 6)?,
                ),
                other => return Err(StoreError::Internal(format!("bad search kind {other}"))),
            };
            Ok(SearchHit {
                kind,
                reference,
                title: dec(title.unwrap_or_default()),
                score,
            })
        })
        .collect()
}

/// Ranked search; every clause must match in some row of a document, no excluded one may.
///
/// The cost is bounded by [`query::CANDIDATES`], not by the matches, by the rule every
/// store follows: the candidates are the documents of the rarest clause's newest matching
/// rows (by document number, then row; all of them when it is rare); every other clause is
/// checked on them, best first until the page is full; they are ranked by `ts_rank` of the
/// rare clauses, summed over each document's rows (a common clause filters but does not
/// rank), then newest first.
pub async fn search(
    c: &deadpool_postgres::Transaction<'_>,
    q: &SearchQuery,
    lexemes: Lexemes,
) -> Result<Vec<SearchHit>, StoreError> {
    let parsed = query::parse(&q.text);
    if parsed.is_empty() {
        return Ok(Vec::new());
    }
    let scope = &q.scope;
    let clauses: Vec<&query::Clause> = parsed.required.iter().chain(&parsed.excluded).collect();
    let freqs = clause_frequencies(c, scope, &clauses, lexemes, query::CANDIDATES).await?;
    let required = parsed.required.len();
    let driver = (0..required).min_by_key(|i| freqs[*i].rows).unwrap_or(0);
    let rare = |i: usize| freqs[i].rows <= query::CANDIDATES;
    let one = |cl: &query::Clause| tsquery(std::slice::from_ref(cl), false, lexemes);
    let mut sql = Sql::default();
    let rare_terms: Vec<query::Clause> = (0..required)
        .filter(|i| rare(*i))
        .map(|i| parsed.required[i].clone())
        .collect();
    // With no clause to rank by, the page is the newest candidates that pass the other
    // clauses: a walk can stream them and stop with the page.
    let stream = rare_terms.is_empty() && freqs[driver].walk_is_cheaper(u64::from(q.limit) + 1);
    let d = sql.param(one(&parsed.required[driver]));
    let cap = sql.param(query::CANDIDATES as i64);
    let newest = if stream || (!rare(driver) && freqs[driver].walk_is_cheaper(query::CANDIDATES)) {
        newest_by_walk(q.kind, &d, &cap)
    } else {
        let driver_rows = scope_rows(&mut sql, scope, &d);
        let mut kind = String::from("TRUE");
        if let Some(k) = q.kind {
            let p = sql.param(k.as_str().to_string());
            kind = format!("kind = {p}");
        }
        format!(
            "SELECT kind, doc, seq FROM ({driver_rows}) r WHERE {kind}
             ORDER BY doc DESC, seq DESC LIMIT {cap}"
        )
    };
    let score = if rare_terms.is_empty() || stream {
        "SELECT NULL::text AS kind, NULL::bigint AS doc, 0.0::float8 AS score WHERE FALSE"
            .to_string()
    } else {
        let r = sql.param(tsquery(&rare_terms, false, lexemes));
        let source = scope_rows(&mut sql, scope, &r);
        format!(
            "SELECT kind, doc, sum(ts_rank(tsv, {r}::text::tsquery))::float8 AS score
             FROM ({source}) r GROUP BY kind, doc"
        )
    };
    let mut filter = String::new();
    for (i, cl) in clauses.iter().enumerate() {
        if i == driver {
            continue;
        }
        let not = if i < required { "" } else { "NOT " };
        let p = sql.param(one(cl));
        if rare(i) {
            let source = scope_rows(&mut sql, scope, &p);
            filter.push_str(&format!(
                " AND (o.kind, o.doc) {not}IN (SELECT kind, doc FROM ({source}) x)"
            ));
        } else {
            filter.push_str(&format!(
                " AND {not}{}",
                doc_has(scope, &p, "o.kind", "o.doc")
            ));
        }
    }
    if stream {
        let text = format!("SELECT o.kind, o.doc, o.seq, TRUE{filter} FROM ({newest}) o");
        return streamed(c, &text, &sql, q.limit).await;
    }
    let limit = sql.param(i64::from(q.limit));
    // The candidates are ranked first; `OFFSET 0` keeps the filter out of the ranking
    // subquery, so the other clauses are checked on the ranked rows best first, only until
    // the page is full (a common exclusion costs a few dozen lookups, not 2,000).
    let order = "score DESC, doc DESC, newest DESC, kind";
    let inner = format!(
        "SELECT kind, doc, score, row_number() OVER (ORDER BY {order}) AS pos FROM (
           SELECT o.kind, o.doc, o.score, o.newest FROM (
             SELECT c.kind, c.doc, COALESCE(s.score, 0.0)::float8 AS score, c.newest
             FROM (SELECT kind, doc, max(seq) AS newest FROM ({newest}) m
                   GROUP BY kind, doc) c
             LEFT JOIN ({score}) s ON s.kind = c.kind AND s.doc = c.doc
             ORDER BY {order} OFFSET 0) o
           WHERE TRUE{filter}
           ORDER BY {order} LIMIT {limit}) h"
    );
    hits(c, &inner, &sql).await
}

/// The page of a query that ranks nothing, streamed: `text` gives the candidate rows newest
/// first (`kind, doc, seq`, and whether the document passes the other clauses, tested only
/// as rows are fetched), read a batch at a time from a portal until `limit` documents pass,
/// in the order the ranked query gives them (newest document first, then its newest row,
/// then kind).
async fn streamed(
    tx: &deadpool_postgres::Transaction<'_>,
    text: &str,
    sql: &Sql,
    limit: u32,
) -> Result<Vec<SearchHit>, StoreError> {
    let limit = limit as usize;
    let st = tx.prepare(text).await.map_err(db_err)?;
    let portal = tx.bind(&st, &sql.refs()).await.map_err(db_err)?;
    let mut page: Vec<(String, i64)> = Vec::new();
    // the rows of the current document number: (kind, newest row, passes)
    let mut group: Vec<(String, i64, bool)> = Vec::new();
    let mut current = None;
    let flush = |group: &mut Vec<(String, i64, bool)>, page: &mut Vec<(String, i64)>, doc| {
        group.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        page.extend(group.drain(..).filter(|g| g.2).map(|g| (g.0, doc)));
    };
    let mut batch = (limit as i32 + 1).clamp(16, 1_024);
    'read: loop {
        let found = tx.query_portal(&portal, batch).await.map_err(db_err)?;
        for r in &found {
            let (kind, doc, seq, passes): (String, i64, i64, bool) =
                (get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?);
            if current != Some(doc) {
                if let Some(prev) = current {
                    flush(&mut group, &mut page, prev);
                }
                if page.len() >= limit {
                    break 'read;
                }
                current = Some(doc);
            }
            // rows come newest first: a kind's first row is its newest
            if !group.iter().any(|g| g.0 == kind) {
                group.push((kind, seq, passes));
            }
        }
        if found.len() < batch as usize {
            if let Some(prev) = current {
                flush(&mut group, &mut page, prev);
            }
            break;
        }
        batch = (batch * 2).min(1_024);
    }
    page.truncate(limit);
    let mut titles = Sql::default();
    let kinds = titles.param(page.iter().map(|p| p.0.clone()).collect::<Vec<_>>());
    let docs = titles.param(page.iter().map(|p| p.1).collect::<Vec<_>>());
    let inner = format!(
        "SELECT u.kind, u.doc, 0.0::float8 AS score, u.pos
         FROM unnest({kinds}::text[], {docs}::bigint[]) WITH ORDINALITY AS u(kind, doc, pos)"
    );
    hits(tx, &inner, &titles).await
}

/// The newest `cap` rows (by document number, then row) staff may read that match tsquery
/// `d`, found by walking each search table's rows of each kind newest first by primary key
/// and testing each row's `tsvector`, every walk stopping at `cap` matches: for a frequent
/// word this reads a few times `cap` rows, where the GIN bitmap holds every match (PostgreSQL
/// builds it whole before an `ORDER BY … LIMIT` can stop). `ts_match_vq` (what `@@` calls)
/// keeps the planner from using the GIN index instead.
fn newest_by_walk(kind: Option<RefKind>, d: &str, cap: &str) -> String {
    const WALKS: [(&str, RefKind); 4] = [
        ("search_public", RefKind::Case),
        ("search_public", RefKind::Article),
        ("search_internal", RefKind::Case),
        ("search_internal", RefKind::Defect),
    ];
    let walks: Vec<String> = WALKS
        .iter()
        .filter(|(_, k)| kind.is_none_or(|want| want == *k))
        .map(|(table, k)| {
            format!(
                "(SELECT kind, doc, seq FROM {table} WHERE kind = '{}'
                  AND ts_match_vq(tsv, {d}::text::tsquery)
                  ORDER BY kind DESC, doc DESC, seq DESC LIMIT {cap})",
                k.as_str()
            )
        })
        .collect();
    format!(
        "SELECT kind, doc, seq FROM ({}) w ORDER BY doc DESC, seq DESC LIMIT {cap}",
        walks.join(" UNION ALL ")
    )
}

/// Document frequencies of terms, cached. Similar-case queries only use the counts to drop
/// terms held by more than about 1% of documents or alone over the postings budget, and to
/// order the rest, so a term's documents are counted only up to
/// [`text::similar_count_cap`] (a common word's matches are never all read: counting
/// them whole read millions of rows at 1M cases), and a count up to [`DF_TTL`] old is as
/// good as a fresh one.
#[derive(Debug, Default)]
pub struct DfCache {
    /// A term's count, the cap it was counted up to, and when.
    map: Mutex<HashMap<String, (u64, u64, Instant)>>,
    /// The search tables' most common lexemes and the rows each is estimated to be in, from
    /// PostgreSQL's statistics (`ANALYZE`), and when they were read ([`DfCache::common`]).
    common: tokio::sync::Mutex<Option<(Instant, CommonLexemes)>>,
}

/// Lexemes and the rows each is estimated to be in.
type CommonLexemes = std::sync::Arc<HashMap<String, f64>>;

/// A term the analyzed statistics put in at least this many times the cap's rows is taken
/// as held by the cap's documents without counting. Documents are fewer than rows (a case's
/// title and several of its events may hold a word), so the margin keeps every term that
/// could really be under the cap counted.
const COMMON_ROWS_FACTOR: f64 = 4.0;

/// The most common lexemes of both search tables (`most_common_elems`, kept by `ANALYZE` for
/// a `tsvector` column) with the rows each is estimated to be in: its frequency in the
/// analyzed sample times the table's rows, summed over the tables.
const COMMON_LEXEMES: &str = "SELECT e.elem, sum(e.freq * c.reltuples)::float8
     FROM pg_stats st
     JOIN pg_class c
       ON c.oid = (quote_ident(st.schemaname) || '.' || quote_ident(st.tablename))::regclass
     CROSS JOIN LATERAL unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs)
       AS e(elem, freq)
     WHERE st.attname = 'tsv' AND c.reltuples > 0 AND e.elem IS NOT NULL
       AND c.oid IN ('search_public'::regclass, 'search_internal'::regclass)
     GROUP BY e.elem";

/// How long a cached document frequency is used.
pub const DF_TTL: Duration = Duration::from_secs(600);
const DF_CACHE_MAX: usize = 200_000;

/// The rows holding a term (`$1`, a `tsquery`), in everything staff may search: read a
/// batch at a time from a portal, so counting stops where the cap is reached.
const DF_ROWS: &str = "SELECT kind, doc FROM search_public WHERE tsv @@ $1::text::tsquery
     UNION ALL SELECT kind, doc FROM search_internal WHERE tsv @@ $1::text::tsquery";

impl DfCache {
    /// A cached count of `term` that tells its count up to `cap` (`cap` means "at least").
    fn cached(&self, term: &str, cap: u64, now: Instant) -> Option<u64> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // a count that reached its cap tells nothing above it
        map.get(term)
            .filter(|(df, counted_to, at)| {
                now.duration_since(*at) < DF_TTL && (*df < *counted_to || *counted_to >= cap)
            })
            .map(|(df, _, _)| (*df).min(cap))
    }

    fn remember(&self, term: &str, df: u64, cap: u64, now: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= DF_CACHE_MAX {
            map.clear();
        }
        map.insert(term.to_string(), (df, cap, now));
    }

    /// How many documents hold `term`, counted up to `cap` (cached).
    pub(crate) async fn get(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        term: &str,
        cap: u64,
        lexemes: Lexemes,
    ) -> Result<u64, StoreError> {
        let now = Instant::now();
        if let Some(df) = self.cached(term, cap, now) {
            return Ok(df);
        }
        // a word the statistics know to be common is not counted: counting it up to the
        // cap reads the cap's documents from the heap (the first similar-cases request on
        // a fresh store spent 1.85 s so at 860,000 cases, a word at a time)
        let df = if lexemes == Lexemes::Normalized
            && self
                .common(tx, now)
                .await?
                .get(&text::normalize(term))
                .is_some_and(|rows| *rows >= cap as f64 * COMMON_ROWS_FACTOR)
        {
            cap
        } else {
            doc_freq(tx, term, cap, lexemes).await?
        };
        self.remember(term, df, cap, now);
        Ok(df)
    }

    /// The most common lexemes and their estimated rows ([`COMMON_LEXEMES`]), read again
    /// after [`DF_TTL`]; empty while the tables were never analyzed.
    async fn common(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        now: Instant,
    ) -> Result<CommonLexemes, StoreError> {
        let mut guard = self.common.lock().await;
        if let Some((at, map)) = guard.as_ref()
            && now.duration_since(*at) < DF_TTL
        {
            return Ok(map.clone());
        }
        let found = rows(tx, COMMON_LEXEMES, &[]).await?;
        let map = std::sync::Arc::new(
            found
                .iter()
                .map(|r| Ok((get::<String>(r, 0)?, get::<f64>(r, 1)?)))
                .collect::<Result<HashMap<_, _>, StoreError>>()?,
        );
        *guard = Some((now, map.clone()));
        Ok(map)
    }
}

/// How many documents (not rows) hold `term`, counted up to `cap`: the matching rows are
/// read a batch at a time through a portal and counting stops at the cap, so a common
/// term costs about `cap` rows, not all of its matches.
async fn doc_freq(
    tx: &deadpool_postgres::Transaction<'_>,
    term: &str,
    cap: u64,
    lexemes: Lexemes,
) -> Result<u64, StoreError> {
    let q = tsquery_words(&[term.to_string()], false, lexemes);
    let st = tx.prepare_cached(DF_ROWS).await.map_err(db_err)?;
    let portal = tx.bind(&st, &[&q]).await.map_err(db_err)?;
    // at least `cap` rows are needed to find `cap` documents
    let batch = cap.clamp(64, 4_096) as i32;
    let mut docs: HashSet<(String, i64)> = HashSet::new();
    loop {
        let found = tx.query_portal(&portal, batch).await.map_err(db_err)?;
        for r in &found {
            docs.insert((get(r, 0)?, get(r, 1)?));
            if docs.len() as u64 >= cap {
                return Ok(cap);
            }
        }
        if found.len() < batch as usize {
            return Ok(docs.len() as u64);
        }
    }
}

/// The terms a similar-cases query for case `n` uses: core's choice
/// ([`text::similar_terms`]) from its title, description and summaries, with document
/// frequencies from the index, counted up to [`text::similar_count_cap`] (cached).
pub async fn similar_terms(
    tx: &deadpool_postgres::Transaction<'_>,
    dfs: &DfCache,
    n: CaseNumber,
    lexemes: Lexemes,
) -> Result<Vec<String>, StoreError> {
    // one round trip for the texts and the size of the collection
    let row = opt(
        tx,
        "SELECT c.state->>'title', c.state->>'description',
                ARRAY(SELECT e.body->>'body' FROM events e
                      WHERE e.case_number = c.number AND e.kind = 'post_added'
                        AND e.body->>'kind' = 'summary' ORDER BY e.seq),
                COALESCE((SELECT max(number) FROM cases), 0)
                  + (SELECT count(*) FROM articles) + (SELECT count(*) FROM defects)
         FROM cases c WHERE c.number = $1",
        &[&num(n)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("case {n}")))?;
    let text = |i: usize| get::<Option<String>>(&row, i).map(|t| t.map(dec).unwrap_or_default());
    let (title, description) = (text(0)?, text(1)?);
    let summaries: Vec<String> = get::<Vec<Option<String>>>(&row, 2)?
        .into_iter()
        .map(|t| dec(t.unwrap_or_default()))
        .collect();
    let total = get::<i64>(&row, 3)?.max(0) as u64;
    let sources: Vec<&str> = [title.as_str(), description.as_str()]
        .into_iter()
        .chain(summaries.iter().map(String::as_str))
        .collect();
    // Look up the frequencies first (async, cached), then let core choose with them.
    let cap = text::similar_count_cap(total);
    let mut freq: HashMap<String, u64> = HashMap::new();
    for text in &sources {
        for t in text::query_terms(text) {
            if t.chars().count() < 2 || freq.contains_key(&t) {
                continue;
            }
            let df = dfs.get(tx, &t, cap, lexemes).await?;
            freq.insert(t, df);
        }
    }
    Ok(text::similar_terms(
        sources.iter().copied(),
        |t| freq.get(t).copied().unwrap_or(u64::MAX),
        total,
    ))
}

/// Documents like a case: any of its rare terms (core's choice), excluding the case itself.
pub async fn similar(
    c: &deadpool_postgres::Transaction<'_>,
    dfs: &DfCache,
    n: CaseNumber,
    scope: &Scope,
    limit: u32,
    lexemes: Lexemes,
) -> Result<Vec<SearchHit>, StoreError> {
    let terms = similar_terms(c, dfs, n, lexemes).await?;
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let terms = query::Query::words(&terms).required;
    ranked(
        c,
        Ranked {
            scope,
            terms: &terms,
            exclude: Some(n),
            limit,
            lexemes,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    use super::*;

    /// Rows of the search tables read so far by this transaction (by any scan).
    async fn rows_read(tx: &deadpool_postgres::Transaction<'_>) -> i64 {
        let r = tx
            .query_one(
                "SELECT sum(pg_stat_get_xact_tuples_fetched(t) + pg_stat_get_xact_tuples_returned(t))::bigint
                 FROM unnest(ARRAY['search_public'::regclass, 'search_internal'::regclass]) t",
                &[],
            )
            .await
            .unwrap();
        r.get(0)
    }

    #[tokio::test]
    async fn a_document_frequency_is_counted_only_up_to_its_cap() {
        let url = casework_test_postgres::Cluster::shared()
            .fresh_database("df_cap")
            .unwrap();
        let store = crate::PgStore::open_url(&url).await.unwrap();
        let mut c = store.pool.get().await.unwrap();
        // 300 cases hold "error", each in a public and an internal row
        c.batch_execute(
            "INSERT INTO search_public (kind, doc, seq, tsv)
               SELECT 'case', g, 0, '''error'':1 ''printer'':2'::tsvector
               FROM generate_series(1, 300) g;
             INSERT INTO search_internal (kind, doc, seq, tsv)
               SELECT 'case', g, 1, '''error'':1'::tsvector FROM generate_series(1, 300) g;",
        )
        .await
        .unwrap();
        let tx = c.transaction().await.unwrap();
        let dfs = DfCache::default();
        let lx = Lexemes::Normalized;
        let start = rows_read(&tx).await;
        assert_eq!(dfs.get(&tx, "error", 5, lx).await.unwrap(), 5);
        let capped = rows_read(&tx).await - start;
        assert_eq!(
            dfs.get(&tx, "error", 5, lx).await.unwrap(),
            5,
            "from the cache"
        );
        assert_eq!(
            rows_read(&tx).await - start,
            capped,
            "a cached count is not counted again"
        );
        // a higher cap than the count reached is counted again, up to it: documents, not rows
        assert_eq!(dfs.get(&tx, "error", 1000, lx).await.unwrap(), 300);
        let whole = rows_read(&tx).await - start - capped;
        assert!(whole >= 600, "every row of both tables: {whole}");
        assert!(
            capped * 5 < whole,
            "5 documents: {capped} rows, 300: {whole}"
        );
        assert_eq!(
            dfs.get(&tx, "error", 7, lx).await.unwrap(),
            7,
            "an exact count, capped"
        );
        assert_eq!(dfs.get(&tx, "printer", 1000, lx).await.unwrap(), 300);
        assert_eq!(dfs.get(&tx, "absent", 1000, lx).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_word_the_statistics_know_to_be_common_is_not_counted() {
        let url = casework_test_postgres::Cluster::shared()
            .fresh_database("df_stats")
            .unwrap();
        let store = crate::PgStore::open_url(&url).await.unwrap();
        let mut c = store.pool.get().await.unwrap();
        // 3,000 cases hold "error", every tenth "printer", every hundredth "baba"
        c.batch_execute(
            "INSERT INTO search_public (kind, doc, seq, tsv)
               SELECT 'case', g, 0, ('''error'':1'
                 || CASE WHEN g % 10 = 0 THEN ' ''printer'':2' ELSE '' END
                 || CASE WHEN g % 100 = 0 THEN ' ''baba'':3' ELSE '' END)::tsvector
               FROM generate_series(1, 3000) g;
             ANALYZE search_public, search_internal;",
        )
        .await
        .unwrap();
        let tx = c.transaction().await.unwrap();
        let dfs = DfCache::default();
        let lx = Lexemes::Normalized;
        let start = rows_read(&tx).await;
        // in 3,000 rows, at least 4 × 100: the cap, from the statistics alone
        assert_eq!(dfs.get(&tx, "error", 100, lx).await.unwrap(), 100);
        assert_eq!(rows_read(&tx).await - start, 0, "no search row read");
        // in 300 rows, under 4 × 100: counted, up to the cap
        assert_eq!(dfs.get(&tx, "printer", 100, lx).await.unwrap(), 100);
        let counted = rows_read(&tx).await - start;
        assert!(counted >= 100, "{counted} rows read");
        // a rare word is counted exactly, and a word the statistics never saw
        assert_eq!(dfs.get(&tx, "baba", 100, lx).await.unwrap(), 30);
        assert_eq!(dfs.get(&tx, "absent", 100, lx).await.unwrap(), 0);
        // while old rows are reindexed a word is looked for as typed too: always counted
        let start = rows_read(&tx).await;
        let fresh = DfCache::default();
        let both = Lexemes::NormalizedOrSurface;
        assert_eq!(fresh.get(&tx, "error", 100, both).await.unwrap(), 100);
        assert!(rows_read(&tx).await - start >= 100);
    }

    /// Every page of a list of `q` as staff, `limit` a page, in number order: the numbers.
    async fn list_all(
        tx: &deadpool_postgres::Transaction<'_>,
        f: &CaseFilter,
        limit: u32,
    ) -> Vec<u64> {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = PageRequest {
                limit,
                after,
                ..PageRequest::default()
            };
            let got = list_cases(tx, f, &page, Lexemes::Normalized).await.unwrap();
            seen.extend(got.items.iter().map(|c| c.number.get()));
            match got.items.last() {
                Some(last) if got.next_cursor.is_some() => after = Some(last.number),
                _ => return seen,
            }
        }
    }

    #[tokio::test]
    async fn a_list_reads_a_frequent_word_in_windows_of_case_numbers_and_skips_no_case() {
        use casework_core::ports::CaseLog;
        let url = casework_test_postgres::Cluster::shared()
            .fresh_database("window")
            .unwrap();
        let store = crate::PgStore::open_url(&url).await.unwrap();
        store
            .create_case(
                casework_core::testing::START,
                "ana".into(),
                casework_core::testing::opened("first"),
                Vec::new(),
            )
            .await
            .unwrap();
        let mut c = store.pool.get().await.unwrap();
        // 5,000 cases; every third holds "timeout" (in its internal row when a multiple of
        // 9), 1,000 to 1,099 are "pending", and 4,000 to 4,020 hold "baba"
        c.batch_execute(
            "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                                product_area, primary_resolution, reopen_count, settled_after,
                                state, updated_us, priority_rank)
               SELECT g, version,
                      CASE WHEN g BETWEEN 1000 AND 1099 THEN 'pending' ELSE status END,
                      status_category, owner, customer_email, product_area,
                      primary_resolution, reopen_count, settled_after,
                      jsonb_set(jsonb_set(state, '{number}', to_jsonb(g)), '{status}',
                        to_jsonb(CASE WHEN g BETWEEN 1000 AND 1099 THEN 'pending'
                                      ELSE state->>'status' END)),
                      updated_us, priority_rank
               FROM cases, generate_series(2, 5000) g WHERE number = 1;
             DELETE FROM search_public; DELETE FROM search_internal;
             INSERT INTO search_public (kind, doc, seq, customer, tsv)
               SELECT 'case', g, 0, 'a@customer.example',
                 ('''error'':1'
                  || CASE WHEN g % 3 = 0 AND g % 9 <> 0 THEN ' ''timeout'':2' ELSE '' END
                  || CASE WHEN g BETWEEN 4000 AND 4020 THEN ' ''baba'':3' ELSE '' END)::tsvector
               FROM generate_series(1, 5000) g;
             INSERT INTO search_internal (kind, doc, seq, tsv)
               SELECT 'case', g, s, (CASE WHEN g % 9 = 0 AND s = 2 THEN '''timeout'':1'
                                          ELSE '''note'':1' END)::tsvector
               FROM generate_series(1, 5000) g, generate_series(1, 2) s;
             ANALYZE cases, search_public, search_internal;",
        )
        .await
        .unwrap();
        let tx = c.transaction().await.unwrap();
        let q = |text: &str| CaseFilter {
            q: Some(text.into()),
            ..CaseFilter::default()
        };
        let every_third: Vec<u64> = (1..=5000).filter(|n| n % 3 == 0).collect();
        // "timeout" is frequent and checked case by case: read in windows instead
        let freqs = clause_frequencies(
            &tx,
            &Scope::Staff,
            &[&query::Clause::Word("timeout".into())],
            Lexemes::Normalized,
            query::LIST_WHOLE,
        )
        .await
        .unwrap();
        assert!(!list_reads_whole(&freqs[0], 50));
        let per = freqs[0].cases_per_match.unwrap();
        assert!((2.0..4.5).contains(&per), "one case in {per}");
        assert_eq!(list_all(&tx, &q("timeout "), 50).await, every_third);
        assert_eq!(list_all(&tx, &q("timeout "), 7).await, every_third);
        // a filter passing none of the first windows: the rest is found case by case
        let pending = CaseFilter {
            status: Some("pending".parse().unwrap()),
            ..q("timeout ")
        };
        let want: Vec<u64> = (1000..1100).filter(|n| n % 3 == 0).collect();
        assert_eq!(list_all(&tx, &pending, 10).await, want);
        // an exclusion and a second frequent word, checked on the window's cases
        let want: Vec<u64> = every_third
            .iter()
            .copied()
            .filter(|n| !(4000..=4020).contains(n))
            .collect();
        assert_eq!(list_all(&tx, &q("timeout -baba"), 50).await, want);
        assert_eq!(list_all(&tx, &q("error timeout"), 50).await, every_third);
        tx.commit().await.unwrap();
    }

    /// Search as staff: the references found, in order.
    async fn refs(tx: &deadpool_postgres::Transaction<'_>, text: &str, limit: u32) -> Vec<u64> {
        let q = SearchQuery {
            text: text.into(),
            kind: None,
            scope: Scope::Staff,
            limit,
        };
        search(tx, &q, Lexemes::Normalized)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.reference.parse().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_frequent_words_newest_matches_are_walked_not_read_whole() {
        let url = casework_test_postgres::Cluster::shared()
            .fresh_database("walk")
            .unwrap();
        let store = crate::PgStore::open_url(&url).await.unwrap();
        let mut c = store.pool.get().await.unwrap();
        // 5,000 cases hold "error" and "printer", every third "timeout", two "baba"; once
        // the tables are analyzed, staff's sample of the newest rows finds the first three
        // frequent
        c.batch_execute(
            "INSERT INTO search_public (kind, doc, seq, customer, tsv)
               SELECT 'case', g, 0, 'a@customer.example',
                 ('''error'':1 ''printer'':2'
                  || CASE WHEN g % 3 = 0 THEN ' ''timeout'':3' ELSE '' END
                  || CASE WHEN g IN (10, 20) THEN ' ''baba'':4' ELSE '' END)::tsvector
               FROM generate_series(1, 5000) g;
             INSERT INTO search_internal (kind, doc, seq, tsv)
               SELECT 'case', g, 1, '''note'':1'::tsvector FROM generate_series(1, 5000) g;
             ANALYZE search_public, search_internal;",
        )
        .await
        .unwrap();
        let tx = c.transaction().await.unwrap();
        let start = rows_read(&tx).await;
        assert_eq!(refs(&tx, "error ", 4).await, [5000, 4999, 4998, 4997]);
        let walked = rows_read(&tx).await - start;
        // the sample (1,000 rows a table) and a few rows of the walk, where reading the
        // word's matches takes all 5,000
        assert!(walked < 2_000 + 200, "{walked} rows read");
        assert_eq!(
            refs(&tx, "error -timeout", 3).await,
            [5000, 4999, 4997],
            "an exclusion checked as the walk goes"
        );
        assert_eq!(refs(&tx, "timeout printer", 2).await, [4998, 4995]);
        assert!(refs(&tx, "printer -error", 2).await.is_empty());
        // a phrase is tested with its words' positions as the walk goes
        assert_eq!(
            refs(&tx, "\"error printer\" -timeout", 2).await,
            [5000, 4999]
        );
        assert!(refs(&tx, "\"printer error\"", 2).await.is_empty());
        // a rare word is found through the index and ranks: every match, among common words
        let mut rare = refs(&tx, "baba error", 10).await;
        rare.sort_unstable();
        assert_eq!(rare, [10, 20]);
        // common words alone: only their newest CANDIDATES matching rows are candidates
        let start = rows_read(&tx).await;
        assert!(refs(&tx, "printer -error", 5).await.is_empty());
        let capped = rows_read(&tx).await - start;
        assert!(capped < 2_000 + 2 * 2_000 + 200, "{capped} rows read");
        tx.commit().await.unwrap();
    }

    #[test]
    fn a_sample_tells_a_frequent_clause_and_leaves_the_rest_to_counting() {
        let full = SAMPLE_ROWS as f64;
        // 100 of 2,000 sampled rows, tables of 300,000 and 700,000 rows
        let f = sampled_frequency([(40.0, full, 300_000.0), (60.0, full, 700_000.0)]).unwrap();
        assert_eq!(f.rows, 12_000 + 42_000);
        assert_eq!(f.rows_per_match, Some(20.0));
        // too few matches, a whole table sampled, or a table never analyzed: counted
        assert!(sampled_frequency([(4.0, full, 1e6), (5.0, full, 1e6)]).is_none());
        assert!(sampled_frequency([(400.0, 500.0, 500.0), (0.0, 20.0, 20.0)]).is_none());
        assert!(sampled_frequency([(400.0, full, -1.0), (0.0, 20.0, 20.0)]).is_none());
        // a table smaller than the sample counts its matches as they are
        let f = sampled_frequency([(400.0, full, 2_000.0), (7.0, 20.0, 20.0)]).unwrap();
        assert_eq!(f.rows, 807);
    }

    #[test]
    fn the_list_reads_a_clause_whole_only_when_walking_the_cases_costs_more() {
        let frequent = |rows, per_match| Frequency {
            rows,
            rows_per_match: Some(per_match),
            bitmap_rows: rows,
            cases_per_match: None,
        };
        // a word in every other row: a page is about 50 checks, never 500,000 matches
        assert!(!list_reads_whole(&frequent(500_000, 2.0), 25));
        // a word in one row of 200 among 2,000 matches: read them
        assert!(list_reads_whole(&frequent(2_000, 200.0), 25));
        // but not beyond what a query may hold, whatever the walk
        assert!(!list_reads_whole(
            &frequent(query::LIST_WHOLE_MAX + 1, 1e9),
            25
        ));
        let counted = |rows| Frequency {
            rows,
            rows_per_match: None,
            bitmap_rows: rows,
            cases_per_match: None,
        };
        assert!(list_reads_whole(&counted(query::LIST_WHOLE), 25));
        assert!(!list_reads_whole(&counted(query::LIST_WHOLE + 1), 25));
    }
}
