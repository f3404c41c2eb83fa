//! The storage protocol's door in core. [`CaseService::storage`] hands a principal that the
//! workflow file grants `store` (by default the `service` role only: a service token is the
//! equivalent of database credentials) a [`StoreAccess`]: one method per resource of
//! `/store/v1` (`docs/store-protocol.md`). Writes are checked as the core would decide them,
//! with this server's workflow file and clock ([`protocol::verify_open`],
//! [`protocol::verify_commit`]), and the state stored is the one the core computes, never the
//! one a client sent. The HTTP layer only moves these calls over the wire.
//!
//! [`protocol::verify_open`]: crate::protocol::verify_open
//! [`protocol::verify_commit`]: crate::protocol::verify_commit

use std::sync::Arc;

use super::{CaseService, ServiceError};
use crate::config::{Permission, WorkflowConfig};
use crate::event::Event;
use crate::ids::CaseNumber;
use crate::model::{Actor, ApiToken, Article, Case, Defect, OutboxMessage, OutboxStatus, Person};
use crate::ports::{
    CaseStore, Clock, Commit, MailboxPosition, Page, QuarantineAfter, QuarantineEntry,
    QuarantinedMessage, ReportCase, ReportCasesQuery, ReportQuery, ReportRow, SearchHit,
    SearchQuery, StoreError, StoreStats,
};
use crate::protocol::{
    AddArticle, AdvanceMailbox, Claim, CreateCase, CreatedCase, Finish, LatestCases, ListCases,
    MailboxKey, MessageIdCases, Revoke, Similar, verify_commit, verify_open,
};

/// The whole store, for a principal with the `store` permission: what the storage protocol
/// serves. Every error is the store's own ([`StoreError`]), which the protocol carries by
/// kind.
#[derive(Clone)]
pub struct StoreAccess {
    store: Arc<dyn CaseStore>,
    config: Arc<WorkflowConfig>,
    clock: Arc<dyn Clock>,
}

impl CaseService {
    /// The storage protocol for `actor`, who needs the workflow file's `store` permission
    /// (`Forbidden` otherwise, which HTTP answers 403). A wildcard never grants it: the file
    /// names it, by default for the `service` role alone.
    pub fn storage(&self, actor: &Actor) -> Result<StoreAccess, ServiceError> {
        self.require(actor, Permission::Store, "use the storage protocol")?;
        Ok(StoreAccess {
            store: self.store.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
        })
    }
}

fn invalid(why: String) -> StoreError {
    StoreError::Invalid(why)
}

impl StoreAccess {
    /// `POST /store/v1/cases`: opens a case, at most once per key when `once` is given. The
    /// `opened` event must name a status of this server's workflow, in its category, and not
    /// be back-dated.
    pub async fn create_case(&self, b: CreateCase) -> Result<CreatedCase, StoreError> {
        verify_open(&b.opened, b.at, &b.outbox, &self.config, self.clock.now())?;
        Ok(match b.once {
            Some(once) => {
                let c = self
                    .store
                    .create_case_once(
                        once.key,
                        once.fingerprint,
                        b.at,
                        b.actor,
                        b.opened,
                        b.outbox,
                    )
                    .await?;
                CreatedCase {
                    case: c.case,
                    replayed: c.replayed,
                }
            }
            None => CreatedCase {
                case: self
                    .store
                    .create_case(b.at, b.actor, b.opened, b.outbox)
                    .await?,
                replayed: false,
            },
        })
    }

