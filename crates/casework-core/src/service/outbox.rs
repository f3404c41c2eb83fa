//! The outbox through the service: listing outgoing email, and retrying or cancelling one
//! message, for roles with the `outbox` permission. Delivering it is
//! [`CaseService::deliver`] (`delivery.rs`).

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::limits::MAX_OUTBOX;
use crate::model::{Actor, OutboxMessage, OutboxStatus};
use crate::ports::{OutboxAction, StoreError};

impl CaseService {
    /// Outgoing email, optionally of one status.
    pub async fn outbox(
        &self,
        actor: &Actor,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        self.require(actor, Permission::Outbox, "read the outbox")?;
        Ok(self
            .store
            .outbox_list(status, limit.clamp(1, MAX_OUTBOX))
            .await?)
    }

    /// Retries or cancels outgoing message `id` (see [`OutboxAction`] for which messages
    /// each applies to). A message that is not there is `NotFound`; one the action does
    /// not apply to, or that a worker is delivering right now, is `Refused` with the reason.
    pub async fn outbox_act(
        &self,
        actor: &Actor,
        id: &str,
        action: OutboxAction,
    ) -> Result<OutboxMessage, ServiceError> {
        let what = match action {
            OutboxAction::Retry => "retry outgoing email",
            OutboxAction::Cancel => "cancel outgoing email",
        };
        self.require(actor, Permission::Outbox, what)?;
        self.store
            .outbox_act(id.to_owned(), action, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Invalid(why) => ServiceError::Refused(why),
                other => other.into(),
            })
    }
}
