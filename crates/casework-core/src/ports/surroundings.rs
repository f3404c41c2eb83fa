//! What a case's page shows beside the case, read together: its queued email (for the
//! delivery states on the timeline), its files, and the people it may be assigned to. One
//! trip to the store instead of three, and on a store with a snapshot, one moment.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{AttachmentInfo, StoreError};
use crate::ids::CaseNumber;
use crate::model::{OutboxMessage, Person};

/// A case's outbox messages, files and (when asked) everyone in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Surroundings {
    /// The case's messages, as [`OutboxQueue::outbox_for_case`](super::OutboxQueue::outbox_for_case)
    /// gives them.
    pub outbox: Vec<OutboxMessage>,
    /// The case's files, as [`Attachments::attachment_list`](super::Attachments::attachment_list)
    /// gives them.
    pub files: Vec<AttachmentInfo>,
    /// Everyone, as [`Directory::list_people`](super::Directory::list_people) gives them;
    /// `None` unless asked for.
    pub people: Option<Vec<Person>>,
}

impl Surroundings {
    /// Runs a store's three reads at once (`people` only when given) and puts their answers
    /// together: for a store whose reads are requests it can send together.
    pub async fn gather(
        outbox: impl Future<Output = Result<Vec<OutboxMessage>, StoreError>>,
        files: impl Future<Output = Result<Vec<AttachmentInfo>, StoreError>>,
        people: Option<impl Future<Output = Result<Vec<Person>, StoreError>>>,
    ) -> Result<Self, StoreError> {
        let people = async {
            match people {
                Some(read) => read.await.map(Some),
                None => Ok(None),
            }
        };
        let (outbox, files, people) =
            futures_util::future::try_join3(outbox, files, people).await?;
        Ok(Self {
            outbox,
            files,
            people,
        })
    }
}

/// Reads what a case's page needs beside the case in one go.
#[async_trait]
pub trait CaseSurroundings: Send + Sync {
    /// Case `case`'s messages and files, and everyone in the directory when `people` is
    /// true, each as its own read gives it. MUST return `NotFound` for an unknown case.
    async fn case_surroundings(
        &self,
        case: CaseNumber,
        people: bool,
    ) -> Result<Surroundings, StoreError>;
}
