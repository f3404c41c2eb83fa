//! The workflow configuration: statuses, transitions, permissions, closing rules — data, not code.
//!
//! Core parses and validates the text; the front-end reads the file and hands the text over.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use crate::delivery::DeliveryPolicy;
use crate::ids::{EmailAddress, StatusName};
use crate::model::{Role, StatusCategory, string_enum};

/// The workflow file that ships with Casework.
pub const DEFAULT_WORKFLOW: &str = include_str!("../defaults/workflow.toml");

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
        /// Use the storage protocol (machine access; the equivalent of database credentials).
        Store = "store",
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
}

/// The `[delivery]` section: whole seconds, so the file stays plain TOML.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawDelivery {
    max_attempts: u32,
    first_retry_seconds: u32,
    max_retry_seconds: u32,
    lease_seconds: u32,
}

impl Default for RawDelivery {
    fn default() -> Self {
        let d = DeliveryPolicy::default();
        let secs = |d: jiff::SignedDuration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Self {
            max_attempts: d.max_attempts,
            first_retry_seconds: secs(d.first_retry),
            max_retry_seconds: secs(d.max_retry),
            lease_seconds: secs(d.lease),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    organization: RawOrganization,
    workflow: RawWorkflow,
    status: Vec<RawStatus>,
    permissions: RawPermissions,
    #[serde(default)]
    closing_checklist: ChecklistConfig,
    #[serde(default)]
    non_response: NonResponsePolicy,
    #[serde(default)]
    delivery: Option<Spanned<RawDelivery>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    name: Spanned<String>,
    support_email: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    initial_status: Spanned<String>,
    reopen_status: Spanned<String>,
    escalated_status: Spanned<String>,
    closed_status: Spanned<String>,
    temporary_close_status: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    name: Spanned<String>,
    category: Spanned<String>,
    #[serde(default)]
    transitions: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissions {
    #[serde(default)]
    admin: Vec<Spanned<String>>,
    #[serde(default)]
    lead: Vec<Spanned<String>>,
    #[serde(default)]
    agent: Vec<Spanned<String>>,
    #[serde(default)]
    customer: Vec<Spanned<String>>,
    #[serde(default)]
    service: Vec<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
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
        }
    }

    /// Parses and validates a workflow file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().to_string(),
        })?;
        let err = |span: std::ops::Range<usize>, message: String| ConfigError {
            line: line_of(text, span.start),
            message,
        };

        let org_name = raw.organization.name.get_ref().trim().to_string();
        if org_name.is_empty() {
            return Err(err(
                raw.organization.name.span(),
                "organization name is empty".into(),
            ));
        }
        // it is the sender's name on every email: one line of plain text
        if let Some(problem) = crate::input::line_problem(raw.organization.name.get_ref()) {
            return Err(err(
                raw.organization.name.span(),
                format!("organization name {problem}"),
            ));
        }
        let support_email: EmailAddress =
            raw.organization.support_email.get_ref().parse().map_err(
                |e: crate::ids::ParseError| {
                    err(raw.organization.support_email.span(), e.to_string())
                },
            )?;

        // statuses
        let mut statuses: Vec<StatusDef> = Vec::new();
        for s in &raw.status {
            let name: StatusName = s
                .name
                .get_ref()
                .parse()
                .map_err(|e: crate::ids::ParseError| err(s.name.span(), e.to_string()))?;
            if statuses.iter().any(|d| d.name.same(name.as_str())) {
                return Err(err(
                    s.name.span(),
                    format!("status {name:?} is listed twice"),
                ));
            }
            let category: StatusCategory = s.category.get_ref().parse().map_err(|_| {
                err(
                    s.category.span(),
                    format!(
                        "unknown category {:?}: expected open, pending or closed",
                        s.category.get_ref()
                    ),
                )
            })?;
            statuses.push(StatusDef {
                name,
                category,
                transitions: Vec::new(),
            });
        }
        if statuses.is_empty() {
            return Err(ConfigError {
                line: 1,
                message: "no statuses are defined".into(),
            });
        }
        let names: Vec<StatusName> = statuses.iter().map(|d| d.name.clone()).collect();
        let resolve = |spanned: &Spanned<String>| -> Result<StatusName, ConfigError> {
            names
                .iter()
                .find(|n| n.same(spanned.get_ref()))
                .cloned()
                .ok_or_else(|| {
                    err(
                        spanned.span(),
                        format!("unknown status {:?}", spanned.get_ref()),
                    )
                })
        };
        let mut all_transitions = Vec::new();
        for s in &raw.status {
            let mut ts = Vec::new();
            for t in &s.transitions {
                ts.push(resolve(t)?);
            }
            all_transitions.push(ts);
        }
        for (def, ts) in statuses.iter_mut().zip(all_transitions) {
            def.transitions = ts;
        }

        let category_of = |name: &StatusName| {
            statuses
                .iter()
                .find(|d| &d.name == name)
                .map(|d| d.category)
                .unwrap_or(StatusCategory::Open)
        };
        let w = &raw.workflow;
        let initial_status = resolve(&w.initial_status)?;
        let reopen_status = resolve(&w.reopen_status)?;
        let escalated_status = resolve(&w.escalated_status)?;
        let closed_status = resolve(&w.closed_status)?;
        let temporary_close_status = resolve(&w.temporary_close_status)?;
        for (spanned, name) in [
            (&w.initial_status, &initial_status),
            (&w.reopen_status, &reopen_status),
            (&w.escalated_status, &escalated_status),
        ] {
            if category_of(name) == StatusCategory::Closed {
                return Err(err(
                    spanned.span(),
                    format!(
                        "status {name:?} is in the closed category; it must be open or pending"
                    ),
                ));
            }
        }
        for (spanned, name) in [
            (&w.closed_status, &closed_status),
            (&w.temporary_close_status, &temporary_close_status),
        ] {
            if category_of(name) != StatusCategory::Closed {
                return Err(err(
                    spanned.span(),
                    format!("status {name:?} must be in the closed category"),
                ));
            }
        }

        // permissions
        let p = &raw.permissions;
        let mut permissions = BTreeMap::new();
        for (role, list) in [
            (Role::Admin, &p.admin),
            (Role::Lead, &p.lead),
            (Role::Agent, &p.agent),
            (Role::Customer, &p.customer),
            (Role::Service, &p.service),
        ] {
            let mut set = BTreeSet::new();
            for item in list {
                if item.get_ref() == "*" {
                    set.extend(Permission::wildcard());
                    continue;
                }
                let perm: Permission = item.get_ref().parse().map_err(|_| {
                    err(
                        item.span(),
                        format!(
                            "unknown permission {:?}; known: *, {}",
                            item.get_ref(),
                            Permission::ALL
                                .iter()
                                .map(|p| p.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
                set.insert(perm);
            }
            permissions.insert(role, set);
        }
        // A customer must never be able to act as staff, whatever the file says.
        if let Some(set) = permissions.get_mut(&Role::Customer) {
            set.retain(|p| {
                matches!(
                    p,
                    Permission::OpenCase | Permission::ViewCase | Permission::PostCustomer
                )
            });
        }

        let (d, delivery_span) = match &raw.delivery {
            Some(spanned) => (*spanned.get_ref(), spanned.span()),
            None => (RawDelivery::default(), 0..0),
        };
        if d.max_attempts == 0 || d.first_retry_seconds == 0 || d.lease_seconds == 0 {
            return Err(err(
                delivery_span.clone(),
                "delivery: max_attempts, first_retry_seconds and lease_seconds must be at least 1"
                    .into(),
            ));
        }
        if d.max_retry_seconds < d.first_retry_seconds {
            return Err(err(
                delivery_span.clone(),
                "delivery: max_retry_seconds is shorter than first_retry_seconds".into(),
            ));
        }
        let seconds = |n: u32| jiff::SignedDuration::from_secs(i64::from(n));
        let delivery = DeliveryPolicy {
            max_attempts: d.max_attempts,
            first_retry: seconds(d.first_retry_seconds),
            max_retry: seconds(d.max_retry_seconds),
            lease: seconds(d.lease_seconds),
            ..DeliveryPolicy::default()
        };

        Ok(Self {
            organization: Organization {
                name: org_name,
                support_email,
            },
            statuses,
            initial_status,
            reopen_status,
            escalated_status,
            closed_status,
            temporary_close_status,
            permissions,
            checklist: raw.closing_checklist,
            non_response: raw.non_response,
            delivery,
        })
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
mod tests {
    use super::*;

    #[test]
    fn the_default_workflow_parses() {
        let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
        assert_eq!(c.statuses().len(), 6);
        assert_eq!(c.initial_status.as_str(), "New");
        assert_eq!(c.reopen_status.as_str(), "New");
        assert_eq!(c.non_response.emails, 3);
        assert_eq!(c.non_response.phone_calls, 2);
        assert!(c.permits(Role::Lead, Permission::Reopen));
        assert!(!c.permits(Role::Agent, Permission::Reopen));
        assert!(c.permits(Role::Admin, Permission::Manage));
        assert!(c.allows(&"New".parse().unwrap(), &"In Progress".parse().unwrap()));
        assert!(!c.allows(&"Closed".parse().unwrap(), &"New".parse().unwrap()));
        assert_eq!(WorkflowConfig::default_config(), c);
    }

    fn with(from: &str, to: &str) -> String {
        DEFAULT_WORKFLOW.replacen(from, to, 1)
    }

    fn line_of_text(needle: &str, text: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn a_reopen_status_can_be_configured() {
        let text = with(
            r#"reopen_status = "New""#,
            r#"reopen_status = "In Progress""#,
        );
        let c = WorkflowConfig::parse(&text).unwrap();
        assert_eq!(c.reopen_status.as_str(), "In Progress");
    }

    #[test]
    fn an_unknown_status_in_a_transition_is_refused_with_its_line() {
        let text = with(
            r#"transitions = ["Pending Customer", "Escalated", "Closed", "Temporarily Closed"]"#,
            r#"transitions = ["Pending Customr"]"#,
        );
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert_eq!(e.line, line_of_text("Pending Customr", &text));
        assert!(
            e.message.contains("unknown status \"Pending Customr\""),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let text = with("[non_response]\n", "[non_response]\nemail = 3\n");
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert_eq!(e.line, line_of_text("email = 3", &text));
        assert!(e.message.contains("email"), "{e}");
    }

    #[test]
    fn syntax_errors_and_bad_values_name_their_line() {
        let text = with("emails = 3", "emails = three");
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert_eq!(e.line, line_of_text("emails = three", &text));

        let text = with(
            r#"support_email = "support@example.com""#,
            r#"support_email = "nope""#,
        );
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert_eq!(e.line, line_of_text("support_email", &text));
        assert!(e.to_string().starts_with("workflow file, line"), "{e}");

        // the organization name is the sender's name on every email: one line
        let text = with(
            r#"name = "Example Corp""#,
            r#"name = "Example\r\nBcc: all@example.com""#,
        );
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("line break"), "{e}");
        assert_eq!(e.line, line_of_text("Bcc: all", &text));

        let text = with(r#""reopen", "reopen_temporary""#, r#""reopen", "fly""#);
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("unknown permission \"fly\""), "{e}");
    }

    #[test]
    fn closed_and_open_roles_of_statuses_are_checked() {
        let text = with(r#"reopen_status = "New""#, r#"reopen_status = "Closed""#);
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("closed category"), "{e}");
        let text = with(r#"closed_status = "Closed""#, r#"closed_status = "New""#);
        assert!(WorkflowConfig::parse(&text).is_err());
        let text = with(
            "name = \"Closed\"\ncategory = \"closed\"",
            "name = \"new\"\ncategory = \"closed\"",
        );
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("listed twice"), "{e}");
    }

    #[test]
    fn a_wildcard_grants_everything_but_the_storage_protocol() {
        let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
        assert!(c.permits(Role::Admin, Permission::Manage));
        assert!(
            !c.permits(Role::Admin, Permission::Store),
            "admin = [\"*\"]"
        );
        assert!(c.permits(Role::Service, Permission::Store));
        let named = with(r#"admin = ["*"]"#, r#"admin = ["*", "store"]"#);
        assert!(
            WorkflowConfig::parse(&named)
                .unwrap()
                .permits(Role::Admin, Permission::Store)
        );
        let none = with(r#"service = ["store"]"#, r#"service = []"#);
        assert!(
            !WorkflowConfig::parse(&none)
                .unwrap()
                .permits(Role::Service, Permission::Store)
        );
        assert!(!WorkflowConfig::minimal().permits(Role::Admin, Permission::Store));
    }

    #[test]
    fn a_customer_never_gets_staff_permissions() {
        let text = with(
            r#"customer = ["open_case", "view_case", "post_customer"]"#,
            r#"customer = ["*"]"#,
        );
        let c = WorkflowConfig::parse(&text).unwrap();
        assert!(c.permits(Role::Customer, Permission::ViewCase));
        assert!(!c.permits(Role::Customer, Permission::WorkCase));
        assert!(!c.permits(Role::Customer, Permission::Store));
    }

    #[test]
    fn the_delivery_policy_is_configured_in_seconds_and_checked() {
        let c = WorkflowConfig::parse(DEFAULT_WORKFLOW).unwrap();
        assert_eq!(c.delivery, DeliveryPolicy::default());
        let text = with("max_attempts = 8", "max_attempts = 3")
            .replace("first_retry_seconds = 60", "first_retry_seconds = 1")
            .replace("lease_seconds = 300", "lease_seconds = 2");
        let c = WorkflowConfig::parse(&text).unwrap();
        assert_eq!(c.delivery.max_attempts, 3);
        assert_eq!(c.delivery.first_retry, jiff::SignedDuration::from_secs(1));
        assert_eq!(c.delivery.lease, jiff::SignedDuration::from_secs(2));
        assert_eq!(c.delivery.max_retry, jiff::SignedDuration::from_hours(6));
        // a file without the section gets the defaults
        let start = DEFAULT_WORKFLOW.find("\n# Email delivery").unwrap();
        let c = WorkflowConfig::parse(&DEFAULT_WORKFLOW[..start]).unwrap();
        assert_eq!(c.delivery, DeliveryPolicy::default());
        let text = with("max_attempts = 8", "max_attempts = 0");
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("at least 1"), "{e}");
        let line = DEFAULT_WORKFLOW
            .lines()
            .position(|l| l == "[delivery]")
            .unwrap()
            + 1;
        assert_eq!(e.line, line, "{e}");
        let text = with("max_retry_seconds = 21600", "max_retry_seconds = 10");
        let e = WorkflowConfig::parse(&text).unwrap_err();
        assert!(e.message.contains("shorter than"), "{e}");
    }

    #[test]
    fn checklist_items_can_be_switched_off() {
        let text = with("categorized = true", "categorized = false");
        let c = WorkflowConfig::parse(&text).unwrap();
        assert!(!c.checklist.categorized);
        assert!(c.checklist.summary_last_post);
    }
}
