//! Sending email: the port the delivery loop hands each outbox message to.

use async_trait::async_trait;

use crate::model::OutboxMessage;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later (server down, slow, 4xx).
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Will never succeed (bad address, 5xx rejection).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers outgoing email.
///
/// An implementation MUST send the message with `Message-ID: <message_id>` (so a resend is
/// recognisable) and, unless it starts its thread (`thread_id` is its own Message-ID), with
/// `In-Reply-To: <in_reply_to>` (or `<thread_id>` when that is unknown) and `References`
/// listing `<thread_id>` then `<in_reply_to>`, so a case's emails thread in mail clients.
/// When its template is automatic ([`crate::model::TemplateName::auto_submitted`]) it MUST
/// carry `Auto-Submitted: <that value>` and `X-Auto-Response-Suppress: All` (RFC 3834), so
/// no autoresponder answers it.
/// A message that cannot be formatted (a header value a mail could not carry) MUST be a
/// `Permanent` error naming the reason, never a panic.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: &OutboxMessage) -> Result<(), MailError>;
}
