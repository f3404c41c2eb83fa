//! Signing in through the service: staff passwords, sessions with idle and absolute expiry,
//! sign-out (one session, or every session of a person), throttled failures, and the first
//! admin of a new store. The rules live here; front-ends only carry secrets to and from
//! the browser.
//!
//! Secrets (session cookies, sign-in links) are made by the [`Credentials`] port and kept
//! in the store only as their SHA-256, so a copy of the store signs nobody in.
//!
//! [`Credentials`]: crate::ports::Credentials

use jiff::{SignedDuration, Timestamp};

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::documents::EmailFields;
use crate::ids::EmailAddress;
use crate::limits::{
    MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS, MAX_PASSWORD, MIN_PASSWORD,
    SESSION_IDLE_SECS, SESSION_MAX_SECS, SIGN_IN_LINK_SECS, SIGN_IN_WINDOW_SECS,
};
use crate::model::{Actor, OutboxMessage, OutboxStatus, Person, Role, TemplateName, sha256_hex};
use crate::ports::{
    CaseFilter, CredentialError, EndSessions, PageRequest, Session, SessionAndPerson, SessionUser,
    SignInLink, StoreError,
};
use crate::workflow::WorkflowError;

/// A session is written back as used at most this often (seconds), so reading pages does
/// not make a write per request.
const TOUCH_EVERY_SECS: u64 = 60;

/// Someone signed in: the session's secret for the cookie, and who they act as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session's secret: the cookie's value. Shown once; the store keeps its hash.
    pub secret: String,
    /// The session's id (the hash of the secret): what a CSRF token is bound to.
    pub session: String,
    /// Who acts in this session.
    pub actor: Actor,
}

/// Why a sign-in did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Wrong name or password, or a link that is unknown, used or expired. Says nothing of
    /// which, so it tells a guesser nothing.
    #[error("wrong name or password, or the sign-in link is used or expired")]
    Refused,
    /// Too many failures for this account or from this address: nothing is tried until
    /// the oldest of them ages out of the window.
    #[error("too many failed sign-ins: try again in {retry_after_secs} seconds")]
    Throttled {
        /// Seconds until trying again may work.
        retry_after_secs: u64,
    },
    /// The service failed (a store that cannot be reached, no credentials wired).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Service(e.into())
    }
}

impl From<CredentialError> for ServiceError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::Unavailable(m) => {
                ServiceError::Store(StoreError::Unavailable(format!("sign-in: {m}")))
            }
            CredentialError::Internal(m) => ServiceError::Internal(m),
        }
    }
}

impl From<CredentialError> for SignInError {
    fn from(e: CredentialError) -> Self {
        SignInError::Service(e.into())
    }
}

fn secs(n: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(n).unwrap_or(i64::MAX))
}

fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Workflow(WorkflowError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

/// The throttle's key for an account.
fn account_key(name: &str) -> String {
    format!("account:{}", name.trim().to_lowercase())
}

/// The throttle's key for a client address.
fn address_key(address: &str) -> String {
    format!("address:{address}")
}

impl CaseService {
    /// Sets a staff member's password. A person may set their own; setting anyone else's
    /// needs `manage` (or `store`: whoever holds the store's own credentials, the CLI
    /// without `--as`). The password is checked for length and stored only as its hash.
    pub async fn set_password(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
    ) -> Result<(), ServiceError> {
        let own = actor.principal == format!("person:{name}") && actor.role.is_staff();
        let may = |p| self.config.permits(actor.role, p);
        if !own && !may(Permission::Manage) && !may(Permission::Store) {
            return Err(forbidden(actor.role, "set another person's password"));
        }
        let person = self.store.get_person(name.to_string()).await?;
        if !person.role.is_staff() {
            return Err(invalid("name", "only staff sign in with a password"));
        }
        let length = password.chars().count();
        if length < MIN_PASSWORD {
            return Err(invalid(
                "password",
                format!("a password needs at least {MIN_PASSWORD} characters"),
            ));
        }
        if length > MAX_PASSWORD {
            return Err(invalid(
                "password",
                format!("a password has at most {MAX_PASSWORD} characters"),
            ));
        }
        let hash = self.credentials.hash_password(password)?;
        self.store.set_password(person.name, hash).await?;
        Ok(())
    }

    /// The first admin of a store nobody is registered in yet, with a generated password:
    /// answers the password (to show once), or `None` when people are registered already.
    pub async fn first_admin(
        &self,
        name: &str,
        email: EmailAddress,
    ) -> Result<Option<String>, ServiceError> {
        if !self.store.list_people().await?.is_empty() {
            return Ok(None);
        }
        let person = Person {
            email: Some(email),
            ..Person::new(name, Role::Admin)
        };
        let person = self.register(None, person).await?;
        let password = self.credentials.secret()?;
        let hash = self.credentials.hash_password(&password)?;
        self.store.set_password(person.name, hash).await?;
        Ok(Some(password))
    }

    /// Whether failures under `key` are at `max` within the window; if so, how long until
    /// trying again may work (the whole window: the store answers counts, not times).
    async fn throttled(&self, key: String, max: u64, now: Timestamp) -> Result<bool, StoreError> {
        let since = now - secs(SIGN_IN_WINDOW_SECS);
        Ok(u64::from(self.store.sign_in_failures(key, since).await?) >= max)
    }

    async fn refuse_throttled(&self, keys: &[(String, u64)]) -> Result<(), SignInError> {
        let now = self.clock.now();
        for (key, max) in keys {
            if self.throttled(key.clone(), *max, now).await? {
                return Err(SignInError::Throttled {
                    retry_after_secs: SIGN_IN_WINDOW_SECS,
                });
            }
        }
        Ok(())
    }

    async fn note_failure(&self, keys: Vec<String>) -> Result<(), SignInError> {
        let now = self.clock.now();
        self.store
            .sign_in_failed(keys, now, now - secs(SIGN_IN_WINDOW_SECS))
            .await?;
        Ok(())
    }

    /// Signs a member of staff in with their password, from client `address`. Failures
    /// are counted per account and per address; at [`MAX_FAILURES_PER_ACCOUNT`] or
    /// [`MAX_FAILURES_PER_ADDRESS`] within the window nothing more is tried (not even a
    /// right password) until they age out.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<SignedIn, SignInError> {
        let name = name.trim();
        let (account, from) = (account_key(name), address_key(address));
        self.refuse_throttled(&[
            (account.clone(), MAX_FAILURES_PER_ACCOUNT),
            (from.clone(), MAX_FAILURES_PER_ADDRESS),
        ])
        .await?;
        let too_long = password.chars().count() > MAX_PASSWORD;
        let stored = if too_long || name.is_empty() {
            None
        } else {
            match self.store.password(name.to_string()).await {
                Ok(hash) => Some(hash),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let person = match &stored {
            Some(_) => match self.store.get_person(name.to_string()).await {
                Ok(p) if p.role.is_staff() => Some(p),
                Ok(_) | Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let matches = match (&stored, &person) {
            (Some(hash), Some(_)) => self.credentials.verify_password(password, hash)?,
            _ => {
                // as much work as a real check, so timing does not tell who exists
                if !too_long {
                    self.credentials.hash_password(password)?;
                }
                false
            }
        };
        match person {
            Some(p) if matches => {
                let user = SessionUser::Staff {
                    name: p.name.clone(),
                };
                let actor = Actor::from_person(&p);
                self.open_session(user, actor).await
            }
            _ => {
                self.note_failure(vec![account, from]).await?;
                Err(SignInError::Refused)
            }
        }
    }

    /// Emails a customer a one-time sign-in link to the portal (`{base_url}/sign-in/link/…`,
    /// working once within [`SIGN_IN_LINK_SECS`]), through the outbox, when the address
    /// has cases; answers the same either way, so the answer tells nobody whose address it
    /// is. Requests count like failures, per address asked for (at most
    /// [`MAX_FAILURES_PER_ACCOUNT`] in the window) and per client address.
    pub async fn request_sign_in_link(
        &self,
        email: &str,
        address: &str,
        base_url: &str,
    ) -> Result<(), SignInError> {
        let email: EmailAddress = email
            .trim()
            .parse()
            .map_err(|e| invalid("email", format!("{e}")))?;
        let (to, from) = (format!("link-to:{email}"), address_key(address));
        self.refuse_throttled(&[
            (to.clone(), MAX_FAILURES_PER_ACCOUNT),
            (from.clone(), MAX_FAILURES_PER_ADDRESS),
        ])
        .await?;
        self.note_failure(vec![to, from]).await?;
        let filter = CaseFilter {
            customer: Some(email.clone()),
            ..CaseFilter::default()
        };
        let page = PageRequest {
            limit: 1,
            after: None,
            ..PageRequest::default()
        };
        // the email goes out under one of their cases: its number, their name
        let Some(case) = self.store.list_cases(filter, page).await?.items.pop() else {
            return Ok(());
        };
        let secret = self.credentials.secret()?;
        let now = self.clock.now();
        let link = SignInLink {
            hash: sha256_hex(secret.as_bytes()),
            email,
            created_at: now,
            expires_at: now + secs(SIGN_IN_LINK_SECS),
        };
        let fields = EmailFields {
            note: Some(format!(
                "{}/sign-in/link/{secret}",
                base_url.trim_end_matches('/')
            )),
            ..EmailFields::default()
        };
        let org = &self.config.organization;
        let rendered = self
            .templates
            .render_email(
                TemplateName::SignInLink,
                org,
                &case,
                &Actor::system("sign-in"),
                &fields,
            )
            .map_err(|e| ServiceError::Workflow(e.into()))?;
        let domain = org
            .support_email
            .ascii_domain()
            .map_err(|e| invalid("organization.support_email", e.to_string()))?;
        let id = self.ids.new_id();
        let message_id = crate::workflow::signed_message_id(
            &id,
            case.number,
            &domain,
            self.reply_keys.as_deref(),
        );
        let message = OutboxMessage {
            thread_id: message_id.clone(),
            message_id,
            in_reply_to: None,
            id,
            case: case.number,
            template: TemplateName::SignInLink,
            from_name: format!("{} Support", org.name),
            from: org.support_email.clone(),
            to_name: rendered.to_name,
            to: rendered.to,
            subject: rendered.subject,
            body: rendered.body,
            status: OutboxStatus::Queued,
            attempts: 0,
            last_error: None,
            created_at: now,
            next_attempt_at: now,
            claimed_by: None,
            claimed_until: None,
            sent_at: None,
        };
        self.store.put_sign_in_link(link, message).await?;
        Ok(())
    }

    /// Signs a customer in with the secret of their sign-in link, from client `address`:
    /// once, before it expires. Unknown, used and expired links count as failures of the
    /// address.
    pub async fn sign_in_with_link(
        &self,
        secret: &str,
        address: &str,
    ) -> Result<SignedIn, SignInError> {
        let from = address_key(address);
        self.refuse_throttled(&[(from.clone(), MAX_FAILURES_PER_ADDRESS)])
            .await?;
        let hash = sha256_hex(secret.as_bytes());
        match self.store.use_sign_in_link(hash, self.clock.now()).await {
            Ok(link) => {
                let actor = Actor::customer(link.email.to_string(), link.email.clone());
                let user = SessionUser::Customer { email: link.email };
                self.open_session(user, actor).await
            }
            Err(StoreError::NotFound(_)) => {
                self.note_failure(vec![from]).await?;
                Err(SignInError::Refused)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a session for `user`, acting as `actor`.
    async fn open_session(&self, user: SessionUser, actor: Actor) -> Result<SignedIn, SignInError> {
        let secret = self.credentials.secret()?;
        let id = sha256_hex(secret.as_bytes());
        let now = self.clock.now();
        self.store
            .put_session(Session {
                id: id.clone(),
                user,
                created_at: now,
                last_seen_at: now,
            })
            .await?;
        Ok(SignedIn {
            secret,
            session: id,
            actor,
        })
    }

    /// Who a session secret (a cookie's value) signs in, with the session's id; `None` for
    /// an unknown, ended or expired session (an expired one is ended here), or a person no
    /// longer registered as staff. Records use at most once a minute.
    pub async fn session(&self, secret: &str) -> Result<Option<(Actor, String)>, ServiceError> {
        if secret.is_empty() || secret.len() > 256 {
            return Ok(None);
        }
        let id = sha256_hex(secret.as_bytes());
        // the session and its person in one read: a revoked session or a changed role is
        // what the store says now, on every request
        let SessionAndPerson { session, person } =
            match self.store.session_and_person(id.clone()).await {
                Ok(s) => s,
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
        let now = self.clock.now();
        let idle_end = session.last_seen_at + secs(SESSION_IDLE_SECS);
        let absolute_end = session.created_at + secs(SESSION_MAX_SECS);
        if now >= idle_end || now >= absolute_end {
            self.store
                .end_sessions(EndSessions::One { id: id.clone() })
                .await?;
            return Ok(None);
        }
        let actor = match (&session.user, person) {
            (SessionUser::Staff { .. }, Some(p)) if p.role.is_staff() => Actor::from_person(&p),
            (SessionUser::Staff { .. }, _) => return Ok(None),
            (SessionUser::Customer { email }, _) => {
                Actor::customer(email.to_string(), email.clone())
            }
        };
        if now >= session.last_seen_at + secs(TOUCH_EVERY_SECS) {
            match self.store.touch_session(id.clone(), now).await {
                Ok(()) => {}
                // ended by a sign-out racing this request
                Err(StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some((actor, id)))
    }

    /// Ends the session of this secret (sign out). Ending an unknown one is no error.
    pub async fn sign_out(&self, secret: &str) -> Result<(), ServiceError> {
        let id = sha256_hex(secret.as_bytes());
        self.store.end_sessions(EndSessions::One { id }).await?;
        Ok(())
    }

    /// Ends every session of the signed-in actor, on every device; answers how many ended.
    pub async fn sign_out_everywhere(&self, actor: &Actor) -> Result<u64, ServiceError> {
        let user = match (actor.role, &actor.email) {
            (Role::Customer, Some(email)) => SessionUser::Customer {
                email: email.clone(),
            },
            (role, _) if role.is_staff() => SessionUser::Staff {
                name: actor.name.clone(),
            },
            (role, _) => return Err(forbidden(role, "sign out everywhere")),
        };
        Ok(self
            .store
            .end_sessions(EndSessions::Of { user: user.key() })
            .await?)
    }
}
