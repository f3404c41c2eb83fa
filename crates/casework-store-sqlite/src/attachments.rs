//! Attachments on SQLite: one row per file in a table of its own (schema v16), its
//! metadata as JSON beside the columns a list reads and its bytes as a BLOB, inserted by
//! `sql::commit` in the commit's transaction, so a post and its files are one write.

use casework_core::ids::CaseNumber;
use casework_core::ports::{AttachmentFile, AttachmentInfo, Commit, StoreError, file_clash};
use rusqlite::{Connection, OptionalExtension, params};

use crate::sql::{json_err, json_rows, map_err, to_json};

/// Inserts a commit's files (already checked by core's `check_attachments`); `Duplicate`
/// when an id is taken.
pub fn insert(conn: &Connection, c: &Commit) -> Result<(), StoreError> {
    insert_files(conn, &c.attachments)
}

/// Writes an imported case's files (already checked by core's `check_record`): each one
/// not stored is inserted, one stored the same is left; `Duplicate` when another file holds
/// an id (core's `file_clash`).
pub fn import(conn: &Connection, files: &[AttachmentFile]) -> Result<(), StoreError> {
    for f in files {
        let stored: Option<String> = conn
            .prepare_cached("SELECT info FROM attachments WHERE id = ?1")
            .and_then(|mut s| s.query_row([&f.info.id], |r| r.get(0)).optional())
            .map_err(map_err)?;
        let stored: Option<AttachmentInfo> = stored
            .map(|text| serde_json::from_str(&text).map_err(json_err))
            .transpose()?;
        if !file_clash(stored.as_ref(), &f.info)? {
            insert_files(conn, std::slice::from_ref(f))?;
        }
    }
    Ok(())
}

fn insert_files(conn: &Connection, files: &[AttachmentFile]) -> Result<(), StoreError> {
    for a in files {
        let info = to_json(&a.info)?;
        conn.prepare_cached(
            "INSERT INTO attachments (id, case_number, entry, info, bytes) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.info.id,
                a.info.case.get() as i64,
                a.info.entry as i64,
                info,
                a.bytes
            ])
        })
        .map_err(|e| match map_err(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate(format!("attachment {}", a.info.id)),
            other => other,
        })?;
    }
    Ok(())
}

/// A case's files without their bytes, in entry order, then id order.
pub fn list(conn: &Connection, n: CaseNumber) -> Result<Vec<AttachmentInfo>, StoreError> {
    let out = json_rows(
        conn,
        "SELECT info FROM attachments WHERE case_number = ?1 ORDER BY entry, id",
        [n.get() as i64],
    )?;
    if out.is_empty() && crate::sql::current_version(conn, n)?.is_none() {
        return Err(StoreError::NotFound(format!("case {n}")));
    }
    Ok(out)
}

/// One file with its bytes.
pub fn get(conn: &Connection, id: &str) -> Result<AttachmentFile, StoreError> {
    let (info, bytes): (String, Vec<u8>) = conn
        .prepare_cached("SELECT info, bytes FROM attachments WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(map_err)?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
    Ok(AttachmentFile {
        info: serde_json::from_str(&info).map_err(json_err)?,
        bytes,
    })
}
