//! Casework's case store over HTTP: a client of the storage protocol (`/store/v1`, see
//! `docs/store-protocol.md`) that `casework serve` implements over any of its stores.
//!
//! [`RestStore`] implements every store capability of core's ports (a whole
//! [`casework_core::ports::CaseStore`]) one method to one request, with a `service` token.
//! Errors map back to the port's by the protocol's `kind`: `not_found`, `conflict` (with both
//! versions), `duplicate`, `claim_lost`, `invalid`, `internal`; a server that cannot be
//! reached, times out or answers 5xx without a kind → `Unavailable`. Reads, and creates that carry an idempotency key, are
//! retried a few times with backoff; other writes never are, since a lost answer may hide a
//! write that happened. Connections are reused (reqwest's pool, rustls for `https://`).

use std::time::Duration;

use async_trait::async_trait;
use casework_core::event::{Event, Opened};
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person,
};
use casework_core::ports::{
    AttachmentFile, AttachmentInfo, Attachments, CaseSurroundings, MailboxPosition,
    MailboxPositions, OutboxAction, Surroundings, Webhooks,
};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseQueries, ChangeFeed, Commit, Created, DeliveryOutcome, Diagnostics,
    Directory, EndSessions, FeedEntry, Knowledge, OutboxQueue, Page, PageRequest, Quarantine,
    QuarantineAfter, QuarantineEntry, QuarantinedMessage, ReportCase, ReportCasesQuery,
    ReportQuery, ReportRow, Reports, Scope, SearchHit, SearchQuery, Session, SessionAndPerson,
    Sessions, SignInLink, StoreError, StoreStats,
};
use casework_core::protocol::{
    AddArticle, AdvanceMailbox, Claim, CreateCase, CreatedCase, ErrorBody, Finish, LatestCases,
    ListCases, MailboxKey, MessageIdCases, Once, PREFIX, Revoke, Similar,
};
use casework_core::webhook::{WebhookDelivery, WebhookEndpoint};
use jiff::Timestamp;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Attempts for a request that is safe to repeat.
const ATTEMPTS: u32 = 3;

/// A URL or token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

/// The case store of a Casework server, reached over HTTP.
#[derive(Clone)]
pub struct RestStore {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for RestStore {
    // never the token
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestStore")
            .field("base", &self.base)
            .finish()
    }
}

/// Whether a retry may repeat the request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    Safe,
    Never,
}

fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl RestStore {
    /// A store at `http://HOST:PORT` or `https://HOST:PORT` (a Casework server), with a
    /// token of the role `service`.
    pub fn open(url: &str, token: &str) -> Result<Self, OpenError> {
        let base = url.trim_end_matches('/').to_string();
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| {
                OpenError(format!(
                    "{url}: expected http://HOST:PORT or https://HOST:PORT"
                ))
            })?;
        if rest.is_empty() || rest.contains('/') {
            return Err(OpenError(format!(
                "{url}: expected the server's address only, as in http://127.0.0.1:8080"
            )));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(OpenError(
                "a remote store needs a token with the role service: set CASEWORK_TOKEN".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| OpenError(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            token: token.to_string(),
        })
    }

    /// The server's address.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send<B: Serialize + Sync>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        retry: Retry,
    ) -> Result<reqwest::Response, StoreError> {
        let url = format!("{}{PREFIX}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let result = match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) => Err(self.failure(r).await),
                Err(e) => Err(StoreError::Unavailable(format!(
                    "cannot reach {}: {}",
                    self.base,
                    describe(&e)
                ))),
            };
            match result {
                Err(StoreError::Unavailable(_)) if retry == Retry::Safe && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 << (2 * attempt))).await;
                }
                Err(e) => return Err(e),
                Ok(r) => return Ok(r),
            }
        }
    }

    async fn failure(&self, r: reqwest::Response) -> StoreError {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return StoreError::Unavailable(format!(
                "{} refused the token ({status}): CASEWORK_TOKEN must be a token of the role service on that server",
                self.base
            ));
        }
        if let Ok(body) = serde_json::from_str::<ErrorBody>(&text) {
            return body.error();
        }
        if status.is_server_error() {
            return StoreError::Unavailable(format!("{} answered {status}", self.base));
        }
        StoreError::Internal(format!(
            "{} answered {status} outside the storage protocol: {}",
            self.base,
            text.chars().take(200).collect::<String>()
        ))
    }

    async fn call<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        retry: Retry,
    ) -> Result<T, StoreError> {
        let r = self.send(method, path, body, retry).await?;
        r.json::<T>().await.map_err(|e| {
            StoreError::Internal(format!(
                "{} sent an answer this client cannot read: {e}",
                self.base
            ))
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StoreError> {
        self.call::<(), T>(Method::GET, path, None, Retry::Safe)
            .await
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable (is `casework serve` running there?)".into()
    } else {
        e.to_string()
    }
}

#[async_trait]
impl CaseLog for RestStore {
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError> {
        let body = CreateCase {
            at,
            actor,
            opened,
            once: None,
            outbox,
        };
        let made: CreatedCase = self
            .call(Method::POST, "/cases", Some(&body), Retry::Never)
            .await?;
        Ok(made.case)
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
        let body = CreateCase {
            at,
            actor,
            opened,
            once: Some(Once { key, fingerprint }),
            outbox,
        };
        // the key makes a repeat harmless: the server answers with the first case
        let made: CreatedCase = self
            .call(Method::POST, "/cases", Some(&body), Retry::Safe)
            .await?;
        Ok(Created {
            case: made.case,
            replayed: made.replayed,
        })
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.get(&format!("/cases/{}", number.get())).await
    }

    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        let path = format!("/cases/{}/commits", commit.number.get());
        self.call(Method::POST, &path, Some(&commit), Retry::Never)
            .await
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.get(&format!("/cases/{}/history", number.get())).await
    }
}

#[async_trait]
impl Directory for RestStore {
    async fn put_person(&self, person: Person) -> Result<(), StoreError> {
        let path = format!("/people/{}", segment(&person.name));
        // a put is idempotent: repeating it writes the same person
        self.send(Method::PUT, &path, Some(&person), Retry::Safe)
            .await
            .map(|_| ())
    }

    async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        self.get(&format!("/people/{}", segment(&name))).await
    }

    async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        self.get("/people").await
    }

    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        self.send(Method::POST, "/tokens", Some(&token), Retry::Never)
            .await
            .map(|_| ())
    }

    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        self.get(&format!("/tokens/by-hash/{}", segment(&hash)))
            .await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.get("/tokens").await
    }

    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError> {
        let path = format!("/tokens/{}/revoke", segment(&id));
        // revoking twice keeps the first time: safe to repeat
        self.call(Method::POST, &path, Some(&Revoke { at }), Retry::Safe)
            .await
    }
}

#[async_trait]
impl Knowledge for RestStore {
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError> {
        self.call(
            Method::POST,
            "/articles",
            Some(&AddArticle { article, at }),
            Retry::Never,
        )
        .await
    }

    async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        self.get(&format!("/articles/{id}")).await
    }

    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError> {
        self.call(Method::POST, "/defects", Some(&defect), Retry::Never)
            .await
    }

    async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        self.get(&format!("/defects/{}", segment(&key))).await
    }
}

#[async_trait]
impl CaseQueries for RestStore {
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError> {
        let body = ListCases { filter, page };
        self.call(Method::POST, "/cases/query", Some(&body), Retry::Safe)
            .await
    }

    async fn latest_cases_of(
        &self,
        customer: EmailAddress,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        let body = LatestCases { customer, limit };
        self.call(Method::POST, "/cases/latest", Some(&body), Retry::Safe)
            .await
    }

    async fn cases_with_message_id(
        &self,
        message_id: String,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, StoreError> {
        let body = MessageIdCases { message_id, limit };
        self.call(
            Method::POST,
            "/cases/by-message-id",
            Some(&body),
            Retry::Safe,
        )
        .await
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        self.call(Method::POST, "/search", Some(&query), Retry::Safe)
            .await
    }

    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let path = format!("/cases/{}/similar", number.get());
        self.call(
            Method::POST,
            &path,
            Some(&Similar { scope, limit }),
            Retry::Safe,
        )
        .await
    }
}

#[async_trait]
impl Reports for RestStore {
    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        self.call(Method::POST, "/reports/reopens", Some(&query), Retry::Safe)
            .await
    }

    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        self.call(
            Method::POST,
            "/reports/reopens/cases",
            Some(&query),
            Retry::Safe,
        )
        .await
    }
}

