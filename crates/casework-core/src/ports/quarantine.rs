//! Quarantine: inbound messages the pipeline refused, kept whole with when they came, from
//! which input and why, so nothing that arrives is silently lost.

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{PageError, StoreError};

/// A refused inbound message, kept as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedMessage {
    /// Its id in the quarantine, unique.
    pub id: String,
    /// When it arrived.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
    /// The input it came from (`ingest`, `http`, `imap`).
    pub source: String,
    /// Why the pipeline refused it.
    pub reason: String,
    /// The message's bytes, exactly as they arrived (standard base64 in JSON).
    #[serde(with = "base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub raw: Vec<u8>,
}

impl QuarantinedMessage {
    /// What a list shows of it: everything but the bytes, and their count.
    pub fn entry(&self) -> QuarantineEntry {
        QuarantineEntry {
            id: self.id.clone(),
            received_at: self.received_at,
            source: self.source.clone(),
            reason: self.reason.clone(),
            size: self.raw.len() as u64,
        }
    }
}

impl QuarantineEntry {
    /// Where a listing that showed this entry last goes on.
    pub fn after(&self) -> QuarantineAfter {
        QuarantineAfter {
            received_at: self.received_at,
            id: self.id.clone(),
        }
    }
}

/// Where a listing of the quarantine goes on: after the entry received at `received_at`
/// with `id` (the list's order is by time, ties by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineAfter {
    /// The last listed entry's arrival.
    pub received_at: Timestamp,
    /// The last listed entry's id.
    pub id: String,
}

impl QuarantineAfter {
    /// The opaque cursor front-ends hand out for the page that ends here: `q`, the arrival
    /// in nanoseconds since the epoch, `.`, and the id.
    pub fn cursor(&self) -> String {
        format!("q{}.{}", self.received_at.as_nanosecond(), self.id)
    }

    /// Decodes a cursor made by [`QuarantineAfter::cursor`]; the error names the cursor.
    pub fn from_cursor(cursor: &str) -> Result<Self, PageError> {
        let bad = || PageError::Cursor(cursor.chars().take(80).collect());
        let (at, id) = cursor
            .strip_prefix('q')
            .and_then(|rest| rest.split_once('.'))
            .ok_or_else(bad)?;
        let received_at = at
            .parse::<i128>()
            .ok()
            .and_then(|n| Timestamp::from_nanosecond(n).ok())
            .ok_or_else(bad)?;
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Self {
            received_at,
            id: id.to_string(),
        })
    }
}

/// A kept message as a list shows it: without its bytes, which may be tens of MiB each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantineEntry {
    /// Its id in the quarantine.
    pub id: String,
    /// When it arrived.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
    /// The input it came from (`ingest`, `http`, `imap`).
    pub source: String,
    /// Why the pipeline refused it.
    pub reason: String,
    /// The size of its bytes.
    pub size: u64,
}

/// Bytes as one standard base64 string in JSON.
pub(crate) mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Refused inbound messages.
#[async_trait]
pub trait Quarantine: Send + Sync {
    /// Keeps `message`. `Duplicate` if its id is taken (nothing written).
    async fn quarantine_put(&self, message: QuarantinedMessage) -> Result<(), StoreError>;

    /// Up to `limit` kept messages without their bytes, oldest first (ties by id), after
    /// `after` when given.
    async fn quarantine_list(
        &self,
        after: Option<QuarantineAfter>,
        limit: u32,
    ) -> Result<Vec<QuarantineEntry>, StoreError>;

    /// One kept message; `NotFound` if there is none with `id`.
    async fn quarantine_get(&self, id: String) -> Result<QuarantinedMessage, StoreError>;

    /// Removes a kept message; `NotFound` if there is none with `id`.
    async fn quarantine_remove(&self, id: String) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_says_exactly_where_it_was_made_and_nothing_else_is_one() {
        let at: Timestamp = "2026-11-25T03:04:05.123456789Z".parse().unwrap();
        // ids with dots: the time is read up to the first dot, the id is the rest
        for id in ["q-0123456789abcdef0123", "imported.id.with.dots"] {
            let after = QuarantineAfter {
                received_at: at,
                id: id.into(),
            };
            let cursor = after.cursor();
            assert_eq!(QuarantineAfter::from_cursor(&cursor), Ok(after), "{cursor}");
        }
        let before_1970 = QuarantineAfter {
            received_at: "1969-12-31T23:59:59Z".parse().unwrap(),
            id: "q-1".into(),
        };
        assert_eq!(
            QuarantineAfter::from_cursor(&before_1970.cursor()),
            Ok(before_1970)
        );
        for bad in [
            "", "q", "q.", "q1.", "x1.q-1", "qabc.q-1", "q1.q\n-1", "c17",
        ] {
            let e = QuarantineAfter::from_cursor(bad).unwrap_err();
            assert_eq!(e.field(), "cursor", "{bad:?}");
        }
        // a time outside what a timestamp holds
        let huge = format!("q{}.q-1", i128::MAX);
        assert!(QuarantineAfter::from_cursor(&huge).is_err());
    }
}
