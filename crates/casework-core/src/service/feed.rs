//! The change feed through the service: committed events after a position, as the caller
//! may see them.

use serde::{Deserialize, Serialize};

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::limits::MAX_PAGE;
use crate::model::{Actor, Role};
use crate::ports::FeedEntry;
use crate::workflow::WorkflowError;

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedPage {
    /// The events the caller may see, in commit order.
    pub items: Vec<FeedEntry>,
    /// The position to ask after next time: the last position this read went past, which
    /// may be beyond the last item (events the caller may not see are skipped, not
    /// returned); the same `after` when nothing new was committed.
    pub next_after: u64,
}

impl CaseService {
    /// Committed events after position `after`, at most `limit` (1 to [`MAX_PAGE`]), in
    /// commit order, as `actor` may see them: whole events for those who may read case
    /// histories (`view_history`); otherwise only what a customer may see of each event
    /// (internal notes and fields left out, [`crate::event::Event::for_customer`]), and for
    /// a customer only their own cases. Store `next_after` and ask after it next time: every
    /// event is seen once, none is missed.
    pub async fn events(
        &self,
        actor: &Actor,
        after: u64,
        limit: u32,
    ) -> Result<FeedPage, ServiceError> {
        self.require(actor, Permission::ViewCase, "follow the change feed")?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(WorkflowError::Invalid {
                field: "limit".into(),
                message: format!("must be 1 to {MAX_PAGE}"),
            }
            .into());
        }
        let customer = match (actor.role, &actor.email) {
            (Role::Customer, Some(email)) => Some(email.clone()),
            (Role::Customer, None) => return Err(forbidden(actor.role, "follow the change feed")),
            _ => None,
        };
        let whole = customer.is_none() && self.config.permits(actor.role, Permission::ViewHistory);
        let entries = self.store.feed(after, limit, customer).await?;
        let next_after = entries.last().map_or(after, |e| e.position);
        let items = if whole {
            entries
        } else {
            entries
                .into_iter()
                .filter_map(|e| {
                    e.event.for_customer().map(|event| FeedEntry {
                        position: e.position,
                        event,
                    })
                })
                .collect()
        };
        Ok(FeedPage { items, next_after })
    }
}
