//! Opening a store safely, on a real server: a database holding another application's
//! tables, or a newer Casework schema, is refused and left untouched; servers starting
//! together migrate once; the event log is append-only at the SQL level.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use casework_core::ports::{CaseLog, Diagnostics};
use casework_store_postgres::{OpenError, PgStore, SCHEMA_VERSION};
use casework_test_postgres::Cluster;

fn db_name(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// Every relation of the database's public schema with its row count (tables only), as a
/// fingerprint of "untouched".
fn fingerprint(db: &str) -> String {
    Cluster::shared()
        .psql(
            db,
            "SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'",
        )
        .unwrap()
}

#[tokio::test]
async fn another_applications_database_is_refused_and_untouched() {
    let url = Cluster::shared().fresh_database("foreign").unwrap();
    let db = db_name(&url);
    Cluster::shared()
        .psql(
            &db,
            "CREATE TABLE public.invoices (id int PRIMARY KEY, total numeric);
             INSERT INTO public.invoices VALUES (1, 9.5); ALTER TABLE public.invoices OWNER TO casework",
        )
        .unwrap();
    let before = fingerprint(&db);
    let err = PgStore::open_url(&url).await.expect_err("must be refused");
    assert!(matches!(err, OpenError::NotCasework(_)), "{err}");
    assert!(err.to_string().contains("another application"), "{err}");
    assert!(err.to_string().ends_with("it was not changed"), "{err}");
    assert_eq!(fingerprint(&db), before, "nothing was created");
    assert_eq!(
        Cluster::shared()
            .psql(&db, "SELECT total FROM invoices WHERE id = 1")
            .unwrap(),
        "9.5"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_untouched() {
    let url = Cluster::shared().fresh_database("newer").unwrap();
    let db = db_name(&url);
    drop(PgStore::open_url(&url).await.unwrap());
    let newer = SCHEMA_VERSION + 1;
    Cluster::shared()
        .psql(
            &db,
            &format!("UPDATE casework_schema SET version = {newer}"),
        )
        .unwrap();
    let before = fingerprint(&db);
    let err = PgStore::open_url(&url).await.expect_err("must be refused");
    assert_eq!(
        err,
        OpenError::TooNew {
            found: newer,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("upgrade Casework"), "{err}");
    assert_eq!(fingerprint(&db), before);
    assert_eq!(
        Cluster::shared()
            .psql(&db, "SELECT version FROM casework_schema")
            .unwrap(),
        newer.to_string()
    );
}

#[tokio::test]
async fn servers_opening_an_empty_database_together_migrate_it_once() {
    let url = Cluster::shared().fresh_database("together").unwrap();
    let mut opening = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        opening.push(tokio::spawn(async move { PgStore::open_url(&url).await }));
    }
    let mut stores = Vec::new();
    for o in opening {
        stores.push(o.await.unwrap().unwrap());
    }
    for s in &stores {
        assert_eq!(
            s.stats().await.unwrap().schema_version,
            Some(SCHEMA_VERSION)
        );
    }
    assert_eq!(
        Cluster::shared()
            .psql(&db_name(&url), "SELECT count(*) FROM casework_schema")
            .unwrap(),
        "1"
    );
}

#[tokio::test]
async fn the_event_log_is_append_only_in_sql() {
    let url = Cluster::shared().fresh_database("appendonly").unwrap();
    let store = PgStore::open_url(&url).await.unwrap();
    store
        .create_case(
            casework_core::testing::START,
            "ana".into(),
            casework_core::testing::opened("Printer offline"),
            Vec::new(),
        )
        .await
        .unwrap();
    let db = db_name(&url);
    for sql in [
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
    ] {
        let err = Cluster::shared().psql(&db, sql).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        Cluster::shared()
            .psql(&db, "SELECT count(*) FROM events")
            .unwrap(),
        "1"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_not_a_hang() {
    let port = casework_test_postgres::free_port().unwrap();
    let url = format!("postgres://casework@127.0.0.1:{port}/none?connect_timeout=2");
    let started = std::time::Instant::now();
    let err = PgStore::open_url(&url).await.expect_err("nothing listens");
    assert!(matches!(err, OpenError::Unavailable(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// What version 12 stored: no all-time delays (v13).
const UNDO_REPORT_TOTALS: &str = "DROP TABLE report_delay_totals;";

/// What version 11 stored: the reopen delays indexed by key and delay only (v12), and no
/// all-time delays (v13).
const UNDO_REPORT_DELAYS: &str = "
    DROP TABLE report_delay_totals;
    DROP INDEX reopens_delays_owner; DROP INDEX reopens_delays_area;
    DROP INDEX reopens_delays_resolution;
    CREATE INDEX reopens_delay_owner ON reopens (owner, delay);
    CREATE INDEX reopens_delay_area ON reopens (product_area, delay);
    CREATE INDEX reopens_delay_resolution ON reopens (primary_resolution, delay);
";

/// What version 10 stored: no report aggregates (v11), nor what v12 and v13 added.
const UNDO_REPORT_AGGREGATES: &str = "
    DROP TABLE report_delay_totals;
    DROP TABLE report_blocks; DROP TABLE report_delays; DROP TABLE report_gaps;
    DROP INDEX closures_cases_owner; DROP INDEX closures_cases_area;
    DROP INDEX closures_cases_resolution;
    ALTER TABLE closures DROP COLUMN prev_owner, DROP COLUMN prev_area,
        DROP COLUMN prev_resolution;
    ALTER TABLE reopens DROP COLUMN prev_owner, DROP COLUMN prev_area,
        DROP COLUMN prev_resolution, DROP COLUMN delay;
    DROP FUNCTION casework_delay_bucket; DROP FUNCTION casework_block;
    DROP FUNCTION casework_micros;
    CREATE INDEX closures_by_owner ON closures (owner, at);
    CREATE INDEX closures_by_area ON closures (product_area, at);
    CREATE INDEX closures_by_resolution ON closures (primary_resolution, at);
";

#[tokio::test]
async fn version_5_gives_old_cases_their_sort_keys_and_last_customer_reply() {
    use std::sync::Arc;

    use casework_core::ports::updated_key;
    use casework_core::testing::{FixedClock, SequentialIds};
    use casework_core::{CaseService, Templates, WorkflowConfig};

    let url = Cluster::shared().fresh_database("v5").unwrap();
    let db = db_name(&url);
    let store = Arc::new(PgStore::open_url(&url).await.unwrap());
    // times with nanoseconds, which the stored keys drop
    let clock = Arc::new(FixedClock::at(
        "2026-11-24T09:00:00.123456789Z".parse().unwrap(),
    ));
    let svc = CaseService::new(
        store.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    );
    let cases =
        casework_store_conformance::upgrades::open_cases_for_the_list_orders(&svc, &clock).await;
    drop(svc);
    drop(store);
    // as version 4 left it (without what versions 6 to 8 added)
    Cluster::shared().psql(&db, UNDO_REPORT_AGGREGATES).unwrap();
    Cluster::shared()
        .psql(
            &db,
            "DROP TABLE attachments; DROP TABLE mailbox_positions; DROP INDEX events_by_message_id;
             DROP TABLE webhook_endpoints; DROP TABLE webhook_deliveries;
             DROP TABLE quarantine;
             DROP INDEX cases_by_updated; DROP INDEX cases_by_priority;
             ALTER TABLE cases DROP COLUMN updated_us, DROP COLUMN priority_rank;
             UPDATE cases SET state = state - 'last_customer_reply_at';
             UPDATE casework_schema SET version = 4",
        )
        .unwrap();

    let store = PgStore::open_url(&url).await.unwrap();
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    for n in [cases.a, cases.b, cases.c] {
        // the key SQL filled is the one core computes
        let case = store.load_case(n).await.unwrap();
        let stored = Cluster::shared()
            .psql(
                &db,
                &format!("SELECT updated_us FROM cases WHERE number = {}", n.get()),
            )
            .unwrap();
        assert_eq!(stored, updated_key(case.updated_at).to_string(), "case {n}");
    }
    casework_store_conformance::upgrades::check_the_list_orders_after_an_upgrade(&store, &cases)
        .await;
}

/// A store with the report's fixture, taken back to `version` by `undo` and reopened
/// (migrated again); the reports' answers from before, to check on it, its database, and
/// what the query `kept` printed before the undo.
async fn report_store_upgraded_from(
    version: u32,
    undo: &str,
    kept: &str,
) -> (
    std::sync::Arc<PgStore>,
    casework_store_conformance::upgrades::ReportSnapshot,
    String,
    String,
) {
    use std::sync::Arc;
    let url = Cluster::shared()
        .fresh_database(&format!("v{}", version + 1))
        .unwrap();
    let db = db_name(&url);
    let store = Arc::new(PgStore::open_url(&url).await.unwrap());
    let before = casework_store_conformance::upgrades::report_for_an_upgrade(store.clone()).await;
    drop(store);
    let kept = Cluster::shared().psql(&db, kept).unwrap();
    Cluster::shared()
        .psql(
            &db,
            &format!("{undo} UPDATE casework_schema SET version = {version}"),
        )
        .unwrap();
    let store = Arc::new(PgStore::open_url(&url).await.unwrap());
    assert_eq!(
        store.stats().await.unwrap().schema_version,
        Some(SCHEMA_VERSION)
    );
    (store, before, db, kept)
}

#[tokio::test]
async fn version_11_fills_the_report_aggregates_and_old_stores_report_the_same() {
    let (store, before, ..) =
        report_store_upgraded_from(10, UNDO_REPORT_AGGREGATES, "SELECT 1").await;
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
}

#[tokio::test]
async fn version_12_indexes_the_reopen_delays_and_old_stores_report_the_same() {
    let (store, before, db, _) =
        report_store_upgraded_from(11, UNDO_REPORT_DELAYS, "SELECT 1").await;
    let indexes = Cluster::shared()
        .psql(
            &db,
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes
              WHERE indexname LIKE 'reopens_delay%'",
        )
        .unwrap();
    assert_eq!(
        indexes.trim(),
        "reopens_delays_area,reopens_delays_owner,reopens_delays_resolution",
        "the covering indexes replace the old ones"
    );
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
}

#[tokio::test]
async fn version_13_sums_the_delays_over_all_time_and_old_stores_report_the_same() {
    const TOTALS: &str = "SELECT string_agg(concat_ws(':', grouping, key, bucket, n, lo, hi), ','
                                            ORDER BY grouping, key, bucket)
                            FROM report_delay_totals";
    let (store, before, db, kept) =
        report_store_upgraded_from(12, UNDO_REPORT_TOTALS, TOTALS).await;
    assert!(!kept.trim().is_empty(), "the fixture's reopens have delays");
    assert_eq!(
        Cluster::shared().psql(&db, TOTALS).unwrap(),
        kept,
        "the migration sums the weeks to what the commits kept"
    );
    casework_store_conformance::upgrades::check_the_report_after_an_upgrade(store, &before).await;
}
