//! The rules for attached files, once for every input and store: the file name kept
//! ([`file_name`]), the declared type read ([`media_type`]), the type the bytes show
//! ([`sniff`], with `infer`'s magic numbers and a check for markup), and the type a
//! download is served as ([`served_type`]: never a page).

use std::fmt;

use crate::config::AttachmentPolicy;
use crate::event::{Event, EventKind};
use crate::limits::{MAX_ATTACHMENTS, MAX_TEXT};
use crate::model::sha256_hex;
use crate::ports::{AttachmentFile, AttachmentInfo};
use crate::workflow::WorkflowError;

/// A file someone attaches (an upload, or a part of an inbound email): its name and
/// declared type as given, and its bytes. Core cleans the name and checks the type against
/// the bytes when it keeps it ([`keep`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Upload {
    /// The file name as given (`None` or empty: [`UNNAMED`]).
    pub file_name: Option<String>,
    /// The declared content type as given (`application/octet-stream` when unknown).
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Upload {
    // the bytes may be tens of MiB: a debug print shows their count
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

/// Why files break the workflow file's `[attachments]` limits ([`upload_refusal`]): one
/// check, told to staff with the setting that refused ([`UploadRefusal::message`]) and to
/// the sender of an email whose files were held back in plain words
/// ([`UploadRefusal::for_sender`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRefusal {
    /// No file at all.
    Empty,
    /// More than [`MAX_ATTACHMENTS`] files.
    TooMany {
        /// How many there were.
        count: usize,
    },
    /// One file over `max_file_bytes`.
    FileTooBig {
        /// Its cleaned name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit per file.
        limit: u64,
    },
    /// All together over `max_message_bytes`.
    TooMuch {
        /// Their size together.
        total: u64,
        /// The limit per message.
        limit: u64,
    },
}

impl UploadRefusal {
    /// For staff and the API: the sizes in bytes and the setting that refused.
    pub fn message(&self) -> String {
        match self {
            UploadRefusal::Empty => "attach at least one file".into(),
            UploadRefusal::TooMany { count } => {
                format!("{count} files; one post carries at most {MAX_ATTACHMENTS}")
            }
            UploadRefusal::FileTooBig { name, size, limit } => format!(
                "{name} is {size} bytes, over the limit of {limit} bytes per file \
                 ([attachments] max_file_bytes)"
            ),
            UploadRefusal::TooMuch { total, limit } => format!(
                "the files are {total} bytes together, over the limit of {limit} bytes \
                 ([attachments] max_message_bytes)"
            ),
        }
    }

    /// For the person whose email carried the files: sizes as people read them, no
    /// setting names.
    pub fn for_sender(&self) -> String {
        match self {
            UploadRefusal::Empty => "it carried no file".into(),
            UploadRefusal::TooMany { count } => format!(
                "it carried {count} files, and we keep at most {MAX_ATTACHMENTS} from one message"
            ),
            UploadRefusal::FileTooBig { name, size, limit } => format!(
                "{name} is {}, and we keep files of at most {}",
                size_label(*size),
                size_label(*limit)
            ),
            UploadRefusal::TooMuch { total, limit } => format!(
                "its files come to {} together, and we keep at most {} from one message",
                size_label(*total),
                size_label(*limit)
            ),
        }
    }
}

/// Whether files keep within the workflow file's `[attachments]` limits: at least one, at
/// most [`MAX_ATTACHMENTS`], none over `max_file_bytes`, all together within
/// `max_message_bytes`; `None` when they do.
pub fn upload_refusal(files: &[Upload], policy: &AttachmentPolicy) -> Option<UploadRefusal> {
    let sizes: Vec<(Option<&str>, u64)> = files
        .iter()
        .map(|f| (f.file_name.as_deref(), f.bytes.len() as u64))
        .collect();
    sized_refusal(&sizes, policy)
}

/// [`upload_refusal`] of files given by their names as given and their sizes, for files
/// held elsewhere (an email's parts) without copying their bytes to check them.
pub fn sized_refusal(
    files: &[(Option<&str>, u64)],
    policy: &AttachmentPolicy,
) -> Option<UploadRefusal> {
    if files.is_empty() {
        return Some(UploadRefusal::Empty);
    }
    if files.len() > MAX_ATTACHMENTS {
        return Some(UploadRefusal::TooMany { count: files.len() });
    }
    if let Some((name, size)) = files.iter().find(|(_, size)| *size > policy.max_file_bytes) {
        return Some(UploadRefusal::FileTooBig {
            name: name.and_then(file_name).unwrap_or_else(|| UNNAMED.into()),
            size: *size,
            limit: policy.max_file_bytes,
        });
    }
    let total: u64 = files.iter().map(|(_, size)| size).sum();
    (total > policy.max_message_bytes).then_some(UploadRefusal::TooMuch {
        total,
        limit: policy.max_message_bytes,
    })
}

