//! Validated newtypes parsed once at the edge: case numbers, email addresses, status names.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::{MAX_EMAIL, MAX_EMAIL_LOCAL, MAX_STATUS_NAME};

/// A value given by a user that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct ParseError {
    /// What was being parsed ("case number", "email address", …).
    pub what: &'static str,
    /// The offending input, as given.
    pub value: String,
    /// Why it was refused.
    pub reason: Cow<'static, str>,
}

impl ParseError {
    fn new(what: &'static str, value: &str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            what,
            value: value.chars().take(80).collect(),
            reason: reason.into(),
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
    pub const MAX: CaseNumber = CaseNumber(crate::limits::MAX_CASE_NUMBER);

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

/// An email address, trimmed and lower-cased, that the mail library will take.
///
/// Parsing ([`FromStr`]) is at least as strict as lettre's address parser, so an address a
/// mail could never be sent to is refused when it is entered: a dot-atom before the `@`
/// (letters, digits and ``!#$%&'*+-/=?^_`{|}~``, at most 64 bytes; quoted names are not
/// accepted), and a domain name with a dot that converts to ASCII under IDNA (each label
/// at most 63 letters, digits or hyphens once converted). Internationalized domains are
/// kept as typed and converted for mail headers with [`EmailAddress::to_ascii`].
///
/// Deserializing accepts what earlier versions stored (one `@`, no white space or control
/// character), so a record written before these rules still loads; new input is parsed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

/// What [`EmailAddress`] accepts of ASCII addresses, as a regular expression (for the API
/// document): a dot-atom of at most [`MAX_EMAIL_LOCAL`] characters, an `@`, and a domain of
/// letter-digit labels joined by dots. Internationalized addresses are accepted too (see the
/// type).
pub fn email_pattern() -> String {
    let atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    let label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    format!(r"^(?=[^@]{{1,{MAX_EMAIL_LOCAL}}}@){atom}(\.{atom})*@{label}(\.{label})+$")
}

/// Characters allowed in a dot-atom besides letters and digits (RFC 5322 `atext`).
const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(email_pattern()))
            .max_length(Some(MAX_EMAIL))
            .description(Some(
                "An email address (stored lower-cased). The pattern gives the ASCII form; \
                 internationalized domains and names are accepted too.",
            ))
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

    /// The domain in ASCII: an internationalized domain in punycode (`xn--…`), as mail
    /// headers, SMTP envelopes and Message-IDs need it.
    pub fn ascii_domain(&self) -> Result<String, ParseError> {
        ascii_domain(self.domain())
            .map_err(|reason| ParseError::new("email address", &self.0, reason))
    }

    /// The address with its domain in ASCII ([`Self::ascii_domain`]). Fails only for an
    /// address stored before the current rules that they would refuse.
    pub fn to_ascii(&self) -> Result<String, ParseError> {
        let local = self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default();
        Ok(format!("{local}@{}", self.ascii_domain()?))
    }

    /// What earlier versions accepted, for records they stored.
    fn parse_stored(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        let bad = |reason| Err(ParseError::new("email address", s, reason));
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("contains white space");
        }
        match t.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                Ok(Self(t.to_lowercase()))
            }
            _ => bad("expected exactly one @ between a name and a domain"),
        }
    }
}

