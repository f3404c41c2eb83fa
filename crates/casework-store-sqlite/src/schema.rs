//! The schema: versioned, forward-only migrations applied at open inside one transaction,
//! and the checks that refuse a file that is not (or not yet) a Casework database.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use casework_core::ports::StoreError;

use crate::OpenError;

/// `PRAGMA application_id` of a Casework database ("CASE" in ASCII).
pub const APPLICATION_ID: i64 = 0x4341_5345;

/// A migration's Rust step, on the migration's transaction.
pub type Step = fn(&Connection) -> Result<(), StoreError>;

/// One step of the schema: SQL, then (for the few that need the core's rules, such as
/// which text of an event is searchable) a Rust step on the same transaction.
pub struct Migration {
    /// The schema change.
    pub sql: &'static str,
    /// Fills what SQL alone cannot, after `sql` ran.
    pub then: Option<Step>,
}

const fn sql(sql: &'static str) -> Migration {
    Migration { sql, then: None }
}

/// Migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
/// Never edit one that has shipped: add a new one.
pub const MIGRATIONS: &[Migration] = &[
    sql(V1),
    sql(V2),
    sql(V3),
    sql(V4),
    Migration {
        sql: V5,
        then: Some(crate::sql::rebuild_search),
    },
    sql(V6),
    sql(V7),
    sql(V8),
    sql(V9),
    Migration {
        sql: V10,
        then: Some(crate::sql::reindex_if_small),
    },
    Migration {
        sql: V11,
        then: Some(crate::sql::fill_sort_keys),
    },
    sql(V12),
    sql(V13),
    sql(V14),
    sql(V15),
    sql(V16),
    Migration {
        sql: REPORT_AGGREGATES,
        then: Some(crate::reports::rebuild),
    },
    sql(REPORT_DELAYS),
    sql(REPORT_TOTALS),
];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

const V1: &str = r#"
CREATE TABLE cases (
    number             INTEGER PRIMARY KEY,
    version            INTEGER NOT NULL,
    status             TEXT NOT NULL COLLATE NOCASE,
    status_category    TEXT NOT NULL,
    owner              TEXT,
    customer_email     TEXT NOT NULL,
    product_area       TEXT,
    primary_resolution TEXT,
    reopen_count       INTEGER NOT NULL,
    state              TEXT NOT NULL
);
CREATE INDEX cases_by_owner ON cases(owner, number);
CREATE INDEX cases_by_status ON cases(status, number);
CREATE INDEX cases_by_category ON cases(status_category, number);
CREATE INDEX cases_by_customer ON cases(customer_email, number);
CREATE INDEX cases_by_area ON cases(product_area, number);
CREATE INDEX cases_reopened ON cases(number) WHERE reopen_count > 0;

-- The history: append-only, written in the same transaction as the state.
CREATE TABLE events (
    case_number INTEGER NOT NULL REFERENCES cases(number),
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (case_number, seq)
) WITHOUT ROWID;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

-- Derived from events in the same transaction, for the reopen report.
CREATE TABLE closures (
    case_number INTEGER NOT NULL REFERENCES cases(number),
    at          INTEGER NOT NULL,
    mode        TEXT NOT NULL
);
CREATE INDEX closures_by_time ON closures(at);
CREATE TABLE reopens (
    case_number INTEGER NOT NULL REFERENCES cases(number),
    at          INTEGER NOT NULL,
    closed_at   INTEGER NOT NULL,
    close_mode  TEXT NOT NULL
);
CREATE INDEX reopens_by_closed_at ON reopens(closed_at);

