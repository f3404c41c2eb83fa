//! What sign-in needs from cryptography, behind a port so core makes no choice of
//! algorithm or random source: hashing and checking staff passwords (the composition root
//! wires argon2id) and making unguessable secrets for sessions and sign-in links.

/// What can go wrong with credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No hasher or random source is wired (sign-in is not available on this server).
    #[error("sign-in is not available: {0}")]
    Unavailable(String),
    /// The hasher failed (a stored hash it cannot read, a random source that failed).
    #[error("credential failure: {0}")]
    Internal(String),
}

/// Password hashing and secrets.
pub trait Credentials: Send + Sync {
    /// The hash of a password, as a self-describing string (PHC format) with its own salt.
    fn hash_password(&self, password: &str) -> Result<String, CredentialError>;

    /// Whether `password` matches `hash`. A hash it cannot read is an error, never a match.
    fn verify_password(&self, password: &str, hash: &str) -> Result<bool, CredentialError>;

    /// A new secret of at least 256 random bits, in characters safe in a URL and a cookie.
    fn secret(&self) -> Result<String, CredentialError>;
}

/// No credentials: what a service has until the composition root wires real ones. Every
/// sign-in is refused as unavailable.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredentials;

impl Credentials for NoCredentials {
    fn hash_password(&self, _: &str) -> Result<String, CredentialError> {
        Err(CredentialError::Unavailable(
            "no password hasher is wired".into(),
        ))
    }

    fn verify_password(&self, _: &str, _: &str) -> Result<bool, CredentialError> {
        Err(CredentialError::Unavailable(
            "no password hasher is wired".into(),
        ))
    }

    fn secret(&self) -> Result<String, CredentialError> {
        Err(CredentialError::Unavailable(
            "no random source is wired".into(),
        ))
    }
}