#[async_trait]
impl OutboxQueue for RestStore {
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let path = match status {
            Some(s) => format!("/outbox?status={}&limit={limit}", s.as_str()),
            None => format!("/outbox?limit={limit}"),
        };
        self.get(&path).await
    }

    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError> {
        self.get(&format!("/cases/{}/outbox", case.get())).await
    }

    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let body = Claim {
            worker,
            now,
            until,
            limit,
        };
        // a lost answer leaves claims that lapse at their deadline: never repeated
        self.call(Method::POST, "/outbox/claims", Some(&body), Retry::Never)
            .await
    }

    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError> {
        let path = format!("/outbox/{}/finish", segment(&id));
        let body = Finish {
            worker,
            now,
            outcome,
        };
        self.call(Method::POST, &path, Some(&body), Retry::Never)
            .await
    }

    async fn outbox_bounced(&self, id: String, error: String) -> Result<OutboxMessage, StoreError> {
        let path = format!("/outbox/{}/bounced", segment(&id));
        let body = casework_core::protocol::Bounced { error };
        // marking twice changes nothing more: safe to repeat
        self.call(Method::POST, &path, Some(&body), Retry::Safe)
            .await
    }

    async fn outbox_act(
        &self,
        id: String,
        action: OutboxAction,
        now: Timestamp,
    ) -> Result<OutboxMessage, StoreError> {
        let path = format!("/outbox/{}/act", segment(&id));
        let body = casework_core::protocol::Act { action, now };
        // a repeated cancel would be refused after the first went through: never repeat
        self.call(Method::POST, &path, Some(&body), Retry::Never)
            .await
    }
}

#[async_trait]
impl Diagnostics for RestStore {
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.get("/stats").await
    }
}

#[async_trait]
impl ChangeFeed for RestStore {
    async fn feed(
        &self,
        after: u64,
        limit: u32,
        customer: Option<EmailAddress>,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let path = match customer {
            Some(c) => format!(
                "/feed?after={after}&limit={limit}&customer={}",
                segment(c.as_str())
            ),
            None => format!("/feed?after={after}&limit={limit}"),
        };
        self.get(&path).await
    }
}

/// Sign-in state is not on the storage protocol yet: a server over a REST store serves the
/// API, and its desk refuses sign-in as unavailable (503) rather than keeping sessions
/// where other servers cannot see them. Serve the desk from the server that owns the store.
fn no_sessions<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable(
        "sign-in state is not on the storage protocol yet: serve the desk and the portal \
         from the server that owns the store"
            .into(),
    ))
}

#[async_trait]
impl Sessions for RestStore {
    async fn set_password(&self, _: String, _: String) -> Result<(), StoreError> {
        no_sessions()
    }

    async fn password(&self, _: String) -> Result<String, StoreError> {
        no_sessions()
    }

    async fn put_session(&self, _: Session) -> Result<(), StoreError> {
        no_sessions()
    }

    async fn get_session(&self, _: String) -> Result<Session, StoreError> {
        no_sessions()
    }

    async fn session_and_person(&self, _: String) -> Result<SessionAndPerson, StoreError> {
        no_sessions()
    }

    async fn touch_session(&self, _: String, _: Timestamp) -> Result<(), StoreError> {
        no_sessions()
    }

    async fn end_sessions(&self, _: EndSessions) -> Result<u64, StoreError> {
        no_sessions()
    }

    async fn put_sign_in_link(&self, _: SignInLink, _: OutboxMessage) -> Result<(), StoreError> {
        no_sessions()
    }

    async fn use_sign_in_link(&self, _: String, _: Timestamp) -> Result<SignInLink, StoreError> {
        no_sessions()
    }

    async fn sign_in_failed(
        &self,
        _: Vec<String>,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<(), StoreError> {
        no_sessions()
    }

    async fn sign_in_failures(&self, _: String, _: Timestamp) -> Result<u32, StoreError> {
        no_sessions()
    }
}

#[async_trait]
impl Quarantine for RestStore {
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError> {
        self.send(Method::POST, "/quarantine", Some(&message), Retry::Never)
            .await
            .map(|_| ())
    }

