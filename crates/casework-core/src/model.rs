//! The domain vocabulary: cases, people, timeline value types, knowledge articles and defects.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CaseNumber, EmailAddress, StatusName};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[doc = concat!("Wire name: `", $text, "`.")] #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // By hand: utoipa's derive does not see a `serde(rename)` built by this macro.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl std::str::FromStr for $name {
            type Err = crate::ids::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($text) || t.replace('-', "_").eq_ignore_ascii_case($text) {
                    return Ok($name::$variant);
                })+
                Err(crate::ids::ParseError {
                    what: stringify!($name),
                    value: t.chars().take(80).collect(),
                    reason: std::borrow::Cow::Borrowed(concat!("expected one of: ", $($text, " "),+)),
                })
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How the customer first reached support.
    Origin { Phone = "phone", Email = "email", Web = "web", Chat = "chat", Other = "other" }
);
string_enum!(
    /// How urgent the case is.
    Priority { Low = "low", Medium = "medium", High = "high", Urgent = "urgent" }
);
string_enum!(
    /// What a status means for reporting and for which commands apply.
    StatusCategory { Open = "open", Pending = "pending", Closed = "closed" }
);
string_enum!(
    /// The roles a person can hold.
    Role { Admin = "admin", Lead = "lead", Agent = "agent", Customer = "customer", Service = "service" }
);
string_enum!(
    /// Direction of a logged call.
    CallDirection { Inbound = "inbound", Outbound = "outbound" }
);
string_enum!(
    /// What a post is.
    PostKind {
        /// A free-form note.
        Note = "note",
        /// Everything that happened on a call (seed step 4).
        CallNotes = "call_notes",
        /// The case summary, the last post before closing (seed step 7).
        Summary = "summary",
        /// The reason a case was reopened; written by the reopen command only.
        ReopenReason = "reopen_reason",
    }
);
string_enum!(
    /// Who may see a timeline entry.
    Visibility { Internal = "internal", Customer = "customer" }
);
string_enum!(
    /// Channel of a contact attempt.
    ContactChannel { Email = "email", Phone = "phone" }
);
string_enum!(
    /// Result of a contact attempt.
    ContactOutcome { NoResponse = "no_response", Reached = "reached" }
);
string_enum!(
    /// How a case was closed.
    CloseMode {
        /// Resolved: the closing checklist held.
        Resolved = "resolved",
        /// Closed after the customer did not answer the required attempts.
        NonResponse = "non_response",
        /// Closed for now, at the customer's request, to be reopened later.
        Temporary = "temporary",
    }
);
string_enum!(
    /// Which threading rule put an inbound email on its case, in the order they are tried
    /// (recorded on the timeline).
    ThreadRule {
        /// A signed reply token in a recipient address (`support+c1027.SIGNATURE@…`).
        ReplyToken = "reply_token",
        /// `In-Reply-To`/`References` name a Message-ID Casework sent or received for the case.
        References = "references",
        /// A case tag in the subject (`[Case #00001027]`), from the case's customer.
        SubjectTag = "subject_tag",
        /// Nothing matched: the message opened a new case.
        NewCase = "new_case",
        /// A closed case's policy opened a new case linked to it.
        LinkedCase = "linked_case",
        /// A delivery-failure report about a message Casework sent for the case.
        Bounce = "bounce",
    }
);
string_enum!(
    /// What a link or search hit points to.
    RefKind { Case = "case", Article = "article", Defect = "defect" }
);
string_enum!(
    /// Generated documents.
    TemplateName {
        /// Step 1: "I have taken ownership of your case…".
        InitialContact = "initial_contact",
        /// Step 3: what was discussed, documentation, next steps, signature.
        FollowUp = "follow_up",
        /// Step 6: closing after the customer did not respond.
        NonResponseClosure = "non_response_closure",
        /// Sent when a case is reopened.
        ReopenNotice = "reopen_notice",
        /// Sent when a case is closed as resolved: the resolution, and how to come back.
        ResolutionNotice = "resolution_notice",
        /// Sent when a case is closed temporarily: how to come back to it.
        TemporaryCloseNotice = "temporary_close_notice",
        /// Step 7: the case-summary draft (not an email).
        CaseSummary = "case_summary",
        /// A customer's one-time sign-in link to the portal, sent when they ask for one;
        /// never from a case's composer (the link is `fields.note`).
        SignInLink = "sign_in_link",
        /// To the customer whose email opened a case: it was received, under this number
        /// (`[notifications] acknowledge_email`); an automatic answer (`auto-replied`).
        Acknowledgement = "acknowledgement",
        /// To the sender of an email whose files broke the workflow file's `[attachments]`
        /// limits: its text is on the case, its files are not (they wait in the quarantine),
        /// and why (`fields.note`); an automatic answer (`auto-replied`).
        FilesRefused = "files_refused",
        /// To staff: a new case (`[notifications]`, `new_case`).
        NoticeNewCase = "notice_new_case",
        /// To staff: a case was given to you (`assigned`).
        NoticeAssigned = "notice_assigned",
        /// To staff: the customer of a case you own wrote (`customer_reply`; the text is
        /// `fields.note`).
        NoticeCustomerReply = "notice_customer_reply",
        /// To a collaboration group's address: help is asked for (`swarm_requested`; the
        /// question is `fields.note`).
        NoticeSwarm = "notice_swarm",
        /// To staff: a case was reopened (`reopened`; the reason is `fields.note`).
        NoticeReopened = "notice_reopened",
    }
);
string_enum!(
    /// The notifications to people a workflow file can turn on (`[notifications] send`),
    /// and each person can turn off for themselves.
    NotificationKind {
        /// A new case: to the team's address, or every lead.
        NewCase = "new_case",
        /// A case given to someone: to its new owner.
        Assigned = "assigned",
        /// A customer wrote on their case (email or portal post): to its owner.
        CustomerReply = "customer_reply",
        /// Help asked of a collaboration group: to the group's address.
        SwarmRequested = "swarm_requested",
        /// A case reopened: to its owner at the close, and the leads.
        Reopened = "reopened",
    }
);
string_enum!(
    /// Delivery state of an outgoing email.
    OutboxStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
        /// Withdrawn by staff before it went (see [`crate::ports::OutboxAction::Cancel`]).
        Cancelled = "cancelled",
    }
);
string_enum!(
    /// Editable case fields that are plain text.
    Field {
        Title = "title",
        Description = "description",
        Product = "product",
        ProductVersion = "product_version",
        ProductArea = "product_area",
        Functionality = "functionality",
        Issue = "issue",
    }
);

