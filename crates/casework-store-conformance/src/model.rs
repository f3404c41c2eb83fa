//! Random command sequences driven through `CaseService` on a store, checked against a small
//! model written without `evolve`: what each accepted command must change on the case, which
//! events it must record and which emails it must queue; and that a refused command changes
//! nothing in the store. The behaviour `random_commands_change_what_an_independent_model_says`
//! runs it on every store; this module holds the generator and the model.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use casework_core::WorkflowConfig;
use casework_core::config::ClosedReply;
use casework_core::documents::EmailFields;
use casework_core::ids::CaseNumber;
use casework_core::model::{
    Actor, CallDirection, Case, CloseMode, ContactChannel, ContactOutcome, LinkTarget, PostKind,
    RefKind, Resolution, Role, StatusCategory, TemplateName, Visibility,
};
use casework_core::workflow::{CaseEdit, Command};
use jiff::{SignedDuration, Timestamp};

/// A small deterministic generator (xorshift64*), so a failure names its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// One of `items`.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Someone to act, most often the agent who works the case: ana and bob (agents) and lee
/// (a lead), registered in the store; the case's customer; another customer.
pub fn actor(rng: &mut Rng, people: &[Actor]) -> Actor {
    people[rng.pick(&[0, 0, 0, 0, 0, 1, 2, 2, 3, 3, 4])].clone()
}

/// The people of a sequence: two agents and a lead (registered in the store), the case's
/// customer, and another customer.
pub fn actors(customer: &Actor) -> Vec<Actor> {
    let staff = |name: &str, role| Actor {
        role,
        email: Some(format!("{name}@example.com").parse().unwrap()),
        ..Actor::system(name)
    };
    vec![
        staff("ana", Role::Agent),
        staff("bob", Role::Agent),
        staff("lee", Role::Lead),
        customer.clone(),
        Actor::customer("Eve", "eve@elsewhere.example".parse().unwrap()),
    ]
}

fn text(rng: &mut Rng, words: &[&str]) -> String {
    rng.pick(words).to_string()
}

/// A random command, weighted toward what moves a case through the workflow.
pub fn command(rng: &mut Rng) -> Command {
    let statuses = [
        "New",
        "in progress",
        "Escalated",
        "Pending Customer",
        "Closed",
        "Nowhere",
    ];
    let opt = |rng: &mut Rng, words: &[&str]| rng.chance(75).then(|| text(rng, words));
    match rng.below(20) {
        0 => Command::Take,
        1 => Command::Assign {
            owner: text(rng, &["ana", "bob", "lee"]),
        },
        2 => Command::Transition {
            status: text(rng, &statuses),
            note: opt(rng, &["why", " "]),
        },
        3 => Command::Escalate {
            reason: text(rng, &["outage", " "]),
        },
        4 | 5 => Command::Edit(CaseEdit {
            title: opt(rng, &["Printing fails", "Export fails", " "]),
            product: opt(rng, &["Server", " Server ", ""]),
            product_version: opt(rng, &["11.3", ""]),
            product_area: opt(rng, &["Printing", "Exporting", " "]),
            functionality: opt(rng, &["Queue"]),
            issue: opt(rng, &["Configuration", ""]),
            ..CaseEdit::default()
        }),
        6 => Command::ConfirmTitle,
        7 => Command::LogCall {
            direction: CallDirection::Inbound,
            duration_minutes: rng.pick(&[0, 5, 25]),
            screenshare: rng.chance(50),
            channel: None,
            notes: text(rng, &["talked it through", " "]),
        },
        8 | 9 => Command::AddPost {
            kind: rng.pick(&[PostKind::Note, PostKind::Summary, PostKind::CallNotes]),
            body: text(rng, &["any news?", "summary of it all", ""]),
            visibility: rng.pick(&[Visibility::Internal, Visibility::Customer]),
        },
        10..=12 => Command::RecordContact {
            channel: rng.pick(&[ContactChannel::Email, ContactChannel::Phone]),
            outcome: if rng.chance(85) {
                ContactOutcome::NoResponse
            } else {
                ContactOutcome::Reached
            },
            note: None,
        },
        13 => Command::SendEmail {
            template: rng.pick(&[TemplateName::InitialContact, TemplateName::FollowUp]),
            fields: EmailFields {
                discussed: opt(rng, &["the logs"]),
                ..EmailFields::default()
            },
        },
        // the behaviour opens cases 1 and 2 before any sequence
        14 => Command::Link(LinkTarget {
            kind: RefKind::Case,
            reference: text(rng, &["1", "00000002", "900001"]),
        }),
        15 => Command::Swarm {
            group: "Server SWARM".into(),
            question: text(rng, &["seen this?", ""]),
        },
        16 | 17 => Command::Close {
            mode: rng.pick(&[
                CloseMode::Resolved,
                CloseMode::NonResponse,
                CloseMode::Temporary,
            ]),
            resolution: rng.chance(70).then(|| Resolution {
                primary: text(rng, &["Configuration", " Training ", ""]),
                secondary: text(rng, &["Done", ""]),
            }),
            notify_customer: rng.chance(80),
        },
        _ => Command::Reopen {
            reason: text(rng, &["it came back", " "]),
            notify_customer: rng.chance(70),
        },
    }
}

