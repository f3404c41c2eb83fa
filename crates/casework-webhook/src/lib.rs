//! The webhook sender: posts the signed requests core builds ([`casework_core::webhook`])
//! with reqwest, following no redirect, within a timeout. Every host is resolved here and
//! its addresses checked with core's [`is_private`] before anything connects, and the
//! connection goes only to the addresses checked, so a name that points (or is re-pointed)
//! at a loopback, private or link-local address is refused unless the operator allows
//! private networks. [`new_secret`] makes a signing secret from the system's random source.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use casework_core::ports::{MailError, WebhookSender};
use casework_core::webhook::{WebhookRequest, is_private, secret_of};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Posts webhooks over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpSender {
    checked: reqwest::Client,
    open: reqwest::Client,
}

/// Resolves with the system resolver and keeps only public addresses.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() && !all.is_empty() {
                return Err(format!(
                    "{host} resolves to a loopback or private address ({}); the operator \
                     allows those with allow_private_networks = true in [webhooks]",
                    all[0].ip()
                )
                .into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

impl HttpSender {
    /// A sender; fails only when the TLS backend cannot start.
    pub fn new() -> Result<Self, String> {
        let build = |checked: bool| {
            let b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .user_agent("Casework-Webhooks");
            let b = if checked {
                b.dns_resolver(Arc::new(PublicOnly))
            } else {
                b
            };
            b.build()
                .map_err(|e| format!("cannot start the webhook client: {e}"))
        };
        Ok(Self {
            checked: build(true)?,
            open: build(false)?,
        })
    }
}

fn refused_by_guard(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.to_string().contains("allow_private_networks") {
            return true;
        }
        source = s.source();
    }
    false
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn post(&self, request: &WebhookRequest, allow_private: bool) -> Result<u16, MailError> {
        let client = if allow_private {
            &self.open
        } else {
            &self.checked
        };
        let mut builder = client.post(&request.url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        match builder.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if refused_by_guard(&e) => Err(MailError::Permanent(describe(&e))),
            Err(e) => Err(MailError::Temporary(describe(&e))),
        }
    }
}

/// A new signing secret: `whsec_` and base64 of 32 bytes from `/dev/urandom`.
pub fn new_secret() -> Result<String, String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom for a webhook secret: {e}"))?;
    Ok(secret_of(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest {
            url: url.into(),
            body: "{}".into(),
            headers: vec![("webhook-id".into(), "msg_1_ep".into())],
        }
    }

    /// A loopback server answering one request with `status`, handing back what it read.
    async fn one_shot(status: u16) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            s.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (format!("http://localhost:{}/hook", addr.port()), task)
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_for_good_unless_allowed() {
        let sender = HttpSender::new().unwrap();
        let (url, server) = one_shot(204).await;
        let refused = sender.post(&request(&url), false).await.unwrap_err();
        assert!(
            matches!(&refused, MailError::Permanent(m) if m.contains("allow_private_networks")),
            "{refused:?}"
        );
        let status = sender.post(&request(&url), true).await.unwrap();
        assert_eq!(status, 204);
        let seen = server.await.unwrap();
        assert!(seen.starts_with("POST /hook "), "{seen}");
        assert!(seen.contains("webhook-id: msg_1_ep"), "{seen}");
    }

    #[tokio::test]
    async fn any_answer_is_its_status_and_no_answer_is_temporary() {
        let sender = HttpSender::new().unwrap();
        let (url, server) = one_shot(500).await;
        assert_eq!(sender.post(&request(&url), true).await.unwrap(), 500);
        server.await.unwrap();
        // nothing listens there any more
        let gone = sender.post(&request(&url), true).await.unwrap_err();
        assert!(matches!(gone, MailError::Temporary(_)), "{gone:?}");
    }

    #[test]
    fn secrets_are_fresh_and_valid() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert!(casework_core::webhook::check_secret(&a).is_ok());
    }
}
