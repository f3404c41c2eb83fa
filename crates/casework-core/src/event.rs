//! Events: the case history, and `evolve` — the pure function from events to case state.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CaseNumber, EmailAddress, StatusName};
use crate::model::{
    CallDirection, Case, Category, CloseMode, ContactChannel, ContactOutcome, ContactTally,
    Customer, EmailThread, Field, LinkTarget, Origin, PostKind, Priority, Resolution,
    StatusCategory, TemplateName, ThreadRule, Visibility,
};

/// One recorded change to a case: who, when, and what changed from what to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The case it belongs to.
    pub case: CaseNumber,
    /// Position in the case's history, from 1; the case version after applying it.
    pub seq: u64,
    /// When it happened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Who did it.
    pub actor: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Every variant carries what the history needs to show the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventKind {
    /// The case was opened.
    Opened {
        /// Title.
        title: String,
        /// Description.
        description: String,
        /// Origin.
        origin: Origin,
        /// Priority.
        priority: Priority,
        /// Customer.
        customer: Customer,
        /// Product, if known at opening.
        product: Option<String>,
        /// Product version, if known at opening.
        product_version: Option<String>,
        /// Initial status.
        status: StatusName,
        /// Its category.
        category: StatusCategory,
    },
    /// Ownership changed.
    OwnerChanged {
        /// Previous owner.
        from: Option<String>,
        /// New owner.
        to: String,
    },
    /// The status changed through the transition command.
    StatusChanged {
        /// Previous status.
        from: StatusName,
        /// New status.
        to: StatusName,
        /// Category of the new status.
        category: StatusCategory,
        /// Why (internal).
        note: Option<String>,
    },
    /// The case was moved out of a status the workflow file no longer has (`status map`).
    StatusMapped {
        /// The status the workflow no longer has.
        from: StatusName,
        /// The status it has now.
        to: StatusName,
        /// Its category.
        category: StatusCategory,
    },
    /// The case was escalated.
    Escalated {
        /// Previous status.
        from: StatusName,
        /// The escalated status.
        to: StatusName,
        /// Its category.
        category: StatusCategory,
        /// Why (internal).
        reason: String,
    },
    /// A plain-text field changed.
    FieldChanged {
        /// Which field.
        field: Field,
        /// Old value.
        from: Option<String>,
        /// New value.
        to: Option<String>,
    },
    /// The priority changed.
    PriorityChanged {
        /// Old priority.
        from: Priority,
        /// New priority.
        to: Priority,
    },
    /// The title was reviewed and confirmed as still right.
    TitleConfirmed,
    /// A call was logged (seed step 2). Customer-visible.
    CallLogged {
        /// Inbound or outbound.
        direction: CallDirection,
        /// Length of the call.
        duration_minutes: u32,
        /// Whether a screenshare was performed.
        screenshare: bool,
        /// Line the call came in over (e.g. a support-entitlement line).
        channel: Option<String>,
        /// What was said.
        notes: String,
        /// Whether the call reached the customer, so the non-response count starts over:
        /// every call logged since Casework counted calls (older histories say `false`).
        #[serde(default)]
        reached: bool,
    },
    /// A post was added (notes, call notes, summary, reopen reason).
    PostAdded {
        /// What kind of post.
        kind: PostKind,
        /// Text.
        body: String,
        /// Who may see it.
        visibility: Visibility,
        /// Whether the customer wrote it: the customer was reached, so the non-response
        /// count starts over.
        #[serde(default)]
        from_customer: bool,
    },
    /// An attempt to reach the customer (seed step 6).
    ContactAttempted {
        /// Email or phone.
        channel: ContactChannel,
        /// Whether the customer answered.
        outcome: ContactOutcome,
        /// Internal note.
        note: Option<String>,
        /// Whether it counts toward the non-response policy.
        counted: bool,
    },
    /// An email was queued in the outbox. Customer-visible.
    EmailQueued {
        /// Outbox message id.
        message: String,
        /// Its RFC 5322 Message-ID (without angle brackets): the case's thread is built
        /// from these. Absent in histories written before Casework recorded it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// Template used.
        template: TemplateName,
        /// Recipient.
        to: EmailAddress,
        /// Subject.
        subject: String,
        /// Body.
        body: String,
        /// Whether it counts as an unanswered email attempt toward the non-response policy
        /// (an email an agent sends to reach the customer, not too soon after the last one).
        #[serde(default)]
        counted: bool,
    },
    /// An email arrived and was put on the case (customer-visible when the case's customer
    /// wrote it, else internal for an agent to review).
    EmailReceived {
        /// Its Message-ID (without angle brackets), when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// The idempotency key it was taken under (from its Message-ID, or the digest of
        /// its bytes, and its sender): a redelivered copy finds it and changes nothing.
        key: String,
        /// The sender's address.
        from: EmailAddress,
        /// The sender's display name, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_name: Option<String>,
        /// The subject, on one line.
        subject: String,
        /// The readable text.
        body: String,
        /// Who may see it: the customer's own mail is customer-visible; mail from anyone
        /// else, automatic mail and bounces are internal.
        visibility: Visibility,
        /// Whether the case's customer wrote it themselves (not a machine): the customer
        /// was reached, so the non-response count starts over.
        from_customer: bool,
        /// Which threading rule matched.
        rule: ThreadRule,
        /// Why it is internal or has no effect (a stranger, an auto-reply, a bounce's
        /// diagnostic), for the agent; `None` for the customer's own reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An article, defect or case was linked (seed step 5).
    Linked {
        /// What was linked.
        target: LinkTarget,
    },
    /// A collaboration group was asked for help (internal).
    SwarmRequested {
        /// The group.
        group: String,
        /// The question.
        question: String,
    },
    /// The case was closed.
    Closed {
        /// How.
        mode: CloseMode,
        /// Previous status.
        from: StatusName,
        /// Closed status.
        to: StatusName,
        /// Resolution, for a resolved close.
        resolution: Option<Resolution>,
    },
    /// The case was reopened.
    Reopened {
        /// Closed status it left.
        from: StatusName,
        /// Reopen status.
        to: StatusName,
        /// Its category.
        category: StatusCategory,
        /// Why (internal; also recorded as a post).
        reason: String,
        /// Whether the customer is notified.
        notify_customer: bool,
        /// How the case had been closed.
        close_mode: CloseMode,
        /// When it had been closed.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
        closed_at: Timestamp,
    },
}

impl EventKind {
    /// The event's wire name (`opened`, `call_logged`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Opened { .. } => "opened",
            EventKind::OwnerChanged { .. } => "owner_changed",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::StatusMapped { .. } => "status_mapped",
            EventKind::Escalated { .. } => "escalated",
            EventKind::FieldChanged { .. } => "field_changed",
            EventKind::PriorityChanged { .. } => "priority_changed",
            EventKind::TitleConfirmed => "title_confirmed",
            EventKind::CallLogged { .. } => "call_logged",
            EventKind::PostAdded { .. } => "post_added",
            EventKind::ContactAttempted { .. } => "contact_attempted",
            EventKind::EmailQueued { .. } => "email_queued",
            EventKind::EmailReceived { .. } => "email_received",
            EventKind::Linked { .. } => "linked",
            EventKind::SwarmRequested { .. } => "swarm_requested",
            EventKind::Closed { .. } => "closed",
            EventKind::Reopened { .. } => "reopened",
        }
    }

    /// Whether this event means the customer was reached, so the non-response count starts
    /// over: anything the customer sends (a post of theirs; an email they wrote, not an
    /// auto-reply), a logged call, or an attempt recorded as reached. The one place that
    /// says it: `evolve` applies it, and a new way for the customer to answer is added here.
    pub fn reaches_customer(&self) -> bool {
        match self {
            EventKind::PostAdded { .. } | EventKind::EmailReceived { .. } => {
                self.written_by_customer()
            }
            EventKind::CallLogged { reached, .. } => *reached,
            EventKind::ContactAttempted { outcome, .. } => *outcome == ContactOutcome::Reached,
            _ => false,
        }
    }

    /// Whether the customer wrote this themselves: a post of theirs, or an email they wrote
    /// (not an auto-reply). The case's `last_customer_reply_at` follows these.
    pub fn written_by_customer(&self) -> bool {
        match self {
            EventKind::PostAdded { from_customer, .. }
            | EventKind::EmailReceived { from_customer, .. } => *from_customer,
            _ => false,
        }
    }

    /// The channel of an unanswered attempt this event counts toward the non-response
    /// policy: a recorded attempt without answer, or an email sent to reach the customer,
    /// each when `decide` counted it (attempts on one channel closer together than the
    /// policy's gap count once).
    pub fn counted_attempt(&self) -> Option<ContactChannel> {
        match self {
            EventKind::ContactAttempted {
                channel,
                outcome: ContactOutcome::NoResponse,
                counted: true,
                ..
            } => Some(*channel),
            EventKind::EmailQueued { counted: true, .. } => Some(ContactChannel::Email),
            _ => None,
        }
    }
}