impl Role {
    /// Whether the role works cases on the support side.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Lead | Role::Agent)
    }
}

impl TemplateName {
    /// Whether the document is an email (everything but the summary draft).
    pub fn is_email(self) -> bool {
        self != TemplateName::CaseSummary
    }

    /// Whether staff may send it from a case (everything but the summary draft, the
    /// sign-in link, which only the customer's own request sends, and the notifications,
    /// which only the workflow sends).
    pub fn is_case_email(self) -> bool {
        self.is_email()
            && self != TemplateName::SignInLink
            && self != TemplateName::Acknowledgement
            && self != TemplateName::FilesRefused
            && !self.is_staff_notice()
    }

    /// Whether it is a notification to staff (or a group's address), never to the case's
    /// customer: written to the outbox with the event it tells of, with no `email_queued`
    /// event of its own.
    pub fn is_staff_notice(self) -> bool {
        matches!(
            self,
            TemplateName::NoticeNewCase
                | TemplateName::NoticeAssigned
                | TemplateName::NoticeCustomerReply
                | TemplateName::NoticeSwarm
                | TemplateName::NoticeReopened
        )
    }

    /// Whether sending it is an attempt to reach the customer, which counts as an email
    /// attempt toward the non-response policy: the emails an agent writes to the customer
    /// (initial contact, follow-up), not the notices the workflow sends on its own.
    pub fn reaches_out(self) -> bool {
        matches!(self, TemplateName::InitialContact | TemplateName::FollowUp)
    }

    /// The `Auto-Submitted` value (RFC 3834) its email carries: `auto-replied` for the
    /// acknowledgement that answers a customer's email, `auto-generated` for the notices
    /// the workflow sends on its own (closures, reopens, notifications to staff), `None` for
    /// the emails an agent writes to the customer (initial contact, follow-up), whose
    /// answers, automatic or not, are worth having. Mail that carries it also asks for no
    /// automatic answers (`X-Auto-Response-Suppress: All`), so an out-of-office cannot start
    /// a loop.
    pub fn auto_submitted(self) -> Option<&'static str> {
        if matches!(
            self,
            TemplateName::Acknowledgement | TemplateName::FilesRefused
        ) {
            return Some("auto-replied");
        }
        (self.is_email() && !self.reaches_out()).then_some("auto-generated")
    }
}

/// The customer a case belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    /// Full name.
    pub name: String,
    /// Address used for every email and for customer access.
    pub email: EmailAddress,
    /// Phone number, if known.
    #[serde(default)]
    pub phone: Option<String>,
    /// Account or company, if known.
    #[serde(default)]
    pub account: Option<String>,
}

