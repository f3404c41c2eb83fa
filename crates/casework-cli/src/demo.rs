//! `casework demo`: one case through every step of the seed workflow on a throw-away store,
//! printing each generated email and the closing checklist as it goes. It is the first thing
//! a newcomer runs, so it shows the command behind each step. A fixed clock and sequential
//! ids make its output the same on every run.

use std::sync::Arc;

use casework_core::CaseService;
use casework_core::documents::EmailFields;
use casework_core::ids::CaseNumber;
use casework_core::limits::{DEFAULT_OUTBOX, MAX_OUTBOX};
use casework_core::model::{
    Actor, CallDirection, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    NewArticle, Origin, OutboxMessage, OutboxStatus, Person, PostKind, Priority, RefKind,
    Resolution, Role, TemplateName, Visibility,
};
use casework_core::ports::{ReportGroup, ReportQuery};
use casework_core::testing::FixedClock;
use casework_core::workflow::{CaseEdit, Command, NewCase};
use jiff::SignedDuration;
use serde_json::json;

use crate::app::Failure;
use crate::output::{self, print_json};

struct Demo {
    svc: CaseService,
    clock: Arc<FixedClock>,
    /// Who reads the outbox for the narration (Lee, a lead).
    reader: Actor,
    n: CaseNumber,
    quiet: bool,
    emails_seen: usize,
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}

impl Demo {
    fn say(&self, text: &str) -> Result<(), Failure> {
        if !self.quiet {
            output::human(&format!("{text}\n"))?;
        }
        Ok(())
    }

    fn step(&self, title: &str) -> Result<(), Failure> {
        self.say(&format!(
            "\n── {title} {}",
            "─".repeat(70usize.saturating_sub(title.chars().count()))
        ))
    }

    fn cmd(&self, line: &str) -> Result<(), Failure> {
        self.say(&format!("$ casework {line}"))
    }

    async fn run(&mut self, who: &Actor, cmd: Command) -> Result<(), Failure> {
        self.clock.advance(SignedDuration::from_mins(7));
        let outcome = self.svc.execute(who, self.n, None, cmd).await?;
        for e in &outcome.events {
            self.say(&format!("  {}", output::describe(e)))?;
        }
        self.print_new_emails().await
    }

    async fn print_new_emails(&mut self) -> Result<(), Failure> {
        let all: Vec<OutboxMessage> = self.svc.outbox(&self.reader, None, MAX_OUTBOX).await?;
        for m in &all[self.emails_seen..] {
            self.say(&format!(
                "\n  Email queued in the outbox:\n    To: {} <{}>\n    Subject: {}\n\n{}",
                m.to_name,
                m.to,
                m.subject,
                indent(&m.body)
            ))?;
        }
        self.emails_seen = all.len();
        Ok(())
    }

    async fn checklist(&self, who: &Actor) -> Result<(), Failure> {
        let check = self.svc.closing_check(who, self.n).await?;
        self.cmd(&format!("case check {}", self.n.get()))?;
        self.say(&indent(&output::checklist(&check, self.svc.config())))?;
        Ok(())
    }
}

fn person(name: &str, role: Role, email: &str, signature: &str) -> Result<Person, Failure> {
    Ok(Person {
        name: name.into(),
        role,
        email: Some(
            email
                .parse()
                .map_err(|e: casework_core::ids::ParseError| Failure::usage(e.to_string()))?,
        ),
        phone: Some("+1 555 0100".into()),
        signature: Some(signature.into()),
        notifications_off: Vec::new(),
    })
}

