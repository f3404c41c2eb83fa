//! Core's store capabilities on SQLite: one impl block per capability trait, each method a
//! read on a reader connection or a write through the group-commit writer, over `sql.rs`.

use async_trait::async_trait;
use casework_core::event::{Event, Opened};
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person,
};
use casework_core::ports::{
    AttachmentFile, AttachmentInfo, Attachments, CaseRecord, Imported, MailboxPosition,
    MailboxPositions, Quarantine, QuarantineAfter, QuarantineEntry, QuarantinedMessage,
    StoreTransfer,
};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseQueries, CaseSurroundings, ChangeFeed, Commit, Created,
    DeliveryOutcome, Diagnostics, Directory, EndSessions, FeedEntry, Knowledge, OutboxAction,
    OutboxQueue, Page, PageRequest, ReportCase, ReportCasesQuery, ReportQuery, ReportRow, Reports,
    Scope, SearchHit, SearchQuery, Session, SessionAndPerson, Sessions, SignInLink, StoreError,
    StoreStats, Surroundings,
};
use jiff::Timestamp;

use casework_core::ports::Webhooks;
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint};

use crate::{SqliteStore, sql, webhooks};

/// Cases and histories; a commit writes its search passages, report facts and outbox rows in the same transaction.
#[async_trait]
impl CaseLog for SqliteStore {
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError> {
        self.write(move |c| sql::create_case(c, at, actor, opened, outbox))
            .await
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
        self.write(move |c| sql::create_case_once(c, &key, &fingerprint, at, actor, opened, outbox))
            .await
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.load_case_cached(number).await
    }

    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        self.write(move |c| sql::commit(c, commit)).await
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.read(move |c| sql::history(c, number)).await
    }
}

/// People and tokens.
#[async_trait]
impl Directory for SqliteStore {
    async fn put_person(&self, person: Person) -> Result<(), StoreError> {
        self.write(move |c| sql::put_person(c, &person)).await
    }

    async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        self.read(move |c| sql::get_person(c, &name)).await
    }

    async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        self.read(sql::list_people).await
    }

    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        self.write(move |c| sql::put_token(c, &token)).await
    }

    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        self.read(move |c| sql::find_token(c, &hash)).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(sql::list_tokens).await
    }

    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError> {
        self.write(move |c| sql::revoke_token(c, &id, at)).await
    }
}

/// Articles and defects, indexed for search as they are added.
#[async_trait]
impl Knowledge for SqliteStore {
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError> {
        self.write(move |c| sql::add_article(c, &article, at)).await
    }

    async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        self.read(move |c| sql::get_article(c, id)).await
    }

    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError> {
        self.write(move |c| sql::add_defect(c, &defect)).await
    }

    async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        self.read(move |c| sql::get_defect(c, &key)).await
    }
}

/// Lists, FTS5 search and similar cases.
#[async_trait]
impl CaseQueries for SqliteStore {
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError> {
        let prefixes = self.prefixes.clone();
        self.read(move |c| sql::list_cases(c, &prefixes, &filter, &page))
            .await
    }

    async fn latest_cases_of(
        &self,
        customer: EmailAddress,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        self.read(move |c| sql::latest_cases_of(c, &customer, limit))
            .await
    }

    async fn cases_with_message_id(
        &self,
        message_id: String,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, StoreError> {
        self.read(move |c| sql::cases_with_message_id(c, &message_id, limit))
            .await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let prefixes = self.prefixes.clone();
        self.read(move |c| sql::search(c, &prefixes, &query)).await
    }

    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let dfs = self.dfs.clone();
        self.read(move |c| sql::similar(c, &dfs, number, &scope, limit))
            .await
    }
}

/// The reopen report, from the closure and reopen tables commits fill.
#[async_trait]
impl Reports for SqliteStore {
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        self.read(move |c| crate::reports::reopen_report(c, &query))
            .await
    }

    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        self.read(move |c| crate::reports::reopen_report_cases(c, &query))
            .await
    }
}

/// A case's surroundings: its messages, files and the directory in one read transaction,
/// so one hop through the blocking pool and one moment of the database.
#[async_trait]
impl CaseSurroundings for SqliteStore {
    async fn case_surroundings(
        &self,
        case: CaseNumber,
        people: bool,
    ) -> Result<Surroundings, StoreError> {
        self.read(move |c| {
            Ok(Surroundings {
                files: crate::attachments::list(c, case)?,
                outbox: sql::outbox_for_case(c, case)?,
                people: match people {
                    true => Some(sql::list_people(c)?),
                    false => None,
                },
            })
        })
        .await
    }
}

/// The outbox; claims and finishes go through the writer, so two workers never hold one message.
#[async_trait]
impl OutboxQueue for SqliteStore {
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(move |c| sql::outbox_list(c, status, limit)).await
    }

    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(move |c| sql::outbox_for_case(c, case)).await
    }

    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.write(move |c| sql::outbox_claim(c, &worker, now, until, limit))
            .await
    }

    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError> {
        self.write(move |c| sql::outbox_finish(c, &id, &worker, now, &outcome))
            .await
    }

    async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError> {
        self.write(move |c| sql::outbox_bounced(c, &id, &error))
            .await
    }

    async fn outbox_act(
        &self,
        id: String,
        action: OutboxAction,
        now: Timestamp,
    ) -> Result<OutboxMessage, StoreError> {
        self.write(move |c| sql::outbox_act(c, &id, action, now))
            .await
    }
}