/// The event that opens a case, as a type of its own: what a store's `create_case` takes, so
/// no other event can open a case and no store has to check it. On the wire it is the
/// `opened` event (`{"type": "opened", …}`); any other event is refused when it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "EventKind", try_from = "EventKind")]
pub struct Opened {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Origin.
    pub origin: Origin,
    /// Priority.
    pub priority: Priority,
    /// Customer.
    pub customer: Customer,
    /// Product, if known at opening.
    pub product: Option<String>,
    /// Product version, if known at opening.
    pub product_version: Option<String>,
    /// Initial status.
    pub status: StatusName,
    /// Its category.
    pub category: StatusCategory,
}

impl Opened {
    /// The case's first event: this, as event 1 of case `number`.
    pub fn event(self, number: CaseNumber, at: Timestamp, actor: String) -> Event {
        Event {
            case: number,
            seq: 1,
            at,
            actor,
            kind: self.into(),
        }
    }
}

impl From<Opened> for EventKind {
    fn from(o: Opened) -> Self {
        EventKind::Opened {
            title: o.title,
            description: o.description,
            origin: o.origin,
            priority: o.priority,
            customer: o.customer,
            product: o.product,
            product_version: o.product_version,
            status: o.status,
            category: o.category,
        }
    }
}

/// An event that is not `opened` where only `opened` may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a case starts with an opened event, not {0}")]
pub struct NotOpened(pub &'static str);

impl TryFrom<EventKind> for Opened {
    type Error = NotOpened;

    fn try_from(kind: EventKind) -> Result<Self, NotOpened> {
        match kind {
            EventKind::Opened {
                title,
                description,
                origin,
                priority,
                customer,
                product,
                product_version,
                status,
                category,
            } => Ok(Opened {
                title,
                description,
                origin,
                priority,
                customer,
                product,
                product_version,
                status,
                category,
            }),
            other => Err(NotOpened(other.name())),
        }
    }
}

/// Replaying events that do not form a valid history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The first event of a case must be `opened`, and only the first.
    #[error("event {seq} of case {case}: {message}")]
    Invalid {
        /// The case.
        case: CaseNumber,
        /// The offending event.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// No events at all.
    #[error("a case needs at least its opened event")]
    Empty,
}

impl Event {
    /// Evolve: the state after this event. `None` is the state before the case exists.
    ///
    /// Pure and total: an event that does not fit the state is an error, never a panic.
    pub fn evolve(&self, state: Option<Case>) -> Result<Case, ReplayError> {
        let invalid = |message: &str| ReplayError::Invalid {
            case: self.case,
            seq: self.seq,
            message: message.to_string(),
        };
        let mut case = match (state, &self.kind) {
            (
                None,
                EventKind::Opened {
                    title,
                    description,
                    origin,
                    priority,
                    customer,
                    product,
                    product_version,
                    status,
                    category,
                },
            ) => {
                if self.seq != 1 {
                    return Err(invalid("an opened event must come first"));
                }
                return Ok(Case {
                    number: self.case,
                    version: 1,
                    title: title.clone(),
                    description: description.clone(),
                    status: status.clone(),
                    status_category: *category,
                    priority: *priority,
                    origin: *origin,
                    customer: customer.clone(),
                    owner: None,
                    product: product.clone(),
                    product_version: product_version.clone(),
                    category: Category::default(),
                    resolution: None,
                    close_mode: None,
                    reopen_count: 0,
                    title_reviewed: false,
                    last_post: None,
                    contacts: ContactTally::default(),
                    links: Vec::new(),
                    opened_by: self.actor.clone(),
                    created_at: self.at,
                    updated_at: self.at,
                    closed_at: None,
                    email_thread: None,
                    last_customer_reply_at: None,
                });
            }
            (None, _) => return Err(invalid("the first event must be opened")),
            (Some(_), EventKind::Opened { .. }) => {
                return Err(invalid("a case is opened only once"));
            }
            (Some(case), _) => case,
        };
        if case.number != self.case {
            return Err(invalid("event belongs to another case"));
        }
        if self.seq != case.version + 1 {
            return Err(invalid("events must be applied in sequence"));
        }
        case.version = self.seq;
        case.updated_at = self.at;
        if self.kind.reaches_customer() {
            case.contacts = ContactTally::default();
        }
        if self.kind.written_by_customer() {
            case.last_customer_reply_at = Some(self.at);
        }
        if let Some(channel) = self.kind.counted_attempt() {
            let t = &mut case.contacts;
            match channel {
                ContactChannel::Email => {
                    t.emails += 1;
                    t.last_email_at = Some(self.at);
                }
                ContactChannel::Phone => {
                    t.phone_calls += 1;
                    t.last_phone_at = Some(self.at);
                }
            }
            t.last_counted_at = Some(self.at);
        }
        match &self.kind {
            EventKind::Opened { .. } => {}
            EventKind::OwnerChanged { to, .. } => case.owner = Some(to.clone()),
            EventKind::StatusChanged { to, category, .. }
            | EventKind::StatusMapped { to, category, .. }
            | EventKind::Escalated { to, category, .. } => {
                case.status = to.clone();
                case.status_category = *category;
            }
            EventKind::FieldChanged { field, to, .. } => set_field(&mut case, *field, to.clone()),
            EventKind::PriorityChanged { to, .. } => case.priority = *to,
            EventKind::TitleConfirmed => case.title_reviewed = true,
            EventKind::CallLogged { .. }
            | EventKind::SwarmRequested { .. }
            | EventKind::EmailReceived { .. }
            | EventKind::ContactAttempted { .. } => {}
            EventKind::EmailQueued { message_id, .. } => {
                if let Some(id) = message_id {
                    let root = match case.email_thread.take() {
                        Some(thread) => thread.root,
                        None => id.clone(),
                    };
                    case.email_thread = Some(EmailThread {
                        root,
                        last: id.clone(),
                    });
                }
            }
            EventKind::PostAdded { kind, .. } => case.last_post = Some(*kind),
            EventKind::Linked { target } => {
                if !case.links.contains(target) {
                    case.links.push(target.clone());
                }
            }
            EventKind::Closed {
                mode,
                to,
                resolution,
                ..
            } => {
                case.status = to.clone();
                case.status_category = StatusCategory::Closed;
                case.close_mode = Some(*mode);
                case.closed_at = Some(self.at);
                if resolution.is_some() {
                    case.resolution = resolution.clone();
                }
            }
            EventKind::Reopened { to, category, .. } => {
                case.status = to.clone();
                case.status_category = *category;
                case.close_mode = None;
                case.closed_at = None;
                case.reopen_count += 1;
                case.title_reviewed = false;
                case.contacts = ContactTally::default();
            }
        }
        Ok(case)
    }

    /// The event as a customer may see it, or `None` if it is internal.
    ///
    /// Internal parts of a visible event (a status-change note, a reopen reason) are removed.
    pub fn for_customer(&self) -> Option<Event> {
        let kind = match &self.kind {
            EventKind::Opened { .. }
            | EventKind::OwnerChanged { .. }
            | EventKind::PriorityChanged { .. }
            | EventKind::CallLogged { .. }
            | EventKind::EmailQueued { .. }
            | EventKind::StatusMapped { .. }
            | EventKind::Closed { .. } => self.kind.clone(),
            EventKind::FieldChanged { field, .. } => match field {
                Field::Title | Field::Description | Field::Product | Field::ProductVersion => {
                    self.kind.clone()
                }
                Field::ProductArea | Field::Functionality | Field::Issue => return None,
            },
            EventKind::StatusChanged {
                from, to, category, ..
            } => EventKind::StatusChanged {
                from: from.clone(),
                to: to.clone(),
                category: *category,
                note: None,
            },
            EventKind::PostAdded { visibility, .. }
            | EventKind::EmailReceived { visibility, .. } => match visibility {
                Visibility::Customer => self.kind.clone(),
                Visibility::Internal => return None,
            },
            EventKind::Reopened {
                from,
                to,
                category,
                notify_customer,
                close_mode,
                closed_at,
                ..
            } => EventKind::Reopened {
                from: from.clone(),
                to: to.clone(),
                category: *category,
                reason: String::new(),
                notify_customer: *notify_customer,
                close_mode: *close_mode,
                closed_at: *closed_at,
            },
            EventKind::Escalated { .. }
            | EventKind::TitleConfirmed
            | EventKind::ContactAttempted { .. }
            | EventKind::Linked { .. }
            | EventKind::SwarmRequested { .. } => return None,
        };
        Some(Event {
            kind,
            ..self.clone()
        })
    }

    /// Free text this event adds to the case, with who may see it; what search indexes.
    pub fn text(&self) -> Option<(Visibility, &str)> {
        use Visibility::{Customer, Internal};
        match &self.kind {
            EventKind::CallLogged { notes, .. } => Some((Customer, notes)),
            EventKind::PostAdded {
                body, visibility, ..
            } => Some((*visibility, body)),
            EventKind::EmailQueued { body, .. } => Some((Customer, body)),
            EventKind::EmailReceived {
                body, visibility, ..
            } => Some((*visibility, body)),
            EventKind::SwarmRequested { question, .. } => Some((Internal, question)),
            EventKind::Escalated { reason, .. } => Some((Internal, reason)),
            EventKind::StatusChanged { note: Some(n), .. } => Some((Internal, n)),
            EventKind::ContactAttempted { note: Some(n), .. } => Some((Internal, n)),
            EventKind::Reopened { reason, .. } => Some((Internal, reason)),
            _ => None,
        }
    }
}

fn set_field(case: &mut Case, field: Field, value: Option<String>) {
    match field {
        Field::Title => {
            case.title = value.unwrap_or_default();
            case.title_reviewed = true;
        }
        Field::Description => case.description = value.unwrap_or_default(),
        Field::Product => case.product = value,
        Field::ProductVersion => case.product_version = value,
        Field::ProductArea => case.category.product_area = value,
        Field::Functionality => case.category.functionality = value,
        Field::Issue => case.category.issue = value,
    }
}

/// Replays a case's whole history from nothing.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Case, ReplayError> {
    let mut state = None;
    for e in events {
        state = Some(e.evolve(state)?);
    }
    state.ok_or(ReplayError::Empty)
}

