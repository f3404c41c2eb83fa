//! Reply tokens: what makes a reply to Casework's mail find its case even when the client
//! dropped every thread header. Each outgoing message carries `c<case>.<signature>` — the
//! HMAC-SHA256 of the case number under a server secret, cut to [`SIGNATURE_HEX`] hex
//! digits — in its Message-ID (`<id>.c1027.<signature>@<support domain>`) and in a
//! plus-addressed `Reply-To` (`support+c1027.<signature>@<support domain>`).
//!
//! A token only counts when its signature verifies under one of the configured secrets
//! ([`ReplyKeys`]): a guessed, edited or stale one (signed with a secret since retired) is
//! ignored and the message threads by the other rules. The secrets come from the composition
//! root (`CASEWORK_REPLY_SECRET`); core only computes, it never reads them from anywhere.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::ids::{CaseNumber, EmailAddress};

/// Hex digits of the signature kept in a token: 80 bits, far beyond guessing by mail.
pub const SIGNATURE_HEX: usize = 20;

/// The fewest characters a reply secret may have.
pub const MIN_SECRET_CHARS: usize = 32;

/// What the HMAC covers before the case number, so the same secret used for anything else
/// can never produce a valid token.
const DOMAIN: &[u8] = b"casework reply token v1\0";

/// Why a list of reply secrets was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyKeyError {
    /// No secret at all.
    #[error("no reply secret given")]
    Empty,
    /// A secret shorter than [`MIN_SECRET_CHARS`].
    #[error(
        "reply secret {position} has {chars} characters; it needs at least {MIN_SECRET_CHARS} \
         (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Which secret of the list (1 = the first).
        position: usize,
        /// How many characters it has.
        chars: usize,
    },
}

/// The server secrets reply tokens are signed and checked with: the first signs every new
/// token, all of them (the first and those being retired) are accepted on the way in.
#[derive(Clone)]
pub struct ReplyKeys {
    secrets: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ReplyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyKeys({} secrets, ..)", self.secrets.len())
    }
}

impl ReplyKeys {
    /// The keys from a list of secrets separated by white space or commas, newest first
    /// (the value of `CASEWORK_REPLY_SECRET`). Each needs [`MIN_SECRET_CHARS`] characters.
    pub fn parse(list: &str) -> Result<Self, ReplyKeyError> {
        let mut secrets = Vec::new();
        for (i, s) in list
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let chars = s.chars().count();
            if chars < MIN_SECRET_CHARS {
                return Err(ReplyKeyError::TooShort {
                    position: i + 1,
                    chars,
                });
            }
            secrets.push(s.as_bytes().to_vec());
        }
        if secrets.is_empty() {
            return Err(ReplyKeyError::Empty);
        }
        Ok(Self { secrets })
    }

    fn signature(secret: &[u8], case: CaseNumber) -> Hmac<Sha256> {
        // HMAC takes a key of any length; `new_from_slice` never refuses one
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
        };
        mac.update(DOMAIN);
        mac.update(case.get().to_string().as_bytes());
        mac
    }

    /// The token for `case`, signed with the newest secret: `c1027.<20 hex digits>`.
    pub fn token(&self, case: CaseNumber) -> String {
        let secret = self.secrets.first().map(Vec::as_slice).unwrap_or_default();
        let bytes = Self::signature(secret, case).finalize().into_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("c{}.{}", case.get(), &hex[..SIGNATURE_HEX])
    }

    /// The case a token names when its signature verifies under one of the secrets (in
    /// constant time); `None` for anything else: malformed, forged, or signed with a secret
    /// no longer configured.
    pub fn verify(&self, token: &str) -> Option<CaseNumber> {
        let (case, signature) = parse_token(token)?;
        let bytes = decode_hex(signature)?;
        self.secrets
            .iter()
            .any(|s| {
                Self::signature(s, case)
                    .verify_truncated_left(&bytes)
                    .is_ok()
            })
            .then_some(case)
    }
}

/// A token's parts when it has the shape `c<case number>.<SIGNATURE_HEX hex digits>` (any
/// case of letters), unchecked.
pub fn parse_token(token: &str) -> Option<(CaseNumber, &str)> {
    let rest = token.strip_prefix(['c', 'C'])?;
    let (number, signature) = rest.split_once('.')?;
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(number)
        || number.starts_with('0')
        || signature.len() != SIGNATURE_HEX
        || !signature.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let case = CaseNumber::new(number.parse().ok()?)?;
    Some((case, signature))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The token a Casework Message-ID (`<id>.c1027.<signature>@<domain>`, without angle
/// brackets) carries when it is on the support domain (ASCII form); unchecked.
pub fn token_of_message_id<'a>(message_id: &'a str, ascii_domain: &str) -> Option<&'a str> {
    let (local, domain) = message_id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(ascii_domain) {
        return None;
    }
    let (_, token) = local.split_once('.')?;
    parse_token(token).map(|_| token)
}