/// How long the clock moves before a step: up to a day and a half.
pub fn pause(rng: &mut Rng) -> SignedDuration {
    SignedDuration::from_mins(rng.below(36 * 60) as i64)
}

/// The facts of a case the model predicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub version: u64,
    pub status: String,
    pub category: StatusCategory,
    pub owner: Option<String>,
    pub title: String,
    pub title_reviewed: bool,
    pub product: Option<String>,
    pub product_version: Option<String>,
    pub product_area: Option<String>,
    pub functionality: Option<String>,
    pub issue: Option<String>,
    pub last_post: Option<PostKind>,
    pub resolution: Option<(String, String)>,
    pub close_mode: Option<CloseMode>,
    pub closed_at: Option<Timestamp>,
    pub reopen_count: u32,
    pub links: Vec<String>,
    pub emails: u32,
    pub phone_calls: u32,
    pub last_email_at: Option<Timestamp>,
    pub last_phone_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

impl Facts {
    /// What a stored case says about the facts the model tracks.
    pub fn of(c: &Case) -> Self {
        Self {
            version: c.version,
            status: c.status.to_string(),
            category: c.status_category,
            owner: c.owner.clone(),
            title: c.title.clone(),
            title_reviewed: c.title_reviewed,
            product: c.product.clone(),
            product_version: c.product_version.clone(),
            product_area: c.category.product_area.clone(),
            functionality: c.category.functionality.clone(),
            issue: c.category.issue.clone(),
            last_post: c.last_post,
            resolution: c
                .resolution
                .as_ref()
                .map(|r| (r.primary.clone(), r.secondary.clone())),
            close_mode: c.close_mode,
            closed_at: c.closed_at,
            reopen_count: c.reopen_count,
            links: c.links.iter().map(|l| l.reference.clone()).collect(),
            emails: c.contacts.emails,
            phone_calls: c.contacts.phone_calls,
            last_email_at: c.contacts.last_email_at,
            last_phone_at: c.contacts.last_phone_at,
            updated_at: c.updated_at,
        }
    }
}

/// What an accepted command must have done: the case's facts after it, the kinds of the
/// events it recorded, and how many emails it queued.
pub struct Expected {
    pub facts: Facts,
    pub events: Vec<&'static str>,
    pub emails: usize,
}

fn blank_is_none(v: &str) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn reset_contacts(f: &mut Facts) {
    f.emails = 0;
    f.phone_calls = 0;
    f.last_email_at = None;
    f.last_phone_at = None;
}

/// Counts an unanswered attempt on a channel, once per the policy's gap.
fn attempt(f: &mut Facts, channel: ContactChannel, now: Timestamp, gap: SignedDuration) {
    let (count, last) = match channel {
        ContactChannel::Email => (&mut f.emails, &mut f.last_email_at),
        ContactChannel::Phone => (&mut f.phone_calls, &mut f.last_phone_at),
    };
    if last.is_none_or(|t| now.duration_since(t) >= gap) {
        *count += 1;
        *last = Some(now);
    }
}

