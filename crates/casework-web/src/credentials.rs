//! The [`Credentials`] the desk signs in with: staff passwords hashed with argon2id (the
//! `argon2` crate's defaults, OWASP's minimum: 19 MiB, 2 passes, 1 lane) into PHC strings
//! with a 16-byte random salt, and secrets of 32 random bytes from the operating system,
//! as URL-safe base64 without padding (43 characters).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use casework_core::ports::{CredentialError, Credentials};

/// argon2id and the operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemCredentials;

fn random<const N: usize>() -> Result<[u8; N], CredentialError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| CredentialError::Internal(format!("the random source failed: {e}")))?;
    Ok(bytes)
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(URL_SAFE[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

impl Credentials for SystemCredentials {
    fn hash_password(&self, password: &str) -> Result<String, CredentialError> {
        let salt = SaltString::encode_b64(&random::<16>()?)
            .map_err(|e| CredentialError::Internal(format!("cannot encode a salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CredentialError::Internal(format!("cannot hash a password: {e}")))
    }

    fn verify_password(&self, password: &str, hash: &str) -> Result<bool, CredentialError> {
        let parsed = PasswordHash::new(hash)
            .map_err(|e| CredentialError::Internal(format!("a stored hash does not read: {e}")))?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(CredentialError::Internal(format!(
                "cannot check a password: {e}"
            ))),
        }
    }

    fn secret(&self) -> Result<String, CredentialError> {
        Ok(base64url(&random::<32>()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_with_a_fresh_salt_and_verify() {
        let c = SystemCredentials;
        let one = c.hash_password("correct horse battery").unwrap_or_default();
        let two = c.hash_password("correct horse battery").unwrap_or_default();
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "each hash has its own salt");
        assert_eq!(c.verify_password("correct horse battery", &one), Ok(true));
        assert_eq!(c.verify_password("correct horse battery", &two), Ok(true));
        assert_eq!(c.verify_password("correct horse batterY", &one), Ok(false));
        assert!(matches!(
            c.verify_password("x", "not a hash"),
            Err(CredentialError::Internal(_))
        ));
    }

    #[test]
    fn secrets_are_43_url_safe_characters_and_differ() {
        let c = SystemCredentials;
        let (a, b) = (
            c.secret().unwrap_or_default(),
            c.secret().unwrap_or_default(),
        );
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, b);
        // RFC 4648 §10 vectors, in the URL-safe alphabet without padding
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
