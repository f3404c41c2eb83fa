//! Fetching inbound mail from an IMAP mailbox, without losing or repeating any.
//!
//! `imaps://user[:pass]@host[:993]/MAILBOX` is TLS from the first byte;
//! `imap://user[:pass]@host[:143]/MAILBOX` requires STARTTLS; plain IMAP (`?tls=none`, or
//! any `imap://` URL naming a loopback host) is only allowed on loopback, as for SMTP
//! ([`crate::smtp`]). Certificates are always verified (public roots, plus `ca=FILE.pem`
//! for a private CA). The password is the URL's, else the environment variable
//! [`PASSWORD_ENV`]. Query options: `tls=starttls|none`, `timeout=30s` (each IMAP
//! exchange), `ca=PATH`, `batch=N` (messages per fetch, default 50), `processed=FOLDER`
//! (move taken messages there instead of only marking them `\Seen`).
//!
//! The adapter keeps no state: the caller passes in the [`MailboxState`] it committed
//! (UIDVALIDITY and the last UID taken) and gets the next state out with each [`Batch`].
//! Nothing is marked or moved until the caller says, with [`ImapMailbox::confirm`], that the
//! messages are committed; a crash between fetch and confirm only means the same messages
//! come back, which the pipeline's idempotency keys make harmless. A changed UIDVALIDITY
//! (the mailbox was recreated, so old UIDs mean nothing) is reported, never guessed around.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::MailerUrlError;
use crate::inbound::DEFAULT_MAX_BYTES;
use crate::net::{self, Security};

/// The environment variable holding the IMAP password when the URL has none.
pub const PASSWORD_ENV: &str = "CASEWORK_IMAP_PASSWORD";

/// Time allowed for each IMAP exchange when the URL sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Messages fetched per batch when the URL sets no `batch`.
pub const DEFAULT_BATCH: usize = 50;

/// Most messages per batch a URL may ask for.
pub const MAX_BATCH: usize = 1000;

/// An IMAP mailbox URL, parsed and checked.
#[derive(Clone)]
pub struct ImapSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// The mailbox to read (`INBOX` when the URL names none).
    pub mailbox: String,
    /// Where confirmed messages are moved; `None` marks them `\Seen` where they are.
    pub processed: Option<String>,
    /// Time allowed for each IMAP exchange.
    pub timeout: Duration,
    /// PEM file of extra trusted root certificates.
    pub ca: Option<PathBuf>,
    /// Most messages per batch.
    pub batch: usize,
    /// Largest message fetched whole, in bytes; larger ones come as headers only.
    pub max_bytes: usize,
}

impl fmt::Debug for ImapSettings {
    // never print the password
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("mailbox", &self.mailbox)
            .field("processed", &self.processed)
            .field("timeout", &self.timeout)
            .field("ca", &self.ca)
            .field("batch", &self.batch)
            .finish()
    }
}

impl ImapSettings {
    /// Parses `imap://…` or `imaps://…`, taking the password from [`PASSWORD_ENV`] when the
    /// URL has none.
    pub fn parse(text: &str) -> Result<Self, MailerUrlError> {
        Self::parse_with_password(text, std::env::var(PASSWORD_ENV).ok())
    }

