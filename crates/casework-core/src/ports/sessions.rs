//! Sign-in state: staff password hashes, signed-in sessions, customers' one-time sign-in
//! links, and the failed sign-ins that throttle guessing. Secrets never reach the store:
//! sessions and links are kept and looked up by the SHA-256 of their secret, passwords as
//! the hasher's PHC string ([`crate::ports::Credentials`]).

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::EmailAddress;
use crate::model::{OutboxMessage, Person};

/// Who a session signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionUser {
    /// A registered person (staff), by name; their role and details are read afresh on
    /// every request, so a changed role or a removed person takes effect at once.
    Staff {
        /// The person's name.
        name: String,
    },
    /// A customer, by the address their cases are under.
    Customer {
        /// The customer's address.
        email: EmailAddress,
    },
}

impl SessionUser {
    /// The user's stable key, which "sign out everywhere" ends the sessions of.
    pub fn key(&self) -> String {
        match self {
            SessionUser::Staff { name } => format!("person:{name}"),
            SessionUser::Customer { email } => format!("customer:{email}"),
        }
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Hex SHA-256 of the session's secret (the cookie's value): what the store keeps.
    pub id: String,
    /// Who it signs in.
    pub user: SessionUser,
    /// When it began: the absolute expiry counts from here.
    pub created_at: Timestamp,
    /// When it was last used (to the minute): the idle expiry counts from here.
    pub last_seen_at: Timestamp,
}

/// A session with the person it signs in, read together: what every signed-in request needs
/// to know who asks ([`Sessions::session_and_person`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAndPerson {
    /// The session.
    pub session: Session,
    /// The person a staff session names, as the directory holds them now; `None` for a
    /// customer's session, or when the directory no longer has that person.
    pub person: Option<Person>,
}

impl SessionAndPerson {
    /// Puts a session with its person, given how to look a person up by name (a store's
    /// own read, inside the same read as the session): an unknown person is `None`, any
    /// other failure is the read's.
    pub fn with_person(
        session: Session,
        get_person: impl FnOnce(&str) -> Result<Person, StoreError>,
    ) -> Result<Self, StoreError> {
        let person = match &session.user {
            SessionUser::Staff { name } => match get_person(name) {
                Ok(p) => Some(p),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            SessionUser::Customer { .. } => None,
        };
        Ok(Self { session, person })
    }
}

/// A customer's one-time sign-in link, kept until it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInLink {
    /// Hex SHA-256 of the link's secret.
    pub hash: String,
    /// The customer it signs in.
    pub email: EmailAddress,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Which sessions to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "which", rename_all = "snake_case")]
pub enum EndSessions {
    /// One session, by id (sign out).
    One {
        /// The session's id.
        id: String,
    },
    /// Every session of a user, by [`SessionUser::key`] (sign out everywhere).
    Of {
        /// The user's key.
        user: String,
    },
}

/// Passwords, sessions, sign-in links and failed sign-ins.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Sets (or replaces) a person's password hash.
    async fn set_password(&self, person: String, hash: String) -> Result<(), StoreError>;

    /// A person's password hash. MUST return `NotFound` when they have none.
    async fn password(&self, person: String) -> Result<String, StoreError>;

    /// Stores a new session. MUST return `Duplicate` when the id is taken.
    async fn put_session(&self, session: Session) -> Result<(), StoreError>;

    /// The session with this id. MUST return `NotFound` for an unknown or ended one.
    async fn get_session(&self, id: String) -> Result<Session, StoreError>;

    /// The session with this id and the person it signs in, in one read (one trip to the
    /// store for every signed-in request), each as [`get_session`](Self::get_session) and
    /// [`Directory::get_person`](super::Directory::get_person) give it at that moment. MUST
    /// return `NotFound` for an unknown or ended session.
    async fn session_and_person(&self, id: String) -> Result<SessionAndPerson, StoreError>;

    /// Records that a session was used at `at` (a later time only: never moves back).
    /// MUST return `NotFound` for an unknown or ended session.
    async fn touch_session(&self, id: String, at: Timestamp) -> Result<(), StoreError>;

    /// Ends sessions; answers how many ended (0 when none matched).
    async fn end_sessions(&self, which: EndSessions) -> Result<u64, StoreError>;

    /// Stores a new sign-in link and queues the email that carries it, in one step (both or
    /// neither). MUST return `Duplicate` when the hash or the message id is taken.
    async fn put_sign_in_link(
        &self,
        link: SignInLink,
        message: OutboxMessage,
    ) -> Result<(), StoreError>;

    /// Uses a sign-in link: answers it and removes it, in one step, so two uses of one link
    /// cannot both succeed. MUST return `NotFound` for an unknown, used or expired link
    /// (`expires_at <= now`).
    async fn use_sign_in_link(
        &self,
        hash: String,
        now: Timestamp,
    ) -> Result<SignInLink, StoreError>;

    /// Records one failed sign-in at `at` under each key (an account, an address), and
    /// forgets that key's failures from before `forget_before`.
    async fn sign_in_failed(
        &self,
        keys: Vec<String>,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<(), StoreError>;

    /// How many failed sign-ins were recorded under `key` at or after `since`.
    async fn sign_in_failures(&self, key: String, since: Timestamp) -> Result<u32, StoreError>;
}
