//! `casework case attach|attachments|download`: a case's files through the service's door
//! (`attach`, `attachments`, `attachment`), which decides who may add, see or fetch what.
//! A download goes only where the user says (`--out FILE`, never over an existing file
//! without `--force`) or to standard output: the name a file was stored under is data, never
//! a path.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use casework_core::CaseService;
use casework_core::attachment::{OPAQUE, Upload};
use casework_core::model::{Actor, Visibility};
use casework_core::ports::AttachmentInfo;
use casework_core::service::FilePost;
use serde_json::json;

use crate::app::Failure;
use crate::output::{self, outln, print_json};

use super::number;

/// `case attach NUMBER FILE… [--internal] [--text TEXT]`.
pub(crate) async fn attach(
    svc: &CaseService,
    who: &Actor,
    json: bool,
    n: &str,
    paths: &[PathBuf],
    internal: bool,
    text: Option<String>,
) -> Result<u8, Failure> {
    let n = number(n)?;
    let most = svc.config().attachments.max_message_bytes;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        files.push(read_file(path, most)?);
    }
    let post = FilePost {
        note: text,
        visibility: if internal {
            Visibility::Internal
        } else {
            Visibility::Customer
        },
        files,
    };
    let done = svc.attach(who, n, None, post).await?;
    if json {
        print_json(&json!({
            "case": done.outcome.case.view(),
            "events": done.outcome.events,
            "files": done.files,
        }))?;
    } else {
        for f in &done.files {
            outln!(
                "Case {}: attached {} ({} bytes, {}) as {}",
                n.display(),
                f.file_name,
                f.size,
                f.visibility,
                f.id
            );
        }
    }
    Ok(0)
}

/// A file to attach, named by its last path component; one that holds more than a post may
/// carry is refused by its size before it is read into memory.
fn read_file(path: &Path, most: u64) -> Result<Upload, Failure> {
    let cannot = |e: std::io::Error| Failure::usage(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > most {
        return Err(Failure::usage(format!(
            "files: {} is {size} bytes, over the limit of {most} bytes for one post \
             ([attachments] max_message_bytes)",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    // a file that grew since: read one byte past the limit, and the service refuses it
    file.take(most.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(Upload {
        file_name: path.file_name().map(|f| f.to_string_lossy().into_owned()),
        content_type: OPAQUE.into(),
        bytes,
    })
}

/// `case attachments NUMBER`.
pub(crate) async fn list(
    svc: &CaseService,
    who: &Actor,
    json: bool,
    n: &str,
) -> Result<u8, Failure> {
    let files = svc.attachments(who, number(n)?).await?;
    if json {
        print_json(&files)?;
    } else if files.is_empty() {
        outln!("No files.");
    } else {
        output::human(&rows(&files))?;
    }
    Ok(0)
}

fn rows(files: &[AttachmentInfo]) -> String {
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                f.id.clone(),
                f.file_name.clone(),
                f.content_type.clone(),
                f.size.to_string(),
                f.visibility.to_string(),
                f.entry.to_string(),
                f.added_by.clone(),
                output::when(f.added_at),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "NAME",
            "TYPE",
            "BYTES",
            "VISIBILITY",
            "#",
            "BY",
            "WHEN",
        ],
        &rows,
    )
}

/// `case download NUMBER ID [--out FILE [--force]]`.
pub(crate) async fn download(
    svc: &CaseService,
    who: &Actor,
    json: bool,
    n: &str,
    id: &str,
    out: Option<&Path>,
    force: bool,
) -> Result<u8, Failure> {
    let file = svc.attachment(who, number(n)?, id).await?;
    match out {
        Some(path) => {
            save(path, &file.bytes, force)?;
            if json {
                print_json(&file.info)?;
            } else {
                outln!(
                    "Saved {} ({} bytes) to {}",
                    file.info.file_name,
                    file.info.size,
                    path.display()
                );
            }
        }
        // one JSON document: what is known of the file, and its bytes in base64
        None if json => print_json(&file)?,
        None => {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                return Err(Failure::usage(
                    "a file is not written to a terminal: give --out FILE, or redirect \
                     standard output",
                ));
            }
            output::write_bytes(&file.bytes)?;
        }
    }
    Ok(0)
}

/// Writes `bytes` to `path`: a new file, or with `force` over an existing one through a
/// file beside it that replaces it whole, so a failed write never leaves half a file.
fn save(path: &Path, bytes: &[u8], force: bool) -> Result<(), Failure> {
    let cannot =
        |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = if force {
        path.with_file_name(format!(".{name}.casework-{}", std::process::id()))
    } else {
        path.to_path_buf()
    };
    // create_new: never over a file that is there (a race included)
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !force => {
            return Err(Failure::usage(format!(
                "{} exists: pass --force to overwrite it",
                path.display()
            )));
        }
        Err(e) => return Err(cannot(e)),
    };
    // the file is ours from here: a failure removes it, so nothing half-written stays
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| match force {
            true => std::fs::rename(&target, path),
            false => Ok(()),
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&target);
        return Err(cannot(e));
    }
    Ok(())
}