CREATE TABLE people (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE articles (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    url        TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE defects (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The transactional outbox: immutable message in `body`, delivery state in columns.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    case_number     INTEGER NOT NULL REFERENCES cases(number),
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    sent_at         INTEGER,
    body            TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

-- Search. Row ids: case number * 3, article id * 3 + 1, defect id * 3 + 2.
-- search_full holds everything staff may see; search_public what customers may see, so a
-- customer's query cannot match internal text: it is not in the table it reads.
CREATE VIRTUAL TABLE search_full USING fts5(
    title, body, kind UNINDEXED, ref UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE search_public USING fts5(
    title, body, kind UNINDEXED, ref UNINDEXED, customer UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE search_full_vocab USING fts5vocab(search_full, 'row');
"#;

/// Version 2: API tokens, stored by the hash of their secret.
const V2: &str = r#"
CREATE TABLE tokens (
    seq  INTEGER PRIMARY KEY,
    id   TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
"#;

/// Version 3: idempotency keys of case creation, recorded with the case they created.
const V3: &str = r#"
CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    case_number INTEGER NOT NULL REFERENCES cases(number)
) WITHOUT ROWID;
"#;

/// v4: a case's outbox messages, for the delivery status on its timeline.
const V4: &str = r#"
CREATE INDEX outbox_case ON outbox(case_number, seq);
"#;

/// v5: the search index holds passages (a document's head, and the text of each event)
/// instead of one row per document that every commit rewrote whole, so indexing a commit
/// costs its own text, never the case's history. The index is rebuilt from the records.
///
/// `search_passages` names each passage: `id` is its row id in `search_full` (and in
/// `search_public` when customers may read it), `doc` the document it belongs to (case
/// number * 3, article id * 3 + 1, defect id * 3 + 2), `seq` 0 for the head (a case's title
/// and description; an article; a defect) or the event's number. Queries rank passages
/// with FTS5's bm25 and add up, per document, each term's best passage.
const V5: &str = r#"
DROP TABLE search_full_vocab;
DROP TABLE search_full;
DROP TABLE search_public;
CREATE TABLE search_passages (
    id  INTEGER PRIMARY KEY,
    doc INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (doc, seq)
);
CREATE VIRTUAL TABLE search_full USING fts5(
    title, body,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE search_public USING fts5(
    title, body,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE search_full_vocab USING fts5vocab(search_full, 'row');
"#;

/// v6: the time of the last counted contact attempt per channel, which the non-response
/// policy's gap now needs (core's `ContactTally::last_email_at`, `last_phone_at`), written
/// into the stored state of every case with counted attempts, from its events: the last
/// counted unanswered attempt on the channel after the last reset (a reached attempt or a
/// reopen; histories before v6 hold no other reset). A case without counted attempts keeps
/// no time, as replay gives. So every stored state stays what replaying its history gives.
const V6: &str = r#"
UPDATE cases SET state = json_set(state,
    '$.contacts.last_email_at', (
        SELECT json_extract(e.body, '$.at') FROM events e
        WHERE e.case_number = cases.number AND e.kind = 'contact_attempted'
          AND json_extract(e.body, '$.channel') = 'email'
          AND json_extract(e.body, '$.outcome') = 'no_response'
          AND json_extract(e.body, '$.counted') = 1
          AND e.seq > (SELECT COALESCE(MAX(r.seq), 0) FROM events r
                       WHERE r.case_number = cases.number
                         AND (r.kind = 'reopened'
                              OR (r.kind = 'contact_attempted'
                                  AND json_extract(r.body, '$.outcome') = 'reached')))
        ORDER BY e.seq DESC LIMIT 1),
    '$.contacts.last_phone_at', (
        SELECT json_extract(e.body, '$.at') FROM events e
        WHERE e.case_number = cases.number AND e.kind = 'contact_attempted'
          AND json_extract(e.body, '$.channel') = 'phone'
          AND json_extract(e.body, '$.outcome') = 'no_response'
          AND json_extract(e.body, '$.counted') = 1
          AND e.seq > (SELECT COALESCE(MAX(r.seq), 0) FROM events r
                       WHERE r.case_number = cases.number
                         AND (r.kind = 'reopened'
                              OR (r.kind = 'contact_attempted'
                                  AND json_extract(r.body, '$.outcome') = 'reached')))
        ORDER BY e.seq DESC LIMIT 1))
WHERE json_extract(state, '$.contacts.emails') > 0
   OR json_extract(state, '$.contacts.phone_calls') > 0;
"#;

/// v7: the reopen report groups each closure by its keys *at close* (owner and product
/// area right after the `closed` event, the primary resolution it gave), so reassigning a
/// closed case does not rewrite the report; each reopen keeps the keys of the closure it
/// left, its reason and who reopened, for the drill-down. The rows of v1 are matched to
/// their events in order (the n-th closure row of a case is its n-th `closed` event) and the
/// keys read from the events before them.
const V7: &str = r#"
CREATE TABLE closures_v6 (
    case_number        INTEGER NOT NULL REFERENCES cases(number),
    seq                INTEGER NOT NULL,
    at                 INTEGER NOT NULL,
    mode               TEXT NOT NULL,
    owner              TEXT,
    product_area       TEXT,
    primary_resolution TEXT,
    PRIMARY KEY (case_number, seq)
) WITHOUT ROWID;
INSERT INTO closures_v6
SELECT c.case_number, e.seq, c.at, c.mode,
       (SELECT json_extract(o.body, '$.to') FROM events o
         WHERE o.case_number = c.case_number AND o.kind = 'owner_changed' AND o.seq < e.seq
         ORDER BY o.seq DESC LIMIT 1),
       (SELECT json_extract(f.body, '$.to') FROM events f
         WHERE f.case_number = c.case_number AND f.kind = 'field_changed'
           AND json_extract(f.body, '$.field') = 'product_area' AND f.seq < e.seq
         ORDER BY f.seq DESC LIMIT 1),
       json_extract(e.body, '$.resolution.primary')
  FROM (SELECT case_number, at, mode,
               ROW_NUMBER() OVER (PARTITION BY case_number ORDER BY rowid) AS n
          FROM closures) c
  JOIN (SELECT case_number, seq, body,
               ROW_NUMBER() OVER (PARTITION BY case_number ORDER BY seq) AS n
          FROM events WHERE kind = 'closed') e
 USING (case_number, n);

CREATE TABLE reopens_v6 (
    case_number        INTEGER NOT NULL REFERENCES cases(number),
    seq                INTEGER NOT NULL,
    at                 INTEGER NOT NULL,
    actor              TEXT NOT NULL,
    closed_at          INTEGER NOT NULL,
    close_mode         TEXT NOT NULL,
    reason             TEXT NOT NULL,
    owner              TEXT,
    product_area       TEXT,
    primary_resolution TEXT,
    PRIMARY KEY (case_number, seq)
) WITHOUT ROWID;
INSERT INTO reopens_v6
SELECT r.case_number, e.seq, r.at, json_extract(e.body, '$.actor'), r.closed_at, r.close_mode,
       json_extract(e.body, '$.reason'), cl.owner, cl.product_area, cl.primary_resolution
  FROM (SELECT case_number, at, closed_at, close_mode,
               ROW_NUMBER() OVER (PARTITION BY case_number ORDER BY rowid) AS n
          FROM reopens) r
  JOIN (SELECT case_number, seq, body,
               ROW_NUMBER() OVER (PARTITION BY case_number ORDER BY seq) AS n
          FROM events WHERE kind = 'reopened') e
 USING (case_number, n)
  LEFT JOIN closures_v6 cl
    ON cl.case_number = r.case_number
   AND cl.seq = (SELECT MAX(x.seq) FROM closures_v6 x
                  WHERE x.case_number = r.case_number AND x.seq < e.seq);

DROP TABLE closures;
DROP TABLE reopens;
ALTER TABLE closures_v6 RENAME TO closures;
ALTER TABLE reopens_v6 RENAME TO reopens;
CREATE INDEX closures_by_time ON closures(at);
CREATE INDEX reopens_by_closed_at ON reopens(closed_at);
CREATE INDEX closures_by_owner ON closures(owner, at);
CREATE INDEX closures_by_area ON closures(product_area, at);
CREATE INDEX closures_by_resolution ON closures(primary_resolution, at);
"#;

/// v8: the change feed. Every event gets a position, an `INTEGER PRIMARY KEY` (the row id:
/// kept by `VACUUM`, never reused because rows are never deleted), assigned in the write
/// transaction that appends the event, so positions follow commit order: one writer at a
/// time holds the database's write lock from the first insert to the commit. Events written
/// before v8 get positions in case order, then seq (their commit order across cases was not
/// recorded); append-only like the event log.
const V8: &str = r#"
CREATE TABLE feed (
    position    INTEGER PRIMARY KEY,
    case_number INTEGER NOT NULL,
    seq         INTEGER NOT NULL
);
INSERT INTO feed (case_number, seq) SELECT case_number, seq FROM events ORDER BY case_number, seq;
CREATE TRIGGER feed_no_update BEFORE UPDATE ON feed
BEGIN SELECT RAISE(ABORT, 'the change feed is append-only'); END;
CREATE TRIGGER feed_no_delete BEFORE DELETE ON feed
BEGIN SELECT RAISE(ABORT, 'the change feed is append-only'); END;
"#;

/// v9: sign-in for the desk and the portal: staff password hashes (PHC strings), sessions
/// and one-time sign-in links kept by the SHA-256 of their secret, and failed sign-ins by
/// throttle key (an account, an address). Times are microseconds since the epoch.
const V9: &str = r#"
CREATE TABLE passwords (
    person TEXT PRIMARY KEY,
    hash   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_key     TEXT NOT NULL,
    user         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_key);
CREATE TABLE sign_in_links (
    hash       TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE sign_in_failures (
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_by_key ON sign_in_failures (key, at);
"#;

/// v10: search terms are stemmed and folded (FTS5's `porter unicode61 remove_diacritics 2`),
/// with a prefix index of three characters for type-ahead. New tables are made beside the
/// old ones, which keep serving until the new ones hold every passage: a small store is
/// copied over here (`reindex_if_small`), a larger one in batches in the background once
/// open (`sql::reindex_step`); passages written meanwhile go to both. `search_reindex` says
/// how far the copy is; it is emptied when the new tables take the old ones' names.
pub(crate) const V10: &str = r#"
CREATE VIRTUAL TABLE search_full_next USING fts5(
    title, body,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '3'
);
CREATE VIRTUAL TABLE search_public_next USING fts5(
    title, body,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '3'
);
CREATE TABLE search_reindex (
    done INTEGER NOT NULL,
    upto INTEGER NOT NULL
);
INSERT INTO search_reindex SELECT 0, COALESCE(max(id), 0) FROM search_passages;
"#;

/// v11: the case list's orders and filters. Each case row gets the keys of the orders other
/// than by number (core's `updated_key` and `priority_rank`; filled by
/// `sql::fill_sort_keys`, then written with every commit) with their indexes; and each stored
/// state gets `last_customer_reply_at`, as replaying its history now gives: the time of the
/// last post or email the customer wrote themselves (a case without one keeps none).
const V11: &str = r#"
ALTER TABLE cases ADD COLUMN updated_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN priority_rank INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cases_by_updated ON cases(updated_us, number);
CREATE INDEX cases_by_priority ON cases(priority_rank, number);
UPDATE cases SET state = json_set(state, '$.last_customer_reply_at', (
        SELECT json_extract(e.body, '$.at') FROM events e
        WHERE e.case_number = cases.number AND e.kind IN ('post_added', 'email_received')
          AND json_extract(e.body, '$.from_customer') = 1
        ORDER BY e.seq DESC LIMIT 1))
WHERE EXISTS (
        SELECT 1 FROM events e
        WHERE e.case_number = cases.number AND e.kind IN ('post_added', 'email_received')
          AND json_extract(e.body, '$.from_customer') = 1);
"#;

/// v12: refused inbound messages, kept whole (#13).
const V12: &str = r#"
CREATE TABLE quarantine (
    id           TEXT PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    source       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    raw          BLOB NOT NULL
) STRICT;
CREATE INDEX quarantine_by_time ON quarantine (received_at, id);
"#;

/// v13: webhooks (#14). Endpoints and deliveries, each stored whole as JSON (`body`) beside
/// the columns the claim query reads; a delivery is inserted with its event, in the same
/// transaction. A delivery's `seq` follows position order (then endpoint order).
const V13: &str = r#"
CREATE TABLE webhook_endpoints (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    removed_at INTEGER,
    body       TEXT NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    endpoint        TEXT NOT NULL,
    case_number     INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    body            TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint, case_number, status, position);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(endpoint, seq);
"#;

/// v14: the cases that received or sent a Message-ID, for threading a reply by the ids it
/// names (#13): a partial index over the email events' `message_id`, which the existing
/// history fills as it is built.
const V14: &str = r#"
CREATE INDEX events_by_message_id
    ON events (json_extract(body, '$.message_id'), case_number)
    WHERE kind IN ('email_received', 'email_queued');
"#;

/// v15: how far each IMAP mailbox has been read (#13): its UIDVALIDITY and the last UID
/// taken, saved after the messages are committed.
const V15: &str = r#"
CREATE TABLE mailbox_positions (
    mailbox      TEXT PRIMARY KEY,
    uid_validity INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL
) STRICT;
"#;

/// v16: attached files (#13), each kept with the post it came with: its metadata as JSON
/// beside the columns a list reads, its bytes as a BLOB, written by the post's commit.
const V16: &str = r#"
CREATE TABLE attachments (
    id          TEXT PRIMARY KEY,
    case_number INTEGER NOT NULL,
    entry       INTEGER NOT NULL,
    info        TEXT NOT NULL,
    bytes       BLOB NOT NULL
) STRICT;
CREATE INDEX attachments_by_case ON attachments (case_number, entry, id);
"#;

/// v17 (#17): the reopen report's live aggregates. Each closure
/// and reopen row keeps, per grouping, the time of its predecessor in its case's chain (same
/// key at close, same class, ordered by time); `report_blocks` counts facts and repeats per
/// week, group and class, `report_delays` the reopens' delays per week and bucket, and
/// `report_gaps` the longest gap of any chain. Commits keep them current in their
/// transaction; this migration fills them from the rows already there (a Rust step, the
/// same code the commits run). The edges of a period and the straddling repeats are read
/// from covering indexes by time (one per grouping; they replace the plain ones by time), the
/// drill-down's indexes lead with the key, then the case.
const REPORT_AGGREGATES: &str = r#"
ALTER TABLE closures ADD COLUMN prev_owner INTEGER;
ALTER TABLE closures ADD COLUMN prev_area INTEGER;
ALTER TABLE closures ADD COLUMN prev_resolution INTEGER;
ALTER TABLE reopens ADD COLUMN prev_owner INTEGER;
ALTER TABLE reopens ADD COLUMN prev_area INTEGER;
ALTER TABLE reopens ADD COLUMN prev_resolution INTEGER;
CREATE TABLE report_blocks (
    grouping        INTEGER NOT NULL,
    block           INTEGER NOT NULL,
    key             TEXT NOT NULL,
    temporary       INTEGER NOT NULL,
    closures        INTEGER NOT NULL,
    closure_repeats INTEGER NOT NULL,
    reopens         INTEGER NOT NULL,
    reopen_repeats  INTEGER NOT NULL,
    PRIMARY KEY (grouping, block, key, temporary)
) WITHOUT ROWID;
CREATE TABLE report_delays (
    grouping INTEGER NOT NULL,
    block    INTEGER NOT NULL,
    key      TEXT NOT NULL,
    bucket   INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    lo       INTEGER NOT NULL,
    hi       INTEGER NOT NULL,
    PRIMARY KEY (grouping, block, key, bucket)
) WITHOUT ROWID;
CREATE TABLE report_gaps (
    grouping INTEGER NOT NULL,
    kind     INTEGER NOT NULL,
    gap      INTEGER NOT NULL,
    PRIMARY KEY (grouping, kind)
) WITHOUT ROWID;
CREATE INDEX closures_edge_owner ON closures(at, owner, mode, prev_owner);
CREATE INDEX closures_edge_area ON closures(at, product_area, mode, prev_area);
CREATE INDEX closures_edge_resolution ON closures(at, primary_resolution, mode, prev_resolution);
CREATE INDEX closures_repeat_owner ON closures(at, prev_owner, owner, mode)
    WHERE prev_owner IS NOT NULL;
CREATE INDEX closures_repeat_area ON closures(at, prev_area, product_area, mode)
    WHERE prev_area IS NOT NULL;
CREATE INDEX closures_repeat_resolution ON closures(at, prev_resolution, primary_resolution, mode)
    WHERE prev_resolution IS NOT NULL;
CREATE INDEX reopens_edge_owner ON reopens(closed_at, owner, close_mode, prev_owner, at);
CREATE INDEX reopens_edge_area ON reopens(closed_at, product_area, close_mode, prev_area, at);
CREATE INDEX reopens_edge_resolution
    ON reopens(closed_at, primary_resolution, close_mode, prev_resolution, at);
CREATE INDEX reopens_repeat_owner ON reopens(closed_at, prev_owner, owner, close_mode)
    WHERE prev_owner IS NOT NULL;
CREATE INDEX reopens_repeat_area ON reopens(closed_at, prev_area, product_area, close_mode)
    WHERE prev_area IS NOT NULL;
CREATE INDEX reopens_repeat_resolution
    ON reopens(closed_at, prev_resolution, primary_resolution, close_mode)
    WHERE prev_resolution IS NOT NULL;
DROP INDEX closures_by_time;
DROP INDEX reopens_by_closed_at;
CREATE INDEX reopens_delay_owner ON reopens(owner, at - closed_at);
CREATE INDEX reopens_delay_area ON reopens(product_area, at - closed_at);
CREATE INDEX reopens_delay_resolution ON reopens(primary_resolution, at - closed_at);
DROP INDEX closures_by_owner;
DROP INDEX closures_by_area;
DROP INDEX closures_by_resolution;
CREATE INDEX closures_cases_owner ON closures(owner, case_number, at);
CREATE INDEX closures_cases_area ON closures(product_area, case_number, at);
CREATE INDEX closures_cases_resolution ON closures(primary_resolution, case_number, at);
"#;

/// v18 (#17): the reopen report's exact median reads walk a covering index.
/// The delay indexes of v17 hold the key and the delay only, so reading the middle of a
/// crowded histogram bucket looked up every row of the bucket in the table (its period and
/// class); these hold the non-temporary reopens only and every column the read needs.
const REPORT_DELAYS: &str = r#"
DROP INDEX reopens_delay_owner;
DROP INDEX reopens_delay_area;
DROP INDEX reopens_delay_resolution;
CREATE INDEX reopens_delays_owner ON reopens(owner, at - closed_at, closed_at, at)
    WHERE close_mode <> 'temporary';
CREATE INDEX reopens_delays_area ON reopens(product_area, at - closed_at, closed_at, at)
    WHERE close_mode <> 'temporary';
CREATE INDEX reopens_delays_resolution
    ON reopens(primary_resolution, at - closed_at, closed_at, at)
    WHERE close_mode <> 'temporary';
"#;

/// v19 (#17): the all-time report reads no week. `report_delay_totals` holds the
/// reopens' delay histogram over all time per grouping, key and bucket (what summing every
/// week of `report_delays` gives), filled here from the weeks and kept by commits from now
/// on. The exact median reads get indexes that hold every column the read names, the
/// partial index's own `close_mode` included: without it SQLite looked each entry up in the
/// table (a random read per step, most of a report's time at 1M cases).
const REPORT_TOTALS: &str = r#"
CREATE TABLE report_delay_totals (
    grouping INTEGER NOT NULL,
    key      TEXT NOT NULL,
    bucket   INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    lo       INTEGER NOT NULL,
    hi       INTEGER NOT NULL,
    PRIMARY KEY (grouping, key, bucket)
) WITHOUT ROWID;
INSERT INTO report_delay_totals (grouping, key, bucket, n, lo, hi)
    SELECT grouping, key, bucket, sum(n), min(lo), max(hi) FROM report_delays
     GROUP BY grouping, key, bucket;
DROP INDEX reopens_delays_owner;
DROP INDEX reopens_delays_area;
DROP INDEX reopens_delays_resolution;
CREATE INDEX reopens_delays_owner
    ON reopens(owner, at - closed_at, closed_at, at, close_mode)
    WHERE close_mode <> 'temporary';
CREATE INDEX reopens_delays_area
    ON reopens(product_area, at - closed_at, closed_at, at, close_mode)
    WHERE close_mode <> 'temporary';
CREATE INDEX reopens_delays_resolution
    ON reopens(primary_resolution, at - closed_at, closed_at, at, close_mode)
    WHERE close_mode <> 'temporary';
"#;

fn refuse(path: &Path, reason: &str) -> OpenError {
    OpenError::NotCasework {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Whether a file holds an SQLite database, checked from its header without opening it:
/// `Ok(false)` for a missing or empty file (a new store).
pub fn check_header(path: &Path) -> Result<bool, OpenError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(OpenError::Io(format!("{}: {e}", path.display()))),
    };
    if meta.is_dir() {
        return Err(refuse(path, "it is a directory"));
    }
    if meta.len() == 0 {
        return Ok(false);
    }
    let mut header = [0u8; 16];
    let mut f =
        std::fs::File::open(path).map_err(|e| OpenError::Io(format!("{}: {e}", path.display())))?;
    if f.read_exact(&mut header).is_err() || &header != b"SQLite format 3\0" {
        return Err(refuse(path, "it is not an SQLite database"));
    }
    Ok(true)
}

/// What the database on a freshly opened connection is, checked before anything writes to
/// it: a schema that reads, our application id, a version we understand. `Ok(None)`: an
/// empty database. (A full integrity check would scan the whole file on every open; damage
/// inside data pages is reported when it is read.)
pub fn check_conn(conn: &Connection, path: &Path) -> Result<Option<u32>, OpenError> {
    let read = |sql: &str| -> Result<i64, OpenError> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| refuse(path, &format!("it cannot be read: {e}")))
    };
    let app = read("PRAGMA application_id")?;
    let version = read("PRAGMA user_version")?;
    let tables = read("SELECT count(*) FROM sqlite_master")?;
    if app != APPLICATION_ID {
        if tables == 0 && version == 0 {
            return Ok(None);
        }
        return Err(refuse(
            path,
            "it is an SQLite database of another application",
        ));
    }
    let version =
        u32::try_from(version).map_err(|_| refuse(path, "its schema version is invalid"))?;
    if version > LATEST {
        return Err(OpenError::TooNew {
            found: version,
            supported: LATEST,
        });
    }
    Ok(Some(version))
}

/// Brings a connection's schema to [`LATEST`], in one immediate transaction.
pub fn migrate(conn: &mut Connection) -> Result<u32, OpenError> {
    let db = |e: rusqlite::Error| OpenError::Sqlite(e.to_string());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let app: i64 = tx
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(db)?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let current = u32::try_from(current).unwrap_or(u32::MAX);
    if current > LATEST {
        return Err(OpenError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    if app != APPLICATION_ID && current != 0 {
        return Err(OpenError::NotCasework {
            path: tx.path().unwrap_or("database").to_string(),
            reason: "it is an SQLite database of another application".into(),
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let failed = |message: String| OpenError::Migration {
            to: i as u32 + 1,
            message,
        };
        tx.execute_batch(m.sql).map_err(|e| failed(e.to_string()))?;
        if let Some(then) = m.then {
            then(&tx).map_err(|e| failed(e.to_string()))?;
        }
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {LATEST};"
    ))
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(LATEST)
}
