//! Webhooks: endpoints admins register, the deliveries a commit writes for them (the outbox
//! pattern), their payload, and the Standard Webhooks signature. Pure rules: stores call
//! [`fan_out`] in the transaction that appends events; the delivery loop
//! ([`crate::delivery`]) signs with [`sign`] and hands requests to the
//! [`WebhookSender`](crate::ports::WebhookSender) port.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::event::Event;
use crate::ids::CaseNumber;
use crate::limits::{MAX_URL, MAX_WEBHOOK_KEY, MIN_WEBHOOK_KEY};
use crate::model::OutboxStatus;
use crate::ports::{DeliveryOutcome, StoreError};

/// The prefix of a Standard Webhooks secret; base64 of the key follows.
pub const SECRET_PREFIX: &str = "whsec_";

/// Every event type a webhook may ask for: `case.` and an event's wire name.
pub const EVENT_TYPES: &[&str] = &[
    "case.opened",
    "case.owner_changed",
    "case.status_changed",
    "case.status_mapped",
    "case.escalated",
    "case.field_changed",
    "case.priority_changed",
    "case.title_confirmed",
    "case.call_logged",
    "case.post_added",
    "case.contact_attempted",
    "case.email_queued",
    "case.email_received",
    "case.linked",
    "case.swarm_requested",
    "case.closed",
    "case.reopened",
];

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// Its id (`ep_…`).
    pub id: String,
    /// Where deliveries are posted (http or https).
    pub url: String,
    /// The event types it receives (see [`EVENT_TYPES`]); empty for every type.
    pub events: Vec<String>,
    /// The signing secret, `whsec_` and base64. Shown once, when the endpoint is added (left
    /// out of every other answer of the API).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it was removed; a removed endpoint gets nothing more, and keeps its log.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub removed_at: Option<Timestamp>,
}

impl WebhookEndpoint {
    /// Whether the endpoint receives events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.removed_at.is_none()
            && (self.events.is_empty() || self.events.iter().any(|e| e == event_type))
    }
}

/// One event on its way to one endpoint: written with the event, sent at least once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Its id, the `webhook-id` header: the same on every attempt, so a receiver can
    /// deduplicate.
    pub id: String,
    /// The endpoint.
    pub endpoint: String,
    /// The case the event belongs to.
    pub case: CaseNumber,
    /// The event's change-feed position.
    pub position: u64,
    /// The event type (`case.opened`, …).
    pub event_type: String,
    /// The JSON body posted, the same bytes on every attempt.
    pub payload: String,
    /// Where it stands.
    pub status: OutboxStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// The HTTP status the endpoint last answered, if it answered.
    pub response_status: Option<u16>,
    /// When it was written (the event's time).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// Not to be tried before this time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub next_attempt_at: Timestamp,
    /// When the endpoint accepted it.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub sent_at: Option<Timestamp>,
    /// Which worker holds the claim, if any.
    pub claimed_by: Option<String>,
    /// When the claim lapses.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub claimed_until: Option<Timestamp>,
}

impl WebhookDelivery {
    /// Whether a worker may claim it at `now`, its endpoint live and no earlier delivery
    /// of its endpoint and case queued (the store says which): queued, due, and its claim
    /// free or lapsed.
    pub fn claimable(&self, now: Timestamp) -> bool {
        self.status == OutboxStatus::Queued
            && self.next_attempt_at <= now
            && self.claimed_until.is_none_or(|u| u <= now)
    }

    /// Claims it for `worker` until `until`.
    pub fn claim(&mut self, worker: &str, until: Timestamp) {
        self.claimed_by = Some(worker.to_string());
        self.claimed_until = Some(until);
    }

    /// Records an attempt by `worker` and releases the claim; `ClaimLost` (changing
    /// nothing) when `worker` does not hold it. Every store records outcomes with this.
    pub fn record(
        &mut self,
        worker: &str,
        now: Timestamp,
        outcome: DeliveryOutcome,
        response_status: Option<u16>,
    ) -> Result<(), StoreError> {
        if self.claimed_by.as_deref() != Some(worker) || self.status != OutboxStatus::Queued {
            return Err(StoreError::ClaimLost(self.id.clone()));
        }
        self.attempts += 1;
        self.claimed_by = None;
        self.claimed_until = None;
        self.response_status = response_status;
        match outcome {
            DeliveryOutcome::Sent => {
                self.status = OutboxStatus::Sent;
                self.sent_at = Some(now);
            }
            DeliveryOutcome::Retry { error, at } => {
                self.last_error = Some(error);
                self.next_attempt_at = at;
            }
            DeliveryOutcome::Failed { error } => {
                self.status = OutboxStatus::Failed;
                self.last_error = Some(error);
            }
        }
        Ok(())
    }

