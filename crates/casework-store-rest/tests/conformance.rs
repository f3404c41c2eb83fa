//! The REST store passes the store conformance suite against Casework's own server,
//! in-process on port 0, backed by the memory store, by SQLite and by PostgreSQL (a real
//! server the test starts).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use casework_core::model::{Actor, Role};
use casework_core::ports::CaseStore;
use casework_store_rest::RestStore;

const SECRET: &str = "cw_service_conformance_0000000000000000000";

/// Serves `backing` over HTTP on a free port (in the current runtime) and returns a REST
/// store talking to it with a service token.
async fn served(backing: Arc<dyn CaseStore>) -> Arc<RestStore> {
    let svc = casework_core::testing::service(backing);
    svc.create_token(&Actor::system("test"), "svc", Role::Service, None, SECRET)
        .await
        .unwrap();
    let router = casework_http::router(casework_http::AppState::new(svc));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Arc::new(RestStore::open(&format!("http://{addr}"), SECRET).unwrap())
}

/// Every group but `sessions`: sign-in state is not on the storage protocol yet (the store
/// answers it unavailable, tested below).
macro_rules! remote_suite {
    ($make:expr) => {
        casework_store_conformance::case_log_suite!($make);
        casework_store_conformance::directory_suite!($make);
        casework_store_conformance::knowledge_suite!($make);
        casework_store_conformance::case_queries_suite!($make);
        casework_store_conformance::reports_suite!($make);
        casework_store_conformance::outbox_suite!($make);
        casework_store_conformance::diagnostics_suite!($make);
        casework_store_conformance::quarantine_suite!($make);
        casework_store_conformance::mailbox_suite!($make);
        casework_store_conformance::attachments_suite!($make);
        casework_store_conformance::surroundings_suite!($make);
        casework_store_conformance::service_suite!($make);
        casework_store_conformance::inbound_suite!($make);
    };
}

#[test]
fn sign_in_state_is_refused_as_unavailable_not_kept_locally() {
    use casework_core::ports::{Sessions, StoreError};
    casework_store_conformance::run(async {
        let store = served(Arc::new(casework_store_memory::MemoryStore::new())).await;
        let err = store.password("ana".into()).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store.session_and_person("id".into()).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let svc = casework_core::testing::service(store);
        // a session cookie is neither let in nor taken for signed out: the store's error
        let asked = svc.session("a session secret").await;
        assert!(
            matches!(
                asked,
                Err(casework_core::ServiceError::Store(StoreError::Unavailable(
                    _
                )))
            ),
            "{asked:?}"
        );
        let refused = svc
            .sign_in("ana", "a long enough password", "127.0.0.1")
            .await;
        assert!(
            matches!(
                refused,
                Err(casework_core::service::SignInError::Service(
                    casework_core::ServiceError::Store(StoreError::Unavailable(_))
                ))
            ),
            "{refused:?}"
        );
    });
}

mod over_memory {
    use super::*;
    remote_suite!(served(Arc::new(casework_store_memory::MemoryStore::new())).await);
}

mod over_sqlite {
    use super::*;
    remote_suite!(
        served(Arc::new(
            casework_store_sqlite::SqliteStore::open_url("sqlite::memory:").unwrap()
        ))
        .await
    );
}

mod over_postgres {
    use super::*;
    async fn backing() -> Arc<dyn CaseStore> {
        let url = casework_test_postgres::Cluster::shared()
            .fresh_database("rest")
            .unwrap();
        Arc::new(
            casework_store_postgres::PgStore::open_url(&url)
                .await
                .unwrap(),
        )
    }
    remote_suite!(served(backing().await).await);
}