impl Customer {
    /// A customer with a name and an address, no phone and no account.
    pub fn new(name: impl Into<String>, email: EmailAddress) -> Self {
        Self {
            name: name.into(),
            email,
            phone: None,
            account: None,
        }
    }
}

/// Seed step 10: product area, functionality and issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Category {
    /// Product area.
    pub product_area: Option<String>,
    /// Functionality within the area.
    pub functionality: Option<String>,
    /// The kind of issue.
    pub issue: Option<String>,
}

/// Seed step 11: the two resolutions a resolved close requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    /// Primary resolution.
    pub primary: String,
    /// Secondary resolution.
    pub secondary: String,
}

/// A link from a case to an article, a defect or another case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkTarget {
    /// What is linked.
    pub kind: RefKind,
    /// Its reference: an article id, a defect key, or a case number.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// Unanswered contact attempts counted toward the non-response policy since the
/// customer was last reached (see [`crate::event::EventKind::reaches_customer`] and
/// [`crate::event::EventKind::counted_attempt`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactTally {
    /// Counted unanswered emails.
    pub emails: u32,
    /// Counted unanswered phone calls.
    pub phone_calls: u32,
    /// When the last counted attempt was made.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_counted_at: Option<Timestamp>,
    /// When the last counted email attempt was made (the policy's gap is per channel).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_email_at: Option<Timestamp>,
    /// When the last counted phone attempt was made.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_phone_at: Option<Timestamp>,
}

/// A case's email thread, as its emails built it: what the next email refers to, and what
/// a reply from the customer will refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailThread {
    /// The Message-ID of the first email the case sent (without angle brackets): the
    /// thread's root, in every later email's `References`.
    pub root: String,
    /// The Message-ID of the latest email the case sent: the next one's `In-Reply-To`.
    pub last: String,
}

/// A case: the state that replaying its events gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    /// Store-assigned number.
    pub number: CaseNumber,
    /// How many events the case has; the expected version for the next commit.
    pub version: u64,
    /// Title, reviewed before closing (seed step 8).
    pub title: String,
    /// What the customer described.
    pub description: String,
    /// Current status name.
    pub status: StatusName,
    /// Category of the current status.
    pub status_category: StatusCategory,
    /// Priority.
    pub priority: Priority,
    /// How the case came in.
    pub origin: Origin,
    /// Who the case is for.
    pub customer: Customer,
    /// Owning agent's name.
    pub owner: Option<String>,
    /// Product (seed step 9).
    pub product: Option<String>,
    /// Product version (seed step 9).
    pub product_version: Option<String>,
    /// Categorization (seed step 10).
    pub category: Category,
    /// Resolution given at the last resolved close.
    pub resolution: Option<Resolution>,
    /// How the case was last closed, while it is closed.
    pub close_mode: Option<CloseMode>,
    /// How many times the case was reopened.
    pub reopen_count: u32,
    /// Whether the title was changed or confirmed since the case was opened or reopened.
    pub title_reviewed: bool,
    /// Kind of the most recent post.
    pub last_post: Option<PostKind>,
    /// Attempts counted toward a non-response close.
    pub contacts: ContactTally,
    /// Articles, defects and cases linked while troubleshooting.
    pub links: Vec<LinkTarget>,
    /// Who opened the case.
    pub opened_by: String,
    /// When it was opened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// When it was last closed, while it is closed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Timestamp>,
    /// The email thread, once the case has sent an email whose Message-ID its history
    /// records (emails queued before Casework recorded them start a new thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_thread: Option<EmailThread>,
    /// When the customer last wrote on the case (a post of theirs, an email they wrote
    /// themselves): the desk's "last customer reply".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_customer_reply_at: Option<Timestamp>,
}

/// A case as the API and the CLI show it: its fields plus the zero-padded number.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseView<'a> {
    /// The number as customers see it: `00001027`.
    pub display_number: String,
    /// The case.
    #[serde(flatten)]
    pub case: &'a Case,
}

