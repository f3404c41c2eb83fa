//! The directory: the people who work cases, and the API tokens that stand for callers.

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use crate::model::{ApiToken, Person};

/// People and tokens.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Adds or replaces a person by name.
    async fn put_person(&self, person: Person) -> Result<(), StoreError>;

    /// A person by name. MUST return `NotFound` for an unknown name.
    async fn get_person(&self, name: String) -> Result<Person, StoreError>;

    /// Everyone, by name.
    async fn list_people(&self) -> Result<Vec<Person>, StoreError>;

    /// Stores a new API token. MUST return `Duplicate` when the id or the hash is taken.
    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError>;

    /// The token with this hash, revoked or not. MUST return `NotFound` for an unknown hash.
    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError>;

    /// Every token, oldest first.
    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Marks a token revoked (a second revoke keeps the first time). MUST return `NotFound`
    /// for an unknown id.
    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError>;
}
