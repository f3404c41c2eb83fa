//! What every handler shares: the core service, the token cache, and the health of the
//! background workers.

use casework_core::CaseService;

use crate::auth::{AUTH_TTL, AuthCache};
use crate::health::Health;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The core service, over whatever store the composition root chose.
    pub service: CaseService,
    /// Recently authenticated tokens.
    pub auth: std::sync::Arc<AuthCache>,
    /// Whether the server's background workers run, for `/healthz`.
    pub health: std::sync::Arc<Health>,
}

impl AppState {
    /// State over a service, remembering authenticated tokens for [`AUTH_TTL`].
    pub fn new(service: CaseService) -> Self {
        Self::with_auth_ttl(service, AUTH_TTL)
    }

    /// State whose token cache keeps entries for `ttl` (zero: no cache).
    pub fn with_auth_ttl(service: CaseService, ttl: std::time::Duration) -> Self {
        Self::with_auth_cache(service, AuthCache::new(ttl))
    }

    /// State with this token cache (one with a test clock, say).
    pub fn with_auth_cache(service: CaseService, auth: AuthCache) -> Self {
        Self {
            service,
            auth: std::sync::Arc::new(auth),
            health: std::sync::Arc::default(),
        }
    }
}