    /// Queues it again, due at `now`, attempts from zero, claim released (manual
    /// redelivery): same id, same payload.
    pub fn requeue(&mut self, now: Timestamp) {
        self.status = OutboxStatus::Queued;
        self.attempts = 0;
        self.next_attempt_at = now;
        self.claimed_by = None;
        self.claimed_until = None;
    }
}

/// The event type of an event: `case.` and its wire name.
pub fn event_type(event: &Event) -> String {
    format!("case.{}", event.kind.name())
}

/// The body posted for the event at `position`: `{"type", "timestamp", "data": {"position",
/// "event"}}`, the Standard Webhooks envelope.
pub fn payload(position: u64, event: &Event) -> String {
    serde_json::json!({
        "type": event_type(event),
        "timestamp": event.at,
        "data": { "position": position, "event": event },
    })
    .to_string()
}

/// The deliveries the event at `position` makes for `endpoints`: one per endpoint that
/// wants its type, due at once. Stores call it in the transaction that appends the event.
pub fn fan_out(
    endpoints: &[WebhookEndpoint],
    position: u64,
    event: &Event,
) -> Vec<WebhookDelivery> {
    let kind = event_type(event);
    let wanting: Vec<&WebhookEndpoint> = endpoints.iter().filter(|e| e.wants(&kind)).collect();
    if wanting.is_empty() {
        return Vec::new();
    }
    // one body for every endpoint: the same bytes, serialized once
    let body = payload(position, event);
    wanting
        .into_iter()
        .map(|e| WebhookDelivery {
            id: format!("msg_{position}_{}", e.id),
            endpoint: e.id.clone(),
            case: event.case,
            position,
            event_type: kind.clone(),
            payload: body.clone(),
            status: OutboxStatus::Queued,
            attempts: 0,
            last_error: None,
            response_status: None,
            created_at: event.at,
            next_attempt_at: event.at,
            sent_at: None,
            claimed_by: None,
            claimed_until: None,
        })
        .collect()
}

/// Why a secret, a URL or an event type is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` and base64 of [`MIN_WEBHOOK_KEY`] to [`MAX_WEBHOOK_KEY`]
    /// bytes.
    #[error("secret: {0}")]
    Secret(String),
    /// The URL cannot be used.
    #[error("url: {0}")]
    Url(String),
    /// An event type Casework does not have.
    #[error("events: unknown event type {0:?}; known: {known}", known = EVENT_TYPES.join(", "))]
    EventType(String),
}

/// A secret for the key `bytes`: `whsec_` and their base64.
pub fn secret_of(bytes: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

fn key_of(secret: &str) -> Result<Vec<u8>, WebhookError> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| WebhookError::Secret(format!("must start with {SECRET_PREFIX}")))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| WebhookError::Secret(format!("not base64 after {SECRET_PREFIX}: {e}")))?;
    let (least, most) = (MIN_WEBHOOK_KEY, MAX_WEBHOOK_KEY);
    if key.len() < least || key.len() > most {
        return Err(WebhookError::Secret(format!(
            "the key is {} bytes; it must be {least} to {most}",
            key.len()
        )));
    }
    Ok(key)
}

/// Checks a secret.
pub fn check_secret(secret: &str) -> Result<(), WebhookError> {
    key_of(secret).map(|_| ())
}

/// The `webhook-signature` header of a delivery: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{payload}` under the secret's key (Standard Webhooks).
pub fn sign(secret: &str, id: &str, timestamp: i64, payload: &str) -> Result<String, WebhookError> {
    let key = key_of(secret)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&key).map_err(|e| WebhookError::Secret(e.to_string()))?;
    mac.update(format!("{id}.{timestamp}.{payload}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Checks the event types an endpoint asks for.
pub fn check_events(events: &[String]) -> Result<(), WebhookError> {
    match events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        Some(unknown) => Err(WebhookError::EventType(unknown.clone())),
        None => Ok(()),
    }
}

/// Whether an address is one a webhook must not reach unless the operator allows private
/// networks: loopback, private, shared (CGNAT), link-local, unspecified, broadcast,
/// multicast, documentation and benchmarking ranges, IPv6 unique-local and link-local, and
/// IPv4 addresses mapped into IPv6 that are any of these.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 0x40) // 100.64.0.0/10, shared address space
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
        || a >= 240
}

