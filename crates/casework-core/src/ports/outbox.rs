//! The outbox: emails queued by commits, claimed by delivery workers until a deadline, and
//! finished with what became of each attempt.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::CaseNumber;
use crate::model::{OutboxMessage, OutboxStatus};

/// What became of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryOutcome {
    /// Accepted by the mail server.
    Sent,
    /// Failed; try again at this time.
    Retry {
        /// Why it failed.
        error: String,
        /// When to try again.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        at: Timestamp,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
}

/// What staff may do to one outgoing message from the outbox's admin view. The rule of which
/// message each applies to is here, once; stores apply it as one conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OutboxAction {
    /// Put the message back in the queue, due now, with a fresh count of attempts (so the
    /// delivery policy's retries start over); its last error stays until the next attempt.
    /// For a failed or cancelled message, or a queued one waiting for its next attempt
    /// ("try now"). Never for a sent one: it would go twice.
    Retry,
    /// Withdraw a queued message so it is never sent: it becomes `cancelled`.
    Cancel,
}

impl OutboxAction {
    /// The statuses a message may have for this action to apply.
    pub fn applies_to(self) -> &'static [OutboxStatus] {
        match self {
            OutboxAction::Retry => &[
                OutboxStatus::Failed,
                OutboxStatus::Cancelled,
                OutboxStatus::Queued,
            ],
            OutboxAction::Cancel => &[OutboxStatus::Queued],
        }
    }

    /// The status a message has after this action.
    pub fn status_after(self) -> OutboxStatus {
        match self {
            OutboxAction::Retry => OutboxStatus::Queued,
            OutboxAction::Cancel => OutboxStatus::Cancelled,
        }
    }

    /// Why the action may not be taken on `message` at `now`, or `None` when it may: its
    /// status must be one of [`Self::applies_to`], and no worker may hold a live claim on it
    /// (a claim whose deadline is after `now`: the message may be on the wire). Every store
    /// asks this of the message as it stands inside its write, and returns the text as
    /// `Invalid`.
    pub fn refused(self, message: &OutboxMessage, now: Timestamp) -> Option<String> {
        let claimed = message.claimed_until.is_some_and(|until| until > now);
        (claimed || !self.applies_to().contains(&message.status))
            .then(|| self.refusal(&message.id, message.status, claimed))
    }

    /// Why the action does not apply to a message of `status` (or held by a worker).
    fn refusal(self, id: &str, status: OutboxStatus, claimed: bool) -> String {
        if claimed {
            return format!(
                "outbox message {id} is being delivered right now; try again once the attempt is over"
            );
        }
        match self {
            OutboxAction::Retry => format!(
                "outbox message {id} is {status}: only a failed, cancelled or queued message can be retried"
            ),
            OutboxAction::Cancel => {
                format!("outbox message {id} is {status}: only a queued message can be cancelled")
            }
        }
    }
}

/// Outgoing email. Messages arrive with the commits that queue them ([`super::CaseLog`]);
/// this capability reads them and runs their delivery. Nothing assumes one process: two
/// workers never hold the same message, whichever server they run in.
#[async_trait]
pub trait OutboxQueue: Send + Sync {
    /// Outbox messages, oldest first, optionally of one status, at most `limit`.
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Every outbox message of one case, oldest first (for the delivery status shown on its
    /// timeline). An unknown case has none.
    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Claims up to `limit` queued messages due at `now` whose claim is free or lapsed
    /// (its deadline is at or before `now`), for `worker`, until `until`. Two workers never
    /// hold the same message.
    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery attempt by the worker holding the claim, and releases it.
    ///
    /// MUST return `NotFound` for an unknown id and `ClaimLost` when `worker` no longer
    /// holds the claim (its deadline passed and another worker took the message, or the
    /// message is finished), writing nothing.
    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError>;

    /// Marks message `id` failed with `error` because a bounce came back for it: whatever
    /// its status (the server had accepted it, so it is usually sent), releasing any claim,
    /// so it is never sent again. Marking it twice changes nothing more.
    ///
    /// MUST return `NotFound` for an unknown id.
    async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError>;

    /// Applies `action` to message `id` at `now`, as one conditional write: only when its
    /// status is one of [`OutboxAction::applies_to`] and no worker holds a live claim on it
    /// (a claim whose deadline is after `now`: the message may be on the wire). Retry sets
    /// it queued, due at `now`, with zero attempts; cancel sets it cancelled. Either releases
    /// a lapsed claim.
    ///
    /// MUST return `NotFound` for an unknown id, and `Invalid` with
    /// [`OutboxAction::refused`]'s text when the action does not apply, writing nothing.
    async fn outbox_act(
        &self,
        id: String,
        action: OutboxAction,
        now: Timestamp,
    ) -> Result<OutboxMessage, StoreError>;
}
