//! SMTP delivery with lettre's async transport (tokio, rustls).
//!
//! `smtps://[user:pass@]host[:465]` wraps the connection in TLS from the start;
//! `smtp://[user:pass@]host[:587]` requires STARTTLS; plain SMTP (`?tls=none`, or any
//! `smtp://` URL naming a loopback host) is only allowed on loopback, so credentials and
//! customer mail never cross a network in clear. Query options: `tls=starttls|none`,
//! `timeout=30s` (for a whole message: connect, TLS and the SMTP exchange; `ms`, `s` or `m`), `ca=PATH` (a PEM file of extra trusted
//! roots, for a relay with a private CA), `helo=NAME`.

use std::time::Duration;

use async_trait::async_trait;
use casework_core::model::OutboxMessage;
use casework_core::ports::{MailError, Mailer};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{MailerUrlError, address, format_message};

/// How long sending one message (connect, TLS, the whole SMTP exchange) may take when the
/// URL sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub use crate::net::Security;

/// An SMTP mailer URL, parsed and checked.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// Time allowed for sending one message.
    pub timeout: Duration,
    /// PEM file of extra trusted root certificates.
    pub ca: Option<std::path::PathBuf>,
    /// Name sent with EHLO.
    pub helo: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    // never print the password
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .field("timeout", &self.timeout)
            .field("ca", &self.ca)
            .field("helo", &self.helo)
            .finish()
    }
}

impl SmtpSettings {
    /// Parses `smtp://…` or `smtps://…`.
    pub fn parse(text: &str) -> Result<Self, MailerUrlError> {
        let bad = |why: String| MailerUrlError(format!("mailer URL: {why}"));
        let url = url::Url::parse(text).map_err(|e| bad(format!("{e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host: expected smtp://[user:pass@]host[:port]".into()))?
            .to_string();
        let mut tls = None;
        let mut timeout = DEFAULT_TIMEOUT;
        let mut ca = None;
        let mut helo = None;
        for (key, value) in url.query_pairs() {
            match &*key {
                "tls" => tls = Some(value.into_owned()),
                "timeout" => {
                    timeout = crate::net::parse_timeout(&value).ok_or_else(|| {
                        bad(format!("timeout={value}: expected e.g. 500ms, 30s or 2m"))
                    })?;
                }
                "ca" => ca = Some(std::path::PathBuf::from(&*value)),
                "helo" => helo = Some(value.into_owned()),
                other => {
                    return Err(bad(format!(
                        "unknown option {other:?} (known: tls, timeout, ca, helo)"
                    )));
                }
            }
        }
        let security = crate::net::security(
            ("smtp", "smtps"),
            url.scheme(),
            tls.as_deref(),
            &host,
            "send mail and passwords",
        )
        .map_err(bad)?;
        let port = url.port().unwrap_or(match security {
            Security::ImplicitTls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        });
        let credentials = match crate::net::userinfo(&url).map_err(bad)? {
            None => None,
            Some((user, Some(pass))) => Some((user, pass)),
            Some((_, None)) => {
                return Err(bad("a user name needs a password: user:pass@host".into()));
            }
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
            credentials,
            timeout,
            ca,
            helo,
        })
    }
}

/// Sends mail through an SMTP server, a connection per message (delivery runs in batches
/// every few seconds, so a pool would mostly hold idle connections).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for the URL (see the module docs).
    pub fn from_url(url: &str) -> Result<Self, MailerUrlError> {
        Self::new(SmtpSettings::parse(url)?)
    }

    /// A mailer with these settings.
    pub fn new(s: SmtpSettings) -> Result<Self, MailerUrlError> {
        let tls_error = |e: lettre::transport::smtp::Error| MailerUrlError(format!("TLS: {e}"));
        let tls_parameters = || -> Result<TlsParameters, MailerUrlError> {
            let mut builder = TlsParameters::builder(s.host.clone());
            if let Some(path) = &s.ca {
                let pem = std::fs::read(path)
                    .map_err(|e| MailerUrlError(format!("ca={}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    MailerUrlError(format!("ca={}: not a PEM certificate: {e}", path.display()))
                })?;
                builder = builder.add_root_certificate(cert);
            }
            builder.build_rustls().map_err(tls_error)
        };
        let tls = match s.security {
            Security::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            Security::StartTls => Tls::Required(tls_parameters()?),
            Security::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(tls)
            .timeout(Some(s.timeout));
        if let Some((user, pass)) = &s.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        if let Some(name) = &s.helo {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            server: format!("{}:{}", s.host, s.port),
            timeout: s.timeout,
        })
    }
}