/// A domain name in ASCII, checked label by label after IDNA conversion (UTS #46 with the
/// STD3 rules): at least two labels, each 1 to 63 letters, digits or hyphens, not
/// starting or ending with a hyphen, 253 characters in all.
fn ascii_domain(domain: &str) -> Result<String, &'static str> {
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err("the domain may not start or end with a dot, or hold two in a row");
    }
    let ascii = idna::domain_to_ascii_strict(domain)
        .map_err(|_| "the domain is not a valid domain name")?;
    if ascii.len() > 253 {
        return Err("the domain is longer than 253 characters");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain needs a dot, as in example.com");
    }
    for label in labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ldh {
            return Err("each part of the domain must be 1 to 63 letters, digits or hyphens");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of the domain may not start or end with a hyphen");
        }
    }
    Ok(ascii)
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
        let bad = |reason: Cow<'static, str>| Err(ParseError::new("email address", s, reason));
        if t.chars().count() > MAX_EMAIL {
            return bad(format!("longer than {MAX_EMAIL} characters").into());
        }
        if t.chars().any(crate::input::is_bidi_control) {
            return bad("contains a bidirectional override".into());
        }
        if t.chars()
            .any(|c| c.is_control() || crate::input::is_line_break(c))
        {
            return bad("contains a control character".into());
        }
        if t.chars().any(char::is_whitespace) {
            return bad("contains white space".into());
        }
        let lower = t.to_lowercase();
        let Some((local, domain)) = lower.rsplit_once('@') else {
            return bad("missing @".into());
        };
        if local.is_empty() || domain.is_empty() || local.contains('@') {
            return bad("expected exactly one @ between a name and a domain".into());
        }
        if local.len() > MAX_EMAIL_LOCAL {
            return bad(
                format!("the part before the @ is longer than {MAX_EMAIL_LOCAL} bytes").into(),
            );
        }
        if local.split('.').any(str::is_empty) {
            return bad(
                "the part before the @ may not start or end with a dot, or hold two in a row"
                    .into(),
            );
        }
        let atext =
            |c: char| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c) || !c.is_ascii();
        if !local.chars().all(|c| c == '.' || atext(c)) {
            return bad(
                "the part before the @ may hold only letters, digits, dots and !#$%&'*+-/=?^_`{|}~"
                    .into(),
            );
        }
        if let Err(reason) = ascii_domain(domain) {
            return bad(reason.into());
        }
        Ok(Self(lower))
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
        Self::parse_stored(&s).map_err(serde::de::Error::custom)
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

/// What a status name accepts ([`StatusName`]'s parse), as a regular expression for the API
/// document: no control character, and something that is not white space.
pub const STATUS_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// [`STATUS_PATTERN`] where a status may be left out (a blank filter is no filter).
pub const OPTIONAL_STATUS_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

impl FromStr for StatusName {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseError::new("status", s, "is empty"));
        }
        if t.chars().count() > MAX_STATUS_NAME {
            return Err(ParseError::new(
                "status",
                s,
                format!("longer than {MAX_STATUS_NAME} characters"),
            ));
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
    fn addresses_the_mail_library_would_refuse_are_refused_when_entered() {
        // lettre's parser (email_address's rules) refuses each of these, so a case opened
        // with one could never be emailed
        for bad in [
            r"a(b)\c:d@cust.example",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "\"quoted name\"@example.com",
            "a[b]@example.com",
            &format!("{}@example.com", "x".repeat(65)),
            "ana@-example.com",
            "ana@example-.com",
            "ana@exa_mple.com",
            "ana@example..com",
            "ana@.example.com",
            "ana@example.com.",
            &format!("ana@{}.com", "x".repeat(64)),
            "ana@[127.0.0.1]",
            "ana\u{202e}@example.com",
            "ana@exam\u{202e}ple.com",
            "ana\u{1b}@example.com",
            "ana@exa\nmple.com",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?} parsed");
        }
        let e = r"a(b)\c:d@cust.example"
            .parse::<EmailAddress>()
            .unwrap_err();
        assert!(e.to_string().contains("before the @"), "{e}");
        for good in [
            "o'brien+support@example.co.uk",
            "first.last@sub.example.com",
            "x@a1.io",
            "zoë@bücher.example",
        ] {
            assert!(good.parse::<EmailAddress>().is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn internationalized_domains_convert_to_punycode_for_headers() {
        let e: EmailAddress = "Zoë@Bücher.Example".parse().unwrap();
        assert_eq!(
            e.as_str(),
            "zoë@bücher.example",
            "kept as typed, lower-cased"
        );
        assert_eq!(e.ascii_domain().unwrap(), "xn--bcher-kva.example");
        assert_eq!(e.to_ascii().unwrap(), "zoë@xn--bcher-kva.example");
        let plain: EmailAddress = "ana@example.com".parse().unwrap();
        assert_eq!(plain.to_ascii().unwrap(), "ana@example.com");
    }

    #[test]
    fn stored_addresses_load_even_if_the_current_rules_would_refuse_them() {
        // written by an earlier version: it must still load, so the case and its outbox
        // can be read (the mailer then fails the message with its reason)
        let old: EmailAddress = serde_json::from_str(r#""a(b)\\c:d@cust.example""#).unwrap();
        assert_eq!(old.as_str(), r"a(b)\c:d@cust.example");
        assert!(old.to_ascii().is_ok(), "the domain is fine");
        assert!(serde_json::from_str::<EmailAddress>(r#""no at sign""#).is_err());
        assert!(serde_json::from_str::<EmailAddress>(r#""a@b\nc""#).is_err());
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
