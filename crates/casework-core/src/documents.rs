//! Generated documents: the emails and the case-summary draft, rendered with minijinja from
//! templates that ship embedded and can be overridden per deployment.

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use crate::config::Organization;
use crate::event::{Event, EventKind};
use crate::ids::EmailAddress;
use crate::model::{
    Actor, Article, CallDirection, Case, ContactTally, PostKind, RefKind, TemplateName,
};

/// The templates that ship with Casework: `(file name, source)`.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("signature.j2", include_str!("../templates/signature.j2")),
    (
        "sign_in_link.subject.j2",
        include_str!("../templates/sign_in_link.subject.j2"),
    ),
    (
        "sign_in_link.body.j2",
        include_str!("../templates/sign_in_link.body.j2"),
    ),
    (
        "initial_contact.subject.j2",
        include_str!("../templates/initial_contact.subject.j2"),
    ),
    (
        "initial_contact.body.j2",
        include_str!("../templates/initial_contact.body.j2"),
    ),
    (
        "follow_up.subject.j2",
        include_str!("../templates/follow_up.subject.j2"),
    ),
    (
        "follow_up.body.j2",
        include_str!("../templates/follow_up.body.j2"),
    ),
    (
        "non_response_closure.subject.j2",
        include_str!("../templates/non_response_closure.subject.j2"),
    ),
    (
        "non_response_closure.body.j2",
        include_str!("../templates/non_response_closure.body.j2"),
    ),
    (
        "reopen_notice.subject.j2",
        include_str!("../templates/reopen_notice.subject.j2"),
    ),
    (
        "reopen_notice.body.j2",
        include_str!("../templates/reopen_notice.body.j2"),
    ),
    (
        "resolution_notice.subject.j2",
        include_str!("../templates/resolution_notice.subject.j2"),
    ),
    (
        "resolution_notice.body.j2",
        include_str!("../templates/resolution_notice.body.j2"),
    ),
    (
        "temporary_close_notice.subject.j2",
        include_str!("../templates/temporary_close_notice.subject.j2"),
    ),
    (
        "temporary_close_notice.body.j2",
        include_str!("../templates/temporary_close_notice.body.j2"),
    ),
    (
        "acknowledgement.subject.j2",
        include_str!("../templates/acknowledgement.subject.j2"),
    ),
    (
        "acknowledgement.body.j2",
        include_str!("../templates/acknowledgement.body.j2"),
    ),
    (
        "files_refused.subject.j2",
        include_str!("../templates/files_refused.subject.j2"),
    ),
    (
        "files_refused.body.j2",
        include_str!("../templates/files_refused.body.j2"),
    ),
    (
        "notice_new_case.subject.j2",
        include_str!("../templates/notice_new_case.subject.j2"),
    ),
    (
        "notice_new_case.body.j2",
        include_str!("../templates/notice_new_case.body.j2"),
    ),
    (
        "notice_assigned.subject.j2",
        include_str!("../templates/notice_assigned.subject.j2"),
    ),
    (
        "notice_assigned.body.j2",
        include_str!("../templates/notice_assigned.body.j2"),
    ),
    (
        "notice_customer_reply.subject.j2",
        include_str!("../templates/notice_customer_reply.subject.j2"),
    ),
    (
        "notice_customer_reply.body.j2",
        include_str!("../templates/notice_customer_reply.body.j2"),
    ),
    (
        "notice_swarm.subject.j2",
        include_str!("../templates/notice_swarm.subject.j2"),
    ),
    (
        "notice_swarm.body.j2",
        include_str!("../templates/notice_swarm.body.j2"),
    ),
    (
        "notice_reopened.subject.j2",
        include_str!("../templates/notice_reopened.subject.j2"),
    ),
    (
        "notice_reopened.body.j2",
        include_str!("../templates/notice_reopened.body.j2"),
    ),
    (
        "case_summary.body.j2",
        include_str!("../templates/case_summary.body.j2"),
    ),
];

/// A template that cannot be compiled or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template file name.
    pub template: String,
    /// Line of the problem, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl TemplateError {
    fn from_minijinja(template: &str, e: &minijinja::Error) -> Self {
        let mut message = e.kind().to_string();
        if let Some(d) = e.detail() {
            message = format!("{message}: {d}");
        }
        Self {
            template: e.name().unwrap_or(template).to_string(),
            line: e.line(),
            message,
        }
    }
}

