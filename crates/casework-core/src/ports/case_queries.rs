//! Case queries: lists with filters, ranked full-text search, and similar cases, each
//! honouring whose eyes it is for.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest, StoreError};
use crate::ids::{CaseNumber, EmailAddress, StatusName};
use crate::model::{Case, Priority, RefKind, StatusCategory};

/// Which cases a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseFilter {
    /// Exactly this status.
    pub status: Option<StatusName>,
    /// Statuses of this category.
    pub status_category: Option<StatusCategory>,
    /// Owned by this person.
    pub owner: Option<String>,
    /// Owned by nobody (`true`) or by someone (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unassigned: Option<bool>,
    /// Of this priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Reopened at least once (`true`) or never (`false`).
    pub reopened: Option<bool>,
    /// In this product area.
    pub product_area: Option<String>,
    /// Only this customer's cases, matching only customer-visible text.
    pub customer: Option<EmailAddress>,
    /// Full text in [`crate::query`]'s syntax: every word, phrase and prefix must occur in the
    /// case's title, description or timeline text, no excluded one may (customer-visible text
    /// only when `customer` is set).
    pub q: Option<String>,
}

impl CaseFilter {
    /// The filters set here that only staff may use, by their API name: those on what a
    /// customer's view of a case leaves out (`product_area`), and the staff work-queue
    /// filters `owner` and `unassigned`. A customer's list refuses them rather than ignoring
    /// them, so a match on a hidden value can never show as a different answer.
    pub fn staff_only(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.owner.is_some() {
            out.push("owner");
        }
        if self.unassigned.is_some() {
            out.push("unassigned");
        }
        if self.product_area.is_some() {
            out.push("product_area");
        }
        out
    }
}

/// Whose eyes a search is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Support staff: all cases, all text, articles and defects.
    Staff,
    /// A customer: only their cases, only customer-visible text, and articles.
    Customer(EmailAddress),
}

/// A full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchQuery {
    /// What to find, in [`crate::query`]'s syntax: every non-stop word, phrase and prefix
    /// must match, no excluded one may.
    pub text: String,
    /// Only hits of this kind.
    pub kind: Option<RefKind>,
    /// Whose eyes.
    pub scope: Scope,
    /// At most this many hits.
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
}

/// A ranked search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// Case, article or defect.
    pub kind: RefKind,
    /// Case number (zero-padded), article id or defect key.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Title.
    pub title: String,
    /// Relevance, higher is better (BM25).
    pub score: f64,
}

/// Finding cases: lists, search and similar cases. Search covers articles and defects too,
/// so a store indexes what [`super::Knowledge`] adds; the text of a case is indexed in the
/// same write as the commit that adds it.
#[async_trait]
pub trait CaseQueries: Send + Sync {
    /// Lists cases in `page.order` (by ascending number unless asked otherwise, each order
    /// ending with the number), from after the cursor (`page.after`, with `page.after_key`
    /// in an order with a key: [`PageRequest::admits`]), at most `page.limit`, with
    /// `next_cursor` set when more follow ([`Page::in_order`]).
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError>;

    /// The customer's latest cases, newest (highest number) first, at most `limit`,
    /// whatever their origin or status: what the inbound pipeline's per-sender rate limit
    /// reads, so it MUST cost the same however many cases the customer has had.
    async fn latest_cases_of(
        &self,
        customer: EmailAddress,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError>;

    /// The cases whose history records the Message-ID `message_id` (of an email the case
    /// received or queued, as `email_received` and `email_queued` events hold it), newest
    /// (highest number) first, at most `limit`: what threads a reply naming a message by
    /// its id. It MUST read an index, not every history.
    async fn cases_with_message_id(
        &self,
        message_id: String,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, StoreError>;

    /// Ranked full-text search (BM25) over cases, articles and defects, respecting the scope:
    /// text the scope may not see is never matched.
    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError>;

    /// Cases, articles and defects like this case: an any-term query of its
    /// [`crate::text::similar_terms`], excluding the case itself, respecting the scope.
    /// MUST return `NotFound` for an unknown case.
    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError>;
}