/// Applies new events to a state, for a commit.
pub fn apply_all(mut case: Case, events: &[Event]) -> Result<Case, ReplayError> {
    for e in events {
        case = e.evolve(Some(case))?;
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opening_event_is_the_opened_event_on_the_wire_and_nothing_else_is() {
        let opened = crate::testing::opened("Printer offline");
        let kind: EventKind = opened.clone().into();
        // the same JSON as the event it is, so fingerprints and the protocol are unchanged
        assert_eq!(
            serde_json::to_value(&opened).unwrap(),
            serde_json::to_value(&kind).unwrap()
        );
        let back: Opened = serde_json::from_value(serde_json::to_value(&kind).unwrap()).unwrap();
        assert_eq!(back, opened);
        let other = serde_json::to_value(EventKind::TitleConfirmed).unwrap();
        let err = serde_json::from_value::<Opened>(other).unwrap_err();
        assert!(err.to_string().contains("not title_confirmed"), "{err}");
        assert_eq!(
            Opened::try_from(EventKind::TitleConfirmed),
            Err(NotOpened("title_confirmed"))
        );
        let event = opened.event(CaseNumber::MIN, crate::testing::START, "ana".into());
        assert_eq!((event.seq, event.kind), (1, kind));
    }

    #[test]
    fn the_last_customer_reply_is_the_last_thing_the_customer_wrote() {
        let start = crate::testing::START;
        let opened =
            crate::testing::opened("Printer offline").event(CaseNumber::MIN, start, "ana".into());
        let mut case = opened.evolve(None).unwrap();
        assert_eq!(case.last_customer_reply_at, None);
        let post = |from_customer: bool| EventKind::PostAdded {
            kind: crate::model::PostKind::Note,
            body: "b".into(),
            visibility: Visibility::Customer,
            from_customer,
        };
        let email = |from_customer: bool| EventKind::EmailReceived {
            message_id: None,
            key: "k".into(),
            from: crate::ids::EmailAddress::trusted("a@customer.example"),
            from_name: None,
            subject: "s".into(),
            body: "b".into(),
            visibility: Visibility::Customer,
            from_customer,
            rule: ThreadRule::References,
            note: None,
        };
        let mut expected = None;
        for (i, (kind, theirs)) in [
            (post(true), true),
            (post(false), false),
            (email(true), true),
            (email(false), false),
            (EventKind::TitleConfirmed, false),
        ]
        .into_iter()
        .enumerate()
        {
            let at = start + jiff::SignedDuration::from_mins(i as i64 + 1);
            if theirs {
                expected = Some(at);
            }
            let event = Event {
                case: CaseNumber::MIN,
                seq: case.version + 1,
                at,
                actor: "someone".into(),
                kind,
            };
            case = event.evolve(Some(case)).unwrap();
            assert_eq!(
                case.last_customer_reply_at,
                expected,
                "after event {}",
                i + 2
            );
        }
        // an agent's note and an auto-reply after the customer's email leave it be
        assert_eq!(
            case.last_customer_reply_at,
            Some(start + jiff::SignedDuration::from_mins(3))
        );
    }
}