/// [`upload_refusal`] as a refusal naming field `files` and the setting that refused.
pub fn check_uploads(files: &[Upload], policy: &AttachmentPolicy) -> Result<(), WorkflowError> {
    match upload_refusal(files, policy) {
        None => Ok(()),
        Some(refusal) => Err(WorkflowError::Invalid {
            field: "files".into(),
            message: refusal.message(),
        }),
    }
}

/// A size as people read it: bytes, KB or MB (1024-based, one decimal under ten).
pub fn size_label(bytes: u64) -> String {
    let (value, unit) = match bytes {
        b if b < 1024 => return format!("{b} bytes"),
        b if b < 1024 * 1024 => (b as f64 / 1024.0, "KB"),
        b => (b as f64 / (1024.0 * 1024.0), "MB"),
    };
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// The text of a post that carries files: the note given, else which files it carries
/// (`Attached: report.pdf, screen.png`), within the post's length limit.
pub fn post_body(note: Option<&str>, files: &[Upload]) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let names: Vec<String> = files
                .iter()
                .map(|f| {
                    f.file_name
                        .as_deref()
                        .and_then(file_name)
                        .unwrap_or_else(|| UNNAMED.into())
                })
                .collect();
            let text = format!("Attached: {}", names.join(", "));
            text.chars().take(MAX_TEXT).collect()
        }
    }
}

/// The name a file is kept under when it came without a usable one.
pub const UNNAMED: &str = "attachment";

/// What is sent for a file whose type could make a browser run it or render it as a page.
pub const OPAQUE: &str = "application/octet-stream";

/// A file name as kept: without any directory part (`/` or `\`), on one line, without
/// control or bidirectional-override characters or leading dots, cut at
/// [`MAX_FILE_NAME`](crate::limits::MAX_FILE_NAME) characters; `None` when nothing is left.
pub fn file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean = crate::inbound::one_line(base, crate::limits::MAX_FILE_NAME);
    let clean = clean.trim_start_matches('.').trim_end();
    (!clean.is_empty()).then(|| clean.to_string())
}

/// A content type as kept: its `type/subtype`, lower-case, without parameters; `None` when
/// it is not one (RFC 6838 restricted names).
pub fn media_type(raw: &str) -> Option<String> {
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (name(kind) && name(sub)).then_some(essence)
}

/// The content type the bytes show: a known magic number (`infer`), else markup a browser
/// would render (HTML, SVG, XML), else `text/plain` for UTF-8 text without NUL bytes, else
/// [`OPAQUE`]. Never what the sender declared.
pub fn sniff(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(1024)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let inferred =
        infer::get(bytes).map(|t| media_type(t.mime_type()).unwrap_or_else(|| OPAQUE.into()));
    if let Some(t) = inferred.as_ref().filter(|t| !t.starts_with("text/")) {
        return t.clone();
    }
    if lower.contains("<svg") {
        return "image/svg+xml".into();
    }
    if let Some(t) = inferred {
        return t;
    }
    let start = lower.trim_start_matches('\u{feff}').trim_start();
    if [
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
    ]
    .iter()
    .any(|tag| start.starts_with(tag))
    {
        return "text/html".into();
    }
    if start.starts_with("<?xml") {
        return "text/xml".into();
    }
    if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        return "text/plain".into();
    }
    OPAQUE.into()
}

/// Whether a browser given this type might render it as a page or run it: HTML, XHTML,
/// SVG, XML, scripts, and any text but plain text.
pub fn is_active(media_type: &str) -> bool {
    media_type.starts_with("text/") && media_type != "text/plain"
        || media_type.contains("html")
        || media_type.contains("xml")
        || media_type.contains("javascript")
        || media_type.contains("ecmascript")
        || media_type.contains("script")
}

/// The type a download is served as: the type the bytes show, unless they show, or the
/// sender declared, something a browser could render as a page or run: then [`OPAQUE`].
/// Plain text is served with `charset=utf-8` (the bytes were checked to be UTF-8).
pub fn served_type(declared: &str, sniffed: &str) -> String {
    if is_active(sniffed) || is_active(declared) {
        OPAQUE.into()
    } else if sniffed == "text/plain" {
        "text/plain; charset=utf-8".into()
    } else {
        sniffed.into()
    }
}