/// Runs the demo; with `json`, prints one JSON document of the final state instead.
pub async fn run(json: bool) -> Result<u8, Failure> {
    let clock = Arc::new(FixedClock::default());
    let svc = crate::app::throwaway(clock.clone())?;
    let setup = Actor::system("setup");
    svc.add_person(
        &setup,
        person(
            "Ana Lopez",
            Role::Agent,
            "ana.lopez@example.com",
            "Ana Lopez\nSupport Engineer, Example Corp",
        )?,
    )
    .await?;
    svc.add_person(
        &setup,
        person(
            "Lee Park",
            Role::Lead,
            "lee.park@example.com",
            "Lee Park\nSupport Lead, Example Corp",
        )?,
    )
    .await?;
    let ana = svc.resolve_actor("Ana Lopez").await?;
    let lee = svc.resolve_actor("Lee Park").await?;

    let quiet = json;
    let say = |s: &str| -> Result<(), Failure> {
        if !quiet {
            output::human(&format!("{s}\n"))?;
        }
        Ok(())
    };
    say("Casework demo: one support case through the whole workflow, on a throw-away")?;
    say("in-memory store. Each step shows the command that does it; emails are queued in")?;
    say("the outbox (nothing is sent).")?;
    say("\nPeople: Ana Lopez (agent), Lee Park (lead). Organization: Example Corp.")?;
    say("Commands run as Ana Lopez unless they show another --as.")?;

    // Knowledge that already exists, and an older case like the new one.
    let article = svc
        .add_article(&ana, NewArticle {
            title: "Register a data store before publishing a map service".into(),
            body: "Publishing fails with error 999999 when the service references a data store that is not registered with the server.".into(),
            url: Some("https://support.example.com/kb/000012345".into()),
        })
        .await?;
    let older = svc
        .open_case(
            &ana,
            NewCase {
                title: "Error 999999 when publishing a map service".into(),
                description: "Publishing fails; the data store was not registered.".into(),
                origin: Origin::Email,
                priority: Priority::Medium,
                customer: Customer {
                    name: "Sam Lee".into(),
                    email: "sam@another.example"
                        .parse()
                        .map_err(|_| Failure::usage("demo data"))?,
                    phone: None,
                    account: None,
                },
                product: None,
                product_version: None,
            },
        )
        .await?;
    svc.add_defect(
        &ana,
        "BUG-000123",
        "Publishing crashes on large services",
        "The server crashes when publishing services with more than 500 layers.",
        "open",
    )
    .await?;

    let mut d = Demo {
        svc: svc.clone(),
        clock: clock.clone(),
        reader: lee.clone(),
        n: older.number,
        quiet,
        emails_seen: 0,
    };

    d.step("1. Initial contact: open the case and take ownership")?;
    d.cmd("--as 'Ana Lopez' case open --title 'Map service fails to publish' \\\n      --description 'Publishing the parcels map service fails with error 999999.' \\\n      --customer-name 'Jordan Smith' --customer-email jordan@customer.example --origin phone --priority high")?;
    let case = svc
        .open_case(
            &ana,
            NewCase {
                title: "Map service fails to publish".into(),
                description: "Publishing the parcels map service fails with error 999999.".into(),
                origin: Origin::Phone,
                priority: Priority::High,
                customer: Customer {
                    name: "Jordan Smith".into(),
                    email: "jordan@customer.example"
                        .parse()
                        .map_err(|_| Failure::usage("demo data"))?,
                    phone: Some("+1 555 0199".into()),
                    account: Some("County GIS".into()),
                },
                product: None,
                product_version: None,
            },
        )
        .await?;
    d.n = case.number;
    let n = case.number.get();
    d.say(&format!(
        "  opened case {} (status {})",
        case.number.display(),
        case.status
    ))?;
    d.cmd(&format!("--as 'Ana Lopez' case take {n}"))?;
    d.run(&ana, Command::Take).await?;
    d.cmd(&format!(
        "email send {n} --template initial-contact --challenge 'publishing a map service'"
    ))?;
    d.run(
        &ana,
        Command::SendEmail {
            template: TemplateName::InitialContact,
            fields: EmailFields {
                challenge: Some("publishing a map service".into()),
                ..Default::default()
            },
        },
    )
    .await?;
    d.cmd(&format!("case transition {n} --status 'In Progress'"))?;
    d.run(
        &ana,
        Command::Transition {
            status: "In Progress".into(),
            note: None,
        },
    )
    .await?;

    d.step("2. Log the call (the customer can see the call log)")?;
    d.cmd(&format!("call log {n} --duration 25m --screenshare --channel SPEC --inbound --notes 'Reproduced error 999999 over a screenshare.'"))?;
    d.run(
        &ana,
        Command::LogCall {
            direction: CallDirection::Inbound,
            duration_minutes: 25,
            screenshare: true,
            channel: Some("SPEC".into()),
            notes: "Reproduced error 999999 over a screenshare.".into(),
        },
    )
    .await?;

    d.step("3. Follow-up email: what was discussed, documentation, next steps")?;
    d.cmd(&format!(
        "email send {n} --template follow-up --discussed '…' --next-steps '…' --doc {}",
        article.url.clone().unwrap_or_default()
    ))?;
    d.run(&ana, Command::SendEmail {
        template: TemplateName::FollowUp,
        fields: EmailFields {
            discussed: Some("We reproduced the failure together: the service definition references a data store the server does not know.".into()),
            next_steps: Some("Register the data store with the server, then publish again. I will call you tomorrow to confirm.".into()),
            documentation: article.url.clone().into_iter().collect(),
            ..Default::default()
        },
    })
    .await?;

    d.step("4. Post the call notes (internal)")?;
    d.cmd(&format!("post add {n} --kind call-notes --body '…'"))?;
    d.run(&ana, Command::AddPost {
        kind: PostKind::CallNotes,
        body: "Customer's service definition points at \\\\gisdata\\parcels, which is not a registered data store. Server logs show 999999 at publish time.".into(),
        visibility: Visibility::Internal,
    })
    .await?;

    d.step("5. Troubleshoot: similar cases, articles and defects; link what helps; ask the swarm")?;
    d.cmd(&format!("case similar {n}"))?;
    let hits = svc.similar(&ana, case.number, 5).await?;
    d.say(&indent(&output::hits(&hits)))?;
    d.cmd(&format!("case link {n} --article {}", article.id))?;
    d.run(
        &ana,
        Command::Link(LinkTarget {
            kind: RefKind::Article,
            reference: article.id.to_string(),
        }),
    )
    .await?;
    d.cmd(&format!("swarm {n} --group 'Server SWARM' --question '…'"))?;
    d.run(
        &ana,
        Command::Swarm {
            group: "Server SWARM".into(),
            question: "Anyone seen 999999 on 11.3 with a registered data store?".into(),
        },
    )
    .await?;

    d.step("6. Confirm the case can be closed: record every contact attempt")?;
    // the emails sent above already count as email attempts
    d.cmd(&format!(
        "contact record {n} --channel phone --outcome no-response --note 'left a voicemail'"
    ))?;
    d.run(
        &ana,
        Command::RecordContact {
            channel: ContactChannel::Phone,
            outcome: ContactOutcome::NoResponse,
            note: Some("left a voicemail".into()),
        },
    )
    .await?;
    d.cmd(&format!(
        "contact record {n} --channel phone --outcome reached --note 'publishing works now'"
    ))?;
    d.run(
        &ana,
        Command::RecordContact {
            channel: ContactChannel::Phone,
            outcome: ContactOutcome::Reached,
            note: Some("publishing works now; OK to close".into()),
        },
    )
    .await?;
    d.checklist(&ana).await?;

    d.step("7. Case summary: drafted from the record, posted as the last post")?;
    d.cmd(&format!("case summary {n}"))?;
    let draft = svc.summary_draft(&ana, case.number).await?;
    d.say(&indent(&draft.text))?;
    d.cmd(&format!(
        "post add {n} --kind summary --body-file summary.txt"
    ))?;
    d.run(
        &ana,
        Command::AddPost {
            kind: PostKind::Summary,
            body: draft.text.clone(),
            visibility: Visibility::Internal,
        },
    )
    .await?;

    d.step("8-10. Update the title, the technical details and the categorization")?;
    d.cmd(&format!("case edit {n} --title 'Publishing fails: data store not registered' \\\n      --product 'ArcGIS Server' --product-version 11.3 \\\n      --product-area Publishing --functionality 'Map services' --issue Configuration"))?;
    d.run(
        &ana,
        Command::Edit(CaseEdit {
            title: Some("Publishing fails: data store not registered".into()),
            product: Some("ArcGIS Server".into()),
            product_version: Some("11.3".into()),
            product_area: Some("Publishing".into()),
            functionality: Some("Map services".into()),
            issue: Some("Configuration".into()),
            ..Default::default()
        }),
    )
    .await?;
    d.checklist(&ana).await?;

    d.step("11. Close with a primary and a secondary resolution")?;
    d.cmd(&format!(
        "case close {n} --primary Configuration --secondary 'Data store registered'"
    ))?;
    d.run(
        &ana,
        Command::Close {
            mode: CloseMode::Resolved,
            resolution: Some(Resolution {
                primary: "Configuration".into(),
                secondary: "Data store registered".into(),
            }),
            notify_customer: true,
        },
    )
    .await?;

    d.step("Reopen: the issue comes back three days later")?;
    clock.advance(SignedDuration::from_hours(72));
    d.cmd(&format!("--as 'Ana Lopez' case reopen {n} --reason '…'"))?;
    match svc
        .execute(
            &ana,
            case.number,
            None,
            Command::Reopen {
                reason: "Customer reports 999999 again after the 11.3.1 patch".into(),
                notify_customer: true,
            },
        )
        .await
    {
        Err(e) => d.say(&format!("  refused (exit 2): {e}"))?,
        Ok(_) => d.say("  unexpectedly allowed")?,
    }
    d.cmd(&format!("--as 'Lee Park' case reopen {n} --reason 'Customer reports 999999 again after the 11.3.1 patch'"))?;
    d.run(
        &lee,
        Command::Reopen {
            reason: "Customer reports 999999 again after the 11.3.1 patch".into(),
            notify_customer: true,
        },
    )
    .await?;

    d.step("Reopened cases are tracked separately")?;
    d.cmd("case list --reopened")?;
    let reopened = svc
        .list(
            &lee,
            casework_core::ports::CaseFilter {
                reopened: Some(true),
                ..Default::default()
            },
            casework_core::ports::PageRequest::default(),
        )
        .await?;
    d.say(&indent(&output::case_rows(&reopened.items)))?;
    d.cmd("report reopens --by product-area")?;
    let rows = svc
        .reopen_report(
            &lee,
            ReportQuery {
                group_by: ReportGroup::ProductArea,
                from: None,
                to: None,
            },
        )
        .await?;
    d.say(&indent(&output::report(&rows, "product area")))?;

    let final_case = svc.case(&lee, case.number).await?;
    let timeline = svc.timeline(&lee, case.number).await?;
    let outbox = svc
        .outbox(&lee, Some(OutboxStatus::Queued), DEFAULT_OUTBOX)
        .await?;
    if json {
        print_json(&json!({
            "case": final_case.view(),
            "timeline": timeline,
            "emails": outbox,
            "reopen_report": rows,
        }))?;
    } else {
        d.step("The record")?;
        d.cmd(&format!("case show {n}"))?;
        d.say(&indent(&output::case_card(&final_case)))?;
        d.say(&indent(&output::timeline(&timeline)))?;
        d.say(&format!(
            "{} emails are queued in the outbox; `casework outbox list` shows them.",
            outbox.len()
        ))?;
        d.say("Try it on a real store: casework init && casework --help")?;
    }
    Ok(0)
}
