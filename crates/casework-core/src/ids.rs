//! Validated newtypes parsed once at the edge: case numbers, email addresses, status names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value given by a user that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct ParseError {
    /// What was being parsed ("case number", "email address", …).
    pub what: &'static str,
    /// The offending input, as given.
    pub value: String,
    /// Why it was refused.
    pub reason: &'static str,
}

impl ParseError {
    fn new(what: &'static str, value: &str, reason: &'static str) -> Self {
        Self {
            what,
            value: value.chars().take(80).collect(),
            reason,
        }
    }
}

/// A case number: assigned by the store, positive, shown zero-padded to eight digits.
///
/// Parsing accepts leading zeros (`"00001027"` and `"1027"` are the same case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseNumber(u64);

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CaseNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Int64,
            )))
            .minimum(Some(1))
            .maximum(Some(CaseNumber::MAX.0))
            .description(Some("A case number (shown zero-padded to eight digits)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CaseNumber {}

impl CaseNumber {
    /// Case number 1.
    pub const MIN: CaseNumber = CaseNumber(1);

    /// The largest case number: what a signed 64-bit integer holds, as stores keep it.
    pub const MAX: CaseNumber = CaseNumber(i64::MAX as u64);

    /// Wraps a raw number; `None` for zero, which is never a case, and above [`Self::MAX`].
    pub fn new(n: u64) -> Option<Self> {
        (n > 0 && n <= Self::MAX.0).then_some(Self(n))
    }

    /// The number as an integer.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The zero-padded form customers see: `00001027`.
    pub fn display(self) -> String {
        format!("{:08}", self.0)
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

impl FromStr for CaseNumber {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches('#');
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new("case number", s, "expected digits"));
        }
        let n: u64 = t
            .parse()
            .map_err(|_| ParseError::new("case number", s, "too large"))?;
        Self::new(n).ok_or_else(|| {
            ParseError::new(
                "case number",
                s,
                "must be between 1 and 9223372036854775807",
            )
        })
    }
}

impl Serialize for CaseNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for CaseNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::new(n).ok_or_else(|| {
            serde::de::Error::custom("case number must be between 1 and 9223372036854775807")
        })
    }
}

/// An email address, trimmed and lower-cased, with one `@` and no white space.
///
/// This is a sanity check, not RFC 5322: it refuses what is certainly wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

/// What [`EmailAddress`] accepts, as a regular expression (for the API document): one `@`
/// between a name and a domain with a dot inside it, no white space, control character or
/// `<>,;"`.
pub const EMAIL_PATTERN: &str = r#"^[^\s@<>,;"\x00-\x1f\x7f-\x9f]+@[^\s@<>,;".\x00-\x1f\x7f-\x9f][^\s@<>,;"\x00-\x1f\x7f-\x9f]*\.[^\s@<>,;"\x00-\x1f\x7f-\x9f]*[^\s@<>,;".\x00-\x1f\x7f-\x9f]$"#;

/// Longest address, in characters.
pub const EMAIL_MAX: usize = 254;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(EMAIL_PATTERN))
            .max_length(Some(EMAIL_MAX))
            .description(Some("An email address (stored lower-cased)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EmailAddress {}

impl EmailAddress {
    /// For literals in core known to be valid; never for user input.
    pub(crate) fn trusted(s: &str) -> Self {
        Self(s.to_string())
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EmailAddress {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = |reason| Err(ParseError::new("email address", s, reason));
        if t.chars().count() > EMAIL_MAX {
            return bad("longer than 254 characters");
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("contains white space");
        }
        let Some((local, domain)) = t.rsplit_once('@') else {
            return bad("missing @");
        };
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return bad("expected exactly one @ between a name and a domain");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return bad("the domain needs a dot, as in example.com");
        }
        if t.contains(['<', '>', ',', ';', '"']) {
            return bad("contains a character not allowed in an address");
        }
        Ok(Self(t.to_lowercase()))
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The name of a status in the workflow file (`New`, `In Progress`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusName(String);

impl StatusName {
    /// For literals in core known to be valid; never for user input.
    pub(crate) fn trusted(s: &str) -> Self {
        Self(s.to_string())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether two names denote the same status (case-insensitive).
    pub fn same(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim())
    }
}

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StatusName {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseError::new("status", s, "is empty"));
        }
        if t.chars().count() > 64 {
            return Err(ParseError::new("status", s, "longer than 64 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError::new("status", s, "contains a control character"));
        }
        Ok(Self(t.to_string()))
    }
}

impl Serialize for StatusName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StatusName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_accept_leading_zeros_and_pad_to_eight() {
        let n: CaseNumber = "00001027".parse().unwrap();
        assert_eq!(n, "1027".parse().unwrap());
        assert_eq!(n.get(), 1027);
        assert_eq!(n.to_string(), "00001027");
        assert_eq!(CaseNumber::new(123_456_789).unwrap().display(), "123456789");
    }

    #[test]
    fn case_numbers_refuse_junk() {
        for bad in [
            "",
            "0",
            "000",
            "-1",
            "12a",
            "1.5",
            "99999999999999999999999",
            "9223372036854775808", // one past what a store's signed integer holds
        ] {
            assert!(bad.parse::<CaseNumber>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            "9223372036854775807".parse::<CaseNumber>().unwrap(),
            CaseNumber::MAX
        );
        assert!(serde_json::from_str::<CaseNumber>("9223372036854775808").is_err());
        assert!(CaseNumber::new(u64::MAX).is_none());
    }

    #[test]
    fn status_names_refuse_control_characters_anywhere() {
        assert!("In Progress".parse::<StatusName>().is_ok());
        assert!(" In Progress ".parse::<StatusName>().is_ok());
        for bad in [
            "\u{85}In Progress",
            "In Progress\n",
            "In\u{7}Progress",
            "  ",
        ] {
            assert!(bad.parse::<StatusName>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn email_addresses_are_normalised_and_checked() {
        let e: EmailAddress = "  Ana.Lopez@Example.COM ".parse().unwrap();
        assert_eq!(e.as_str(), "ana.lopez@example.com");
        assert_eq!(e.domain(), "example.com");
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@localhost",
            "a b@example.com",
            "a@b@example.com",
            "<a@example.com>",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn status_names_are_trimmed_and_compared_without_case() {
        let s: StatusName = " In Progress ".parse().unwrap();
        assert_eq!(s.as_str(), "In Progress");
        assert!(s.same("in progress"));
        assert!("".parse::<StatusName>().is_err());
        assert!("x".repeat(65).parse::<StatusName>().is_err());
    }
}
