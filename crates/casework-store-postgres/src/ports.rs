//! Core's store capabilities on PostgreSQL: one impl block per capability trait, each method
//! one line over the module that holds its SQL (`cases.rs`, `queries.rs`, `reports.rs`,
//! `directory.rs`, `knowledge.rs`, `outbox.rs`, `feed.rs`, `webhooks.rs`), on a pooled
//! connection.

use async_trait::async_trait;
use casework_core::event::{Event, Opened};
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person,
};
use casework_core::ports::{
    AttachmentFile, AttachmentInfo, Attachments, EndSessions, MailboxPosition, MailboxPositions,
    Quarantine, QuarantineAfter, QuarantineEntry, QuarantinedMessage, Session, SessionAndPerson,
    Sessions, SignInLink,
};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseQueries, CaseRecord, ChangeFeed, Commit, Created, DeliveryOutcome,
    Diagnostics, Directory, FeedEntry, Imported, Knowledge, OutboxAction, OutboxQueue, Page,
    PageRequest, ReportCase, ReportCasesQuery, ReportQuery, ReportRow, Reports, Scope, SearchHit,
    SearchQuery, StoreError, StoreStats, StoreTransfer,
};
use casework_core::ports::{CaseSurroundings, Surroundings};
use jiff::Timestamp;

use casework_core::ports::Webhooks;
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint};

use crate::{
    PgStore, cases, directory, feed, knowledge, outbox, quarantine, queries, reports, sessions,
    webhooks,
};

/// A case's surroundings: its messages, files and the directory, the three statements sent
/// at once on one connection (pipelined, one round trip's wait).
#[async_trait]
impl CaseSurroundings for PgStore {
    async fn case_surroundings(
        &self,
        case: CaseNumber,
        people: bool,
    ) -> Result<Surroundings, StoreError> {
        let c = self.conn().await?;
        Surroundings::gather(
            outbox::for_case(&c, case),
            crate::attachments::list(&c, case),
            people.then(|| directory::list_people(&c)),
        )
        .await
    }
}

/// The case log: numbers from a sequence, version-checked commits that write every derived row in their transaction, idempotent creates.
#[async_trait]
impl CaseLog for PgStore {
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError> {
        cases::create_case(&mut self.conn().await?, at, actor, opened, outbox).await
    }

    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Created, StoreError> {
        let mut c = self.conn().await?;
        cases::create_case_once(&mut c, &key, &fingerprint, at, actor, opened, outbox).await
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        cases::load_case(&self.conn().await?, number).await
    }

    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        cases::commit(&mut self.conn().await?, commit).await
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        cases::history(&self.conn().await?, number).await
    }
}

/// Lists that never skip a case, search and similar cases (interactive reads: no parallel workers).
#[async_trait]
impl CaseQueries for PgStore {
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError> {
        let mut c = self.conn().await?;
        let tx = Self::interactive(&mut c).await?;
        let found = queries::list_cases(&tx, &filter, &page, self.lexemes()).await?;
        Self::end_read(tx);
        Ok(found)
    }

    async fn latest_cases_of(
        &self,
        customer: EmailAddress,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        queries::latest_cases_of(&self.conn().await?, &customer, limit).await
    }

    async fn cases_with_message_id(
        &self,
        message_id: String,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, StoreError> {
        queries::cases_with_message_id(&self.conn().await?, &message_id, limit).await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let mut c = self.conn().await?;
        let tx = Self::interactive(&mut c).await?;
        let hits = queries::search(&tx, &query, self.lexemes()).await?;
        Self::end_read(tx);
        Ok(hits)
    }

    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let mut c = self.conn().await?;
        let tx = Self::interactive(&mut c).await?;
        let hits = queries::similar(&tx, &self.dfs, number, &scope, limit, self.lexemes()).await?;
        Self::end_read(tx);
        Ok(hits)
    }
}

/// The reopen report and its drill-down.
#[async_trait]
impl Reports for PgStore {
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        reports::reopen_report(&self.conn().await?, &query).await
    }

    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        reports::reopen_report_cases(&self.conn().await?, &query).await
    }
}

/// People and API tokens, read from the database on every check.
#[async_trait]
impl Directory for PgStore {
    async fn put_person(&self, person: Person) -> Result<(), StoreError> {
        directory::put_person(&self.conn().await?, &person).await
    }

    async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        directory::get_person(&self.conn().await?, &name).await
    }

    async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        directory::list_people(&self.conn().await?).await
    }

    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        directory::put_token(&self.conn().await?, &token).await
    }

    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        directory::find_token(&self.conn().await?, &hash).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        directory::list_tokens(&self.conn().await?).await
    }

    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError> {
        directory::revoke_token(&self.conn().await?, &id, at).await
    }
}

/// Articles and defects, indexed for search in the write that adds them.
#[async_trait]
impl Knowledge for PgStore {
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError> {
        knowledge::add_article(&mut self.conn().await?, &article, at).await
    }

    async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        knowledge::get_article(&self.conn().await?, id).await
    }

    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError> {
        knowledge::add_defect(&mut self.conn().await?, &defect).await
    }

    async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        knowledge::get_defect(&self.conn().await?, &key).await
    }
}

/// Queued email: claims until a deadline with `FOR UPDATE SKIP LOCKED`, finished only by the claim's holder.
#[async_trait]
impl OutboxQueue for PgStore {
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        outbox::list(&self.conn().await?, status, limit).await
    }

    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError> {
        outbox::for_case(&self.conn().await?, case).await
    }

    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        outbox::claim(&self.conn().await?, &worker, now, until, limit).await
    }

    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError> {
        outbox::finish(&self.conn().await?, &id, &worker, now, &outcome).await
    }

    async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError> {
        outbox::bounced(&self.conn().await?, &id, &error).await
    }

    async fn outbox_act(
        &self,
        id: String,
        action: OutboxAction,
        now: Timestamp,
    ) -> Result<OutboxMessage, StoreError> {
        outbox::act(&self.conn().await?, &id, action, now).await
    }
}

