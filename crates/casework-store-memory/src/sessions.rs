//! Sign-in state in memory: password hashes by person, sessions by id, sign-in links by
//! hash, failed sign-ins as (key, time) pairs.

use async_trait::async_trait;
use casework_core::model::OutboxMessage;
use casework_core::ports::{
    EndSessions, Session, SessionAndPerson, Sessions, SignInLink, StoreError,
};
use jiff::Timestamp;

use crate::MemoryStore;

#[async_trait]
impl Sessions for MemoryStore {
    async fn set_password(&self, person: String, hash: String) -> Result<(), StoreError> {
        self.lock().passwords.insert(person, hash);
        Ok(())
    }

    async fn password(&self, person: String) -> Result<String, StoreError> {
        self.lock()
            .passwords
            .get(&person)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("password of {person:?}")))
    }

    async fn put_session(&self, session: Session) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.sessions.contains_key(&session.id) {
            return Err(StoreError::Duplicate("session".into()));
        }
        inner.sessions.insert(session.id.clone(), session);
        Ok(())
    }

    async fn get_session(&self, id: String) -> Result<Session, StoreError> {
        self.lock()
            .sessions
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound("session".into()))
    }

    async fn session_and_person(&self, id: String) -> Result<SessionAndPerson, StoreError> {
        let inner = self.lock();
        let session = inner
            .sessions
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound("session".into()))?;
        SessionAndPerson::with_person(session, |name| {
            inner
                .people
                .get(name)
                .cloned()
                .ok_or_else(|| StoreError::NotFound(format!("person {name:?}")))
        })
    }

    async fn touch_session(&self, id: String, at: Timestamp) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let s = inner
            .sessions
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound("session".into()))?;
        s.last_seen_at = s.last_seen_at.max(at);
        Ok(())
    }

    async fn end_sessions(&self, which: EndSessions) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let before = inner.sessions.len();
        match which {
            EndSessions::One { id } => {
                inner.sessions.remove(&id);
            }
            EndSessions::Of { user } => inner.sessions.retain(|_, s| s.user.key() != user),
        }
        Ok((before - inner.sessions.len()) as u64)
    }

    async fn put_sign_in_link(
        &self,
        link: SignInLink,
        message: OutboxMessage,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.links.contains_key(&link.hash) {
            return Err(StoreError::Duplicate("sign-in link".into()));
        }
        if inner.outbox.iter().any(|m| m.id == message.id) {
            return Err(StoreError::Duplicate(format!(
                "outbox message {}",
                message.id
            )));
        }
        inner.links.insert(link.hash.clone(), link);
        inner.outbox.push(message);
        Ok(())
    }

    async fn use_sign_in_link(
        &self,
        hash: String,
        now: Timestamp,
    ) -> Result<SignInLink, StoreError> {
        let mut inner = self.lock();
        match inner.links.remove(&hash) {
            Some(link) if link.expires_at > now => Ok(link),
            _ => Err(StoreError::NotFound("sign-in link".into())),
        }
    }

    async fn sign_in_failed(
        &self,
        keys: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner
            .failures
            .retain(|(k, t)| !(keys.contains(k) && *t < forget_before));
        inner.failures.extend(keys.into_iter().map(|k| (k, at)));
        Ok(())
    }

    async fn sign_in_failures(&self, key: String, since: Timestamp) -> Result<u32, StoreError> {
        let n = self
            .lock()
            .failures
            .iter()
            .filter(|(k, t)| *k == key && *t >= since)
            .count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