impl Case {
    /// The case with its display number, for output.
    pub fn view(&self) -> CaseView<'_> {
        CaseView {
            display_number: self.number.display(),
            case: self,
        }
    }

    /// The value of a plain-text field.
    pub fn field(&self, field: Field) -> Option<&str> {
        match field {
            Field::Title => Some(&self.title),
            Field::Description => Some(&self.description),
            Field::Product => self.product.as_deref(),
            Field::ProductVersion => self.product_version.as_deref(),
            Field::ProductArea => self.category.product_area.as_deref(),
            Field::Functionality => self.category.functionality.as_deref(),
            Field::Issue => self.category.issue.as_deref(),
        }
    }

    /// The case as a customer may see it: what the timeline keeps internal is cleared here
    /// too (linked articles, defects and cases, categorization, the contact tally, the kind
    /// of the last post, the title review). The resolution is theirs to see: the resolution
    /// email tells them.
    pub fn for_customer(&self) -> Case {
        Case {
            links: Vec::new(),
            category: Category::default(),
            contacts: ContactTally::default(),
            last_post: None,
            title_reviewed: false,
            ..self.clone()
        }
    }

    /// The invariants every case keeps, whatever events led to it: it is closed exactly when
    /// it has a close mode, and a case closed as resolved has both resolutions. The property
    /// test holds the workflow to them; the storage protocol refuses commits that break them.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.is_closed() != self.close_mode.is_some() {
            return Err("a case is closed exactly when it has a close mode".into());
        }
        if self.close_mode == Some(CloseMode::Resolved) {
            let both = self
                .resolution
                .as_ref()
                .is_some_and(|r| !r.primary.trim().is_empty() && !r.secondary.trim().is_empty());
            if !both {
                return Err("a case closed as resolved has both resolutions".into());
            }
        }
        Ok(())
    }

    /// Whether the case is in a closed-category status.
    pub fn is_closed(&self) -> bool {
        self.status_category == StatusCategory::Closed
    }
}

/// A person who acts on cases: staff (agents, leads, admins) and service accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// Unique name, used with `--as` and as a case owner.
    pub name: String,
    /// Role, which gives the permissions.
    pub role: Role,
    /// Contact email, used in signatures.
    pub email: Option<EmailAddress>,
    /// Contact phone, used in signatures.
    pub phone: Option<String>,
    /// Signature appended to emails.
    pub signature: Option<String>,
    /// The notifications this person turned off for themselves (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications_off: Vec<NotificationKind>,
}

impl Person {
    /// A person with a name and a role and nothing else (no email, phone or signature).
    pub fn new(name: impl Into<String>, role: Role) -> Self {
        Self {
            name: name.into(),
            role,
            email: None,
            phone: None,
            signature: None,
            notifications_off: Vec::new(),
        }
    }

    /// Whether this person gets notifications of `kind` (they did not turn it off, and
    /// have an address to get them at).
    pub fn wants(&self, kind: NotificationKind) -> bool {
        self.email.is_some() && !self.notifications_off.contains(&kind)
    }
}

/// Whoever issues a command: a person, or a customer identified by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Display name, written into the history. Not unique: two customers may share one.
    pub name: String,
    /// Who this is, stably and uniquely, as authentication established it: `token:ID` for
    /// a token, `person:NAME` for a registered person acting from the CLI, `system:NAME`
    /// for the engine itself. What is scoped per caller (idempotency keys) is scoped by it.
    #[serde(default)]
    pub principal: String,
    /// Role, which gives the permissions.
    pub role: Role,
    /// Email: for a customer, the address that scopes which cases exist for them.
    pub email: Option<EmailAddress>,
    /// Phone, for signatures.
    pub phone: Option<String>,
    /// Signature, for emails.
    pub signature: Option<String>,
}

impl Actor {
    /// The actor for a registered person.
    pub fn from_person(p: &Person) -> Self {
        Self {
            name: p.name.clone(),
            principal: format!("person:{}", p.name),
            role: p.role,
            email: p.email.clone(),
            phone: p.phone.clone(),
            signature: p.signature.clone(),
        }
    }

    /// The engine acting on its own behalf: the email delivery worker, setting up a new
    /// store. Front-ends use it only for such work, never for a request from a person.
    pub fn system(name: &str) -> Self {
        Self {
            name: name.to_string(),
            principal: format!("system:{name}"),
            role: Role::Admin,
            email: None,
            phone: None,
            signature: None,
        }
    }

    /// Whoever holds a store's own credentials (its file, or a service token for a remote
    /// store) and names no person: the local CLI before `--as`. The role is `service`, so
    /// what the workflow file grants that role (by default `store`) is what they may do.
    pub fn operator(name: &str) -> Self {
        Self {
            name: name.to_string(),
            principal: format!("operator:{name}"),
            role: Role::Service,
            email: None,
            phone: None,
            signature: None,
        }
    }

    /// A customer, who sees only the cases under this address; their principal is the
    /// address until authentication names the token ([`Actor::with_principal`]).
    pub fn customer(name: impl Into<String>, email: EmailAddress) -> Self {
        Self {
            name: name.into(),
            principal: format!("customer:{email}"),
            role: Role::Customer,
            email: Some(email),
            phone: None,
            signature: None,
        }
    }

