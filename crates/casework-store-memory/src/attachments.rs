//! Attachments in memory: a map from id to file, which commits fill with their posts.

use async_trait::async_trait;
use casework_core::ids::CaseNumber;
use casework_core::ports::{AttachmentFile, AttachmentInfo, Attachments, StoreError};

use crate::MemoryStore;

#[async_trait]
impl Attachments for MemoryStore {
    async fn attachment_list(&self, case: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError> {
        let inner = self.lock();
        if !inner.cases.contains_key(&case.get()) {
            return Err(StoreError::NotFound(format!("case {case}")));
        }
        let mut out: Vec<AttachmentInfo> = inner
            .attachments
            .values()
            .filter(|a| a.info.case == case)
            .map(|a| a.info.clone())
            .collect();
        out.sort_by(|a, b| (a.entry, &a.id).cmp(&(b.entry, &b.id)));
        Ok(out)
    }

    async fn attachment_get(&self, id: String) -> Result<AttachmentFile, StoreError> {
        self.lock()
            .attachments
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))
    }
}
