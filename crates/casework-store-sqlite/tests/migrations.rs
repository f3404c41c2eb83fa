//! Upgrades: a database written at an older schema version (a fixture dumped to SQL text) is
//! opened, migrated to the current version, and every record in it still reads and verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use casework_core::event::replay;
use casework_core::ids::CaseNumber;
use casework_core::model::{OutboxStatus, RefKind};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseQueries, Diagnostics, Directory, Knowledge, OutboxQueue, PageRequest,
    ReportGroup, ReportQuery, Reports, Scope, SearchQuery,
};
use casework_store_sqlite::{SCHEMA_VERSION, SqliteStore};

const V1: &str = include_str!("fixtures/schema-v1.sql");

fn load_fixture(name: &str, sql: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casework-migrate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cases.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    path
}

#[tokio::test]
async fn a_version_1_database_opens_and_every_record_verifies() {
    let path = load_fixture("v1", V1);
    let before: u32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, 1);
    assert!(before < SCHEMA_VERSION, "opening must migrate the fixture");
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap();

    let stats = store.stats().await.unwrap();
    assert_eq!(stats.schema_version, Some(SCHEMA_VERSION));
    // what later versions added works on the upgraded file (v2: tokens)
    assert!(store.list_tokens().await.unwrap().is_empty());
    let token = casework_core::model::ApiToken {
        id: "t1".into(),
        name: "sync".into(),
        role: casework_core::model::Role::Service,
        customer_email: None,
        hash: casework_core::model::token_hash("secret"),
        created_at: casework_core::testing::START,
        revoked_at: None,
    };
    store.put_token(token.clone()).await.unwrap();
    assert_eq!(store.find_token(token.hash.clone()).await.unwrap(), token);
    // v13: finding the cases that hold a Message-ID reads its index, not every event
    let plan: Vec<String> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare(
            "EXPLAIN QUERY PLAN SELECT DISTINCT case_number FROM events \
             WHERE kind IN ('email_received', 'email_queued') \
               AND json_extract(body, '$.message_id') = ?1 \
             ORDER BY case_number DESC LIMIT ?2",
        )
        .unwrap()
        .query_map(rusqlite::params!["a@b.example", 5], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("events_by_message_id")),
        "{plan:?}"
    );
    assert_eq!((stats.cases, stats.events, stats.people), (3, 43, 2));

    // every case replays from its history to exactly its stored state
    let page = store
        .list_cases(CaseFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    for case in &page.items {
        let history = store.history(case.number).await.unwrap();
        assert_eq!(&replay(&history).unwrap(), case, "case {}", case.number);
        assert_eq!(store.load_case(case.number).await.unwrap(), *case);
    }
    let first = store.load_case(CaseNumber::new(1).unwrap()).await.unwrap();
    assert_eq!(first.reopen_count, 1);
    assert_eq!(first.title, "Data store not registered 0");
    assert_eq!(
        first.description,
        "Error 999999 when publishing — «ünïcode»"
    );

    // people, knowledge and the outbox
    let people = store.list_people().await.unwrap();
    assert_eq!(
        people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Ana Lopez", "Lee Park"]
    );
    assert_eq!(
        store.get_article(1).await.unwrap().url.as_deref(),
        Some("https://example.com/kb/1")
    );
    assert_eq!(
        store.get_defect("BUG-000123".into()).await.unwrap().state,
        "open"
    );
    let outbox = store.outbox_list(None, 100).await.unwrap();
    assert_eq!(outbox.len(), 4);
    assert_eq!(
        outbox
            .iter()
            .filter(|m| m.status == OutboxStatus::Sent)
            .count(),
        1
    );
    assert!(
        outbox
            .iter()
            .all(|m| m.subject.starts_with("[Case 0000000"))
    );

    // the indexes still answer
    let hits = store
        .search(SearchQuery {
            text: "999999".into(),
            kind: Some(RefKind::Case),
            scope: Scope::Staff,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    let hidden = store
        .search(SearchQuery {
            text: "internal notes".into(),
            kind: None,
            scope: Scope::Customer("jordan@customer.example".parse().unwrap()),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(
        hidden.is_empty(),
        "internal text stays out of customer search after an upgrade"
    );
    // v5 rebuilt the index as passages: text from events is found with the title's terms,
    // staff only for an internal note, the customer too for a customer-visible summary
    let find = |text: &str, scope: Scope| {
        store.search(SearchQuery {
            text: text.into(),
            kind: Some(RefKind::Case),
            scope,
            limit: 10,
        })
    };
    let jordan = || Scope::Customer("jordan@customer.example".parse().unwrap());
    let refs = |hits: Vec<casework_core::ports::SearchHit>| -> Vec<String> {
        let mut r: Vec<String> = hits.into_iter().map(|h| h.reference).collect();
        r.sort();
        r
    };
    let staff = find("internal notes registered", Scope::Staff)
        .await
        .unwrap();
    assert!(
        staff
            .iter()
            .any(|h| h.title == "Data store not registered 0")
    );
    assert_eq!(refs(staff), ["00000001", "00000002"]);
    // Jordan's cases are 1 and 3; only 1 has a customer-visible summary
    let summary = find("summary registered", jordan()).await.unwrap();
    assert_eq!(refs(summary), ["00000001"]);
    assert!(
        find("internal notes", jordan()).await.unwrap().is_empty(),
        "the internal notes stay staff-only"
    );
    let rows = store
        .reopen_report(ReportQuery {
            group_by: ReportGroup::ProductArea,
            from: None,
            to: None,
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].key.as_str(), rows[0].closed, rows[0].reopened),
        ("Publishing", 2, 1)
    );
    assert_eq!(rows[0].median_days_to_reopen, Some(2.08));

    drop(store);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_failed_migration_changes_nothing() {
    // a database claiming version 0 but already holding a table the migration creates:
    // the migration fails, the transaction rolls back, and the file is as it was
    let path = load_fixture(
        "failing",
        "PRAGMA application_id = 1128354629; CREATE TABLE cases(x); INSERT INTO cases VALUES (1);",
    );
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open_url(&format!("sqlite://{}", path.display()))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("migration to schema version 1 failed"),
        "{err}"
    );
    assert!(err.to_string().ends_with("nothing was changed"), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0);
    let n: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "no table of the migration was left behind");
    drop(conn);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn import_takes_whole_histories_all_or_nothing() {
    let source = SqliteStore::open_url("sqlite::memory:").unwrap();
    // reuse the fixture's histories as import input
    let path = load_fixture("import-src", V1);
    let old = SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap();
    let mut histories = Vec::new();
    for n in 1..=3 {
        histories.push(old.history(CaseNumber::new(n).unwrap()).await.unwrap());
    }
    assert_eq!(source.import(histories.clone()).await.unwrap(), 3);
    for h in &histories {
        let n = h[0].case;
        assert_eq!(source.load_case(n).await.unwrap(), replay(h).unwrap());
        assert_eq!(&source.history(n).await.unwrap(), h);
    }
    let hits = source
        .search(SearchQuery {
            text: "999999".into(),
            kind: None,
            scope: Scope::Staff,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 3, "imported cases are searchable");

    // a batch with one taken number and one broken history imports nothing
    let fresh = SqliteStore::open_url("sqlite::memory:").unwrap();
    fresh.import(vec![histories[0].clone()]).await.unwrap();
    let err = fresh
        .import(vec![histories[1].clone(), histories[0].clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, casework_core::ports::StoreError::Duplicate(_)),
        "{err:?}"
    );
    assert_eq!(
        fresh.stats().await.unwrap().cases,
        1,
        "nothing of the failed batch is kept"
    );
    let mut broken = histories[2].clone();
    broken.remove(1);
    assert!(fresh.import(vec![broken]).await.is_err());
    assert_eq!(fresh.stats().await.unwrap().cases, 1);
    drop(old);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// Turns a database this build wrote back into what version 5 stored: states without the
/// per-channel attempt times (v6), closures and reopens without their keys at close,
/// reasons and actors (v7), as the rowid tables of version 1, no change feed (v8), no sign-in
/// tables (v9), no search reindex state (v10), none of v11's sort keys or last customer
/// replies, no quarantine (v12) and no webhook tables (v13).
fn downgrade_to_v5(path: &std::path::Path) {
    downgrade_to_v10(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TABLE search_reindex;
         DROP TABLE passwords;
         DROP TABLE sessions;
         DROP TABLE sign_in_links;
         DROP TABLE sign_in_failures;
         UPDATE cases SET state = json_remove(state, '$.contacts.last_email_at',
                                              '$.contacts.last_phone_at');
         CREATE TABLE closures_v5 (
             case_number INTEGER NOT NULL REFERENCES cases(number),
             at          INTEGER NOT NULL,
             mode        TEXT NOT NULL);
         INSERT INTO closures_v5 SELECT case_number, at, mode FROM closures
          ORDER BY case_number, seq;
         CREATE TABLE reopens_v5 (
             case_number INTEGER NOT NULL REFERENCES cases(number),
             at          INTEGER NOT NULL,
             closed_at   INTEGER NOT NULL,
             close_mode  TEXT NOT NULL);
         INSERT INTO reopens_v5 SELECT case_number, at, closed_at, close_mode FROM reopens
          ORDER BY case_number, seq;
         DROP TABLE closures;
         DROP TABLE reopens;
         ALTER TABLE closures_v5 RENAME TO closures;
         ALTER TABLE reopens_v5 RENAME TO reopens;
         CREATE INDEX closures_by_time ON closures(at);
         CREATE INDEX reopens_by_closed_at ON reopens(closed_at);
         DROP TABLE feed;
         PRAGMA user_version = 5;",
    )
    .unwrap();
}

/// Turns a database this build wrote back into what version 10 stored: no attachments (v16),
/// no mailbox positions (v15), no index of email Message-IDs (v14), no webhook tables (v13), no quarantine (v12), no sort keys, no last
/// customer reply in the states (v11).
fn downgrade_to_v10(path: &std::path::Path) {
    downgrade_to_v16(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TABLE attachments;
         DROP TABLE mailbox_positions;
         DROP INDEX events_by_message_id;
         DROP TABLE webhook_endpoints;
         DROP TABLE webhook_deliveries;
         DROP TABLE quarantine;
         DROP INDEX cases_by_updated;
         DROP INDEX cases_by_priority;
         ALTER TABLE cases DROP COLUMN updated_us;
         ALTER TABLE cases DROP COLUMN priority_rank;
         UPDATE cases SET state = json_remove(state, '$.last_customer_reply_at');
         PRAGMA user_version = 10;",
    )
    .unwrap();
}

/// Turns a database this build wrote back into what version 16 stored: closures and
/// reopens without their predecessors, no report aggregates, the drill-down's old indexes.
/// Takes a store back to schema 18: no all-time delays, the delay indexes without
/// `close_mode`.
fn downgrade_to_v18(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TABLE report_delay_totals;
         DROP INDEX reopens_delays_owner; DROP INDEX reopens_delays_area;
         DROP INDEX reopens_delays_resolution;
         CREATE INDEX reopens_delays_owner ON reopens(owner, at - closed_at, closed_at, at)
             WHERE close_mode <> 'temporary';
         CREATE INDEX reopens_delays_area ON reopens(product_area, at - closed_at, closed_at, at)
             WHERE close_mode <> 'temporary';
         CREATE INDEX reopens_delays_resolution
             ON reopens(primary_resolution, at - closed_at, closed_at, at)
             WHERE close_mode <> 'temporary';
         PRAGMA user_version = 18;",
    )
    .unwrap();
}

/// Takes a store back to schema 17: the reopen delays indexed by key and delay only.
fn downgrade_to_v17(path: &std::path::Path) {
    downgrade_to_v18(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP INDEX reopens_delays_owner; DROP INDEX reopens_delays_area;
         DROP INDEX reopens_delays_resolution;
         CREATE INDEX reopens_delay_owner ON reopens(owner, at - closed_at);
         CREATE INDEX reopens_delay_area ON reopens(product_area, at - closed_at);
         CREATE INDEX reopens_delay_resolution ON reopens(primary_resolution, at - closed_at);
         PRAGMA user_version = 17;",
    )
    .unwrap();
}

fn downgrade_to_v16(path: &std::path::Path) {
    downgrade_to_v17(path);
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut sql = String::new();
    for g in ["owner", "area", "resolution"] {
        sql.push_str(&format!(
            "DROP INDEX closures_repeat_{g}; DROP INDEX reopens_repeat_{g};
             DROP INDEX closures_edge_{g}; DROP INDEX reopens_edge_{g};
             DROP INDEX reopens_delay_{g}; DROP INDEX closures_cases_{g};
             ALTER TABLE closures DROP COLUMN prev_{g}; ALTER TABLE reopens DROP COLUMN prev_{g};"
        ));
    }
    sql.push_str(
        "DROP TABLE report_blocks; DROP TABLE report_delays; DROP TABLE report_gaps;
         CREATE INDEX closures_by_owner ON closures(owner, at);
         CREATE INDEX closures_by_area ON closures(product_area, at);
         CREATE INDEX closures_by_resolution ON closures(primary_resolution, at);
         CREATE INDEX closures_by_time ON closures(at);
         CREATE INDEX reopens_by_closed_at ON reopens(closed_at);
         PRAGMA user_version = 16;",
    );
    conn.execute_batch(&sql).unwrap();
}

/// A store at `path` with a service over a clock the test moves.
fn store_at(
    path: &std::path::Path,
) -> (
    std::sync::Arc<SqliteStore>,
    casework_core::CaseService,
    std::sync::Arc<casework_core::testing::FixedClock>,
) {
    use std::sync::Arc;
    let store = Arc::new(SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap());
    let clock = Arc::new(casework_core::testing::FixedClock::default());
    let svc = casework_core::CaseService::new(
        store.clone(),
        clock.clone(),
        Arc::new(casework_core::testing::SequentialIds::default()),
        Arc::new(casework_core::WorkflowConfig::default_config()),
        Arc::new(casework_core::Templates::embedded().unwrap()),
    );
    (store, svc, clock)
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casework-migrate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn version_6_gives_old_states_the_per_channel_attempt_times_replay_gives() {
    use casework_core::model::{Actor, ContactChannel, ContactOutcome, Role};
    use casework_core::workflow::Command;

    let dir = fresh_dir("v6");
    let path = dir.join("cases.db");
    // histories as version 5 wrote them: attempts, a reached attempt, a reopen
    let (store, svc, clock) = store_at(&path);
    let ana = Actor::system("ana");
    let lee = Actor {
        role: Role::Lead,
        ..Actor::system("lee")
    };
    let attempt = |channel, outcome| Command::RecordContact {
        channel,
        outcome,
        note: None,
    };
    use ContactChannel::{Email, Phone};
    use ContactOutcome::{NoResponse, Reached};
    let mut numbers = Vec::new();
    for script in [
        vec![attempt(Email, NoResponse), attempt(Phone, NoResponse)],
        vec![
            attempt(Phone, NoResponse),
            attempt(Email, Reached),
            attempt(Email, NoResponse),
        ],
        vec![
            attempt(Email, NoResponse),
            Command::Close {
                mode: casework_core::model::CloseMode::Temporary,
                resolution: None,
                notify_customer: true,
            },
            Command::Reopen {
                reason: "back".into(),
                notify_customer: false,
            },
            attempt(Phone, NoResponse),
        ],
        vec![],
    ] {
        let case = svc
            .open_case(&ana, casework_core::testing::new_case("t"))
            .await
            .unwrap();
        for cmd in script {
            clock.advance(jiff::SignedDuration::from_hours(21));
            let who = if matches!(cmd, Command::Reopen { .. }) {
                &lee
            } else {
                &ana
            };
            svc.execute(who, case.number, None, cmd).await.unwrap();
        }
        numbers.push(case.number);
    }
    drop(svc);
    drop(store);
    // ... and their states as version 5 stored them: without the per-channel times
    downgrade_to_v5(&path);
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap();
    let mut times = Vec::new();
    for n in numbers {
        let case = store.load_case(n).await.unwrap();
        assert_eq!(replay(&store.history(n).await.unwrap()).unwrap(), case);
        times.push((
            case.contacts.last_email_at.is_some(),
            case.contacts.last_phone_at.is_some(),
        ));
    }
    assert_eq!(
        times,
        [(true, true), (true, false), (false, true), (false, false)]
    );
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_7_groups_old_closures_by_their_keys_at_close() {
    use casework_core::model::{Actor, CloseMode, Resolution, Role};
    use casework_core::ports::{PageRequest, ReportCasesQuery};
    use casework_core::workflow::{CaseEdit, Command};

    let dir = fresh_dir("v7");
    let path = dir.join("cases.db");
    let (store, svc, clock) = store_at(&path);
    let admin = Actor::system("root");
    let lee = Actor {
        role: Role::Lead,
        ..Actor::system("lee")
    };
    let close = |mode, primary: Option<&str>| Command::Close {
        mode,
        resolution: primary.map(|p| Resolution {
            primary: p.into(),
            secondary: "s".into(),
        }),
        notify_customer: true,
    };
    let ready = |area: &str| {
        Command::Edit(CaseEdit {
            title: Some("t".into()),
            product: Some("P".into()),
            product_version: Some("1".into()),
            product_area: Some(area.into()),
            functionality: Some("F".into()),
            issue: Some("I".into()),
            ..Default::default()
        })
    };
    let summary = Command::AddPost {
        kind: casework_core::model::PostKind::Summary,
        body: "s".into(),
        visibility: casework_core::model::Visibility::Internal,
    };
    let assign = |o: &str| Command::Assign { owner: o.into() };
    let reopen = |why: &str| Command::Reopen {
        reason: why.into(),
        notify_customer: false,
    };
    // one case closed by ana in Printing, reopened, recategorized, closed by bob in
    // Exporting, then reassigned while closed; one closed temporarily and reopened
    for name in ["ana", "bob", "cy"] {
        let person = casework_core::model::Person {
            name: name.into(),
            role: Role::Agent,
            email: None,
            phone: None,
            signature: None,
            notifications_off: Vec::new(),
        };
        store.put_person(person).await.unwrap();
    }
    let a = svc
        .open_case(&admin, casework_core::testing::new_case("t"))
        .await
        .unwrap()
        .number;
    let b = svc
        .open_case(&admin, casework_core::testing::new_case("t"))
        .await
        .unwrap()
        .number;
    for (n, who, cmd) in [
        (a, &admin, assign("ana")),
        (a, &admin, ready("Printing")),
        (a, &admin, summary.clone()),
        (a, &admin, close(CloseMode::Resolved, Some("Configuration"))),
        (a, &lee, reopen("it came back")),
        (a, &admin, assign("bob")),
        (a, &admin, ready("Exporting")),
        (a, &admin, summary.clone()),
        (a, &admin, close(CloseMode::Resolved, Some("Training"))),
        (a, &admin, assign("cy")),
        (b, &admin, close(CloseMode::Temporary, None)),
        (b, &lee, reopen("customer is back")),
    ] {
        clock.advance(jiff::SignedDuration::from_hours(30));
        svc.execute(who, n, None, cmd).await.unwrap();
    }
    let mut before = Vec::new();
    for g in [
        ReportGroup::ProductArea,
        ReportGroup::Owner,
        ReportGroup::PrimaryResolution,
    ] {
        let q = ReportQuery {
            group_by: g,
            from: None,
            to: None,
        };
        let rows = store.reopen_report(q).await.unwrap();
        let mut drill = Vec::new();
        for r in &rows {
            let cases = ReportCasesQuery {
                report: q,
                key: r.key.clone(),
                page: PageRequest::default(),
            };
            drill.push(store.reopen_report_cases(cases).await.unwrap());
        }
        before.push((q, rows, drill));
    }
    let owners: Vec<(String, u64, u64)> = before[1]
        .1
        .iter()
        .map(|r| (r.key.clone(), r.closed, r.reopened))
        .collect();
    assert_eq!(
        owners,
        [
            ("(none)".to_string(), 0, 0),
            ("ana".to_string(), 1, 1),
            ("bob".to_string(), 1, 0)
        ]
    );
    drop(svc);
    drop(store);
    downgrade_to_v5(&path);
    // the upgrade rebuilds the same report rows and drill-downs from the events
    let store = SqliteStore::open_url(&format!("sqlite://{}", path.display())).unwrap();
    for (q, rows, drill) in before {
        assert_eq!(store.reopen_report(q).await.unwrap(), rows, "{q:?}");
        for (r, cases) in rows.iter().zip(drill) {
            let query = ReportCasesQuery {
                report: q,
                key: r.key.clone(),
                page: PageRequest::default(),
            };
            assert_eq!(store.reopen_report_cases(query).await.unwrap(), cases);
        }
    }
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_8_gives_old_events_stable_positions_and_new_ones_follow() {
    use casework_core::model::{Actor, PostKind, Role, Visibility};
    use casework_core::ports::{ChangeFeed, FeedEntry};
    use casework_core::workflow::Command;

    let dir = fresh_dir("v8");
    let path = dir.join("cases.db");
    let (store, svc, _clock) = store_at(&path);
    let ana = Actor::operator("ana");
    let ana = Actor {
        role: Role::Agent,
        ..ana
    };
    let post = |body: &str| Command::AddPost {
        kind: PostKind::Note,
        body: body.into(),
        visibility: Visibility::Internal,
    };
    let a = svc
        .open_case(&ana, casework_core::testing::new_case("a"))
        .await
        .unwrap()
        .number;
    let b = svc
        .open_case(&ana, casework_core::testing::new_case("b"))
        .await
        .unwrap()
        .number;
    svc.execute(&ana, b, None, post("b2")).await.unwrap();
    svc.execute(&ana, a, None, post("a2")).await.unwrap();
    drop(svc);
    drop(store);
    // as version 7 left it: events, no feed (nor v9's sign-in tables, v10's reindex state,
    // v11's keys, v12's quarantine, v13's webhooks)
    downgrade_to_v10(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE feed; DROP TABLE passwords; DROP TABLE sessions;
         DROP TABLE sign_in_links; DROP TABLE sign_in_failures; DROP TABLE search_reindex;
         PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);
    let keys = |entries: &[FeedEntry]| -> Vec<(u64, u64, u64)> {
        entries
            .iter()
            .map(|e| (e.position, e.event.case.get(), e.event.seq))
            .collect()
    };
    let (store, svc, _clock) = store_at(&path);
    let upgraded = store.feed(0, 100, None).await.unwrap();
    // old events: case order, then seq (their order across cases was not recorded)
    assert_eq!(
        keys(&upgraded),
        [
            (1, a.get(), 1),
            (2, a.get(), 2),
            (3, b.get(), 1),
            (4, b.get(), 2)
        ]
    );
    svc.execute(&ana, b, None, post("b3")).await.unwrap();
    drop(svc);
    drop(store);
    // a restart changes no position, and the new event follows the old ones
    let (store, _svc, _clock) = store_at(&path);
    let again = store.feed(0, 100, None).await.unwrap();
    assert_eq!(again[..4], upgraded[..]);
    assert_eq!(keys(&again[4..]), [(5, b.get(), 3)]);
    // and the feed is append-only, as the event log is
    let conn = rusqlite::Connection::open(&path).unwrap();
    let err = conn.execute("DELETE FROM feed", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_11_gives_old_cases_their_sort_keys_and_last_customer_reply() {
    let dir = fresh_dir("v11");
    let path = dir.join("cases.db");
    let (store, svc, clock) = store_at(&path);
    let cases =
        casework_store_conformance::upgrades::open_cases_for_the_list_orders(&svc, &clock).await;
    drop(svc);
    drop(store);
    downgrade_to_v10(&path);

    let (store, _svc, _clock) = store_at(&path);
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    casework_store_conformance::upgrades::check_the_list_orders_after_an_upgrade(&*store, &cases)
        .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_17_fills_the_report_aggregates_and_old_stores_report_the_same() {
    let dir = fresh_dir("v17");
    let path = dir.join("cases.db");
    let (store, _svc, _clock) = store_at(&path);
    let before = casework_store_conformance::upgrades::report_for_an_upgrade(store.clone()).await;
    drop(store);
    downgrade_to_v16(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'report_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the old store has no aggregates");
    drop(conn);

    let (store, _svc, _clock) = store_at(&path);
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_18_indexes_the_reopen_delays_and_old_stores_report_the_same() {
    let dir = fresh_dir("v18");
    let path = dir.join("cases.db");
    let (store, _svc, _clock) = store_at(&path);
    let before = casework_store_conformance::upgrades::report_for_an_upgrade(store.clone()).await;
    drop(store);
    downgrade_to_v17(&path);
    let indexes = |path: &std::path::Path| -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut st = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'reopens_delay%'
                  ORDER BY name",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(
        indexes(&path)
            .iter()
            .all(|n| !n.starts_with("reopens_delays_"))
    );

    let (store, _svc, _clock) = store_at(&path);
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    assert_eq!(
        indexes(&path),
        [
            "reopens_delays_area",
            "reopens_delays_owner",
            "reopens_delays_resolution"
        ],
        "the covering indexes replace the old ones"
    );
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn version_19_sums_the_delays_over_all_time_and_old_stores_report_the_same() {
    let dir = fresh_dir("v19");
    let path = dir.join("cases.db");
    let (store, _svc, _clock) = store_at(&path);
    let before = casework_store_conformance::upgrades::report_for_an_upgrade(store.clone()).await;
    drop(store);
    let totals = |path: &std::path::Path| -> Vec<(i64, String, i64, i64, i64, i64)> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut st = conn
            .prepare(
                "SELECT grouping, key, bucket, n, lo, hi FROM report_delay_totals
                  ORDER BY grouping, key, bucket",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let kept = totals(&path);
    assert!(!kept.is_empty(), "the fixture's reopens have delays");
    downgrade_to_v18(&path);

    let (store, _svc, _clock) = store_at(&path);
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    assert_eq!(
        totals(&path),
        kept,
        "the migration sums the weeks to what the commits kept"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan: String = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT at - closed_at FROM reopens INDEXED BY reopens_delays_area
              WHERE product_area IS ?1 AND at - closed_at >= ?2 AND at - closed_at <= ?3
                AND closed_at >= ?4 AND closed_at < ?5 AND close_mode <> 'temporary'
              ORDER BY at - closed_at LIMIT ?7 OFFSET ?6",
        )
        .unwrap()
        .query_map(rusqlite::params![None::<String>, 0, 0, 0, 0, 0, 0], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("; ");
    assert!(
        plan.contains("COVERING INDEX reopens_delays_area"),
        "the exact median read touches no table row: {plan}"
    );
    drop(conn);
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
