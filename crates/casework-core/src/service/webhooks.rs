//! Webhooks through the service: admins (the `manage` permission) register, list and remove
//! endpoints, read an endpoint's delivery log and redeliver. Delivering is
//! [`CaseService::deliver_webhooks`] (`delivery.rs`).

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::limits::{DEFAULT_OUTBOX, MAX_OUTBOX};
use crate::model::Actor;
use crate::webhook::{self, WebhookDelivery, WebhookEndpoint, WebhookError};
use crate::workflow::WorkflowError;

/// An endpoint to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Where to post (http or https).
    pub url: String,
    /// The event types it receives; empty for all.
    pub events: Vec<String>,
    /// The signing secret (`whsec_` and base64 of `MIN_WEBHOOK_KEY` to `MAX_WEBHOOK_KEY` random bytes), which the
    /// front-end generates when the admin gives none.
    pub secret: String,
}

impl From<WebhookError> for ServiceError {
    fn from(e: WebhookError) -> Self {
        let (field, message) = match e {
            WebhookError::Secret(m) => ("secret", m),
            WebhookError::Url(m) => ("url", m),
            e @ WebhookError::EventType(_) => ("events", e.to_string()),
        };
        ServiceError::Workflow(WorkflowError::Invalid {
            field: field.into(),
            message,
        })
    }
}

impl CaseService {
    /// Registers an endpoint; returns it with its secret (the only time the secret is
    /// shown). Needs `manage`. Refuses a URL that is not http(s), carries credentials, or
    /// names a private address (unless the workflow file's `[webhooks]` allows them), an
    /// unknown event type, or a bad secret, naming the field.
    pub async fn add_webhook(
        &self,
        actor: &Actor,
        new: NewWebhook,
    ) -> Result<WebhookEndpoint, ServiceError> {
        self.require(actor, Permission::Manage, "manage webhooks")?;
        let url = webhook::check_url(new.url.trim(), self.config.webhooks.allow_private_networks)?;
        webhook::check_events(&new.events)?;
        webhook::check_secret(&new.secret)?;
        let mut events = new.events;
        events.sort();
        events.dedup();
        let endpoint = WebhookEndpoint {
            id: format!("ep_{}", self.ids.new_id()),
            url: url.to_string(),
            events,
            secret: new.secret,
            created_by: actor.name.clone(),
            created_at: self.now(),
            removed_at: None,
        };
        self.store.webhook_add(endpoint.clone()).await?;
        Ok(endpoint)
    }

    /// Every endpoint, removed ones too, each without its secret. Needs `manage`.
    pub async fn webhooks(&self, actor: &Actor) -> Result<Vec<WebhookEndpoint>, ServiceError> {
        self.require(actor, Permission::Manage, "manage webhooks")?;
        let mut all = self.store.webhook_list().await?;
        for e in &mut all {
            e.secret.clear();
        }
        Ok(all)
    }

    /// Removes an endpoint (its log stays; its queued deliveries are never sent). Needs
    /// `manage`.
    pub async fn remove_webhook(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<WebhookEndpoint, ServiceError> {
        self.require(actor, Permission::Manage, "manage webhooks")?;
        let mut removed = self
            .store
            .webhook_remove(id.to_string(), self.now())
            .await?;
        removed.secret.clear();
        Ok(removed)
    }

    /// An endpoint's delivery log, newest first (`limit` clamped to the outbox's page
    /// limits; 0 for the default). Needs `manage`.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, ServiceError> {
        self.require(actor, Permission::Manage, "manage webhooks")?;
        let limit = if limit == 0 {
            DEFAULT_OUTBOX
        } else {
            limit.min(MAX_OUTBOX)
        };
        Ok(self
            .store
            .webhook_deliveries(endpoint.to_string(), limit)
            .await?)
    }

    /// Queues delivery `id` of `endpoint` again, due now, with the same `webhook-id` and
    /// payload. Needs `manage`.
    pub async fn redeliver_webhook(
        &self,
        actor: &Actor,
        endpoint: &str,
        id: &str,
    ) -> Result<WebhookDelivery, ServiceError> {
        self.require(actor, Permission::Manage, "manage webhooks")?;
        // NotFound for an unknown endpoint
        self.store
            .webhook_deliveries(endpoint.to_string(), 1)
            .await?;
        if !id.starts_with("msg_") || !id.ends_with(&format!("_{endpoint}")) {
            return Err(ServiceError::NotFound(format!(
                "delivery {id} of webhook {endpoint}"
            )));
        }
        Ok(self
            .store
            .webhook_redeliver(id.to_string(), self.now())
            .await?)
    }
}