/// Fields an agent fills in for an email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailFields {
    /// Initial contact: what the customer is experiencing (defaults to the title).
    #[serde(default)]
    pub challenge: Option<String>,
    /// Follow-up: summary of what was discussed (required for a follow-up).
    #[serde(default)]
    pub discussed: Option<String>,
    /// Follow-up: next steps.
    #[serde(default)]
    pub next_steps: Option<String>,
    /// Follow-up: documentation links.
    #[serde(default)]
    pub documentation: Vec<String>,
    /// Any email: a paragraph added before the signature.
    #[serde(default)]
    pub note: Option<String>,
}

/// A rendered email, before it is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    /// Recipient address.
    pub to: EmailAddress,
    /// Recipient name.
    pub to_name: String,
    /// Subject, always carrying `[Case NNNNNNNN]`.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// The case-summary draft (seed step 7), built from the case's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryDraft {
    /// The issue.
    pub issue: String,
    /// Product, version and categorization.
    pub environment: String,
    /// Calls, call notes, swarms and linked cases and defects.
    pub troubleshooting: String,
    /// Linked articles.
    pub documentation: String,
    /// The resolution, if already known.
    pub resolution: String,
    /// The whole draft, rendered from the `case_summary` template.
    pub text: String,
}

/// The compiled template set.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

#[derive(Serialize)]
struct CaseCtx<'a> {
    number: u64,
    display_number: String,
    title: &'a str,
    description: &'a str,
    status: &'a str,
    priority: &'a str,
    product: Option<&'a str>,
    product_version: Option<&'a str>,
    owner: Option<&'a str>,
    customer: &'a crate::model::Customer,
    resolution: Option<&'a crate::model::Resolution>,
}

#[derive(Serialize)]
struct OrgCtx<'a> {
    name: &'a str,
    support_email: &'a str,
}

#[derive(Serialize)]
struct AgentCtx<'a> {
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    signature: Option<&'a str>,
}

#[derive(Serialize)]
struct DocCtx<'a> {
    org: OrgCtx<'a>,
    case: CaseCtx<'a>,
    agent: AgentCtx<'a>,
    fields: &'a EmailFields,
    attempts: &'a ContactTally,
    summary: Option<&'a SummaryDraft>,
}

fn to_value(ctx: DocCtx<'_>) -> Value {
    Value::from(minijinja::value::Serde(ctx))
}

fn doc_ctx<'a>(
    org: &'a Organization,
    case: &'a Case,
    agent: &'a Actor,
    fields: &'a EmailFields,
    summary: Option<&'a SummaryDraft>,
) -> DocCtx<'a> {
    DocCtx {
        org: OrgCtx {
            name: &org.name,
            support_email: org.support_email.as_str(),
        },
        case: CaseCtx {
            number: case.number.get(),
            display_number: case.number.display(),
            title: &case.title,
            description: &case.description,
            status: case.status.as_str(),
            priority: case.priority.as_str(),
            product: case.product.as_deref(),
            product_version: case.product_version.as_deref(),
            owner: case.owner.as_deref(),
            customer: &case.customer,
            resolution: case.resolution.as_ref(),
        },
        agent: AgentCtx {
            name: &agent.name,
            email: agent.email.as_ref().map(EmailAddress::as_str),
            phone: agent.phone.as_deref(),
            signature: agent.signature.as_deref(),
        },
        fields,
        attempts: &case.contacts,
        summary,
    }
}

impl Templates {
    /// The embedded templates.
    pub fn embedded() -> Result<Self, TemplateError> {
        Self::with_overrides(Vec::new())
    }