    /// Parses a URL; `env_password` is used when the URL carries no password.
    pub fn parse_with_password(
        text: &str,
        env_password: Option<String>,
    ) -> Result<Self, MailerUrlError> {
        let bad = |why: String| MailerUrlError(format!("IMAP URL: {why}"));
        let url = url::Url::parse(text).map_err(|e| bad(format!("{e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host: expected imaps://user@host[:port]/MAILBOX".into()))?
            .to_string();
        let mut tls = None;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut ca = None;
        let mut processed = None;
        let mut batch = DEFAULT_BATCH;
        for (key, value) in url.query_pairs() {
            match &*key {
                "tls" => tls = Some(value.into_owned()),
                "timeout" => {
                    timeout = net::parse_timeout(&value).ok_or_else(|| {
                        bad(format!("timeout={value}: expected e.g. 500ms, 30s or 2m"))
                    })?;
                }
                "ca" => ca = Some(PathBuf::from(&*value)),
                "processed" => processed = Some(mailbox_name("processed", &value).map_err(bad)?),
                "batch" => {
                    batch = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_BATCH).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "batch={value}: expected a number from 1 to {MAX_BATCH}"
                            ))
                        })?;
                }
                other => {
                    return Err(bad(format!(
                        "unknown option {other:?} (known: tls, timeout, ca, batch, processed)"
                    )));
                }
            }
        }
        let security = net::security(
            ("imap", "imaps"),
            url.scheme(),
            tls.as_deref(),
            &host,
            "send mail and passwords",
        )
        .map_err(bad)?;
        let port = url.port().unwrap_or(match security {
            Security::ImplicitTls => 993,
            Security::StartTls | Security::Plain => 143,
        });
        let (user, password) = match net::userinfo(&url).map_err(bad)? {
            None => return Err(bad("no user: expected imaps://user@host/MAILBOX".into())),
            Some((user, Some(pass))) => (user, pass),
            Some((user, None)) => match env_password {
                Some(p) if !p.is_empty() => (user, p),
                _ => {
                    return Err(bad(format!(
                        "no password: put it in the URL (user:pass@host) or in {PASSWORD_ENV}"
                    )));
                }
            },
        };
        let path = percent_encoding::percent_decode_str(url.path().trim_start_matches('/'))
            .decode_utf8()
            .map_err(|_| bad("the mailbox name must be UTF-8 when decoded".into()))?;
        let mailbox = if path.is_empty() {
            "INBOX".to_string()
        } else {
            mailbox_name("mailbox", &path).map_err(bad)?
        };
        if let Some(path) = &ca
            && !path.is_file()
        {
            return Err(bad(format!("ca={}: no such file", path.display())));
        }
        Ok(Self {
            host,
            port,
            security,
            user,
            password,
            mailbox,
            processed,
            timeout,
            ca,
            batch,
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }
}

impl ImapSettings {
    /// The key the mailbox's read position is saved under: `imap://USER@HOST:PORT/MAILBOX`
    /// (the host in lower case), the same whatever the scheme, password or options, so a
    /// URL that only changes `processed=`, `batch=` or the password keeps its position.
    pub fn position_key(&self) -> String {
        format!(
            "imap://{}@{}:{}/{}",
            self.user,
            self.host.to_ascii_lowercase(),
            self.port,
            self.mailbox
        )
    }
}

/// A mailbox name as IMAP takes it: not empty, no control character.
fn mailbox_name(what: &str, name: &str) -> Result<String, String> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(format!(
            "{what} {name:?}: expected a folder name on one line"
        ));
    }
    Ok(name.to_string())
}

/// Where reading a mailbox stands: what the caller commits with the messages it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MailboxState {
    /// The mailbox's UIDVALIDITY when the UIDs were read: UIDs from another value name
    /// other messages.
    pub uid_validity: u32,
    /// The highest UID taken; the next fetch asks for the ones above it.
    pub last_uid: u32,
}

/// One message fetched, by UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Its UID in the mailbox.
    pub uid: u32,
    /// What was fetched.
    pub content: Fetched,
}

/// What was fetched of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The whole message, as the server stores it.
    Raw(Vec<u8>),
    /// The message is over the size limit: only its header, to quarantine it and tell the
    /// sender.
    TooLarge {
        /// The size the server gives, in bytes.
        size: u64,
        /// The message's header section.
        header: Vec<u8>,
    },
}

/// The messages after a state, and the state after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The messages, by ascending UID.
    pub messages: Vec<FetchedMessage>,
    /// The state once these messages are committed (unchanged when there were none).
    pub state: MailboxState,
    /// Whether more messages wait beyond this batch.
    pub more: bool,
}