    /// `GET /store/v1/cases/{n}`.
    pub async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.store.load_case(number).await
    }

    /// `POST /store/v1/cases/{n}/commits`: the commit's events applied by the core to the
    /// stored case, and that state stored (the one the client sent is ignored).
    pub async fn commit(&self, number: CaseNumber, mut commit: Commit) -> Result<Case, StoreError> {
        if commit.number != number {
            return Err(invalid(format!(
                "the commit is for case {}, posted to case {number}",
                commit.number
            )));
        }
        let current = self.store.load_case(number).await?;
        commit.state = verify_commit(current, &commit, &self.config, self.clock.now())?;
        self.store.commit(commit).await
    }

    /// `GET /store/v1/cases/{n}/history`.
    pub async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.store.history(number).await
    }

    /// `POST /store/v1/cases/query`.
    pub async fn list_cases(&self, b: ListCases) -> Result<Page<Case>, StoreError> {
        self.store.list_cases(b.filter, b.page).await
    }

    /// `POST /store/v1/cases/latest`.
    pub async fn latest_cases_of(&self, b: LatestCases) -> Result<Vec<Case>, StoreError> {
        self.store.latest_cases_of(b.customer, b.limit).await
    }

    /// `POST /store/v1/cases/by-message-id`.
    pub async fn cases_with_message_id(
        &self,
        b: MessageIdCases,
    ) -> Result<Vec<CaseNumber>, StoreError> {
        self.store
            .cases_with_message_id(b.message_id, b.limit)
            .await
    }

    /// `POST /store/v1/search`.
    pub async fn search(&self, q: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        self.store.search(q).await
    }

    /// `POST /store/v1/cases/{n}/similar`.
    pub async fn similar(
        &self,
        number: CaseNumber,
        b: Similar,
    ) -> Result<Vec<SearchHit>, StoreError> {
        self.store.similar(number, b.scope, b.limit).await
    }

    /// `POST /store/v1/reports/reopens`.
    pub async fn reopen_report(&self, q: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        self.store.reopen_report(q).await
    }

    /// `POST /store/v1/reports/reopens/cases`.
    pub async fn reopen_report_cases(
        &self,
        q: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        self.store.reopen_report_cases(q).await
    }

    /// `GET /store/v1/people`.
    pub async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        self.store.list_people().await
    }

    /// `GET /store/v1/people/{name}`.
    pub async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        self.store.get_person(name).await
    }

    /// `PUT /store/v1/people/{name}`: the person must be the one the path names.
    pub async fn put_person(&self, name: &str, person: Person) -> Result<(), StoreError> {
        if person.name != name {
            return Err(invalid(format!(
                "the person is {:?}, put at {name:?}",
                person.name
            )));
        }
        self.store.put_person(person).await
    }

    /// `POST /store/v1/articles`.
    pub async fn add_article(&self, b: AddArticle) -> Result<Article, StoreError> {
        self.store.add_article(b.article, b.at).await
    }

    /// `GET /store/v1/articles/{id}`.
    pub async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        self.store.get_article(id).await
    }

    /// `POST /store/v1/defects`.
    pub async fn add_defect(&self, d: Defect) -> Result<Defect, StoreError> {
        self.store.add_defect(d).await
    }

    /// `GET /store/v1/defects/{key}`.
    pub async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        self.store.get_defect(key).await
    }

    /// `GET /store/v1/outbox`.
    pub async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store.outbox_list(status, limit).await
    }

    /// `GET /store/v1/cases/{n}/outbox`.
    pub async fn outbox_for_case(
        &self,
        number: CaseNumber,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store.outbox_for_case(number).await
    }

    /// `POST /store/v1/outbox/claims`.
    pub async fn outbox_claim(&self, c: Claim) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store
            .outbox_claim(c.worker, c.now, c.until, c.limit)
            .await
    }

    /// `POST /store/v1/outbox/{id}/finish`.
    pub async fn outbox_finish(&self, id: String, f: Finish) -> Result<OutboxMessage, StoreError> {
        self.store
            .outbox_finish(id, f.worker, f.now, f.outcome)
            .await
    }

    /// `POST /store/v1/outbox/{id}/bounced`.
    pub async fn outbox_bounced(
        &self,
        id: String,
        b: crate::protocol::Bounced,
    ) -> Result<OutboxMessage, StoreError> {
        self.store.outbox_bounced(id, b.error).await
    }

    /// `POST /store/v1/outbox/{id}/act`.
    pub async fn outbox_act(
        &self,
        id: String,
        a: crate::protocol::Act,
    ) -> Result<OutboxMessage, StoreError> {
        self.store.outbox_act(id, a.action, a.now).await
    }

    /// `POST /store/v1/tokens`.
    pub async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        self.store.put_token(token).await
    }

    /// `GET /store/v1/tokens/by-hash/{hash}`.
    pub async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        self.store.find_token(hash).await
    }

    /// `GET /store/v1/tokens`.
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.store.list_tokens().await
    }

    /// `POST /store/v1/tokens/{id}/revoke`.
    pub async fn revoke_token(&self, id: String, r: Revoke) -> Result<ApiToken, StoreError> {
        self.store.revoke_token(id, r.at).await
    }

    /// `POST /store/v1/webhooks`.
    pub async fn webhook_add(
        &self,
        endpoint: crate::webhook::WebhookEndpoint,
    ) -> Result<(), StoreError> {
        self.store.webhook_add(endpoint).await
    }

    /// `GET /store/v1/webhooks`.
    pub async fn webhook_list(&self) -> Result<Vec<crate::webhook::WebhookEndpoint>, StoreError> {
        self.store.webhook_list().await
    }

    /// `POST /store/v1/webhooks/{id}/remove`.
    pub async fn webhook_remove(
        &self,
        id: String,
        r: Revoke,
    ) -> Result<crate::webhook::WebhookEndpoint, StoreError> {
        self.store.webhook_remove(id, r.at).await
    }

    /// `GET /store/v1/webhooks/{id}/deliveries`.
    pub async fn webhook_deliveries(
        &self,
        id: String,
        limit: u32,
    ) -> Result<Vec<crate::webhook::WebhookDelivery>, StoreError> {
        self.store.webhook_deliveries(id, limit).await
    }

    /// `POST /store/v1/webhook-deliveries/claims`.
    pub async fn webhook_claim(
        &self,
        c: Claim,
    ) -> Result<Vec<crate::webhook::WebhookDelivery>, StoreError> {
        self.store
            .webhook_claim(c.worker, c.now, c.until, c.limit)
            .await
    }

    /// `POST /store/v1/webhook-deliveries/{id}/finish`.
    pub async fn webhook_finish(
        &self,
        id: String,
        f: crate::protocol::WebhookFinish,
    ) -> Result<crate::webhook::WebhookDelivery, StoreError> {
        self.store
            .webhook_finish(id, f.worker, f.now, f.outcome, f.response_status)
            .await
    }

    /// `POST /store/v1/webhook-deliveries/{id}/redeliver`.
    pub async fn webhook_redeliver(
        &self,
        id: String,
        r: Revoke,
    ) -> Result<crate::webhook::WebhookDelivery, StoreError> {
        self.store.webhook_redeliver(id, r.at).await
    }

    /// `GET /store/v1/feed`.
    pub async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<crate::ids::EmailAddress>,
    ) -> Result<Vec<crate::ports::FeedEntry>, StoreError> {
        self.store.feed(after, limit, customer).await
    }

    /// `GET /store/v1/stats`.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.store.stats().await
    }

    /// `POST /store/v1/quarantine`.
    pub async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError> {
        self.store.quarantine_put(message).await
    }

    /// `GET /store/v1/quarantine`.
    pub async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        self.store.quarantine_list(after, limit).await
    }

    /// `GET /store/v1/quarantine/{id}`.
    pub async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError> {
        self.store.quarantine_get(id).await
    }

    /// `GET /store/v1/cases/{n}/attachments`.
    pub async fn attachment_list(
        &self,
        number: CaseNumber,
    ) -> Result<Vec<crate::ports::AttachmentInfo>, StoreError> {
        self.store.attachment_list(number).await
    }

    /// `GET /store/v1/attachments/{id}`.
    pub async fn attachment_get(
        &self,
        id: String,
    ) -> Result<crate::ports::AttachmentFile, StoreError> {
        self.store.attachment_get(id).await
    }

    /// `POST /store/v1/mailboxes/position`.
    pub async fn mailbox_position(
        &self,
        b: MailboxKey,
    ) -> Result<Option<MailboxPosition>, StoreError> {
        self.store.mailbox_position(b.mailbox).await
    }

    /// `POST /store/v1/mailboxes/advance`.
    pub async fn advance_mailbox_position(
        &self,
        b: AdvanceMailbox,
    ) -> Result<MailboxPosition, StoreError> {
        self.store
            .advance_mailbox_position(b.mailbox, b.position)
            .await
    }

    /// `DELETE /store/v1/quarantine/{id}`.
    pub async fn quarantine_remove(&self, id: String) -> Result<(), StoreError> {
        self.store.quarantine_remove(id).await
    }
}