/// The `Content-Disposition` of a download: always `attachment` (never shown inline), with
/// an ASCII `filename=` for old clients (anything else, and `"`, `\` and `%`, become `_`)
/// and the real name as RFC 8187 `filename*=UTF-8''…`, percent-encoded but for RFC 5987's
/// `attr-char`s. The name was cleaned when kept, but this holds for any string.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The headers every download of a kept file is sent with, whichever front-end serves it:
/// its [`served_type`], [`content_disposition`], `nosniff`, a sandboxing
/// `Content-Security-Policy` (a file opened anyway runs nothing and loads nothing), private
/// caching, and an `ETag` made from its SHA-256.
pub fn download_headers(info: &AttachmentInfo) -> [(&'static str, String); 6] {
    [
        (
            "content-type",
            served_type(&info.declared_type, &info.content_type),
        ),
        ("content-disposition", content_disposition(&info.file_name)),
        ("x-content-type-options", "nosniff".into()),
        (
            "content-security-policy",
            "sandbox; default-src 'none'".into(),
        ),
        ("cache-control", "private, no-cache".into()),
        ("etag", format!("\"{}\"", info.sha256)),
    ]
}

/// A file as it is kept with `entry` (a post or a received email, else `None`): under `id`,
/// its name cleaned ([`file_name`], [`UNNAMED`] when none is left), its declared type read
/// ([`media_type`], [`OPAQUE`] when it is not one), the type its bytes show, its size and
/// SHA-256, and its entry's visibility, actor and time: what
/// [`check_attachments`](crate::ports::check_attachments) accepts.
pub fn keep(
    id: String,
    entry: &Event,
    name: Option<&str>,
    declared: &str,
    bytes: Vec<u8>,
) -> Option<AttachmentFile> {
    let visibility = match &entry.kind {
        EventKind::PostAdded { visibility, .. } | EventKind::EmailReceived { visibility, .. } => {
            *visibility
        }
        _ => return None,
    };
    let info = AttachmentInfo {
        id,
        case: entry.case,
        entry: entry.seq,
        file_name: name.and_then(file_name).unwrap_or_else(|| UNNAMED.into()),
        declared_type: media_type(declared)
            .filter(|t| t.len() <= crate::limits::MAX_MEDIA_TYPE)
            .unwrap_or_else(|| OPAQUE.into()),
        content_type: sniff(&bytes),
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        visibility,
        added_by: entry.actor.clone(),
        added_at: entry.at,
    };
    Some(AttachmentFile { info, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str, size: usize) -> Upload {
        Upload {
            file_name: Some(name.into()),
            content_type: "application/pdf".into(),
            bytes: vec![b'x'; size],
        }
    }

    #[test]
    fn uploads_keep_within_the_workflow_files_limits() {
        let policy = AttachmentPolicy {
            max_message_bytes: 3000,
            max_file_bytes: 2000,
        };
        assert!(check_uploads(&[upload("a", 1500), upload("b", 1500)], &policy).is_ok());
        let refusal = |files: &[Upload]| match check_uploads(files, &policy) {
            Err(WorkflowError::Invalid { field, message }) => {
                assert_eq!(field, "files");
                message
            }
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(refusal(&[]), "attach at least one file");
        assert_eq!(
            refusal(&[upload("../big.pdf", 2001)]),
            "big.pdf is 2001 bytes, over the limit of 2000 bytes per file \
             ([attachments] max_file_bytes)"
        );
        assert_eq!(
            refusal(&[upload("a", 2000), upload("b", 1001)]),
            "the files are 3001 bytes together, over the limit of 3000 bytes \
             ([attachments] max_message_bytes)"
        );
        let many: Vec<Upload> = (0..=MAX_ATTACHMENTS).map(|_| upload("a", 1)).collect();
        assert!(refusal(&many).contains("at most 100"));
    }

    #[test]
    fn the_sender_of_held_back_files_reads_sizes_not_settings() {
        let policy = AttachmentPolicy {
            max_message_bytes: 25 * 1024 * 1024,
            max_file_bytes: 10 * 1024 * 1024,
        };
        let told = |files: &[(Option<&str>, u64)]| {
            let refusal = sized_refusal(files, &policy).expect("refused");
            let text = refusal.for_sender();
            assert!(
                !text.contains("max_"),
                "a setting name reached the sender: {text}"
            );
            text
        };
        assert_eq!(told(&[]), "it carried no file");
        let many = vec![(Some("a.txt"), 1); MAX_ATTACHMENTS + 1];
        assert_eq!(
            told(&many),
            "it carried 101 files, and we keep at most 100 from one message"
        );
        assert_eq!(
            told(&[(Some("C:\\logs\\dump.bin"), 12 * 1024 * 1024)]),
            "dump.bin is 12 MB, and we keep files of at most 10 MB"
        );
        assert_eq!(
            told(&[
                (None, 9 * 1024 * 1024),
                (None, 9 * 1024 * 1024),
                (None, 9 * 1024 * 1024)
            ]),
            "its files come to 27 MB together, and we keep at most 25 MB from one message"
        );
    }

    #[test]
    fn a_post_without_a_note_says_which_files_it_carries() {
        let files = [
            upload("dir/a.pdf", 1),
            Upload {
                file_name: None,
                ..upload("", 1)
            },
        ];
        assert_eq!(post_body(None, &files), "Attached: a.pdf, attachment");
        assert_eq!(post_body(Some("  "), &files), "Attached: a.pdf, attachment");
        assert_eq!(post_body(Some("The log"), &files), "The log");
    }

    #[test]
    fn file_names_lose_directories_control_characters_and_length() {
        assert_eq!(file_name("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            file_name("C:\\Users\\me\\a b.txt").as_deref(),
            Some("a b.txt")
        );
        assert_eq!(
            file_name("evil\r\nX-Header: 1.txt").as_deref(),
            Some("evil X-Header: 1.txt")
        );
        assert_eq!(file_name("a\u{202e}fdp.exe").as_deref(), Some("afdp.exe"));
        assert_eq!(file_name(".htaccess").as_deref(), Some("htaccess"));
        assert_eq!(file_name("dir/"), None);
        assert_eq!(file_name("  "), None);
        let long = "é".repeat(400);
        assert_eq!(file_name(&long).map(|n| n.chars().count()), Some(255));
    }

    #[test]
    fn media_types_are_lower_case_essences() {
        assert_eq!(
            media_type("Text/HTML; charset=utf-8").as_deref(),
            Some("text/html")
        );
        assert_eq!(
            media_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
                .as_deref(),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(media_type("image"), None);
        assert_eq!(media_type("text/ html"), None);
        assert_eq!(media_type("a/b\r\nX: y"), None);
    }

    #[test]
    fn the_bytes_decide_the_type_not_the_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(sniff(b"  <!DOCTYPE html><p>hi"), "text/html");
        assert_eq!(sniff(b"<script>alert(1)</script>"), "text/html");
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><a/>"), "text/xml");
        assert_eq!(sniff("hello, wörld\n".as_bytes()), "text/plain");
        assert_eq!(sniff(b"\0\x01\x02\xff"), OPAQUE);
    }

    #[test]
    fn a_download_names_its_file_safely_in_both_forms() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("say \"hi\"\\ é 100%.txt"),
            "attachment; filename=\"say _hi__ _ 100_.txt\"; \
             filename*=UTF-8''say%20%22hi%22%5C%20%C3%A9%20100%25.txt"
        );
        // a CR or LF never reaches a header, even in a name that was not cleaned
        let header = content_disposition("a\r\nSet-Cookie: x;.txt");
        assert!(!header.contains(['\r', '\n']), "{header}");
        assert!(header.ends_with("filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3B.txt"));
        assert!(header.contains("filename=\"a__Set-Cookie: x;.txt\""));
        assert_eq!(
            content_disposition("日本.png"),
            "attachment; filename=\"__.png\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png"
        );
    }

    #[test]
    fn markup_is_never_served_as_itself() {
        assert_eq!(served_type("text/html", "text/html"), OPAQUE);
        assert_eq!(served_type("image/png", "image/svg+xml"), OPAQUE);
        assert_eq!(served_type("text/plain", "text/xml"), OPAQUE);
        // declared as a page, even when the bytes look like plain text
        assert_eq!(served_type("text/html", "text/plain"), OPAQUE);
        assert_eq!(
            served_type("application/pdf", "application/pdf"),
            "application/pdf"
        );
        assert_eq!(served_type("image/jpeg", "image/png"), "image/png");
        assert_eq!(
            served_type("text/plain", "text/plain"),
            "text/plain; charset=utf-8"
        );
    }
}