    /// The same actor, identified as `principal` (authentication sets it).
    pub fn with_principal(self, principal: impl Into<String>) -> Self {
        Self {
            principal: principal.into(),
            ..self
        }
    }

    /// Whether this actor may see this case at all. A customer sees only their own.
    pub fn can_see(&self, case: &Case) -> bool {
        match self.role {
            Role::Customer => self.email.as_ref() == Some(&case.customer.email),
            _ => true,
        }
    }
}

/// A knowledge article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Article {
    /// Store-assigned id.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Where the article is published, if anywhere.
    pub url: Option<String>,
    /// When it was added.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A new article, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewArticle {
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Where the article is published, if anywhere.
    pub url: Option<String>,
}

/// A known defect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Defect {
    /// Its key in the defect tracker (`BUG-000123`).
    pub key: String,
    /// Title.
    pub title: String,
    /// Description.
    pub body: String,
    /// Tracker state (`open`, `fixed`, …).
    pub state: String,
    /// When it was added.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// Where an email of the timeline stands now: read from the outbox when the timeline is
/// shown, so a retry or a failure shows without touching the case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryStatus {
    /// Queued, sent or failed.
    pub status: OutboxStatus,
    /// Attempts so far (staff only; 0 for customers).
    #[serde(default)]
    pub attempts: u32,
    /// The last error (staff only: it names mail servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When a queued message is tried next (staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<Timestamp>,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub sent_at: Option<Timestamp>,
}

impl DeliveryStatus {
    /// The status of `m`, in full for staff, or only whether and when it went for customers.
    pub fn of(m: &OutboxMessage, staff: bool) -> Self {
        if staff {
            Self {
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error.clone(),
                next_attempt_at: (m.status == OutboxStatus::Queued).then_some(m.next_attempt_at),
                sent_at: m.sent_at,
            }
        } else {
            Self {
                status: m.status,
                attempts: 0,
                last_error: None,
                next_attempt_at: None,
                sent_at: m.sent_at,
            }
        }
    }
}

/// One entry of a case's timeline: an event, and for an email its delivery status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// The event.
    #[serde(flatten)]
    pub event: crate::event::Event,
    /// For an `email_queued` event: where the message stands now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryStatus>,
}

/// An email waiting in, or gone from, the transactional outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxMessage {
    /// Unique id, from the id generator.
    pub id: String,
    /// The case the email is about.
    pub case: CaseNumber,
    /// Which template produced it.
    pub template: TemplateName,
    /// Sender name.
    pub from_name: String,
    /// Sender address (the organization's support address).
    pub from: EmailAddress,
    /// Recipient name.
    pub to_name: String,
    /// Recipient address.
    pub to: EmailAddress,
    /// Subject, with the case number in it.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Stable RFC 5322 Message-ID (without angle brackets).
    pub message_id: String,
    /// The case's thread root (without angle brackets): the Message-ID of the case's first
    /// email, in `References`. For the first email it is its own Message-ID, and the
    /// message has no threading headers.
    pub thread_id: String,
    /// The Message-ID of the case's previous email (without angle brackets), for
    /// `In-Reply-To` and the end of `References`; `None` for the first email (and for
    /// messages queued before Casework recorded it, which refer to `thread_id` alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The last delivery error, if any.
    pub last_error: Option<String>,
    /// When it was queued.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// Not to be tried before this time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub next_attempt_at: Timestamp,
    /// Which worker holds the claim, if any.
    pub claimed_by: Option<String>,
    /// When the claim lapses.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub claimed_until: Option<Timestamp>,
    /// When it was sent.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub sent_at: Option<Timestamp>,
}

/// An API token as stored: its SHA-256 hash, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// Public id, for listing and revoking.
    pub id: String,
    /// Who or what it is for (a person's name for staff tokens).
    pub name: String,
    /// The role it acts with.
    pub role: Role,
    /// For a customer token: the customer whose cases it may see.
    pub customer_email: Option<EmailAddress>,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    /// When it was made.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it was revoked; a revoked token authenticates nobody.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Timestamp>,
}

/// The hex SHA-256 of a token secret: what the store keeps and looks tokens up by.
pub fn token_hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // every request with a token hashes it: one allocation, no formatter per byte
    let digest = sha2::Sha256::digest(bytes);
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_sha256_in_hex() {
        // FIPS 180-2 test vector
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(token_hash("abc"), token_hash("abd"));
    }
}
