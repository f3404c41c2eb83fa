//! The background reindex of search rows written before stemming (schema v4), on a real
//! server: rows as an older store wrote them keep matching while it runs, and are stemmed
//! once it is done.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use casework_core::ports::{CaseLog, CaseQueries, Scope, SearchQuery};
use casework_core::testing::{START, opened};
use casework_store_postgres::PgStore;
use casework_test_postgres::Cluster;

async fn found(store: &PgStore, text: &str) -> Vec<String> {
    store
        .search(SearchQuery {
            text: text.into(),
            kind: None,
            scope: Scope::Staff,
            limit: 10,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.reference)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_before_stemming_are_reindexed_while_serving() {
    let url = Cluster::shared().fresh_database("reindex").unwrap();
    let db = url.rsplit('/').next().unwrap().to_string();
    let store = PgStore::open_url(&url).await.unwrap();
    assert!(!store.reindexing(), "a new store has nothing to reindex");
    let case = store
        .create_case(START, "ana".into(), opened("Publishing fails"), Vec::new())
        .await
        .unwrap();
    assert_eq!(found(&store, "publish ").await, [case.number.display()]);
    drop(store);
    // the row as a store before schema v4 wrote it: words as typed, not normalized
    Cluster::shared()
        .psql(
            &db,
            "UPDATE search_public SET tsv = to_tsvector('simple', 'Publishing fails'),
                 normalized = false;
             UPDATE search_reindex SET done = false",
        )
        .unwrap();
    let store = PgStore::open_url(&url).await.unwrap();
    // while the reindex runs, and after, the old row matches as typed and as stemmed
    assert_eq!(found(&store, "publishing ").await, [case.number.display()]);
    let started = Instant::now();
    while store.reindexing() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the reindex did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(found(&store, "publish ").await, [case.number.display()]);
    assert_eq!(
        Cluster::shared()
            .psql(
                &db,
                "SELECT string_agg(tsv::text || ' ' || normalized::text, ';') FROM search_public"
            )
            .unwrap(),
        "'d':3 'fail':2A 'publish':1A true"
    );
    assert_eq!(
        Cluster::shared()
            .psql(&db, "SELECT done FROM search_reindex")
            .unwrap(),
        "t"
    );
}
