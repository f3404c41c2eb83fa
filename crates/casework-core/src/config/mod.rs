//! The workflow configuration: statuses, transitions, permissions, closing rules — data, not code.
//!
//! Core parses and validates the text (`parse.rs`, one function per section of the file); the
//! front-end reads the file and hands the text over.

mod parse;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::delivery::DeliveryPolicy;
use crate::ids::{EmailAddress, StatusName};
use crate::model::{NotificationKind, Role, StatusCategory, string_enum};

/// The workflow file that ships with Casework.
pub const DEFAULT_WORKFLOW: &str = include_str!("../../defaults/workflow.toml");

string_enum!(
    /// What a role may do. Granted per role in the workflow file.
    Permission {
        /// Open a case (a customer only for themselves).
        OpenCase = "open_case",
        /// Read cases (a customer only their own, and only customer-visible parts).
        ViewCase = "view_case",
        /// Edit, log calls, post, record contacts, send emails, link, swarm.
        WorkCase = "work_case",
        /// Post customer-visible messages (what a customer may write).
        PostCustomer = "post_customer",
        /// Take ownership of an unowned case.
        TakeCase = "take_case",
        /// Assign or reassign any case to anyone.
        AssignCase = "assign_case",
        /// Move a case between open and pending statuses.
        Transition = "transition",
        /// Escalate.
        Escalate = "escalate",
        /// Close as resolved or for non-response.
        Close = "close",
        /// Close temporarily, at the customer's request (the owner, or whoever may assign).
        CloseTemporary = "close_temporary",
        /// Reopen a closed case.
        Reopen = "reopen",
        /// Reopen a temporarily closed case.
        ReopenTemporary = "reopen_temporary",
        /// Read the full event history.
        ViewHistory = "view_history",
        /// Search cases, articles and defects.
        Search = "search",
        /// Read reports.
        Reports = "reports",
        /// Add articles and defects.
        Knowledge = "knowledge",
        /// Read and flush the email outbox.
        Outbox = "outbox",
        /// Manage people, tokens and configuration.
        Manage = "manage",
        /// Use the storage protocol and copy whole stores (machine access; the equivalent of
        /// database credentials).
        Store = "store",
        /// Hand Casework raw inbound email (`casework mail ingest`, `POST
        /// /api/v1/inbound/email`): what a mail pipe or a provider's webhook holds.
        IngestMail = "ingest_mail",
        /// Be shown what may already answer a new case's title: articles, and one's own
        /// cases solved before (the portal's suggestions while a customer types).
        Suggest = "suggest",
        /// Read, release and drop inbound email the pipeline refused and kept
        /// (`casework mail quarantine`).
        Quarantine = "quarantine",
    }
);

impl Permission {
    /// What `"*"` grants: every permission but `store`. The storage protocol is machine
    /// access, the equivalent of database credentials, so a role gets it only where the file
    /// names it.
    pub fn wildcard() -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| *p != Permission::Store)
    }
}

/// A workflow file that cannot be used, with the line it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow file, line {line}: {message}")]
pub struct ConfigError {
    /// 1-based line of the problem (1 when the whole file is at fault).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One status of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDef {
    /// Its name.
    pub name: StatusName,
    /// Its category.
    pub category: StatusCategory,
    /// Statuses it may move to.
    pub transitions: Vec<StatusName>,
}

/// Which closing-checklist items are enforced (seed steps 7–11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecklistConfig {
    /// The last post is a case summary.
    pub summary_last_post: bool,
    /// The title was changed or confirmed since opening.
    pub title_reviewed: bool,
    /// Product and product version set.
    pub technical_details: bool,
    /// Product area, functionality and issue set.
    pub categorized: bool,
    /// Primary and secondary resolution given.
    pub resolution: bool,
}

impl Default for ChecklistConfig {
    fn default() -> Self {
        Self {
            summary_last_post: true,
            title_reviewed: true,
            technical_details: true,
            categorized: true,
            resolution: true,
        }
    }
}

/// The non-response policy (seed step 6): "reach out 3 times over email and twice over
/// the phone before sending them an email stating you are closing the case".
///
/// Counted since the customer was last reached (anything they send, a logged call, an
/// attempt recorded as reached): emails sent to the customer from Casework (initial contact,
/// follow-up) and attempts recorded without answer, by channel; on one channel, attempts
/// closer together than `min_gap_hours` count once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NonResponsePolicy {
    /// Unanswered emails needed.
    pub emails: u32,
    /// Unanswered phone calls needed.
    pub phone_calls: u32,
    /// Attempts on one channel closer together than this many hours count once.
    pub min_gap_hours: u32,
}