/// What `cmd`, accepted for `actor` at `now` on a case with `before`'s facts, must change.
pub fn expect(
    config: &WorkflowConfig,
    before: &Facts,
    actor: &Actor,
    cmd: &Command,
    now: Timestamp,
) -> Expected {
    let mut f = before.clone();
    let mut events: Vec<&'static str> = Vec::new();
    let mut emails = 0;
    let gap = SignedDuration::from_hours(i64::from(config.non_response.min_gap_hours));
    let status_named = |name: &str| {
        let d = config.status(name).expect("accepted, so the status exists");
        (d.name.to_string(), d.category)
    };
    match cmd {
        Command::Take | Command::Assign { .. } => {
            let to = match cmd {
                Command::Assign { owner } => owner.trim().to_string(),
                _ => actor.name.clone(),
            };
            if f.owner.as_deref() != Some(to.as_str()) {
                f.owner = Some(to);
                events.push("owner_changed");
            }
        }
        Command::Transition { status, .. } => {
            let (name, category) = status_named(status);
            if name != f.status {
                events.push(if name == config.escalated_status.as_str() {
                    "escalated"
                } else {
                    "status_changed"
                });
                (f.status, f.category) = (name, category);
            }
        }
        Command::Escalate { .. } => {
            (f.status, f.category) = status_named(config.escalated_status.as_str());
            events.push("escalated");
        }
        Command::Edit(e) => {
            if let Some(t) = &e.title {
                let t = t.trim().to_string();
                events.push(if t == f.title {
                    "title_confirmed"
                } else {
                    "field_changed"
                });
                f.title = t;
                f.title_reviewed = true;
            }
            for (value, field) in [
                (&e.product, &mut f.product),
                (&e.product_version, &mut f.product_version),
                (&e.product_area, &mut f.product_area),
                (&e.functionality, &mut f.functionality),
                (&e.issue, &mut f.issue),
            ] {
                if let Some(v) = value {
                    let new = blank_is_none(v);
                    if new != *field {
                        *field = new;
                        events.push("field_changed");
                    }
                }
            }
        }
        Command::ConfirmTitle => {
            f.title_reviewed = true;
            events.push("title_confirmed");
        }
        Command::LogCall { .. } => {
            reset_contacts(&mut f);
            events.push("call_logged");
        }
        Command::AddPost { kind, .. } => {
            if actor.role == Role::Customer {
                reset_contacts(&mut f);
                f.last_post = Some(PostKind::Note);
            } else {
                f.last_post = Some(*kind);
            }
            events.push("post_added");
        }
        Command::RecordContact {
            channel, outcome, ..
        } => {
            match outcome {
                ContactOutcome::Reached => reset_contacts(&mut f),
                ContactOutcome::NoResponse => attempt(&mut f, *channel, now, gap),
            }
            events.push("contact_attempted");
        }
        Command::SendEmail { .. } => {
            // both templates sent here reach out to the customer
            attempt(&mut f, ContactChannel::Email, now, gap);
            events.push("email_queued");
            emails += 1;
        }
        Command::Link(target) => {
            let r = format!("{:0>8}", target.reference.trim());
            if !f.links.contains(&r) {
                f.links.push(r);
                events.push("linked");
            }
        }
        Command::Swarm { .. } => events.push("swarm_requested"),
        Command::Close {
            mode,
            resolution,
            notify_customer,
        } => {
            let status = match mode {
                CloseMode::Temporary => &config.temporary_close_status,
                _ => &config.closed_status,
            };
            (f.status, f.category) = status_named(status.as_str());
            f.close_mode = Some(*mode);
            f.closed_at = Some(now);
            if *mode == CloseMode::Resolved {
                let r = resolution
                    .as_ref()
                    .expect("a resolved close has a resolution");
                f.resolution = Some((r.primary.trim().into(), r.secondary.trim().into()));
            }
            if *mode == CloseMode::NonResponse {
                events.push("email_queued");
                emails += 1;
            }
            events.push("closed");
            if *notify_customer && *mode != CloseMode::NonResponse {
                events.push("email_queued");
                emails += 1;
            }
        }
        Command::Reopen {
            notify_customer, ..
        } => {
            (f.status, f.category) = status_named(config.reopen_status.as_str());
            f.close_mode = None;
            f.closed_at = None;
            f.reopen_count += 1;
            f.title_reviewed = false;
            f.last_post = Some(PostKind::ReopenReason);
            reset_contacts(&mut f);
            events.extend(["reopened", "post_added"]);
            if *notify_customer {
                events.push("email_queued");
                emails += 1;
            }
        }
        Command::MapStatus { to, .. } => {
            (f.status, f.category) = status_named(to);
            events.push("status_mapped");
        }
        Command::AskToReopen { .. } => {
            // reopened when a reply from the customer would reopen the case: always after a
            // temporary close, else as `[inbound] closed_reply` says
            let reopens = f.close_mode == Some(CloseMode::Temporary)
                || match config.inbound.closed_reply {
                    ClosedReply::Reopen => true,
                    ClosedReply::NewCase => false,
                    ClosedReply::ReopenWithin { days } => f.closed_at.is_some_and(|at| {
                        now.duration_since(at) <= SignedDuration::from_hours(24 * i64::from(days))
                    }),
                };
            if reopens {
                (f.status, f.category) = status_named(config.reopen_status.as_str());
                f.close_mode = None;
                f.closed_at = None;
                f.reopen_count += 1;
                f.title_reviewed = false;
                events.extend(["reopened", "post_added"]);
            }
            reset_contacts(&mut f);
            f.last_post = Some(PostKind::Note);
            events.push("post_added");
        }
    }
    if !events.is_empty() {
        f.version += events.len() as u64;
        f.updated_at = now;
    }
    Expected {
        facts: f,
        events,
        emails,
    }
}

/// The case a sequence works on, as numbered by the store.
pub fn describe(seed: u64, step: usize, n: CaseNumber, actor: &Actor, cmd: &Command) -> String {
    format!(
        "seed {seed}, step {step}, case {n}: {} ({}) {cmd:?}",
        actor.name, actor.role
    )
}
