//! Sending webhooks: the port the delivery loop hands each signed attempt to.

use async_trait::async_trait;

use super::MailError;
use crate::webhook::WebhookRequest;

/// Posts webhook requests.
///
/// An implementation MUST post `request.body` to `request.url` with exactly its headers,
/// follow no redirect, and, unless `allow_private` is set, refuse (as a `Permanent` error,
/// sending nothing) a host that resolves to any address [`crate::webhook::is_private`]
/// names, connecting only to the addresses it checked. Any HTTP answer is `Ok` with its
/// status; a network failure or a timeout is `Temporary`. The error type is the mailer's:
/// the delivery policy treats both ports' failures alike.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Posts one attempt, returning the HTTP status the endpoint answered.
    async fn post(&self, request: &WebhookRequest, allow_private: bool) -> Result<u16, MailError>;
}
