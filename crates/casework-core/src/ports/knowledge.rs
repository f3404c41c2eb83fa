//! Knowledge: articles and known defects, which cases link to and search finds.

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use crate::model::{Article, Defect, NewArticle};

/// Articles and defects. A store that implements [`super::CaseQueries`] makes them
/// searchable in the same write that adds them.
#[async_trait]
pub trait Knowledge: Send + Sync {
    /// Adds a knowledge article and gives it the next id (unique, increasing).
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError>;

    /// An article. MUST return `NotFound` for an unknown id.
    async fn get_article(&self, id: u64) -> Result<Article, StoreError>;

    /// Adds a defect. MUST return `Duplicate` when the key is taken.
    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError>;

    /// A defect. MUST return `NotFound` for an unknown key.
    async fn get_defect(&self, key: String) -> Result<Defect, StoreError>;
}