/// What can go wrong talking to the IMAP server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapError {
    /// The server cannot be reached, or the connection broke.
    #[error("IMAP {server}: {reason}")]
    Connection {
        /// `host:port`.
        server: String,
        /// What happened.
        reason: String,
    },
    /// TLS failed: the certificate is not trusted, or the handshake failed.
    #[error("IMAP {server}: TLS: {reason}")]
    Tls {
        /// `host:port`.
        server: String,
        /// What happened.
        reason: String,
    },
    /// The server refused the user name or password.
    #[error("IMAP {server}: login refused for {user}: {reason}")]
    Login {
        /// `host:port`.
        server: String,
        /// The user name.
        user: String,
        /// The server's answer.
        reason: String,
    },
    /// The mailbox cannot be selected (or the processed folder cannot be used).
    #[error("IMAP {server}: mailbox {mailbox}: {reason}")]
    Mailbox {
        /// `host:port`.
        server: String,
        /// The folder.
        mailbox: String,
        /// The server's answer.
        reason: String,
    },
    /// The mailbox's UIDVALIDITY is not the one the state was read under: its UIDs were
    /// renumbered (the mailbox was recreated or restored), so the caller must decide how
    /// to start again.
    #[error(
        "IMAP mailbox {mailbox}: UIDVALIDITY changed from {expected} to {found}; \
         the saved position no longer applies"
    )]
    UidValidityChanged {
        /// The folder.
        mailbox: String,
        /// The UIDVALIDITY in the caller's state.
        expected: u32,
        /// The mailbox's UIDVALIDITY now.
        found: u32,
    },
    /// A command failed or the server answered something unexpected.
    #[error("IMAP {server}: {command}: {reason}")]
    Command {
        /// `host:port`.
        server: String,
        /// What was asked.
        command: &'static str,
        /// What happened.
        reason: String,
    },
    /// An exchange took longer than the timeout.
    #[error("IMAP {server}: {command} timed out after {after:?}")]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was asked.
        command: &'static str,
        /// The timeout.
        after: Duration,
    },
}

impl ImapError {
    /// Whether trying again later may succeed (the network, the server, a timeout), as
    /// opposed to a setting to fix (login, mailbox, certificate) or a decision to take
    /// (UIDVALIDITY).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            ImapError::Connection { .. } | ImapError::Command { .. } | ImapError::Timeout { .. }
        )
    }
}

/// Any stream IMAP can run over: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

type Stream = Box<dyn Io>;

/// A selected IMAP mailbox, logged in.
pub struct ImapMailbox {
    session: Session<Stream>,
    settings: ImapSettings,
    server: String,
    uid_validity: u32,
}

impl fmt::Debug for ImapMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapMailbox")
            .field("server", &self.server)
            .field("mailbox", &self.settings.mailbox)
            .field("uid_validity", &self.uid_validity)
            .finish()
    }
}