/// Whether an SMTP failure is worth retrying. Rejections of the message or recipient (5xx)
/// are permanent; authentication and TLS trouble is the operator's to fix, so those stay
/// temporary rather than failing every queued message for good.
fn classify(server: &str, e: &lettre::transport::smtp::Error) -> MailError {
    let text = format!("{server}: {e}");
    let auth = e
        .status()
        .is_some_and(|c| matches!(c.to_string().as_str(), "530" | "534" | "535" | "538"));
    if e.is_permanent() && !auth {
        MailError::Permanent(text)
    } else {
        MailError::Temporary(text)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, m: &OutboxMessage) -> Result<(), MailError> {
        let bytes = format_message(m)?;
        // the envelope carries the same ASCII-domain addresses as the headers
        let envelope = Envelope::new(
            Some(address("sender", &m.from)?),
            vec![address("recipient", &m.to)?],
        )
        .map_err(|e| MailError::Permanent(format!("envelope: {e}")))?;
        // lettre's async transport only times the connect; the whole exchange is bounded here
        match tokio::time::timeout(self.timeout, self.transport.send_raw(&envelope, &bytes)).await {
            Ok(sent) => sent.map(|_| ()).map_err(|e| classify(&self.server, &e)),
            Err(_) => Err(MailError::Temporary(format!(
                "{}: timed out after {:?}",
                self.server, self.timeout
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_security_and_port() {
        let s = SmtpSettings::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((s.security, s.port), (Security::Plain, 2525));
        let s = SmtpSettings::parse("smtp://localhost").unwrap();
        assert_eq!((s.security, s.port), (Security::Plain, 25));
        let s = SmtpSettings::parse("smtp://mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = SmtpSettings::parse("smtp://localhost?tls=starttls").unwrap();
        assert_eq!((s.security, s.port), (Security::StartTls, 587));
        let s = SmtpSettings::parse("smtps://u%40x:p%2Fw+1@mail.example.com").unwrap();
        assert_eq!((s.security, s.port), (Security::ImplicitTls, 465));
        assert_eq!(s.credentials, Some(("u@x".into(), "p/w+1".into())));
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        let s = SmtpSettings::parse("smtp://[::1]:25?timeout=500ms&helo=desk.example").unwrap();
        assert_eq!(s.security, Security::Plain);
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(s.helo.as_deref(), Some("desk.example"));
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = SmtpSettings::parse("smtps://user:hunter2@mail.example.com").unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("user"), "{text}");
    }

    #[test]
    fn unsafe_or_malformed_urls_are_refused_with_a_reason() {
        for (url, why) in [
            (
                "smtp://mail.example.com?tls=none",
                "only allowed on loopback",
            ),
            ("smtps://mail.example.com?tls=none", "always TLS"),
            ("smtp://localhost?tls=maybe", "expected starttls or none"),
            ("smtp://localhost?timeout=soon", "timeout=soon"),
            ("smtp://localhost?timeout=0s", "timeout=0s"),
            ("smtp://localhost?colour=blue", "unknown option"),
            ("smtp://user@localhost", "needs a password"),
            ("smtp://localhost?ca=/no/such/file.pem", "no such file"),
            ("smtp://", "no host"),
        ] {
            let e = SmtpSettings::parse(url).err().unwrap();
            assert!(e.0.contains(why), "{url}: {e}");
        }
    }
}