    /// The embedded templates, with some replaced by a deployment's own `(file name, text)`.
    ///
    /// Every template is compiled and trial-rendered against a sample case, so a syntax error
    /// or an unknown variable is refused here, with its line, not when an email is sent.
    pub fn with_overrides(overrides: Vec<(String, String)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| TemplateError::from_minijinja("syntax", &e))?;
        env.set_syntax(syntax);
        for (name, source) in EMBEDDED {
            env.add_template(name, source)
                .map_err(|e| TemplateError::from_minijinja(name, &e))?;
        }
        for (name, source) in overrides {
            if !EMBEDDED.iter().any(|(n, _)| *n == name) {
                return Err(TemplateError {
                    template: name,
                    line: None,
                    message: format!(
                        "not a Casework template; known templates: {}",
                        EMBEDDED
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            env.add_template_owned(name.clone(), source)
                .map_err(|e| TemplateError::from_minijinja(&name, &e))?;
        }
        let templates = Self { env };
        templates.trial_render()?;
        Ok(templates)
    }

    fn trial_render(&self) -> Result<(), TemplateError> {
        let (org, case, agent) = sample();
        let fields = EmailFields {
            challenge: Some("sample".into()),
            discussed: Some("sample".into()),
            next_steps: Some("sample".into()),
            documentation: vec!["https://example.com/doc".into()],
            note: Some("sample".into()),
        };
        for t in TemplateName::ALL {
            let summary = SummaryDraft {
                issue: "i".into(),
                environment: "e".into(),
                troubleshooting: "t".into(),
                documentation: "d".into(),
                resolution: "r".into(),
                text: String::new(),
            };
            let ctx = to_value(doc_ctx(&org, &case, &agent, &fields, Some(&summary)));
            if t.is_email() {
                let name = format!("{t}.subject.j2");
                let subject = self.render_one(&name, &ctx)?;
                // a subject is a header: one line (white space is folded when rendered)
                let folded = subject.split_whitespace().collect::<Vec<_>>().join(" ");
                if let Some(problem) = crate::input::line_problem(&folded) {
                    return Err(TemplateError {
                        template: name,
                        line: None,
                        message: format!("the rendered subject {problem}"),
                    });
                }
            }
            self.render_one(&format!("{t}.body.j2"), &ctx)?;
            let bare = EmailFields::default();
            let ctx = to_value(doc_ctx(&org, &case, &agent, &bare, Some(&summary)));
            self.render_one(&format!("{t}.body.j2"), &ctx)?;
        }
        Ok(())
    }

    fn render_one(&self, name: &str, ctx: &Value) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::from_minijinja(name, &e))?;
        let out = tmpl
            .render(ctx)
            .map_err(|e| TemplateError::from_minijinja(name, &e))?;
        if out.trim().is_empty() {
            return Err(TemplateError {
                template: name.to_string(),
                line: None,
                message: "rendered nothing; an email or summary is never sent empty".into(),
            });
        }
        Ok(out)
    }

    /// Renders an email to the case's customer.
    pub fn render_email(
        &self,
        template: TemplateName,
        org: &Organization,
        case: &Case,
        agent: &Actor,
        fields: &EmailFields,
    ) -> Result<RenderedEmail, TemplateError> {
        let (subject, body) =
            self.render_parts(template, org, case, agent, fields, case.number.display())?;
        Ok(RenderedEmail {
            to: case.customer.email.clone(),
            to_name: case.customer.name.clone(),
            subject,
            body,
        })
    }

    /// Renders a notification (a staff notice) to `to` about `case`, told as `agent`'s
    /// doing. `display_number` stands for the case's number wherever a template shows it:
    /// a case not yet numbered (its opening notice) is rendered with a placeholder the store
    /// replaces once it has the number ([`crate::notify::number_notices`]).
    #[allow(clippy::too_many_arguments)]
    pub fn render_notice(
        &self,
        template: TemplateName,
        org: &Organization,
        case: &Case,
        agent: &Actor,
        fields: &EmailFields,
        to: (EmailAddress, String),
        display_number: String,
    ) -> Result<RenderedEmail, TemplateError> {
        let (subject, body) =
            self.render_parts(template, org, case, agent, fields, display_number)?;
        Ok(RenderedEmail {
            to: to.0,
            to_name: to.1,
            subject,
            body,
        })
    }

    /// An email's subject (on one line, tagged `[Case N]`) and body.
    fn render_parts(
        &self,
        template: TemplateName,
        org: &Organization,
        case: &Case,
        agent: &Actor,
        fields: &EmailFields,
        display_number: String,
    ) -> Result<(String, String), TemplateError> {
        if !template.is_email() {
            return Err(TemplateError {
                template: template.to_string(),
                line: None,
                message: "is not an email; use the summary draft".into(),
            });
        }
        let mut doc = doc_ctx(org, case, agent, fields, None);
        let tag = format!("[Case {display_number}]");
        doc.case.display_number = display_number;
        let ctx = to_value(doc);
        let subject = self.render_one(&format!("{template}.subject.j2"), &ctx)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let subject = if subject.contains(&tag) {
            subject
        } else {
            format!("{tag} {subject}")
        };
        let body = self.render_one(&format!("{template}.body.j2"), &ctx)?;
        Ok((subject, normalize_body(&body)))
    }

    /// Drafts the case summary from the case's record (seed step 7).
    pub fn summary_draft(
        &self,
        org: &Organization,
        case: &Case,
        history: &[Event],
        articles: &[Article],
        agent: &Actor,
    ) -> Result<SummaryDraft, TemplateError> {
        let mut draft = summary_parts(case, history, articles);
        let fields = EmailFields::default();
        let ctx = to_value(doc_ctx(org, case, agent, &fields, Some(&draft)));
        draft.text = normalize_body(&self.render_one("case_summary.body.j2", &ctx)?);
        Ok(draft)
    }
}

/// Trims trailing spaces on each line and collapses runs of blank lines.
fn normalize_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

const NOT_RECORDED: &str = "Not recorded yet.";

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

fn summary_parts(case: &Case, history: &[Event], articles: &[Article]) -> SummaryDraft {
    let issue = if case.description.trim().is_empty() {
        case.title.clone()
    } else {
        case.description.trim().to_string()
    };

    let mut env = Vec::new();
    match (&case.product, &case.product_version) {
        (Some(p), Some(v)) => env.push(format!("Product: {p} {v}")),
        (Some(p), None) => env.push(format!("Product: {p} (version not recorded)")),
        _ => {}
    }
    let c = &case.category;
    let cat: Vec<&str> = [&c.product_area, &c.functionality, &c.issue]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !cat.is_empty() {
        env.push(format!("Category: {}", cat.join(" / ")));
    }

    let mut steps = Vec::new();
    let mut docs = Vec::new();
    for e in history {
        match &e.kind {
            EventKind::CallLogged {
                direction,
                duration_minutes,
                screenshare,
                notes,
                ..
            } => steps.push(format!(
                "- {} call, {duration_minutes} min{}: {}",
                match direction {
                    CallDirection::Inbound => "Inbound",
                    CallDirection::Outbound => "Outbound",
                },
                if *screenshare { ", screenshare" } else { "" },
                first_line(notes)
            )),
            EventKind::PostAdded {
                kind: PostKind::CallNotes,
                body,
                ..
            } => steps.push(format!("- Call notes: {}", first_line(body))),
            EventKind::SwarmRequested { group, question } => {
                steps.push(format!("- Asked {group}: {}", first_line(question)));
            }
            EventKind::Linked { target } => match target.kind {
                RefKind::Article => {
                    let found = target
                        .reference
                        .parse::<u64>()
                        .ok()
                        .and_then(|id| articles.iter().find(|a| a.id == id));
                    docs.push(match found {
                        Some(a) => match &a.url {
                            Some(u) => format!("- Article {}: {} ({u})", a.id, a.title),
                            None => format!("- Article {}: {}", a.id, a.title),
                        },
                        None => format!("- Article {}", target.reference),
                    });
                }
                RefKind::Defect => {
                    steps.push(format!("- Related defect {}", target.reference));
                }
                RefKind::Case => steps.push(format!("- Related case #{}", target.reference)),
            },
            _ => {}
        }
    }
    let or_not = |v: Vec<String>| {
        if v.is_empty() {
            NOT_RECORDED.to_string()
        } else {
            v.join("\n")
        }
    };
    let resolution = match &case.resolution {
        Some(r) => format!("{} / {}", r.primary, r.secondary),
        None => "To be given when closing (primary and secondary resolution).".into(),
    };
    SummaryDraft {
        issue,
        environment: or_not(env),
        troubleshooting: or_not(steps),
        documentation: or_not(docs),
        resolution,
        text: String::new(),
    }
}

fn sample() -> (Organization, Case, Actor) {
    let org = Organization {
        name: "Sample Org".into(),
        support_email: EmailAddress::trusted("support@example.com"),
    };
    let case = crate::testing::sample_case();
    let agent = Actor {
        name: "Sample Agent".into(),
        principal: "person:Sample Agent".into(),
        role: crate::model::Role::Agent,
        email: Some(EmailAddress::trusted("agent@example.com")),
        phone: Some("+1 555 0100".into()),
        signature: Some("Sample Agent\nSample Org Support".into()),
    };
    (org, case, agent)
}

#[cfg(test)]
mod tests;
