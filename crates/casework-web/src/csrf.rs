//! CSRF tokens: every form carries `HMAC-SHA256(server secret, session id)`, and a POST is
//! taken only when its token is the one for the session it comes with.
//!
//! The token is bound to the session, not stored: nothing to keep per form, it survives
//! reloads and tabs, and it is worthless with another session or on another server secret.
//! A cross-site form cannot know it (the session id is in an `HttpOnly` cookie and the
//! secret never leaves the server). The comparison is constant-time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The name of the hidden form field that carries the token.
pub const FIELD: &str = "csrf";

/// What the HMAC covers before the session id, so the same secret used for anything else
/// later can never produce a valid CSRF token.
const DOMAIN: &[u8] = b"casework-web csrf v1\0";

/// The server's secret for CSRF tokens.
#[derive(Clone)]
pub struct CsrfKey {
    secret: [u8; 32],
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// A key from 32 random bytes (the composition root reads them from the system).
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self, session: &str) -> Hmac<Sha256> {
        // a key shorter than SHA-256's 64-byte block is zero-padded by HMAC itself, so the
        // block-sized key below is the same key, given as the fixed size `new` takes
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.secret);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(DOMAIN);
        mac.update(session.as_bytes());
        mac
    }

    /// The token for a session, in lower-case hex.
    pub fn token(&self, session: &str) -> String {
        let bytes = self.mac(session).finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `token` is this session's token.
    pub fn verify(&self, session: &str, token: &str) -> bool {
        let Some(bytes) = decode_hex(token) else {
            return false;
        };
        self.mac(session).verify_slice(&bytes).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_for_its_session_only() {
        let key = CsrfKey::new([7; 32]);
        let token = key.token("session-a");
        assert_eq!(token.len(), 64);
        assert!(key.verify("session-a", &token));
        assert!(!key.verify("session-b", &token));
        assert!(!CsrfKey::new([8; 32]).verify("session-a", &token));
        // flipping any one character breaks it
        let mut bad = token.clone().into_bytes();
        bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
        assert!(!key.verify("session-a", &String::from_utf8(bad).unwrap_or_default()));
        for junk in [
            "",
            "zz",
            &token[..63],
            &format!("{token}0"),
            &"é".repeat(32),
        ] {
            assert!(!key.verify("session-a", junk), "{junk:?}");
        }
    }

    #[test]
    fn tokens_are_hmac_sha256_of_the_domain_and_session_under_the_zero_padded_key() {
        // RFC 4231 test case 1: key 0x0b × 20, data "Hi There"; a 32-byte key whose last
        // 12 bytes are zero is the same HMAC key (HMAC zero-pads to the block size)
        let mut secret = [0u8; 32];
        secret[..20].copy_from_slice(&[0x0b; 20]);
        let mut mac = CsrfKey::new(secret).mac("");
        // undo nothing: compare a MAC over DOMAIN + "Hi There" with one built by hand
        mac.update(b"Hi There");
        let ours = mac.finalize().into_bytes();
        let mut by_hand = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0b; 20])
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        by_hand.update(DOMAIN);
        by_hand.update(b"Hi There");
        assert_eq!(ours, by_hand.finalize().into_bytes());
        let mut plain = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0b; 20])
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        plain.update(b"Hi There");
        let hex: String = plain
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
