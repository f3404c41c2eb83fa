//! Authentication: `Authorization: Bearer <token>` (any case of the scheme), answered by
//! core's `authenticate`, with a short-lived cache of valid tokens so most requests skip two
//! store reads.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use casework_core::model::Actor;

use crate::{ApiError, AppState};

/// The monotonic time the token cache reads.
pub type MonotonicClock = std::sync::Arc<dyn Fn() -> std::time::Instant + Send + Sync>;

/// How long an authenticated token is trusted without asking the store again: a token
/// revoked by `casework token revoke` (another process) stops working within this time.
pub const AUTH_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Tokens known to be valid, by the hash of their secret, each for a short time: it saves
/// two store reads (the token, then its person) on almost every request.
pub struct AuthCache {
    ttl: std::time::Duration,
    clock: MonotonicClock,
    pub(crate) entries:
        std::sync::Mutex<std::collections::HashMap<String, (Actor, std::time::Instant)>>,
}

impl AuthCache {
    /// Most tokens remembered at once; past it the cache starts over.
    pub const MAX_ENTRIES: usize = 10_000;

    /// A cache keeping entries for `ttl` by the system's monotonic clock.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self::with_clock(ttl, std::sync::Arc::new(std::time::Instant::now))
    }

    /// A cache keeping entries for `ttl` by `clock`.
    pub fn with_clock(ttl: std::time::Duration, clock: MonotonicClock) -> Self {
        Self {
            ttl,
            clock,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The cache's now.
    pub fn now(&self) -> std::time::Instant {
        (self.clock)()
    }

    /// The actor for a token hash, if it was authenticated less than the TTL before `now`.
    pub fn get(&self, hash: &str, now: std::time::Instant) -> Option<Actor> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(actor, _)| actor.clone())
    }

    /// Remembers an authenticated token (only valid ones: unknown secrets are never kept).
    pub fn put(&self, hash: String, actor: Actor, now: std::time::Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.ttl);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(hash, (actor, now));
    }
}

/// The authenticated caller: the [`Identified`] actor a host application put on the
/// request, else the one `Authorization: Bearer <token>` names.
pub struct Auth(pub Actor);

/// An actor the application that mounts Casework's router has already authenticated in
/// its own way (its sessions, its single sign-on), put in the request's extensions by the
/// host's middleware before the request reaches Casework. Casework then trusts it and asks
/// for no token. Only code in the same process can set extensions, never a client.
///
/// ```
/// use axum::{Router, extract::Request, middleware::{self, Next}, response::Response};
/// use casework_core::model::Actor;
/// use casework_http::Identified;
///
/// async fn map_host_user(mut request: Request, next: Next) -> Response {
///     // however the host knows who is calling; here, a header its own proxy sets
///     if request.headers().get("x-host-user").is_some_and(|v| v == "alice") {
///         let alice = Actor::operator("Alice"); // or `Actor::from_person` of a registered person
///         request.extensions_mut().insert(Identified(alice));
///     }
///     next.run(request).await
/// }
///
/// fn mount(casework: Router) -> Router {
///     Router::new().nest("/support", casework).layer(middleware::from_fn(map_host_user))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Identified(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(Identified(actor)) = parts.extensions.get::<Identified>() {
            return Ok(Auth(actor.clone()));
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        // the scheme is case-insensitive (RFC 9110 section 11.1): `bearer`, `BEARER`, …
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.trim_start().split_once([' ', '\t']))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <token>")
            })?;
        let hash = casework_core::model::token_hash(secret);
        let now = state.auth.now();
        if let Some(actor) = state.auth.get(&hash, now) {
            return Ok(Auth(actor));
        }
        match state.service.authenticate(secret).await? {
            Some(actor) => {
                state.auth.put(hash, actor.clone(), now);
                Ok(Auth(actor))
            }
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