impl ImapMailbox {
    /// Connects, logs in and selects the mailbox, reading its UIDVALIDITY.
    pub async fn connect(settings: &ImapSettings) -> Result<Self, ImapError> {
        let server = format!("{}:{}", settings.host, settings.port);
        let t = settings.timeout;
        let conn = |reason: String| ImapError::Connection {
            server: server.clone(),
            reason,
        };
        let tls_error = |reason: String| ImapError::Tls {
            server: server.clone(),
            reason,
        };
        let tcp = within(&server, "connect", t, async {
            TcpStream::connect((settings.host.as_str(), settings.port))
                .await
                .map_err(|e| conn(e.to_string()))
        })
        .await?;
        let config = net::tls_config(settings.ca.as_deref()).map_err(tls_error)?;
        let name = rustls_pki_types::ServerName::try_from(settings.host.clone())
            .map_err(|e| tls_error(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let stream: Stream = match settings.security {
            Security::Plain => Box::new(tcp),
            Security::ImplicitTls => Box::new(
                within(&server, "TLS handshake", t, async {
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| tls_error(e.to_string()))
                })
                .await?,
            ),
            Security::StartTls => {
                let mut client = Client::new(tcp);
                greeting(&mut client, &server, t).await?;
                within(&server, "STARTTLS", t, async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| tls_error(format!("STARTTLS refused: {e}")))
                })
                .await?;
                let tcp = client.into_inner();
                Box::new(
                    within(&server, "TLS handshake", t, async {
                        connector
                            .connect(name, tcp)
                            .await
                            .map_err(|e| tls_error(e.to_string()))
                    })
                    .await?,
                )
            }
        };
        let mut client = Client::new(stream);
        if settings.security != Security::StartTls {
            greeting(&mut client, &server, t).await?;
        }
        let mut session = within(&server, "LOGIN", t, async {
            client
                .login(&settings.user, &settings.password)
                .await
                .map_err(|(e, _)| ImapError::Login {
                    server: server.clone(),
                    user: settings.user.clone(),
                    reason: e.to_string(),
                })
        })
        .await?;
        let selected = within(&server, "SELECT", t, async {
            session
                .select(&settings.mailbox)
                .await
                .map_err(|e| ImapError::Mailbox {
                    server: server.clone(),
                    mailbox: settings.mailbox.clone(),
                    reason: e.to_string(),
                })
        })
        .await?;
        let uid_validity = selected.uid_validity.ok_or_else(|| ImapError::Mailbox {
            server: server.clone(),
            mailbox: settings.mailbox.clone(),
            reason: "the server gave no UIDVALIDITY".into(),
        })?;
        Ok(Self {
            session,
            settings: settings.clone(),
            server,
            uid_validity,
        })
    }

    /// The selected mailbox's UIDVALIDITY.
    pub fn uid_validity(&self) -> u32 {
        self.uid_validity
    }

    /// The state to start from when nothing was taken yet: this UIDVALIDITY, UID 0.
    pub fn initial_state(&self) -> MailboxState {
        MailboxState {
            uid_validity: self.uid_validity,
            last_uid: 0,
        }
    }

    /// The next batch of messages with a UID above `state.last_uid` (at most the URL's
    /// `batch`), fetched with `BODY.PEEK[]` so nothing is marked read. Fails with
    /// [`ImapError::UidValidityChanged`] when `state` was read under another UIDVALIDITY.
    pub async fn fetch_after(&mut self, state: MailboxState) -> Result<Batch, ImapError> {
        if state.uid_validity != self.uid_validity {
            return Err(ImapError::UidValidityChanged {
                mailbox: self.settings.mailbox.clone(),
                expected: state.uid_validity,
                found: self.uid_validity,
            });
        }
        let (server, t) = (self.server.clone(), self.settings.timeout);
        let first = state.last_uid.saturating_add(1);
        let query = format!("UID {first}:*");
        let session = &mut self.session;
        let found = within(&server, "UID SEARCH", t, async {
            session
                .uid_search(&query)
                .await
                .map_err(|e| command(&server, "UID SEARCH", e))
        })
        .await?;
        // `N:*` always matches the highest UID, even below N: keep only newer ones
        let mut uids: Vec<u32> = found.into_iter().filter(|&u| u > state.last_uid).collect();
        uids.sort_unstable();
        let more = uids.len() > self.settings.batch;
        uids.truncate(self.settings.batch);
        if uids.is_empty() {
            return Ok(Batch {
                messages: Vec::new(),
                state,
                more: false,
            });
        }
        let set = uid_set(&uids);
        let sizes = self.fetch_items(&set, "(UID RFC822.SIZE)").await?;
        let (small, large): (Vec<u32>, Vec<u32>) = uids.iter().partition(|u| {
            sizes
                .iter()
                .find(|(uid, _, _)| uid == *u)
                .and_then(|(_, size, _)| *size)
                .is_none_or(|s| (s as usize) <= self.settings.max_bytes)
        });
        let mut messages = Vec::with_capacity(uids.len());
        if !small.is_empty() {
            for (uid, _, body) in self
                .fetch_items(&uid_set(&small), "(UID BODY.PEEK[])")
                .await?
            {
                if let Some(raw) = body {
                    messages.push(FetchedMessage {
                        uid,
                        content: Fetched::Raw(raw),
                    });
                }
            }
        }
        if !large.is_empty() {
            let headers = self
                .fetch_items(&uid_set(&large), "(UID RFC822.SIZE BODY.PEEK[HEADER])")
                .await?;
            for (uid, size, header) in headers {
                messages.push(FetchedMessage {
                    uid,
                    content: Fetched::TooLarge {
                        size: u64::from(size.unwrap_or(0)),
                        header: header.unwrap_or_default(),
                    },
                });
            }
        }
        messages.retain(|m| uids.contains(&m.uid));
        messages.sort_by_key(|m| m.uid);
        messages.dedup_by_key(|m| m.uid);
        let last_uid = uids.last().copied().unwrap_or(state.last_uid);
        Ok(Batch {
            messages,
            state: MailboxState {
                uid_validity: self.uid_validity,
                last_uid,
            },
            more,
        })
    }

    /// `UID FETCH` of `items`: (UID, RFC822.SIZE, body section) for each message answered.
    async fn fetch_items(
        &mut self,
        set: &str,
        items: &str,
    ) -> Result<Vec<(u32, Option<u32>, Option<Vec<u8>>)>, ImapError> {
        let (server, t) = (self.server.clone(), self.settings.timeout);
        let session = &mut self.session;
        within(&server, "UID FETCH", t, async {
            let stream = session
                .uid_fetch(set, items)
                .await
                .map_err(|e| command(&server, "UID FETCH", e))?;
            let fetches: Vec<_> = stream
                .try_collect()
                .await
                .map_err(|e| command(&server, "UID FETCH", e))?;
            Ok(fetches
                .iter()
                .filter_map(|f| {
                    let body = f.body().or_else(|| f.header()).map(<[u8]>::to_vec);
                    Some((f.uid?, f.size, body))
                })
                .collect())
        })
        .await
    }

    /// After the caller committed these messages: marks them `\Seen`, and moves them to
    /// the `processed` folder when the URL names one. Call it only after the commit.
    pub async fn confirm(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let (server, t) = (self.server.clone(), self.settings.timeout);
        let set = uid_set(uids);
        let session = &mut self.session;
        within(&server, "UID STORE", t, async {
            let stream = session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .await
                .map_err(|e| command(&server, "UID STORE", e))?;
            let _: Vec<_> = stream
                .try_collect()
                .await
                .map_err(|e| command(&server, "UID STORE", e))?;
            Ok(())
        })
        .await?;
        if let Some(folder) = &self.settings.processed {
            let session = &mut self.session;
            within(&server, "UID MOVE", t, async {
                session
                    .uid_mv(&set, folder)
                    .await
                    .map_err(|e| ImapError::Mailbox {
                        server: server.clone(),
                        mailbox: folder.clone(),
                        reason: format!("cannot move messages there: {e}"),
                    })
            })
            .await?;
        }
        Ok(())
    }

    /// Appends a raw message to the selected mailbox (for tools and tests that deliver
    /// mail the way a mail server would).
    pub async fn append(&mut self, raw: &[u8]) -> Result<(), ImapError> {
        let (server, t) = (self.server.clone(), self.settings.timeout);
        let mailbox = self.settings.mailbox.clone();
        let session = &mut self.session;
        within(&server, "APPEND", t, async {
            session
                .append(&mailbox, None, None, raw)
                .await
                .map_err(|e| command(&server, "APPEND", e))
        })
        .await
    }

    /// Logs out (politely; a dropped connection is fine too).
    pub async fn logout(mut self) -> Result<(), ImapError> {
        let (server, t) = (self.server.clone(), self.settings.timeout);
        within(&server, "LOGOUT", t, async {
            self.session
                .logout()
                .await
                .map_err(|e| command(&server, "LOGOUT", e))
        })
        .await
    }
}

