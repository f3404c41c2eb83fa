//! The directory through the service: registering people, listing them, API tokens, and
//! authenticating a token's secret.

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::ids::EmailAddress;
use crate::input::{optional_line, required_line};
use crate::limits::{MAX_PERSON_NAME, MAX_PHONE, MIN_TOKEN_SECRET};
use crate::model::{Actor, ApiToken, Person, Role, token_hash};
use crate::ports::StoreError;
use crate::workflow::WorkflowError;

impl CaseService {
    /// Registers or updates a person. Needs the `manage` permission.
    pub async fn add_person(&self, actor: &Actor, person: Person) -> Result<Person, ServiceError> {
        self.require(actor, Permission::Manage, "manage people")?;
        let name = required_line("name", &person.name, MAX_PERSON_NAME)?;
        let phone = optional_line("phone", person.phone.as_deref(), MAX_PHONE)?;
        // notification settings are the person's own (set_notifications): an update keeps them
        let notifications_off = match self.store.get_person(name.clone()).await {
            Ok(known) if person.notifications_off.is_empty() => known.notifications_off,
            Ok(_) | Err(StoreError::NotFound(_)) => person.notifications_off,
            Err(e) => return Err(e.into()),
        };
        let person = Person {
            name,
            phone,
            notifications_off,
            ..person
        };
        self.store.put_person(person.clone()).await?;
        Ok(person)
    }

    /// Registers a person as `actor` (who needs `manage`), or with no actor while nobody is
    /// registered yet: the first person of a new store is added by whoever set it up.
    pub async fn register(
        &self,
        actor: Option<&Actor>,
        person: Person,
    ) -> Result<Person, ServiceError> {
        match actor {
            Some(a) => self.add_person(a, person).await,
            None if self.store.list_people().await?.is_empty() => {
                self.add_person(&Actor::system("setup"), person).await
            }
            None => Err(WorkflowError::Invalid {
                field: "actor".into(),
                message: "people are already registered: add more as an admin (--as ADMIN)".into(),
            }
            .into()),
        }
    }

    /// Everyone registered: for staff who may view cases, and for whoever holds the store's
    /// own credentials ([`Actor::operator`], through the `store` permission), who needs the
    /// names to act as someone.
    pub async fn people(&self, actor: &Actor) -> Result<Vec<Person>, ServiceError> {
        if !self.may_list_people(actor) {
            return Err(forbidden(actor.role, "list people"));
        }
        Ok(self.store.list_people().await?)
    }

    /// Whether [`people`](Self::people) answers `actor`.
    pub(crate) fn may_list_people(&self, actor: &Actor) -> bool {
        let staff = actor.role.is_staff() && self.config.permits(actor.role, Permission::ViewCase);
        staff || self.config.permits(actor.role, Permission::Store)
    }

    /// Makes an API token from a secret the caller generated (at least [`MIN_TOKEN_SECRET`] random
    /// characters); stores only its hash. Needs the `manage` permission. A customer token names the
    /// customer whose cases it sees; other tokens name none.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        customer_email: Option<EmailAddress>,
        secret: &str,
    ) -> Result<ApiToken, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        let name = required_line("name", name, MAX_PERSON_NAME)?;
        let invalid = |field: &str, message: &str| {
            ServiceError::Workflow(WorkflowError::Invalid {
                field: field.into(),
                message: message.into(),
            })
        };
        match (role, &customer_email) {
            (Role::Customer, None) => {
                return Err(invalid(
                    "customer_email",
                    "a customer token needs the customer's email",
                ));
            }
            (Role::Customer, Some(_)) => {}
            (_, Some(_)) => {
                return Err(invalid(
                    "customer_email",
                    "only a customer token names a customer",
                ));
            }
            (_, None) => {}
        }
        if secret.chars().count() < MIN_TOKEN_SECRET {
            return Err(invalid(
                "secret",
                &format!("a token secret needs at least {MIN_TOKEN_SECRET} characters"),
            ));
        }
        let hash = token_hash(secret);
        let token = ApiToken {
            id: self.ids.new_id(),
            name,
            role,
            customer_email,
            hash,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.put_token(token.clone()).await?;
        Ok(token)
    }

    /// Issues an API token whose secret the service makes from its credentials' random
    /// source (`cw_` and 43 URL-safe characters): answers the token and the secret, which
    /// is kept nowhere (only its hash is), for the caller to show once. Needs `manage`.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        customer_email: Option<EmailAddress>,
    ) -> Result<(ApiToken, String), ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        let secret = format!("cw_{}", self.credentials.secret()?);
        let token = self
            .create_token(actor, name, role, customer_email, &secret)
            .await?;
        Ok((token, secret))
    }

    /// Every token (hashes included, never secrets). Needs `manage`.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        Ok(self.store.list_tokens().await?)
    }

    /// Revokes a token. Needs `manage`.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<ApiToken, ServiceError> {
        self.require(actor, Permission::Manage, "manage tokens")?;
        Ok(self
            .store
            .revoke_token(id.trim().to_string(), self.clock.now())
            .await?)
    }

    /// The actor a token secret stands for; `None` for an unknown or revoked token. A staff
    /// token named after a registered person acts with that person's details.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Actor>, ServiceError> {
        let token = match self.store.find_token(token_hash(secret)).await {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if token.revoked_at.is_some() {
            return Ok(None);
        }
        let principal = format!("token:{}", token.id);
        if token.role.is_staff()
            && let Ok(p) = self.store.get_person(token.name.clone()).await
            && p.role == token.role
        {
            return Ok(Some(Actor::from_person(&p).with_principal(principal)));
        }
        Ok(Some(Actor {
            name: token.name,
            principal,
            role: token.role,
            email: token.customer_email,
            phone: None,
            signature: None,
        }))
    }
}