/// The token a plus-addressed recipient (`support+c1027.<signature>@<domain>`) carries when
/// it is the support address with a token after the `+`; unchecked.
pub fn token_of_address<'a>(
    recipient: &'a EmailAddress,
    support: &EmailAddress,
) -> Option<&'a str> {
    let (local, domain) = recipient.as_str().rsplit_once('@')?;
    let (support_local, support_domain) = support.as_str().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(support_domain) {
        return None;
    }
    let (base, token) = local.rsplit_once('+')?;
    if !base.eq_ignore_ascii_case(support_local) {
        return None;
    }
    parse_token(token).map(|_| token)
}

/// The address replies to an outgoing message should go to: the support address
/// plus-addressed with the token its Message-ID carries; `None` when the Message-ID has no
/// token (no secret was configured when it was queued).
pub fn reply_address(support: &EmailAddress, message_id: &str) -> Option<EmailAddress> {
    let domain = support.ascii_domain().ok()?;
    let token = token_of_message_id(message_id, &domain)?;
    let (local, domain) = support.as_str().rsplit_once('@')?;
    format!("{local}+{token}@{domain}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn n(x: u64) -> CaseNumber {
        CaseNumber::new(x).unwrap()
    }

    #[test]
    fn a_token_is_the_truncated_hmac_of_the_case_number() {
        let keys = ReplyKeys::parse(A).unwrap();
        let token = keys.token(n(1027));
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(A.as_bytes()).unwrap();
        mac.update(b"casework reply token v1\0");
        mac.update(b"1027");
        let full: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(token, format!("c1027.{}", &full[..20]));
        assert_eq!(keys.verify(&token), Some(n(1027)));
        assert_eq!(keys.verify(&token.to_uppercase()), Some(n(1027)));
    }

    #[test]
    fn forged_edited_and_stale_tokens_do_not_verify() {
        let keys = ReplyKeys::parse(A).unwrap();
        let token = keys.token(n(1027));
        let signature = token.split_once('.').unwrap().1;
        // another case's number with this case's signature
        assert_eq!(keys.verify(&format!("c1028.{signature}")), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(keys.verify(&String::from_utf8(flipped).unwrap()), None);
        assert_eq!(keys.verify("c1027.00000000000000000000"), None);
        assert_eq!(keys.verify("c1027.abc"), None);
        assert_eq!(keys.verify(&format!("c01027.{signature}")), None);
        // signed with a secret that was retired: stale
        let stale = ReplyKeys::parse(B).unwrap().token(n(1027));
        assert_eq!(keys.verify(&stale), None);
    }

    #[test]
    fn rotation_signs_with_the_first_secret_and_accepts_every_listed_one() {
        let old = ReplyKeys::parse(A).unwrap().token(n(5));
        let rotated = ReplyKeys::parse(&format!("{B}, {A}")).unwrap();
        assert_eq!(rotated.verify(&old), Some(n(5)));
        assert_eq!(
            rotated.token(n(5)),
            ReplyKeys::parse(B).unwrap().token(n(5))
        );
        assert_ne!(rotated.token(n(5)), old);
    }

    #[test]
    fn short_or_missing_secrets_are_refused_naming_which() {
        assert_eq!(ReplyKeys::parse(" , ").unwrap_err(), ReplyKeyError::Empty);
        assert_eq!(
            ReplyKeys::parse(&format!("{A} short")).unwrap_err(),
            ReplyKeyError::TooShort {
                position: 2,
                chars: 5
            }
        );
        assert!(!format!("{:?}", ReplyKeys::parse(A).unwrap()).contains("aaaa"));
    }

    #[test]
    fn tokens_are_found_in_message_ids_and_plus_addresses_of_the_support_domain() {
        let support: EmailAddress = "help@example.com".parse().unwrap();
        let token = ReplyKeys::parse(A).unwrap().token(n(1027));
        let id = format!("0123abcd.{token}@example.com");
        assert_eq!(
            token_of_message_id(&id, "example.com"),
            Some(token.as_str())
        );
        assert_eq!(token_of_message_id(&id, "example.org"), None);
        assert_eq!(
            token_of_message_id("m1.case-00001027@example.com", "example.com"),
            None
        );
        let reply = reply_address(&support, &id).unwrap();
        assert_eq!(reply.as_str(), format!("help+{token}@example.com"));
        assert_eq!(token_of_address(&reply, &support), Some(token.as_str()));
        let elsewhere: EmailAddress = format!("help+{token}@example.org").parse().unwrap();
        assert_eq!(token_of_address(&elsewhere, &support), None);
        let other: EmailAddress = format!("sales+{token}@example.com").parse().unwrap();
        assert_eq!(token_of_address(&other, &support), None);
        assert_eq!(
            reply_address(&support, "m1.case-00001027@example.com"),
            None
        );
    }
}
