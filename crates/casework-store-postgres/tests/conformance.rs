//! The conformance suite on a real PostgreSQL server that the tests start themselves (one
//! throw-away cluster for this test binary), with a fresh database for every behaviour.

use std::sync::Arc;

use casework_store_postgres::PgStore;
use casework_test_postgres::Cluster;

async fn fresh() -> Arc<PgStore> {
    let url = Cluster::shared()
        .fresh_database("conformance")
        .unwrap_or_else(|e| panic!("{e}"));
    match PgStore::open_url(&url).await {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("cannot open {url}: {e}"),
    }
}

casework_store_conformance::suite!(fresh().await);
casework_store_conformance::transfer_suite!(fresh().await);