impl Default for NonResponsePolicy {
    fn default() -> Self {
        Self {
            emails: 3,
            phone_calls: 2,
            min_gap_hours: 20,
        }
    }
}

/// Webhooks (`[webhooks]`): what the operator allows endpoints to reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookPolicy {
    /// Let endpoints be loopback, private or link-local addresses (off by default: an
    /// admin could otherwise make the server call services only it can reach).
    pub allow_private_networks: bool,
}

/// Notifications to people (`[notifications]`): which the workflow sends, where new cases
/// and swarm requests go, and whether a customer whose email opens a case gets an
/// acknowledgement. Without the section nothing is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationPolicy {
    /// The kinds sent (`send`); each person can still turn any off for themselves.
    pub send: BTreeSet<NotificationKind>,
    /// Where a new case is announced (`new_case_to`, a team's address); every lead when
    /// absent.
    pub new_case_to: Option<EmailAddress>,
    /// Each collaboration group's address (`[notifications.groups]`), by its name; a swarm
    /// request to a group without one notifies nobody.
    pub groups: BTreeMap<String, EmailAddress>,
    /// Answer a customer whose email opens a case with the `acknowledgement` template
    /// (`acknowledge_email`), never an auto-reply or a bounce.
    pub acknowledge_email: bool,
}

impl NotificationPolicy {
    /// Whether the workflow sends notifications of `kind`.
    pub fn sends(&self, kind: NotificationKind) -> bool {
        self.send.contains(&kind)
    }

    /// The address of collaboration group `group` (its name compared without regard to
    /// case).
    pub fn group_address(&self, group: &str) -> Option<&EmailAddress> {
        self.groups
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(group.trim()))
            .map(|(_, address)| address)
    }
}

/// What a customer's email does to a closed case (`[inbound] closed_reply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedReply {
    /// Reopen it (reason "customer replied", counted in the reopen report).
    Reopen,
    /// Open a new case linked to it.
    NewCase,
    /// Reopen it when it was closed at most this many days ago, else open a new case
    /// linked to it.
    ReopenWithin {
        /// Days since the close within which a reply reopens.
        days: u32,
    },
}

/// What inbound email does to the workflow (`[inbound]`). A temporarily closed case always
/// reopens when its customer writes: that is what a temporary close is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPolicy {
    /// The status a case in a pending status moves to when its customer replies.
    pub reply_status: StatusName,
    /// What a customer's reply does to a case closed as resolved or for non-response.
    pub closed_reply: ClosedReply,
    /// Most cases one sender may open by email within a minute: more is a storm (a loop
    /// with another robot, a flood), and the message that would open one more is kept in
    /// the quarantine instead, for a person to release or drop.
    pub sender_cases_per_minute: u32,
}

impl InboundPolicy {
    /// [`Self::sender_cases_per_minute`] when the workflow file does not say.
    pub const DEFAULT_SENDER_CASES_PER_MINUTE: u32 = 5;
}

/// Attached files (`[attachments]`): how much one message or upload may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentPolicy {
    /// The most bytes the files of one email or one upload may hold together
    /// (`max_message_bytes`, 25 MiB when absent): bigger mail is kept in the quarantine,
    /// a bigger upload is refused.
    pub max_message_bytes: u64,
    /// The most bytes one file may hold (`max_file_bytes`; `max_message_bytes` when
    /// absent).
    pub max_file_bytes: u64,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        let limit = crate::limits::DEFAULT_ATTACHMENT_BYTES as u64;
        Self {
            max_message_bytes: limit,
            max_file_bytes: limit,
        }
    }
}

/// The organization, as it appears in every email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// "Thank you for contacting {name} Support".
    pub name: String,
    /// The From address of every email.
    pub support_email: EmailAddress,
}

/// A validated workflow configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowConfig {
    /// The organization.
    pub organization: Organization,
    statuses: Vec<StatusDef>,
    /// Status of a new case.
    pub initial_status: StatusName,
    /// Status a reopened case goes to.
    pub reopen_status: StatusName,
    /// Status the escalate command moves to.
    pub escalated_status: StatusName,
    /// Status of a resolved or non-response close.
    pub closed_status: StatusName,
    /// Status of a temporary close.
    pub temporary_close_status: StatusName,
    permissions: BTreeMap<Role, BTreeSet<Permission>>,
    /// Enforced closing-checklist items.
    pub checklist: ChecklistConfig,
    /// The non-response policy.
    pub non_response: NonResponsePolicy,
    /// How hard the outbox worker tries to deliver each email.
    pub delivery: DeliveryPolicy,
    /// What inbound email does to cases.
    pub inbound: InboundPolicy,
    /// What webhook endpoints may reach.
    pub webhooks: WebhookPolicy,
    /// Notifications to people.
    pub notifications: NotificationPolicy,
    /// How much attached files may hold.
    pub attachments: AttachmentPolicy,
}

