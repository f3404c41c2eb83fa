//! Notifications through the service: every write the service makes asks
//! [`crate::workflow::notify`] which notices its events make, reading the directory only
//! when one may, and puts them in the same commit; the settings each person keeps.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::event::{Event, Opened, replay};
use crate::model::{Actor, NotificationKind, OutboxMessage, Person};
use crate::ports::Commit;
use crate::workflow::notify::{Notifier, may_notify, notices};

/// A person's notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettings {
    /// Whose.
    pub person: String,
    /// The kinds they turned off.
    pub off: Vec<NotificationKind>,
    /// The kinds the workflow file sends that reach them (an address, and not turned off).
    pub on: Vec<NotificationKind>,
}

impl CaseService {
    /// The notices `events` make about the case they leave as `state`, as `actor`'s doing.
    async fn notices_of(
        &self,
        events: &[Event],
        state: &crate::model::Case,
        actor: &Actor,
        numbered: bool,
        now: Timestamp,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        if !may_notify(&self.config, events) {
            return Ok(Vec::new());
        }
        let people = self.store.list_people().await?;
        let n = Notifier {
            config: &self.config,
            templates: &self.templates,
            ids: self.ids.as_ref(),
            now,
            people: &people,
        };
        Ok(notices(events, state, actor, numbered, &n)?)
    }

    /// Adds to `commit` the notices its events make.
    pub(crate) async fn add_notices(
        &self,
        commit: &mut Commit,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let notices = self
            .notices_of(&commit.events, &commit.state, actor, true, now)
            .await?;
        commit.outbox.extend(notices);
        Ok(())
    }

    /// The notices a case opened with `opened` makes, to be numbered by the store with the
    /// case ([`crate::workflow::notify::number_notices`]).
    pub(crate) async fn opening_notices(
        &self,
        actor: &Actor,
        opened: &Opened,
        now: Timestamp,
    ) -> Result<Vec<OutboxMessage>, ServiceError> {
        let event = opened
            .clone()
            .event(crate::ids::CaseNumber::MIN, now, actor.name.clone());
        let state = replay([&event])
            .map_err(|e| ServiceError::Internal(format!("an opened event does not apply: {e}")))?;
        self.notices_of(std::slice::from_ref(&event), &state, actor, false, now)
            .await
    }

    /// May `actor` read and change `name`'s settings: their own (staff acting as that
    /// person, signed in or with a token named after them), or anyone's with `manage`.
    fn may_set(&self, actor: &Actor, name: &str) -> Result<(), ServiceError> {
        let own = actor.role.is_staff() && actor.name == name.trim();
        if own || self.config.permits(actor.role, Permission::Manage) {
            Ok(())
        } else {
            Err(forbidden(
                actor.role,
                "change another person's notifications",
            ))
        }
    }

    fn settings(&self, p: &Person) -> NotificationSettings {
        NotificationSettings {
            person: p.name.clone(),
            off: p.notifications_off.clone(),
            on: NotificationKind::ALL
                .iter()
                .copied()
                .filter(|k| self.config.notifications.sends(*k) && p.wants(*k))
                .collect(),
        }
    }

    /// A person's notification settings: their own (staff), or anyone's with `manage`.
    pub async fn notification_settings(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<NotificationSettings, ServiceError> {
        self.may_set(actor, name)?;
        let p = self.store.get_person(name.trim().to_string()).await?;
        Ok(self.settings(&p))
    }

    /// Turns notifications of the kinds in `off` off and those in `on` on for a person:
    /// their own (staff), or anyone's with `manage`. The rest of the person is unchanged; a
    /// kind both turned on and off is refused.
    pub async fn set_notifications(
        &self,
        actor: &Actor,
        name: &str,
        off: &[NotificationKind],
        on: &[NotificationKind],
    ) -> Result<NotificationSettings, ServiceError> {
        self.may_set(actor, name)?;
        if let Some(both) = off.iter().find(|k| on.contains(k)) {
            return Err(crate::workflow::WorkflowError::Invalid {
                field: "on".into(),
                message: format!("{both} is turned both on and off"),
            }
            .into());
        }
        let mut p = self.store.get_person(name.trim().to_string()).await?;
        p.notifications_off.retain(|k| !on.contains(k));
        for k in off {
            if !p.notifications_off.contains(k) {
                p.notifications_off.push(*k);
            }
        }
        p.notifications_off.sort();
        self.store.put_person(p.clone()).await?;
        Ok(self.settings(&p))
    }
}
