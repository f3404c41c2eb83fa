//! Knowledge through the service: search and similar cases (scoped to what the actor may
//! see), articles and defects.

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::ids::CaseNumber;
use crate::input::{optional_line, required_line};
use crate::limits::{
    MAX_DEFECT_KEY, MAX_DEFECT_STATE, MAX_HITS, MAX_QUERY, MAX_SHORT_TEXT, MAX_SUGGESTION_TERMS,
    MAX_SUGGESTIONS, MAX_TEXT, MAX_URL,
};
use crate::model::{Actor, Article, Defect, NewArticle, RefKind, Role};
use crate::ports::{Scope, SearchHit, SearchQuery};
use crate::workflow::{WorkflowError, optional_text, required_text};

impl CaseService {
    fn scope(actor: &Actor) -> Scope {
        match (&actor.role, &actor.email) {
            (Role::Customer, Some(e)) => Scope::Customer(e.clone()),
            _ => Scope::Staff,
        }
    }

    /// Ranked search over cases, articles and defects.
    pub async fn search(
        &self,
        actor: &Actor,
        text: &str,
        kind: Option<RefKind>,
        limit: u32,
    ) -> Result<Vec<SearchHit>, ServiceError> {
        self.require(actor, Permission::Search, "search")?;
        let text = required_text("q", text, MAX_QUERY)?;
        Ok(self
            .store
            .search(SearchQuery {
                text,
                kind,
                scope: Self::scope(actor),
                limit: limit.clamp(1, MAX_HITS),
            })
            .await?)
    }

    /// What may already answer a new case's title, for a customer typing it (the portal's
    /// suggestions): articles, and the customer's own cases closed as resolved, best first.
    /// Each term of the title is searched in the customer's scope (their cases'
    /// customer-visible text, and articles: never another customer's case, never internal
    /// text) and a hit's scores are summed, so a hit matching more of the title ranks
    /// higher; at most [`MAX_SUGGESTIONS`]. Needs `suggest`; a blank title suggests nothing.
    pub async fn suggestions(
        &self,
        actor: &Actor,
        title: &str,
    ) -> Result<Vec<SearchHit>, ServiceError> {
        self.require(actor, Permission::Suggest, "be shown suggestions")?;
        let Some(title) = optional_text("title", Some(title), MAX_QUERY)? else {
            return Ok(Vec::new());
        };
        let scope = match (&actor.role, &actor.email) {
            (Role::Customer, Some(e)) => Scope::Customer(e.clone()),
            // a customer without an address has no cases, and sees no one else's
            (Role::Customer, None) => return Ok(Vec::new()),
            _ => Scope::Staff,
        };
        let mut found: Vec<SearchHit> = Vec::new();
        let terms = crate::text::query_terms(&title);
        for term in terms.into_iter().take(MAX_SUGGESTION_TERMS as usize) {
            let hits = self
                .store
                .search(SearchQuery {
                    text: term,
                    kind: None,
                    scope: scope.clone(),
                    limit: MAX_HITS,
                })
                .await?;
            for hit in hits.into_iter().filter(|h| h.kind != RefKind::Defect) {
                match found
                    .iter_mut()
                    .find(|f| f.kind == hit.kind && f.reference == hit.reference)
                {
                    Some(f) => f.score += hit.score,
                    None => found.push(hit),
                }
            }
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut out = Vec::new();
        for hit in found {
            if out.len() == MAX_SUGGESTIONS as usize {
                break;
            }
            if hit.kind == RefKind::Case {
                // only a case solved before: closed as resolved, and still closed
                let Ok(number) = hit.reference.parse::<CaseNumber>() else {
                    continue;
                };
                let case = self.store.load_case(number).await?;
                if case.close_mode != Some(crate::model::CloseMode::Resolved) {
                    continue;
                }
            }
            out.push(hit);
        }
        Ok(out)
    }

    /// Cases, articles and defects similar to a case (seed step 5).
    pub async fn similar(
        &self,
        actor: &Actor,
        number: CaseNumber,
        limit: u32,
    ) -> Result<Vec<SearchHit>, ServiceError> {
        self.case(actor, number).await?;
        self.require(actor, Permission::Search, "search for similar cases")?;
        Ok(self
            .store
            .similar(number, Self::scope(actor), limit.clamp(1, MAX_HITS))
            .await?)
    }

    /// Adds a knowledge article.
    pub async fn add_article(
        &self,
        actor: &Actor,
        article: NewArticle,
    ) -> Result<Article, ServiceError> {
        self.require(actor, Permission::Knowledge, "add articles")?;
        let article = NewArticle {
            title: required_line("title", &article.title, MAX_SHORT_TEXT)?,
            body: required_text("body", &article.body, MAX_TEXT)?,
            url: optional_line("url", article.url.as_deref(), MAX_URL)?,
        };
        Ok(self.store.add_article(article, self.clock.now()).await?)
    }

    /// A knowledge article.
    pub async fn article(&self, actor: &Actor, id: u64) -> Result<Article, ServiceError> {
        self.require(actor, Permission::Search, "read articles")?;
        Ok(self.store.get_article(id).await?)
    }

    /// Adds a known defect.
    pub async fn add_defect(
        &self,
        actor: &Actor,
        key: &str,
        title: &str,
        body: &str,
        state: &str,
    ) -> Result<Defect, ServiceError> {
        self.require(actor, Permission::Knowledge, "add defects")?;
        let key = required_line("key", key, MAX_DEFECT_KEY)?;
        if key.chars().any(char::is_whitespace) {
            return Err(WorkflowError::Invalid {
                field: "key".into(),
                message: "may not contain white space".into(),
            }
            .into());
        }
        let defect = Defect {
            key,
            title: required_line("title", title, MAX_SHORT_TEXT)?,
            body: optional_text("body", Some(body), MAX_TEXT)?.unwrap_or_default(),
            state: required_line("state", state, MAX_DEFECT_STATE)?,
            created_at: self.clock.now(),
        };
        Ok(self.store.add_defect(defect).await?)
    }

    /// A known defect.
    pub async fn defect(&self, actor: &Actor, key: &str) -> Result<Defect, ServiceError> {
        self.require(actor, Permission::Search, "read defects")?;
        Ok(self.store.get_defect(key.trim().to_string()).await?)
    }
}