impl WorkflowConfig {
    /// The configuration that ships with Casework.
    pub fn default_config() -> Self {
        match Self::parse(DEFAULT_WORKFLOW) {
            Ok(c) => c,
            // The embedded default is validated by a unit test; this arm is unreachable in a
            // released build, and falls back to a minimal but usable configuration.
            Err(_) => Self::minimal(),
        }
    }

    fn minimal() -> Self {
        let name = StatusName::trusted;
        let open = StatusDef {
            name: name("New"),
            category: StatusCategory::Open,
            transitions: vec![name("Closed")],
        };
        let closed = StatusDef {
            name: name("Closed"),
            category: StatusCategory::Closed,
            transitions: vec![],
        };
        let mut permissions = BTreeMap::new();
        permissions.insert(Role::Admin, Permission::wildcard().collect());
        Self {
            organization: Organization {
                name: "Support".into(),
                support_email: EmailAddress::trusted("support@example.com"),
            },
            statuses: vec![open, closed],
            initial_status: name("New"),
            reopen_status: name("New"),
            escalated_status: name("New"),
            closed_status: name("Closed"),
            temporary_close_status: name("Closed"),
            permissions,
            checklist: ChecklistConfig::default(),
            non_response: NonResponsePolicy::default(),
            delivery: DeliveryPolicy::default(),
            inbound: InboundPolicy {
                reply_status: name("New"),
                closed_reply: ClosedReply::Reopen,
                sender_cases_per_minute: InboundPolicy::DEFAULT_SENDER_CASES_PER_MINUTE,
            },
            webhooks: WebhookPolicy::default(),
            notifications: NotificationPolicy::default(),
            attachments: AttachmentPolicy::default(),
        }
    }

    /// Parses and validates a workflow file's text, section by section (`parse.rs`). A bad
    /// file is refused with the line and the reason.
    ///
    /// ```
    /// use casework_core::WorkflowConfig;
    ///
    /// let default = include_str!("../../defaults/workflow.toml");
    /// let config = WorkflowConfig::parse(default)?;
    /// assert_eq!(config.initial_status.as_str(), "New");
    ///
    /// let broken = default.replacen("initial_status = \"New\"", "initial_status = \"Neww\"", 1);
    /// let refused = WorkflowConfig::parse(&broken).unwrap_err();
    /// assert!(refused.to_string().contains("Neww"), "{refused}");
    /// # Ok::<(), casework_core::config::ConfigError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        parse::parse(text)
    }

    /// Every status, in file order.
    pub fn statuses(&self) -> &[StatusDef] {
        &self.statuses
    }

    /// Looks a status up by name, ignoring case.
    pub fn status(&self, name: &str) -> Option<&StatusDef> {
        self.statuses.iter().find(|d| d.name.same(name))
    }

    /// The category of a status the workflow names in its `[workflow]` section (which the
    /// parser checked exists); open for any other name.
    pub fn category_of(&self, name: &StatusName) -> StatusCategory {
        self.status(name.as_str())
            .map(|d| d.category)
            .unwrap_or(StatusCategory::Open)
    }

    /// Whether the workflow allows moving from one status to another.
    pub fn allows(&self, from: &StatusName, to: &StatusName) -> bool {
        self.status(from.as_str())
            .is_some_and(|d| d.transitions.iter().any(|t| t == to))
    }

    /// The statuses cases are in that this workflow does not have (renamed or removed in
    /// the file), with how many cases each: what `casework doctor` reports and
    /// `casework status map` fixes.
    pub fn stranded(&self, counts: &[crate::ports::StatusCount]) -> Vec<crate::ports::StatusCount> {
        counts
            .iter()
            .filter(|c| c.cases > 0 && self.status(c.status.as_str()).is_none())
            .cloned()
            .collect()
    }

    /// Whether a role holds a permission.
    pub fn permits(&self, role: Role, permission: Permission) -> bool {
        self.permissions
            .get(&role)
            .is_some_and(|s| s.contains(&permission))
    }
}

#[cfg(test)]
mod tests;