fn private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || ip
            .to_ipv4()
            .is_some_and(|v4| ip.segments()[..6] == [0; 6] && private_v4(v4))
}

/// Checks an endpoint URL before it is stored and again before each attempt: http or
/// https, a host, no credentials, at most [`MAX_URL`] bytes, and, unless `allow_private`,
/// no host that is a private address or `localhost`. A name that resolves to a private
/// address is refused by the sender after resolution (the front-end does the lookup).
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, WebhookError> {
    if url.len() > MAX_URL {
        return Err(WebhookError::Url(format!("longer than {MAX_URL} bytes")));
    }
    let parsed = url::Url::parse(url).map_err(|e| WebhookError::Url(format!("{url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(WebhookError::Url(format!(
            "{url:?}: only http and https endpoints are allowed"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Url(format!(
            "{url:?}: credentials do not belong in the URL; verify the signature instead"
        )));
    }
    let private = match parsed.host() {
        None => return Err(WebhookError::Url(format!("{url:?}: no host"))),
        Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if private && !allow_private {
        return Err(WebhookError::Url(format!(
            "{url:?} is a loopback or private address; the operator allows those with \
             allow_private_networks = true in the workflow file's [webhooks] section"
        )));
    }
    Ok(parsed)
}

/// An attempt ready for the sender: the URL and the body with its Standard Webhooks headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint's URL.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature` and `content-type`.
    pub headers: Vec<(String, String)>,
}

/// The request for one attempt of `delivery` to `endpoint` at `now`.
pub fn request(
    endpoint: &WebhookEndpoint,
    delivery: &WebhookDelivery,
    now: Timestamp,
) -> Result<WebhookRequest, WebhookError> {
    let timestamp = now.as_second();
    let signature = sign(&endpoint.secret, &delivery.id, timestamp, &delivery.payload)?;
    Ok(WebhookRequest {
        url: endpoint.url.clone(),
        body: delivery.payload.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), delivery.id.clone()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), signature),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_reference_vector() {
        // the example of the Standard Webhooks specification and its reference libraries
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_must_be_whsec_and_base64_of_enough_bytes() {
        assert!(check_secret(&secret_of(&[7; 24])).is_ok());
        assert!(
            matches!(check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(WebhookError::Secret(m)) if m.contains("whsec_"))
        );
        assert!(
            matches!(check_secret("whsec_!!!"), Err(WebhookError::Secret(m)) if m.contains("base64"))
        );
        assert!(
            matches!(check_secret(&secret_of(&[7; 8])), Err(WebhookError::Secret(m)) if m.contains("8 bytes"))
        );
    }

    #[test]
    fn urls_are_http_or_https_and_never_private_unless_allowed() {
        assert!(check_url("https://hooks.example.com/casework", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x",
            "not a url",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        for private in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://api.localhost./",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://2130706433/",
        ] {
            let refused = check_url(private, false).unwrap_err();
            assert!(
                refused.to_string().contains("allow_private_networks"),
                "{private}: {refused}"
            );
            assert!(check_url(private, true).is_ok(), "{private}");
        }
        assert!(!is_private("93.184.215.14".parse().unwrap()));
        assert!(!is_private(
            "2606:2800:21f:cb07:6820:80da:af6b:8b2c".parse().unwrap()
        ));
    }

    #[test]
    fn endpoints_get_the_types_they_asked_for_once_each() {
        let event = crate::testing::opened("t").event(
            CaseNumber::new(7).unwrap(),
            crate::testing::START,
            "ana".into(),
        );
        let endpoint = |id: &str, events: &[&str]| WebhookEndpoint {
            id: id.into(),
            url: "https://example.com/".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            secret: secret_of(&[1; 24]),
            created_by: "admin".into(),
            created_at: event.at,
            removed_at: None,
        };
        let mut removed = endpoint("ep_gone", &[]);
        removed.removed_at = Some(event.at);
        let out = fan_out(
            &[
                endpoint("ep_all", &[]),
                endpoint("ep_open", &["case.opened"]),
                endpoint("ep_close", &["case.closed"]),
                removed,
            ],
            42,
            &event,
        );
        let ids: Vec<_> = out.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["msg_42_ep_all", "msg_42_ep_open"]);
        let body: serde_json::Value = serde_json::from_str(&out[0].payload).unwrap();
        assert_eq!(body["type"], "case.opened");
        assert_eq!(body["data"]["position"], 42);
        assert_eq!(body["data"]["event"]["case"], event.case.get());
        assert!(check_events(&["case.opened".into()]).is_ok());
        assert!(check_events(&["case.nope".into()]).is_err());
    }
}
