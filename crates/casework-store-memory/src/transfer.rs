//! Moving whole stores in memory: articles and defects listed in order, cases and articles
//! imported under their own numbers with their files, all checked before anything is
//! written.

use async_trait::async_trait;
use casework_core::model::{Article, Defect};
use casework_core::ports::{
    CaseRecord, Imported, StoreError, StoreTransfer, check_record, file_clash, plan_import,
};

use crate::{MemoryStore, Record};

#[async_trait]
impl StoreTransfer for MemoryStore {
    async fn list_articles(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Article>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        Ok(self
            .lock()
            .articles
            .range(start..)
            .take(limit as usize)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn list_defects(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<Defect>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .defects
            .values()
            .filter(|d| after.as_ref().is_none_or(|a| d.key > *a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn import_cases(&self, cases: Vec<CaseRecord>) -> Result<Vec<Imported>, StoreError> {
        let mut inner = self.lock();
        // Check everything first (including within the batch), then write all of it.
        let mut plans = Vec::with_capacity(cases.len());
        for (i, record) in cases.iter().enumerate() {
            let state = check_record(record)?;
            let n = state.number.get();
            if cases[..i]
                .iter()
                .any(|r| r.history.first().map(|e| e.case) == Some(state.number))
            {
                return Err(StoreError::Duplicate(format!(
                    "case {n} twice in one import"
                )));
            }
            let stored = inner.cases.get(&n).map(|r| r.events.as_slice());
            let (outcome, _) = plan_import(stored, &record.history)?;
            for m in &record.outbox {
                let elsewhere = inner
                    .outbox
                    .iter()
                    .any(|o| o.id == m.id && o.case != m.case)
                    || m.case != state.number;
                if elsewhere {
                    return Err(StoreError::Duplicate(format!("outbox message {}", m.id)));
                }
            }
            for f in &record.attachments {
                // a file twice in one record is check_record's; in two records, caught here
                let earlier = cases[..i]
                    .iter()
                    .flat_map(|r| &r.attachments)
                    .find(|o| o.info.id == f.info.id);
                let stored = inner.attachments.get(&f.info.id).or(earlier);
                file_clash(stored.map(|a| &a.info), &f.info)?;
            }
            plans.push((state, outcome));
        }
        let mut outcomes = Vec::with_capacity(plans.len());
        for (record, (state, outcome)) in cases.into_iter().zip(plans) {
            let n = state.number.get();
            inner.last_number = inner.last_number.max(n);
            inner.cases.insert(
                n,
                Record {
                    case: state,
                    events: record.history,
                },
            );
            for m in record.outbox {
                match inner.outbox.iter_mut().find(|o| o.id == m.id) {
                    Some(there) => *there = m,
                    None => inner.outbox.push(m),
                }
            }
            for f in record.attachments {
                inner.attachments.entry(f.info.id.clone()).or_insert(f);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn import_article(&self, article: Article) -> Result<Imported, StoreError> {
        let mut inner = self.lock();
        match inner.articles.get(&article.id) {
            Some(there) if *there == article => Ok(Imported::Unchanged),
            Some(_) => Err(StoreError::Duplicate(format!("article {}", article.id))),
            None => {
                inner.last_article = inner.last_article.max(article.id);
                inner.articles.insert(article.id, article);
                Ok(Imported::Written)
            }
        }
    }
}
