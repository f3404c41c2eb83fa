//! The directory in memory: people by name, tokens in the order they were made.

use async_trait::async_trait;
use casework_core::model::{ApiToken, Person};
use casework_core::ports::{Directory, StoreError};
use jiff::Timestamp;

use crate::MemoryStore;

#[async_trait]
impl Directory for MemoryStore {
    async fn put_person(&self, person: Person) -> Result<(), StoreError> {
        self.lock().people.insert(person.name.clone(), person);
        Ok(())
    }

    async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        self.lock()
            .people
            .get(&name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("person {name:?}")))
    }

    async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        Ok(self.lock().people.values().cloned().collect())
    }

    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .tokens
            .iter()
            .any(|t| t.id == token.id || t.hash == token.hash)
        {
            return Err(StoreError::Duplicate(format!("token {}", token.id)));
        }
        inner.tokens.push(token);
        Ok(())
    }

    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        self.lock()
            .tokens
            .iter()
            .find(|t| t.hash == hash)
            .cloned()
            .ok_or_else(|| StoreError::NotFound("token".into()))
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(self.lock().tokens.clone())
    }

    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError> {
        let mut inner = self.lock();
        let t = inner
            .tokens
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        t.revoked_at.get_or_insert(at);
        Ok(t.clone())
    }
}