/// Counts for `casework doctor`.
/// The change feed: positions from a sequence, reads that wait for commits in flight.
#[async_trait]
impl ChangeFeed for PgStore {
    async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<EmailAddress>,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        feed::feed(&self.conn().await?, after, limit, customer.as_ref()).await
    }
}

/// Webhooks: deliveries written with their events; claims with `FOR UPDATE SKIP LOCKED`.
#[async_trait]
impl Webhooks for PgStore {
    async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError> {
        webhooks::add(&self.conn().await?, &endpoint).await
    }

    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::list(&self.conn().await?).await
    }

    async fn webhook_remove(
        &self,
        id: String,
        at: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        webhooks::remove(&self.conn().await?, &id, at).await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        webhooks::deliveries(&self.conn().await?, &endpoint, limit).await
    }

    async fn webhook_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        webhooks::claim(&mut self.conn().await?, &worker, now, until, limit).await
    }

    async fn webhook_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
        response_status: Option<u16>,
    ) -> Result<WebhookDelivery, StoreError> {
        webhooks::finish(
            &mut self.conn().await?,
            &id,
            &worker,
            now,
            outcome,
            response_status,
        )
        .await
    }

    async fn webhook_redeliver(
        &self,
        id: String,
        now: Timestamp,
    ) -> Result<WebhookDelivery, StoreError> {
        webhooks::redeliver(&mut self.conn().await?, &id, now).await
    }
}

#[async_trait]
impl Diagnostics for PgStore {
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        reports::stats(&self.conn().await?).await
    }
}

/// Refused inbound messages.
#[async_trait]
impl Quarantine for PgStore {
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError> {
        quarantine::put(&self.conn().await?, &message).await
    }

    async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        quarantine::list(&self.conn().await?, after.as_ref(), limit).await
    }

    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError> {
        quarantine::get_one(&self.conn().await?, &id).await
    }

    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError> {
        quarantine::remove(&self.conn().await?, &id).await
    }
}

/// How far each IMAP mailbox has been read.
#[async_trait]
impl MailboxPositions for PgStore {
    async fn mailbox_position(
        &self,
        mailbox: String,
    ) -> Result<Option<MailboxPosition>, StoreError> {
        quarantine::mailbox_position(&self.conn().await?, &mailbox).await
    }

    async fn advance_mailbox_position(
        &self,
        mailbox: String,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, StoreError> {
        quarantine::advance_mailbox_position(&self.conn().await?, &mailbox, position).await
    }
}

/// Attached files, written by the commits of their posts.
#[async_trait]
impl Attachments for PgStore {
    async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError> {
        crate::attachments::list(&self.conn().await?, case).await
    }

    async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError> {
        crate::attachments::get_one(&self.conn().await?, &id).await
    }
}

/// Moving whole stores: knowledge listed in order, imports in one transaction each.
#[async_trait]
impl StoreTransfer for PgStore {
    async fn list_articles(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        knowledge::list_articles(&self.conn().await?, after, limit).await
    }

    async fn list_defects(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<Defect>, StoreError> {
        knowledge::list_defects(&self.conn().await?, after.as_deref(), limit).await
    }

    async fn import_cases(&self, cases: Vec<CaseRecord>) -> Result<Vec<Imported>, StoreError> {
        cases::import_cases(&mut self.conn().await?, &cases).await
    }

    async fn import_article(&self, article: Article) -> Result<Imported, StoreError> {
        knowledge::import_article(&mut self.conn().await?, &article).await
    }
}

/// Passwords, sessions, sign-in links and failed sign-ins, shared by every server.
#[async_trait]
impl Sessions for PgStore {
    async fn set_password(&self, person: String, hash: String) -> Result<(), StoreError> {
        sessions::set_password(&self.conn().await?, &person, &hash).await
    }

    async fn password(&self, person: String) -> Result<String, StoreError> {
        sessions::password(&self.conn().await?, &person).await
    }

    async fn put_session(&self, session: Session) -> Result<(), StoreError> {
        sessions::put_session(&self.conn().await?, &session).await
    }

    async fn get_session(&self, id: String) -> Result<Session, StoreError> {
        sessions::get_session(&self.conn().await?, &id).await
    }

    async fn session_and_person(&self, id: String) -> Result<SessionAndPerson, StoreError> {
        sessions::session_and_person(&self.conn().await?, &id).await
    }

    async fn touch_session(&self, id: String, at: Timestamp) -> Result<(), StoreError> {
        sessions::touch_session(&self.conn().await?, &id, at).await
    }

    async fn end_sessions(&self, which: EndSessions) -> Result<u64, StoreError> {
        sessions::end_sessions(&self.conn().await?, &which).await
    }

    async fn put_sign_in_link(
        &self,
        link: SignInLink,
        message: OutboxMessage,
    ) -> Result<(), StoreError> {
        sessions::put_sign_in_link(&mut self.conn().await?, &link, &message).await
    }

    async fn use_sign_in_link(
        &self,
        hash: String,
        now: Timestamp,
    ) -> Result<SignInLink, StoreError> {
        sessions::use_sign_in_link(&self.conn().await?, &hash, now).await
    }

    async fn sign_in_failed(
        &self,
        keys: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<(), StoreError> {
        sessions::sign_in_failed(&mut self.conn().await?, &keys, at, forget_before).await
    }

    async fn sign_in_failures(&self, key: String, since: Timestamp) -> Result<u32, StoreError> {
        sessions::sign_in_failures(&self.conn().await?, &key, since).await
    }
}
