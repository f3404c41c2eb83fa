//! Delegation for stores that wrap another: [`delegate_store!`](crate::delegate_store)
//! writes the capabilities a wrapper does not change as calls to the store it wraps, so a
//! custom store is the capabilities it changes and one line for the rest.

#[doc(hidden)]
pub use async_trait::async_trait;
#[doc(hidden)]
pub use jiff::Timestamp;

#[doc(hidden)]
pub use super::{
    CaseFilter, Commit, Created, DeliveryOutcome, EndSessions, FeedEntry, Page, PageRequest,
    ReportCase, ReportCasesQuery, ReportQuery, ReportRow, Scope, SearchHit, SearchQuery, Session,
    SignInLink, StoreStats,
};
#[doc(hidden)]
pub use crate::event::{Event, Opened};
#[doc(hidden)]
pub use crate::ids::{CaseNumber, EmailAddress};
#[doc(hidden)]
pub use crate::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person,
};
#[doc(hidden)]
pub use crate::webhook::{WebhookDelivery, WebhookEndpoint};

/// Implements the named store capabilities for a wrapper type by calling the same method
/// on one of its fields, which must implement them: `delegate_store!(Wrapper => inner:
/// CaseQueries, Reports, …)`. Write the capabilities the wrapper changes by hand (calling
/// the field for what it does not change); the wrapper is a [`CaseStore`](crate::CaseStore)
/// once it has every capability.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use casework_core::event::{Event, Opened};
/// use casework_core::model::OutboxMessage;
/// use casework_core::ports::{CaseLog, Commit, Created, StoreError};
/// use casework_core::{Case, CaseNumber, CaseStore};
///
/// /// Counts the commits the service makes; everything else is the inner store's.
/// struct Counting<S> {
///     inner: S,
///     commits: AtomicU64,
/// }
///
/// casework_core::delegate_store!(impl<S: CaseStore> Counting<S> => inner:
///     CaseQueries, Reports, Directory, Knowledge, OutboxQueue, Diagnostics, ChangeFeed, Sessions,
///     Quarantine, Webhooks, MailboxPositions, Attachments, CaseSurroundings);
///
/// #[async_trait::async_trait]
/// impl<S: CaseStore> CaseLog for Counting<S> {
///     async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
///         self.commits.fetch_add(1, Ordering::Relaxed);
///         self.inner.commit(commit).await
///     }
///     // the other methods call `self.inner` as they are
/// #   async fn create_case(&self, at: jiff::Timestamp, actor: String, opened: Opened, outbox: Vec<OutboxMessage>) -> Result<Case, StoreError> { self.inner.create_case(at, actor, opened, outbox).await }
/// #   async fn create_case_once(&self, key: String, fingerprint: String, at: jiff::Timestamp, actor: String, opened: Opened, outbox: Vec<OutboxMessage>) -> Result<Created, StoreError> { self.inner.create_case_once(key, fingerprint, at, actor, opened, outbox).await }
/// #   async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> { self.inner.load_case(number).await }
/// #   async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> { self.inner.history(number).await }
/// }
///
/// /// The wrapper is a whole store, wired like any other.
/// fn wire<S: CaseStore + 'static>(inner: S) -> Arc<dyn CaseStore> {
///     Arc::new(Counting { inner, commits: AtomicU64::new(0) })
/// }
/// ```
#[macro_export]
macro_rules! delegate_store {
    (impl<$($g:ident: $b:path),+> $ty:ty => $field:ident: $($cap:ident),+ $(,)?) => {
        $crate::delegate_store!(@each [$($g: $b),+] $ty, $field; $($cap),+);
    };
    ($ty:ty => $field:ident: $($cap:ident),+ $(,)?) => {
        $crate::delegate_store!(@each [] $ty, $field; $($cap),+);
    };
    (@each [$($gen:tt)*] $ty:ty, $field:ident; $cap:ident $(, $rest:ident)*) => {
        $crate::delegate_store!(@one $cap, [$($gen)*], $ty, $field);
        $crate::delegate_store!(@each [$($gen)*] $ty, $field; $($rest),*);
    };
    (@each [$($gen:tt)*] $ty:ty, $field:ident;) => {};
    (@one CaseLog, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::CaseLog for $ty {
            async fn create_case(&self, at: $crate::ports::delegate::Timestamp, actor: String, opened: $crate::ports::delegate::Opened, outbox: Vec<$crate::ports::delegate::OutboxMessage>) -> ::std::result::Result<$crate::ports::delegate::Case, $crate::ports::StoreError> {
                $crate::ports::CaseLog::create_case(&self.$field, at, actor, opened, outbox).await
            }
            async fn create_case_once(&self, key: String, fingerprint: String, at: $crate::ports::delegate::Timestamp, actor: String, opened: $crate::ports::delegate::Opened, outbox: Vec<$crate::ports::delegate::OutboxMessage>) -> ::std::result::Result<$crate::ports::delegate::Created, $crate::ports::StoreError> {
                $crate::ports::CaseLog::create_case_once(&self.$field, key, fingerprint, at, actor, opened, outbox).await
            }
            async fn load_case(&self, number: $crate::ports::delegate::CaseNumber) -> ::std::result::Result<$crate::ports::delegate::Case, $crate::ports::StoreError> {
                $crate::ports::CaseLog::load_case(&self.$field, number).await
            }
            async fn commit(&self, commit: $crate::ports::delegate::Commit) -> ::std::result::Result<$crate::ports::delegate::Case, $crate::ports::StoreError> {
                $crate::ports::CaseLog::commit(&self.$field, commit).await
            }
            async fn history(&self, number: $crate::ports::delegate::CaseNumber) -> ::std::result::Result<Vec<$crate::ports::delegate::Event>, $crate::ports::StoreError> {
                $crate::ports::CaseLog::history(&self.$field, number).await
            }
        }
    };
    (@one CaseQueries, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::CaseQueries for $ty {
            async fn list_cases(&self, filter: $crate::ports::delegate::CaseFilter, page: $crate::ports::delegate::PageRequest) -> ::std::result::Result<$crate::ports::delegate::Page<$crate::ports::delegate::Case>, $crate::ports::StoreError> {
                $crate::ports::CaseQueries::list_cases(&self.$field, filter, page).await
            }
            async fn latest_cases_of(&self, customer: $crate::ports::delegate::EmailAddress, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::Case>, $crate::ports::StoreError> {
                $crate::ports::CaseQueries::latest_cases_of(&self.$field, customer, limit).await
            }
            async fn cases_with_message_id(&self, message_id: String, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::CaseNumber>, $crate::ports::StoreError> {
                $crate::ports::CaseQueries::cases_with_message_id(&self.$field, message_id, limit).await
            }
            async fn search(&self, query: $crate::ports::delegate::SearchQuery) -> ::std::result::Result<Vec<$crate::ports::delegate::SearchHit>, $crate::ports::StoreError> {
                $crate::ports::CaseQueries::search(&self.$field, query).await
            }
            async fn similar(&self, number: $crate::ports::delegate::CaseNumber, scope: $crate::ports::delegate::Scope, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::SearchHit>, $crate::ports::StoreError> {
                $crate::ports::CaseQueries::similar(&self.$field, number, scope, limit).await
            }
        }
    };
    (@one Reports, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Reports for $ty {
            async fn reopen_report(&self, query: $crate::ports::delegate::ReportQuery) -> ::std::result::Result<Vec<$crate::ports::delegate::ReportRow>, $crate::ports::StoreError> {
                $crate::ports::Reports::reopen_report(&self.$field, query).await
            }
            async fn reopen_report_cases(&self, query: $crate::ports::delegate::ReportCasesQuery) -> ::std::result::Result<$crate::ports::delegate::Page<$crate::ports::delegate::ReportCase>, $crate::ports::StoreError> {
                $crate::ports::Reports::reopen_report_cases(&self.$field, query).await
            }
        }
    };
    (@one Directory, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Directory for $ty {
            async fn put_person(&self, person: $crate::ports::delegate::Person) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Directory::put_person(&self.$field, person).await
            }
            async fn get_person(&self, name: String) -> ::std::result::Result<$crate::ports::delegate::Person, $crate::ports::StoreError> {
                $crate::ports::Directory::get_person(&self.$field, name).await
            }
            async fn list_people(&self) -> ::std::result::Result<Vec<$crate::ports::delegate::Person>, $crate::ports::StoreError> {
                $crate::ports::Directory::list_people(&self.$field).await
            }
            async fn put_token(&self, token: $crate::ports::delegate::ApiToken) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Directory::put_token(&self.$field, token).await
            }
            async fn find_token(&self, hash: String) -> ::std::result::Result<$crate::ports::delegate::ApiToken, $crate::ports::StoreError> {
                $crate::ports::Directory::find_token(&self.$field, hash).await
            }
            async fn list_tokens(&self) -> ::std::result::Result<Vec<$crate::ports::delegate::ApiToken>, $crate::ports::StoreError> {
                $crate::ports::Directory::list_tokens(&self.$field).await
            }
            async fn revoke_token(&self, id: String, at: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::ApiToken, $crate::ports::StoreError> {
                $crate::ports::Directory::revoke_token(&self.$field, id, at).await
            }
        }
    };
    (@one Knowledge, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Knowledge for $ty {
            async fn add_article(&self, article: $crate::ports::delegate::NewArticle, at: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::Article, $crate::ports::StoreError> {
                $crate::ports::Knowledge::add_article(&self.$field, article, at).await
            }
            async fn get_article(&self, id: u64) -> ::std::result::Result<$crate::ports::delegate::Article, $crate::ports::StoreError> {
                $crate::ports::Knowledge::get_article(&self.$field, id).await
            }
            async fn add_defect(&self, defect: $crate::ports::delegate::Defect) -> ::std::result::Result<$crate::ports::delegate::Defect, $crate::ports::StoreError> {
                $crate::ports::Knowledge::add_defect(&self.$field, defect).await
            }
            async fn get_defect(&self, key: String) -> ::std::result::Result<$crate::ports::delegate::Defect, $crate::ports::StoreError> {
                $crate::ports::Knowledge::get_defect(&self.$field, key).await
            }
        }
    };
    (@one OutboxQueue, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::OutboxQueue for $ty {
            async fn outbox_list(&self, status: Option<$crate::ports::delegate::OutboxStatus>, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::OutboxMessage>, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_list(&self.$field, status, limit).await
            }
            async fn outbox_for_case(&self, case: $crate::ports::delegate::CaseNumber) -> ::std::result::Result<Vec<$crate::ports::delegate::OutboxMessage>, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_for_case(&self.$field, case).await
            }
            async fn outbox_claim(&self, worker: String, now: $crate::ports::delegate::Timestamp, until: $crate::ports::delegate::Timestamp, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::OutboxMessage>, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_claim(&self.$field, worker, now, until, limit).await
            }
            async fn outbox_finish(&self, id: String, worker: String, now: $crate::ports::delegate::Timestamp, outcome: $crate::ports::delegate::DeliveryOutcome) -> ::std::result::Result<$crate::ports::delegate::OutboxMessage, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_finish(&self.$field, id, worker, now, outcome).await
            }
            async fn outbox_bounced(&self, id: String, error: String) -> ::std::result::Result<$crate::ports::delegate::OutboxMessage, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_bounced(&self.$field, id, error).await
            }
            async fn outbox_act(&self, id: String, action: $crate::ports::OutboxAction, now: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::OutboxMessage, $crate::ports::StoreError> {
                $crate::ports::OutboxQueue::outbox_act(&self.$field, id, action, now).await
            }
        }
    };
    (@one ChangeFeed, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::ChangeFeed for $ty {
            async fn feed(&self, after: u64, limit: u32, customer: Option<$crate::ports::delegate::EmailAddress>) -> ::std::result::Result<Vec<$crate::ports::delegate::FeedEntry>, $crate::ports::StoreError> {
                $crate::ports::ChangeFeed::feed(&self.$field, after, limit, customer).await
            }
        }
    };
    (@one Sessions, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Sessions for $ty {
            async fn set_password(&self, person: String, hash: String) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Sessions::set_password(&self.$field, person, hash).await
            }
            async fn password(&self, person: String) -> ::std::result::Result<String, $crate::ports::StoreError> {
                $crate::ports::Sessions::password(&self.$field, person).await
            }
            async fn put_session(&self, session: $crate::ports::delegate::Session) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Sessions::put_session(&self.$field, session).await
            }
            async fn get_session(&self, id: String) -> ::std::result::Result<$crate::ports::delegate::Session, $crate::ports::StoreError> {
                $crate::ports::Sessions::get_session(&self.$field, id).await
            }
            async fn session_and_person(&self, id: String) -> ::std::result::Result<$crate::ports::SessionAndPerson, $crate::ports::StoreError> {
                $crate::ports::Sessions::session_and_person(&self.$field, id).await
            }
            async fn touch_session(&self, id: String, at: $crate::ports::delegate::Timestamp) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Sessions::touch_session(&self.$field, id, at).await
            }
            async fn end_sessions(&self, which: $crate::ports::delegate::EndSessions) -> ::std::result::Result<u64, $crate::ports::StoreError> {
                $crate::ports::Sessions::end_sessions(&self.$field, which).await
            }
            async fn put_sign_in_link(&self, link: $crate::ports::delegate::SignInLink, message: $crate::ports::delegate::OutboxMessage) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Sessions::put_sign_in_link(&self.$field, link, message).await
            }
            async fn use_sign_in_link(&self, hash: String, now: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::SignInLink, $crate::ports::StoreError> {
                $crate::ports::Sessions::use_sign_in_link(&self.$field, hash, now).await
            }
            async fn sign_in_failed(&self, keys: Vec<String>, at: $crate::ports::delegate::Timestamp, forget_before: $crate::ports::delegate::Timestamp) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Sessions::sign_in_failed(&self.$field, keys, at, forget_before).await
            }
            async fn sign_in_failures(&self, key: String, since: $crate::ports::delegate::Timestamp) -> ::std::result::Result<u32, $crate::ports::StoreError> {
                $crate::ports::Sessions::sign_in_failures(&self.$field, key, since).await
            }
        }
    };
    (@one Webhooks, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Webhooks for $ty {
            async fn webhook_add(&self, endpoint: $crate::ports::delegate::WebhookEndpoint) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_add(&self.$field, endpoint).await
            }
            async fn webhook_list(&self) -> ::std::result::Result<Vec<$crate::ports::delegate::WebhookEndpoint>, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_list(&self.$field).await
            }
            async fn webhook_remove(&self, id: String, at: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::WebhookEndpoint, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_remove(&self.$field, id, at).await
            }
            async fn webhook_deliveries(&self, endpoint: String, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::WebhookDelivery>, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_deliveries(&self.$field, endpoint, limit).await
            }
            async fn webhook_claim(&self, worker: String, now: $crate::ports::delegate::Timestamp, until: $crate::ports::delegate::Timestamp, limit: u32) -> ::std::result::Result<Vec<$crate::ports::delegate::WebhookDelivery>, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_claim(&self.$field, worker, now, until, limit).await
            }
            async fn webhook_finish(&self, id: String, worker: String, now: $crate::ports::delegate::Timestamp, outcome: $crate::ports::delegate::DeliveryOutcome, response_status: Option<u16>) -> ::std::result::Result<$crate::ports::delegate::WebhookDelivery, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_finish(&self.$field, id, worker, now, outcome, response_status).await
            }
            async fn webhook_redeliver(&self, id: String, now: $crate::ports::delegate::Timestamp) -> ::std::result::Result<$crate::ports::delegate::WebhookDelivery, $crate::ports::StoreError> {
                $crate::ports::Webhooks::webhook_redeliver(&self.$field, id, now).await
            }
        }
    };
    (@one Diagnostics, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Diagnostics for $ty {
            async fn stats(&self) -> ::std::result::Result<$crate::ports::delegate::StoreStats, $crate::ports::StoreError> {
                $crate::ports::Diagnostics::stats(&self.$field).await
            }
        }
    };
    (@one Quarantine, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Quarantine for $ty {
            async fn quarantine_put(&self, message: $crate::ports::QuarantinedMessage) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Quarantine::quarantine_put(&self.$field, message).await
            }
            async fn quarantine_list(&self, after: Option<$crate::ports::QuarantineAfter>, limit: u32) -> ::std::result::Result<Vec<$crate::ports::QuarantineEntry>, $crate::ports::StoreError> {
                $crate::ports::Quarantine::quarantine_list(&self.$field, after, limit).await
            }
            async fn quarantine_get(&self, id: String) -> ::std::result::Result<$crate::ports::QuarantinedMessage, $crate::ports::StoreError> {
                $crate::ports::Quarantine::quarantine_get(&self.$field, id).await
            }
            async fn quarantine_remove(&self, id: String) -> ::std::result::Result<(), $crate::ports::StoreError> {
                $crate::ports::Quarantine::quarantine_remove(&self.$field, id).await
            }
        }
    };
    (@one MailboxPositions, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::MailboxPositions for $ty {
            async fn mailbox_position(&self, mailbox: String) -> ::std::result::Result<Option<$crate::ports::MailboxPosition>, $crate::ports::StoreError> {
                $crate::ports::MailboxPositions::mailbox_position(&self.$field, mailbox).await
            }
            async fn advance_mailbox_position(&self, mailbox: String, position: $crate::ports::MailboxPosition) -> ::std::result::Result<$crate::ports::MailboxPosition, $crate::ports::StoreError> {
                $crate::ports::MailboxPositions::advance_mailbox_position(&self.$field, mailbox, position).await
            }
        }
    };
    (@one Attachments, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::Attachments for $ty {
            async fn attachment_list(&self, case: $crate::ids::CaseNumber) -> ::std::result::Result<Vec<$crate::ports::AttachmentInfo>, $crate::ports::StoreError> {
                $crate::ports::Attachments::attachment_list(&self.$field, case).await
            }
            async fn attachment_get(&self, id: String) -> ::std::result::Result<$crate::ports::AttachmentFile, $crate::ports::StoreError> {
                $crate::ports::Attachments::attachment_get(&self.$field, id).await
            }
        }
    };
    (@one CaseSurroundings, [$($gen:tt)*], $ty:ty, $field:ident) => {
        #[$crate::ports::delegate::async_trait]
        impl<$($gen)*> $crate::ports::CaseSurroundings for $ty {
            async fn case_surroundings(&self, case: $crate::ids::CaseNumber, people: bool) -> ::std::result::Result<$crate::ports::Surroundings, $crate::ports::StoreError> {
                $crate::ports::CaseSurroundings::case_surroundings(&self.$field, case, people).await
            }
        }
    };
}
