//! The outbox through the service: listing outgoing email for roles with the `outbox`
//! permission. Delivering it is [`CaseService::deliver`] (`delivery.rs`).

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::limits::MAX_OUTBOX;
use crate::model::{Actor, OutboxMessage, OutboxStatus};

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
}
