//! Email delivery adapters for the mailer port, chosen by URL:
//!
//! - `dir://PATH` writes each message as an RFC 5322 `.eml` file (what any mail client
//!   opens), named after its Message-ID, so a resend replaces the file instead of adding one;
//! - `smtp://[user:pass@]host[:port]` and `smtps://…` send through an SMTP server (see
//!   [`smtp`]: STARTTLS or implicit TLS, plain only on loopback, optional auth, timeouts);
//! - `log://` only logs a line per message (development).
//!
//! Messages are formatted with lettre's builder: encoded non-ASCII names and subjects, a
//! plain-text UTF-8 body, `Message-ID`, `In-Reply-To` and `References` for threading.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use casework_core::model::OutboxMessage;
use casework_core::ports::{MailError, Mailer};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};

pub mod smtp;
pub use smtp::SmtpMailer;

/// A mailer URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerUrlError(pub String);

impl std::fmt::Display for MailerUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MailerUrlError {}

/// The mailer a URL names.
pub fn mailer_from_url(url: &str) -> Result<Arc<dyn Mailer>, MailerUrlError> {
    if url == "log://" || url == "log:" {
        return Ok(Arc::new(LogMailer));
    }
    if let Some(path) = url.strip_prefix("dir://") {
        if path.is_empty() {
            return Err(MailerUrlError("dir:// needs a folder: dir://PATH".into()));
        }
        return Ok(Arc::new(DirMailer::new(path)));
    }
    if url.starts_with("smtp://") || url.starts_with("smtps://") {
        return Ok(Arc::new(SmtpMailer::from_url(url)?));
    }
    Err(MailerUrlError(format!(
        "unknown mailer URL {url:?}: expected smtp://[user:pass@]host[:port], smtps://…, \
         dir://PATH or log://"
    )))
}

fn mailbox(name: &str, address: &str) -> Result<Mailbox, MailError> {
    let address = address
        .parse()
        .map_err(|e| MailError::Permanent(format!("invalid address {address:?}: {e}")))?;
    Ok(Mailbox::new(Some(name.to_string()), address))
}

/// The message as RFC 5322 bytes.
pub fn format_message(m: &OutboxMessage) -> Result<Vec<u8>, MailError> {
    let date = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(m.created_at.as_second()).unwrap_or(0));
    let thread = format!("<{}>", m.thread_id);
    let message = Message::builder()
        .from(mailbox(&m.from_name, m.from.as_str())?)
        .to(mailbox(&m.to_name, m.to.as_str())?)
        .subject(m.subject.clone())
        .date(date)
        .message_id(Some(format!("<{}>", m.message_id)))
        .in_reply_to(thread.clone())
        .references(thread)
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))?;
    Ok(message.formatted())
}

/// Writes `.eml` files into a folder.
#[derive(Debug, Clone)]
pub struct DirMailer {
    dir: PathBuf,
}

impl DirMailer {
    /// A mailer writing into `dir` (created on first send).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file a message is written to: its Message-ID, made safe for a file name.
    pub fn path_for(&self, m: &OutboxMessage) -> PathBuf {
        let safe: String = m
            .message_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.eml"))
    }
}

#[async_trait]
impl Mailer for DirMailer {
    async fn send(&self, message: &OutboxMessage) -> Result<(), MailError> {
        let bytes = format_message(message)?;
        let io = |e: std::io::Error| MailError::Temporary(format!("{}: {e}", self.dir.display()));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let path = self.path_for(message);
        // write then rename: a reader never sees half a message
        let tmp = path.with_extension("eml.tmp");
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}

/// Logs a line per message to standard error and sends nothing.
#[derive(Debug, Clone, Copy)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, m: &OutboxMessage) -> Result<(), MailError> {
        format_message(m)?;
        eprintln!(
            "mail (log only): to {} <{}>: {} [{}]",
            m.to_name, m.to, m.subject, m.message_id
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> OutboxMessage {
        casework_core::testing::sample_message()
    }

    #[test]
    fn messages_carry_threading_headers_and_encoded_text() {
        let text = String::from_utf8(format_message(&message()).unwrap()).unwrap();
        assert!(
            text.contains("Message-ID: <m1.case-00001027@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("In-Reply-To: <case-00001027@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("References: <case-00001027@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("From: \"Example Corp Support\" <support@example.com>\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        // non-ASCII headers are RFC 2047 encoded, never raw
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(headers.is_ascii(), "{headers}");
        // only the non-ASCII words are encoded: the case tag stays readable to mail filters
        assert!(
            headers.contains("Subject: [Case 00001027] Follow-up: =?utf-8?b?"),
            "{headers}"
        );
        assert!(headers.contains("<zoe@kunde.example>"), "{headers}");
    }

    #[tokio::test]
    async fn the_directory_mailer_writes_one_file_per_message_id() {
        let dir = std::env::temp_dir().join(format!("casework-mail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mailer = DirMailer::new(&dir);
        let m = message();
        mailer.send(&m).await.unwrap();
        mailer.send(&m).await.unwrap(); // a resend after a crash
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "a resend replaces the file");
        let text = std::fs::read_to_string(mailer.path_for(&m)).unwrap();
        assert!(text.contains("Message-ID: <m1.case-00001027@example.com>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mailer_urls_are_checked() {
        assert!(mailer_from_url("log://").is_ok());
        assert!(mailer_from_url("dir:///tmp/x").is_ok());
        assert!(mailer_from_url("dir://").is_err());
        assert!(mailer_from_url("smtp://localhost:2525").is_ok());
        assert!(mailer_from_url("smtps://u:p@mail.example.com").is_ok());
        let clear = mailer_from_url("smtp://mail.example.com?tls=none")
            .err()
            .unwrap();
        assert!(clear.0.contains("only allowed on loopback"), "{clear}");
        assert!(mailer_from_url("ftp://x").is_err());
    }
}
