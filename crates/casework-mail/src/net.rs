//! The rules every mail server URL follows, SMTP and IMAP alike: TLS from the first byte
//! or STARTTLS, plain only on loopback, timeouts, user info, and certificates verified
//! against the public roots plus an optional private CA.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;

/// How a connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://` on 465, `imaps://` on 993).
    ImplicitTls,
    /// Plain connection upgraded with STARTTLS, which must succeed (SMTP 587, IMAP 143).
    StartTls,
    /// No TLS at all: loopback only.
    Plain,
}

/// Whether `host` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `500ms`, `30s` or `2m`; `None` for anything else or zero.
pub(crate) fn parse_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// The security a URL asks for: `schemes` is (plain scheme, TLS scheme), e.g.
/// `("imap", "imaps")`; `tls` the `tls=` option; `what` says what would travel in clear,
/// for the refusal. Plain is the default on loopback and refused anywhere else.
pub(crate) fn security(
    schemes: (&str, &str),
    scheme: &str,
    tls: Option<&str>,
    host: &str,
    what: &str,
) -> Result<Security, String> {
    let (plain, secure) = schemes;
    let loopback = is_loopback(host);
    match (scheme, tls) {
        (s, None) if s == secure => Ok(Security::ImplicitTls),
        (s, Some(t)) if s == secure => Err(format!(
            "{secure}:// is always TLS; tls={t} only applies to {plain}://"
        )),
        (s, Some("starttls")) if s == plain => Ok(Security::StartTls),
        (s, None) if s == plain && !loopback => Ok(Security::StartTls),
        (s, None | Some("none")) if s == plain && loopback => Ok(Security::Plain),
        (s, Some("none")) if s == plain => Err(format!(
            "plain {} to {host} would {what} in clear; it is only allowed on loopback: use \
             {plain}://{host} (STARTTLS) or {secure}://{host}",
            plain.to_ascii_uppercase()
        )),
        (s, Some(t)) if s == plain => Err(format!("tls={t}: expected starttls or none")),
        (other, _) => Err(format!("unknown scheme {other}")),
    }
}

/// The URL's user name and password, percent-decoded; `None` when it names no user.
pub(crate) fn userinfo(url: &url::Url) -> Result<Option<(String, Option<String>)>, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "user name and password must be UTF-8 when decoded".to_string())
    };
    match (url.username(), url.password()) {
        ("", None) => Ok(None),
        (user, pass) => Ok(Some((decode(user)?, pass.map(decode).transpose()?))),
    }
}

/// A rustls client configuration (ring) trusting the public web PKI roots and, when given,
/// the certificates of a PEM file: certificates are always verified.
pub(crate) fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca {
        let shown = path.display();
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("ca={shown}: {e}"))? {
            let cert = cert.map_err(|e| format!("ca={shown}: not a PEM certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca={shown}: not a usable certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("ca={shown}: no certificate in the file"));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
