//! Knowledge in memory: articles under a counter, defects by key.

use async_trait::async_trait;
use casework_core::model::{Article, Defect, NewArticle};
use casework_core::ports::{Knowledge, StoreError};
use jiff::Timestamp;

use crate::MemoryStore;

#[async_trait]
impl Knowledge for MemoryStore {
    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError> {
        let mut inner = self.lock();
        inner.last_article += 1;
        let a = Article {
            id: inner.last_article,
            title: article.title,
            body: article.body,
            url: article.url,
            created_at: at,
        };
        inner.articles.insert(a.id, a.clone());
        Ok(a)
    }

    async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        self.lock()
            .articles
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("article {id}")))
    }

    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError> {
        let mut inner = self.lock();
        if inner.defects.contains_key(&defect.key) {
            return Err(StoreError::Duplicate(format!("defect {}", defect.key)));
        }
        inner.defects.insert(defect.key.clone(), defect.clone());
        Ok(defect)
    }

    async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        self.lock()
            .defects
            .get(&key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("defect {key}")))
    }
}
