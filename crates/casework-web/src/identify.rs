//! Who is asking: the seam sign-in plugs into. The router asks an [`Identify`] for every
//! request; pages and forms see only the [`Visitor`] it returns, never a cookie.
//!
//! `casework serve` mounts [`crate::SessionCookies`] (sessions kept in the store, see
//! `sign_in.rs`); [`NoSignIn`] identifies nobody, for a router that must serve no one.

use async_trait::async_trait;
use axum::http::request::Parts;
use casework_core::ServiceError;
use casework_core::model::Actor;

/// A signed-in visitor: the actor the service acts for, and the session the request came
/// with (what each form's CSRF token is bound to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    /// Who acts.
    pub actor: Actor,
    /// The session's id: stable for the session's life, secret, unique.
    pub session: String,
}

/// Finds the visitor a request comes from.
#[async_trait]
pub trait Identify: Send + Sync {
    /// The visitor of this request, or `None` when it carries no valid session. An error
    /// is a store failure, answered 503 or 500; never a reason to let anyone in.
    async fn identify(&self, request: &Parts) -> Result<Option<Visitor>, ServiceError>;
}

/// Identifies nobody: what `casework serve` mounts until sign-in exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSignIn;

#[async_trait]
impl Identify for NoSignIn {
    async fn identify(&self, _request: &Parts) -> Result<Option<Visitor>, ServiceError> {
        Ok(None)
    }
}