/// Reads the server's greeting.
async fn greeting<T>(client: &mut Client<T>, server: &str, t: Duration) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug,
{
    within(server, "greeting", t, async {
        match client.read_response().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(ImapError::Connection {
                server: server.to_string(),
                reason: "closed before greeting".into(),
            }),
            Err(e) => Err(ImapError::Connection {
                server: server.to_string(),
                reason: e.to_string(),
            }),
        }
    })
    .await
}

fn command(server: &str, command: &'static str, e: async_imap::error::Error) -> ImapError {
    ImapError::Command {
        server: server.to_string(),
        command,
        reason: e.to_string(),
    }
}

/// Runs one exchange within the timeout.
async fn within<T>(
    server: &str,
    command: &'static str,
    t: Duration,
    f: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(t, f).await.unwrap_or_else(|_| {
        Err(ImapError::Timeout {
            server: server.to_string(),
            command,
            after: t,
        })
    })
}

/// A UID set in IMAP syntax, runs collapsed: `3:5,9`. `uids` ascending.
fn uid_set(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.saturating_add(1) {
            i += 1;
            end = uids[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_key_names_the_mailbox_not_the_password_or_options() {
        let key = |url: &str| {
            ImapSettings::parse_with_password(url, None)
                .unwrap()
                .position_key()
        };
        let base = key("imaps://desk:pw@Mail.Example.com/Support");
        assert_eq!(base, "imap://desk@mail.example.com:993/Support");
        assert!(!base.contains("pw"));
        assert_eq!(
            key("imaps://desk:other@mail.example.com:993/Support?processed=Done&batch=5"),
            base
        );
        assert_ne!(key("imaps://desk:pw@mail.example.com/INBOX"), base);
        assert_ne!(key("imaps://ana:pw@mail.example.com/Support"), base);
        assert_eq!(
            key("imap://desk:pw@127.0.0.1:1143"),
            "imap://desk@127.0.0.1:1143/INBOX"
        );
    }

    #[test]
    fn urls_choose_security_port_mailbox_and_options() {
        let s = ImapSettings::parse_with_password("imaps://u:p@mail.example.com/Support", None)
            .unwrap();
        assert_eq!((s.security, s.port), (Security::ImplicitTls, 993));
        assert_eq!((s.user.as_str(), s.password.as_str()), ("u", "p"));
        assert_eq!(s.mailbox, "Support");
        assert_eq!(
            (s.batch, s.timeout, s.processed),
            (DEFAULT_BATCH, DEFAULT_TIMEOUT, None)
        );
        let s = ImapSettings::parse_with_password("imap://u:p@mail.example.com", None).unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 143));
        assert_eq!(s.mailbox, "INBOX");
        let s = ImapSettings::parse_with_password(
            "imap://desk%40example.com@127.0.0.1:1143/Mail%20In?batch=5&processed=Archive&timeout=2s",
            Some("from-env".into()),
        )
        .unwrap();
        assert_eq!((s.security, s.port), (Security::Plain, 1143));
        assert_eq!(
            (s.user.as_str(), s.password.as_str()),
            ("desk@example.com", "from-env")
        );
        assert_eq!(s.mailbox, "Mail In");
        assert_eq!(s.processed.as_deref(), Some("Archive"));
        assert_eq!((s.batch, s.timeout), (5, Duration::from_secs(2)));
        let s =
            ImapSettings::parse_with_password("imap://u:p@localhost?tls=starttls", None).unwrap();
        assert_eq!(s.security, Security::StartTls);
    }

    #[test]
    fn unsafe_or_malformed_urls_are_refused_with_a_reason() {
        for (url, why) in [
            (
                "imap://u:p@mail.example.com?tls=none",
                "only allowed on loopback",
            ),
            ("imaps://u:p@mail.example.com?tls=none", "always TLS"),
            (
                "imap://u:p@localhost?tls=maybe",
                "expected starttls or none",
            ),
            ("imap://u:p@localhost?batch=0", "batch=0"),
            ("imap://u:p@localhost?batch=5000", "batch=5000"),
            ("imap://u:p@localhost?timeout=soon", "timeout=soon"),
            ("imap://u:p@localhost?colour=blue", "unknown option"),
            ("imap://u@localhost", "no password"),
            ("imap://localhost", "no user"),
            ("imap://u:p@localhost?ca=/no/such/file.pem", "no such file"),
            ("imap://u:p@localhost/a%0Ab", "on one line"),
            ("pop3://u:p@localhost", "unknown scheme"),
        ] {
            let e = ImapSettings::parse_with_password(url, None).err().unwrap();
            assert!(e.0.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = ImapSettings::parse_with_password("imaps://user:hunter2@mail.example.com", None)
            .unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2") && text.contains("user"), "{text}");
    }

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[1]), "1");
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(
            uid_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
    }
}