/// The change feed: positions assigned with the events, in the writer's transaction.
#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<EmailAddress>,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.read(move |c| sql::feed(c, after, limit, customer.as_ref()))
            .await
    }
}

/// Webhooks: deliveries written with their events; claims and outcomes through the writer.
#[async_trait]
impl Webhooks for SqliteStore {
    async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError> {
        self.write(move |c| webhooks::add(c, &endpoint)).await
    }

    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.read(webhooks::list).await
    }

    async fn webhook_remove(
        &self,
        id: String,
        at: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        self.write(move |c| webhooks::remove(c, &id, at)).await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.read(move |c| webhooks::deliveries(c, &endpoint, limit))
            .await
    }

    async fn webhook_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.write(move |c| webhooks::claim(c, &worker, now, until, limit))
            .await
    }

    async fn webhook_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
        response_status: Option<u16>,
    ) -> Result<WebhookDelivery, StoreError> {
        self.write(move |c| webhooks::finish(c, &id, &worker, now, outcome, response_status))
            .await
    }

    async fn webhook_redeliver(
        &self,
        id: String,
        now: Timestamp,
    ) -> Result<WebhookDelivery, StoreError> {
        self.write(move |c| webhooks::redeliver(c, &id, now)).await
    }
}

/// Counts.
#[async_trait]
impl Diagnostics for SqliteStore {
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.read(sql::stats).await
    }
}

/// Refused inbound messages.
#[async_trait]
impl Quarantine for SqliteStore {
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError> {
        self.write(move |c| sql::quarantine_put(c, &message)).await
    }

    async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        self.read(move |c| sql::quarantine_list(c, after.as_ref(), limit))
            .await
    }

    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError> {
        self.read(move |c| sql::quarantine_get(c, &id)).await
    }

    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError> {
        self.write(move |c| sql::quarantine_remove(c, &id)).await
    }
}

/// How far each IMAP mailbox has been read.
#[async_trait]
impl MailboxPositions for SqliteStore {
    async fn mailbox_position(
        &self,
        mailbox: String,
    ) -> Result<Option<MailboxPosition>, StoreError> {
        self.read(move |c| sql::mailbox_position(c, &mailbox)).await
    }

    async fn advance_mailbox_position(
        &self,
        mailbox: String,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, StoreError> {
        self.write(move |c| sql::advance_mailbox_position(c, &mailbox, position))
            .await
    }
}

/// Attached files, written by the commits of their posts.
#[async_trait]
impl Attachments for SqliteStore {
    async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError> {
        self.read(move |c| crate::attachments::list(c, case)).await
    }

    async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError> {
        self.read(move |c| crate::attachments::get(c, &id)).await
    }
}

/// Moving whole stores: knowledge listed in order; imports checked and written in one
/// transaction through the writer, with their search passages, report facts and outbox rows.
#[async_trait]
impl StoreTransfer for SqliteStore {
    async fn list_articles(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        self.read(move |c| sql::list_articles(c, after, limit))
            .await
    }

    async fn list_defects(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<Defect>, StoreError> {
        self.read(move |c| sql::list_defects(c, after.as_deref(), limit))
            .await
    }

    async fn import_cases(&self, cases: Vec<CaseRecord>) -> Result<Vec<Imported>, StoreError> {
        self.write(move |c| sql::import_cases(c, &cases)).await
    }

    async fn import_article(&self, article: Article) -> Result<Imported, StoreError> {
        self.write(move |c| sql::import_article(c, &article)).await
    }
}

/// Passwords, sessions, sign-in links and failed sign-ins; a link is used with one
/// `DELETE … RETURNING`, so two uses cannot both get it.
#[async_trait]
impl Sessions for SqliteStore {
    async fn set_password(&self, person: String, hash: String) -> Result<(), StoreError> {
        self.write(move |c| sql::set_password(c, &person, &hash))
            .await
    }

    async fn password(&self, person: String) -> Result<String, StoreError> {
        self.read(move |c| sql::password(c, &person)).await
    }

    async fn put_session(&self, session: Session) -> Result<(), StoreError> {
        self.write(move |c| sql::put_session(c, &session)).await
    }

    async fn get_session(&self, id: String) -> Result<Session, StoreError> {
        self.read(move |c| sql::get_session(c, &id)).await
    }

    async fn session_and_person(&self, id: String) -> Result<SessionAndPerson, StoreError> {
        self.read(move |c| {
            SessionAndPerson::with_person(sql::get_session(c, &id)?, |name| {
                sql::get_person(c, name)
            })
        })
        .await
    }

    async fn touch_session(&self, id: String, at: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| sql::touch_session(c, &id, at)).await
    }

    async fn end_sessions(&self, which: EndSessions) -> Result<u64, StoreError> {
        self.write(move |c| sql::end_sessions(c, &which)).await
    }

    async fn put_sign_in_link(
        &self,
        link: SignInLink,
        message: OutboxMessage,
    ) -> Result<(), StoreError> {
        self.write(move |c| sql::put_sign_in_link(c, &link, &message))
            .await
    }

    async fn use_sign_in_link(
        &self,
        hash: String,
        now: Timestamp,
    ) -> Result<SignInLink, StoreError> {
        self.write(move |c| sql::use_sign_in_link(c, &hash, now))
            .await
    }

    async fn sign_in_failed(
        &self,
        keys: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |c| sql::sign_in_failed(c, &keys, at, forget_before))
            .await
    }

    async fn sign_in_failures(&self, key: String, since: Timestamp) -> Result<u32, StoreError> {
        self.read(move |c| sql::sign_in_failures(c, &key, since))
            .await
    }
}
