//! Attachments through the one door: a post with files (agents internal or
//! customer-visible, a customer on their own case, always customer-visible), written as one
//! commit with the post, within the workflow file's `[attachments]` limits; and reading
//! them, where a customer only gets files of entries they may see (another customer's case
//! or an internal post is not found, exactly like the case itself).

use crate::attachment::{Upload, check_uploads, post_body};
use crate::ids::CaseNumber;
use crate::model::{Actor, PostKind, Role, Visibility};
use crate::ports::{AttachmentFile, AttachmentInfo, StoreError};
use crate::workflow::Command;

use super::{CaseService, Outcome, ServiceError};

/// A post with files: what `POST /api/v1/cases/{n}/attachments` and `casework case attach`
/// hand the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePost {
    /// The post's text; without one it says which files were attached.
    pub note: Option<String>,
    /// Who may see the post and its files (a customer's are always customer-visible).
    pub visibility: Visibility,
    /// The files, at least one.
    pub files: Vec<Upload>,
}

/// What a post with files made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The case after the post, as the actor may see it, and the events added.
    pub outcome: Outcome,
    /// The files as kept, in the order given.
    pub files: Vec<AttachmentInfo>,
}

impl CaseService {
    /// Adds a post with files to a case, as one commit: the post's permission is the
    /// workflow's for posts (`add_post`), the files must keep within `[attachments]`
    /// (`max_message_bytes` together, `max_file_bytes` each, at most
    /// [`MAX_ATTACHMENTS`](crate::limits::MAX_ATTACHMENTS)); refused as `Invalid` on field
    /// `files` otherwise, with nothing written. Conflicts are handled as
    /// [`CaseService::execute`] does.
    pub async fn attach(
        &self,
        actor: &Actor,
        number: CaseNumber,
        expected_version: Option<u64>,
        post: FilePost,
    ) -> Result<Attached, ServiceError> {
        check_uploads(&post.files, &self.config.attachments).map_err(ServiceError::Workflow)?;
        let command = Command::AddPost {
            kind: PostKind::Note,
            body: post_body(post.note.as_deref(), &post.files),
            visibility: post.visibility,
        };
        let (outcome, files) = self
            .run(actor, number, expected_version, command, &post.files)
            .await?;
        Ok(Attached { outcome, files })
    }

    /// A case's files, without their bytes, in timeline order: a customer gets those of
    /// customer-visible entries of their own case only.
    pub async fn attachments(
        &self,
        actor: &Actor,
        number: CaseNumber,
    ) -> Result<Vec<AttachmentInfo>, ServiceError> {
        self.visible_case(actor, number).await?;
        let mut files = self.store.attachment_list(number).await?;
        files.retain(|a| may_see(actor, a));
        Ok(files)
    }

    /// One file of a case with its bytes: not found when it belongs to another case or,
    /// for a customer, to an internal entry (as a case they may not see is not found).
    pub async fn attachment(
        &self,
        actor: &Actor,
        number: CaseNumber,
        id: &str,
    ) -> Result<AttachmentFile, ServiceError> {
        self.visible_case(actor, number).await?;
        let not_found = || ServiceError::NotFound(format!("attachment {id}"));
        let file = match self.store.attachment_get(id.to_string()).await {
            Ok(file) => file,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if file.info.case != number || !may_see(actor, &file.info) {
            return Err(not_found());
        }
        Ok(file)
    }
}

/// Whether `actor`, who may see the case, may see this file of it.
pub(super) fn may_see(actor: &Actor, file: &AttachmentInfo) -> bool {
    actor.role != Role::Customer || file.visibility == Visibility::Customer
}
