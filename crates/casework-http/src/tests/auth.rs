//! Tokens: a revoked token keeps working from the cache only until its TTL, and the cache
//! forgets and stays bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::http::StatusCode;
use casework_core::model::{Actor, Role};

use super::*;

#[tokio::test]
async fn a_revoked_token_works_from_the_cache_until_its_ttl_then_stops() {
    // issue #11: the old version of this test passed with no cache at all. A test clock makes
    // both sides exact: the cached answer just inside the TTL, the refusal just past it.
    let svc = casework_core::testing::service(Arc::new(casework_store_memory::MemoryStore::new()));
    let root = Actor::system("test");
    let token = svc
        .create_token(&root, "Ana Lopez", Role::Admin, None, AGENT)
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let now = Arc::new(std::sync::Mutex::new(t0));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().unwrap()) as crate::MonotonicClock
    };
    let ttl = std::time::Duration::from_secs(1);
    let margin = std::time::Duration::from_millis(1);
    let app = router(AppState::with_auth_cache(
        svc.clone(),
        crate::AuthCache::with_clock(ttl, clock),
    ));
    let get = || call(&app, "GET", "/api/v1/cases", Some(AGENT), None, &[]);
    assert_eq!(get().await.status, StatusCode::OK, "authenticated at t0");
    svc.revoke_token(&root, &token.id).await.unwrap();
    *now.lock().unwrap() = t0 + ttl - margin;
    assert_eq!(
        get().await.status,
        StatusCode::OK,
        "inside the TTL the cached answer stands (the store already says revoked)"
    );
    *now.lock().unwrap() = t0 + ttl + margin;
    assert_eq!(
        get().await.status,
        StatusCode::UNAUTHORIZED,
        "past the TTL the store's answer does"
    );
    // and the refusal is not cached: it holds on every later request
    *now.lock().unwrap() = t0 + ttl * 2;
    assert_eq!(get().await.status, StatusCode::UNAUTHORIZED);

    // with no cache, a revocation takes effect on the next request
    let fresh = svc
        .create_token(&root, "Lee Park", Role::Admin, None, LEAD)
        .await
        .unwrap();
    let uncached = router(AppState::with_auth_ttl(
        svc.clone(),
        std::time::Duration::ZERO,
    ));
    let r = call(&uncached, "GET", "/api/v1/cases", Some(LEAD), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    svc.revoke_token(&root, &fresh.id).await.unwrap();
    let r = call(&uncached, "GET", "/api/v1/cases", Some(LEAD), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_auth_cache_forgets_after_its_ttl_and_stays_bounded() {
    let cache = crate::AuthCache::new(std::time::Duration::from_secs(1));
    let t0 = std::time::Instant::now();
    let actor = Actor::system("a");
    cache.put("h".into(), actor.clone(), t0);
    assert_eq!(
        cache.get("h", t0 + std::time::Duration::from_millis(999)),
        Some(actor.clone())
    );
    assert_eq!(cache.get("h", t0 + std::time::Duration::from_secs(1)), None);
    assert_eq!(cache.get("other", t0), None);
    for i in 0..crate::AuthCache::MAX_ENTRIES + 5 {
        cache.put(format!("k{i}"), actor.clone(), t0);
    }
    let size = cache.entries.lock().unwrap().len();
    assert!(size <= crate::AuthCache::MAX_ENTRIES, "{size}");
    let off = crate::AuthCache::new(std::time::Duration::ZERO);
    off.put("h".into(), actor, t0);
    assert_eq!(off.get("h", t0), None);
}

#[tokio::test]
async fn an_actor_the_host_identified_needs_no_token_and_sees_only_what_it_may() {
    use tower::ServiceExt;
    let svc = casework_core::testing::service(Arc::new(casework_store_memory::MemoryStore::new()));
    let app = router(AppState::new(svc));
    let ask = |actor: Option<Actor>| {
        let mut request = axum::http::Request::builder()
            .uri("/api/v1/cases")
            .body(axum::body::Body::empty())
            .unwrap();
        if let Some(a) = actor {
            request.extensions_mut().insert(crate::Identified(a));
        }
        app.clone().oneshot(request)
    };
    assert_eq!(ask(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let agent = Actor {
        name: "Host Agent".into(),
        principal: "host:1".into(),
        role: Role::Agent,
        email: None,
        phone: None,
        signature: None,
    };
    assert_eq!(ask(Some(agent)).await.unwrap().status(), StatusCode::OK);
    // the role is Casework's to judge: a customer may not list the outbox
    let customer = Actor::customer("Dana", "dana@example.com".parse().unwrap());
    let mut request = axum::http::Request::builder()
        .uri("/api/v1/outbox")
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(crate::Identified(customer));
    let r = app.clone().oneshot(request).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
