//! A case's surroundings in memory: the three reads it stands for, one after the other.

use async_trait::async_trait;
use casework_core::ids::CaseNumber;
use casework_core::ports::{
    Attachments, CaseSurroundings, Directory, OutboxQueue, StoreError, Surroundings,
};

use crate::MemoryStore;

#[async_trait]
impl CaseSurroundings for MemoryStore {
    async fn case_surroundings(
        &self,
        case: CaseNumber,
        people: bool,
    ) -> Result<Surroundings, StoreError> {
        Ok(Surroundings {
            files: self.attachment_list(case).await?,
            outbox: self.outbox_for_case(case).await?,
            people: match people {
                true => Some(self.list_people().await?),
                false => None,
            },
        })
    }
}
