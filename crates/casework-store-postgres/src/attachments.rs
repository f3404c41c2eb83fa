//! Attachments on PostgreSQL: one row per file in a table of its own (schema v10), its
//! metadata as `jsonb` beside the columns a list reads and its bytes as `bytea`, inserted by
//! `cases::commit` in the commit's transaction, so a post and its files are one write.

use casework_core::ids::CaseNumber;
use casework_core::ports::{AttachmentFile, AttachmentInfo, Commit, StoreError, file_clash};
use deadpool_postgres::GenericClient;

use crate::db::{big, enc, exec, get, json, jsonb, num, opt, rows};

/// Inserts a commit's files (already checked by core's `check_attachments`); `Duplicate`
/// when an id is taken.
pub async fn insert(c: &impl GenericClient, commit: &Commit) -> Result<(), StoreError> {
    insert_files(c, &commit.attachments).await
}

/// Writes an imported case's files (already checked by core's `check_record`): each one
/// not stored is inserted, one stored the same is left; `Duplicate` when another file holds
/// an id (core's `file_clash`).
pub async fn import(c: &impl GenericClient, files: &[AttachmentFile]) -> Result<(), StoreError> {
    for f in files {
        let stored: Option<AttachmentInfo> = opt(
            c,
            "SELECT info FROM attachments WHERE id = $1",
            &[&enc(&f.info.id)],
        )
        .await?
        .map(|row| json(&row, 0))
        .transpose()?;
        if !file_clash(stored.as_ref(), &f.info)? {
            insert_files(c, std::slice::from_ref(f)).await?;
        }
    }
    Ok(())
}

async fn insert_files(c: &impl GenericClient, files: &[AttachmentFile]) -> Result<(), StoreError> {
    for a in files {
        exec(
            c,
            "INSERT INTO attachments (id, case_number, entry, info, bytes) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &enc(&a.info.id),
                &num(a.info.case),
                &big(a.info.entry),
                &jsonb(&a.info)?,
                &a.bytes,
            ],
        )
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => StoreError::Duplicate(format!("attachment {}", a.info.id)),
            other => other,
        })?;
    }
    Ok(())
}

/// A case's files without their bytes, in entry order, then id order; `NotFound` for an
/// unknown case.
pub async fn list(
    c: &impl GenericClient,
    n: CaseNumber,
) -> Result<Vec<AttachmentInfo>, StoreError> {
    let found = rows(
        c,
        "SELECT info FROM attachments WHERE case_number = $1 ORDER BY entry, id",
        &[&num(n)],
    )
    .await?;
    if found.is_empty()
        && opt(c, "SELECT 1 FROM cases WHERE number = $1", &[&num(n)])
            .await?
            .is_none()
    {
        return Err(StoreError::NotFound(format!("case {n}")));
    }
    found.iter().map(|r| json(r, 0)).collect()
}

/// One file with its bytes; `NotFound` when there is none.
pub async fn get_one(c: &impl GenericClient, id: &str) -> Result<AttachmentFile, StoreError> {
    let row = opt(
        c,
        "SELECT info, bytes FROM attachments WHERE id = $1",
        &[&enc(id)],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
    Ok(AttachmentFile {
        info: json(&row, 0)?,
        bytes: get(&row, 1)?,
    })
}