    async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        let path = match after {
            None => format!("/quarantine?limit={limit}"),
            Some(a) => format!(
                "/quarantine?limit={limit}&after_at={}&after_id={}",
                segment(&a.received_at.to_string()),
                segment(&a.id)
            ),
        };
        self.get(&path).await
    }

    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError> {
        self.get(&format!("/quarantine/{}", segment(&id))).await
    }

    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError> {
        let path = format!("/quarantine/{}", segment(&id));
        self.send::<()>(Method::DELETE, &path, None, Retry::Never)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Webhooks for RestStore {
    async fn webhook_add(&self, endpoint: WebhookEndpoint) -> Result<(), StoreError> {
        self.send(Method::POST, "/webhooks", Some(&endpoint), Retry::Never)
            .await
            .map(|_| ())
    }

    async fn webhook_list(&self) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.get("/webhooks").await
    }

    async fn webhook_remove(
        &self,
        id: String,
        at: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        let path = format!("/webhooks/{}/remove", segment(&id));
        // removing twice keeps the first time: safe to repeat
        self.call(Method::POST, &path, Some(&Revoke { at }), Retry::Safe)
            .await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: String,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.get(&format!(
            "/webhooks/{}/deliveries?limit={limit}",
            segment(&endpoint)
        ))
        .await
    }

    async fn webhook_claim(
        &self,
        worker: String,
        now: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let body = Claim {
            worker,
            now,
            until,
            limit,
        };
        // a lost answer leaves claims that lapse at their deadline: never repeated
        self.call(
            Method::POST,
            "/webhook-deliveries/claims",
            Some(&body),
            Retry::Never,
        )
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
        let path = format!("/webhook-deliveries/{}/finish", segment(&id));
        let body = casework_core::protocol::WebhookFinish {
            worker,
            now,
            outcome,
            response_status,
        };
        self.call(Method::POST, &path, Some(&body), Retry::Never)
            .await
    }

    async fn webhook_redeliver(
        &self,
        id: String,
        now: Timestamp,
    ) -> Result<WebhookDelivery, StoreError> {
        let path = format!("/webhook-deliveries/{}/redeliver", segment(&id));
        // queuing again at the same time twice is the same state: safe to repeat
        self.call(Method::POST, &path, Some(&Revoke { at: now }), Retry::Safe)
            .await
    }
}

#[async_trait]
impl MailboxPositions for RestStore {
    async fn mailbox_position(
        &self,
        mailbox: String,
    ) -> Result<Option<MailboxPosition>, StoreError> {
        let body = MailboxKey { mailbox };
        self.call(
            Method::POST,
            "/mailboxes/position",
            Some(&body),
            Retry::Safe,
        )
        .await
    }

    async fn advance_mailbox_position(
        &self,
        mailbox: String,
        position: MailboxPosition,
    ) -> Result<MailboxPosition, StoreError> {
        // saving the same position again changes nothing, so it is safe to repeat
        let body = AdvanceMailbox { mailbox, position };
        self.call(Method::POST, "/mailboxes/advance", Some(&body), Retry::Safe)
            .await
    }
}

/// A case's surroundings over the storage protocol: its three reads, sent at once.
#[async_trait]
impl CaseSurroundings for RestStore {
    async fn case_surroundings(
        &self,
        case: CaseNumber,
        people: bool,
    ) -> Result<Surroundings, StoreError> {
        Surroundings::gather(
            self.outbox_for_case(case),
            self.attachment_list(case),
            people.then(|| self.list_people()),
        )
        .await
    }
}

#[async_trait]
impl Attachments for RestStore {
    async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError> {
        self.get(&format!("/cases/{}/attachments", case.get()))
            .await
    }

    async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError> {
        self.get(&format!("/attachments/{}", segment(&id))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_tokens_are_checked() {
        assert!(RestStore::open("http://127.0.0.1:8080", "t").is_ok());
        assert!(RestStore::open("https://cases.example.com/", "t").is_ok());
        for (url, token, why) in [
            ("ftp://x", "t", "expected http://"),
            ("http://", "t", "expected http://"),
            ("http://host:1/api", "t", "address only"),
            ("http://host:1", " ", "CASEWORK_TOKEN"),
        ] {
            let e = RestStore::open(url, token).err().unwrap();
            assert!(e.0.contains(why), "{url}: {e}");
        }
        let s = RestStore::open("http://127.0.0.1:1", "secret-token").unwrap();
        assert!(!format!("{s:?}").contains("secret-token"));
    }
}
