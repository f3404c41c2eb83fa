//! `casework case …`: open, list, show, history, take, assign, edit, transition, escalate,
//! summary, check, close, reopen, similar, link, and files (attach, attachments, download,
//! in `files.rs`).

use casework_core::model::{
    CloseMode, Customer, LinkTarget, Origin, Priority, RefKind, Resolution, StatusCategory,
};
use casework_core::ports::{CaseFilter, CaseOrder, PageRequest};
use casework_core::workflow::{CaseEdit, Command, NewCase};
use serde_json::json;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::{Ctx, address, changed, number};

/// Every `casework case` command.
pub(crate) async fn case(cx: &Ctx<'_>, cmd: CaseCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let who = cx.who().await?;
    let exec = |n: String, c: Command| {
        let who = who.clone();
        async move {
            let n = number(&n)?;
            let outcome = svc.execute(&who, n, None, c).await?;
            changed(json, &outcome)
        }
    };
    match cmd {
        CaseCmd::Open(a) => {
            let new = NewCase {
                title: a.title,
                description: a.description,
                origin: match a.origin {
                    OriginArg::Phone => Origin::Phone,
                    OriginArg::Email => Origin::Email,
                    OriginArg::Web => Origin::Web,
                    OriginArg::Chat => Origin::Chat,
                    OriginArg::Other => Origin::Other,
                },
                priority: priority(a.priority),
                customer: Customer {
                    name: a.customer_name,
                    email: address(&a.customer_email)?,
                    phone: a.customer_phone,
                    account: a.customer_account,
                },
                product: a.product,
                product_version: a.product_version,
            };
            let c = svc.open_case(&who, new).await?;
            if json {
                print_json(&c.view())?;
            } else {
                outln!("{}", c.number.display());
            }
            Ok(0)
        }
        CaseCmd::List(a) => {
            let filter =
                CaseFilter {
                    status: a.status.as_deref().map(str::parse).transpose().map_err(
                        |e: casework_core::ids::ParseError| Failure::usage(e.to_string()),
                    )?,
                    status_category: a.category.map(|c| match c {
                        CategoryArg::Open => StatusCategory::Open,
                        CategoryArg::Pending => StatusCategory::Pending,
                        CategoryArg::Closed => StatusCategory::Closed,
                    }),
                    owner: if a.mine {
                        Some(who.name.clone())
                    } else {
                        a.owner
                    },
                    reopened: a.reopened.then_some(true),
                    product_area: a.product_area,
                    priority: a.priority.map(priority),
                    unassigned: a.unassigned.then_some(true),
                    customer: None,
                    q: a.q,
                };
            let order = match a.sort {
                SortArg::Number => CaseOrder::Number,
                SortArg::Updated => CaseOrder::Updated,
                SortArg::Priority => CaseOrder::Priority,
            };
            let page = PageRequest::from_params_in(order, Some(a.limit), a.cursor.as_deref())
                .map_err(|e| Failure::usage(e.to_string()))?;
            let page = svc.list(&who, filter, page).await?;
            if json {
                let items: Vec<_> = page.items.iter().map(|c| c.view()).collect();
                print_json(&json!({ "items": items, "next_cursor": page.next_cursor }))?;
            } else {
                if page.items.is_empty() {
                    outln!("No cases match.");
                } else {
                    out!("{}", output::case_rows(&page.items));
                }
                if let Some(c) = page.next_cursor {
                    match order {
                        CaseOrder::Number => outln!("More: add --cursor {c}"),
                        o => outln!("More: add --sort {} --cursor {c}", o.as_str()),
                    }
                }
            }
            Ok(0)
        }
        CaseCmd::Show { number: n } => {
            let n = number(&n)?;
            let c = svc.case(&who, n).await?;
            let timeline = svc.timeline(&who, n).await?;
            if json {
                print_json(&json!({ "case": c.view(), "timeline": timeline }))?;
            } else {
                out!(
                    "{}\nTimeline\n{}",
                    output::case_card(&c),
                    output::timeline(&timeline)
                );
            }
            Ok(0)
        }
        CaseCmd::History { number: n } => {
            let events = svc.history(&who, number(&n)?).await?;
            if json {
                print_json(&events)?;
            } else {
                out!("{}", output::history(&events));
            }
            Ok(0)
        }
        CaseCmd::Take { number: n } => exec(n, Command::Take).await,
        CaseCmd::Assign { number: n, owner } => exec(n, Command::Assign { owner }).await,
        CaseCmd::Edit(a) => {
            let n = a.number.clone();
            if a.confirm_title {
                let nothing_else = a.description.is_none()
                    && a.priority.is_none()
                    && a.product.is_none()
                    && a.product_version.is_none()
                    && a.product_area.is_none()
                    && a.functionality.is_none()
                    && a.issue.is_none();
                if nothing_else {
                    return exec(n, Command::ConfirmTitle).await;
                }
                exec(n.clone(), Command::ConfirmTitle).await?;
            }
            let edit = CaseEdit {
                title: a.title,
                description: a.description,
                priority: a.priority.map(priority),
                product: a.product,
                product_version: a.product_version,
                product_area: a.product_area,
                functionality: a.functionality,
                issue: a.issue,
            };
            if edit == CaseEdit::default() {
                return Err(Failure::usage(
                    "nothing to change: give --title, --confirm-title, --product, … (see --help)",
                ));
            }
            exec(n, Command::Edit(edit)).await
        }
        CaseCmd::Transition {
            number: n,
            status,
            note,
        } => exec(n, Command::Transition { status, note }).await,
        CaseCmd::Escalate { number: n, reason } => exec(n, Command::Escalate { reason }).await,
        CaseCmd::Summary { number: n } => {
            let d = svc.summary_draft(&who, number(&n)?).await?;
            if json {
                print_json(&d)?;
            } else {
                out!("{}", d.text);
            }
            Ok(0)
        }
        CaseCmd::Check { number: n } => {
            let check = svc.closing_check(&who, number(&n)?).await?;
            if json {
                print_json(&check)?;
            } else {
                out!("{}", output::checklist(&check, svc.config()));
            }
            Ok(if check.ready { 0 } else { crate::exit::REFUSED })
        }
        CaseCmd::Close(a) => {
            let m = a.mode;
            let (mode, resolution) = if m.non_response {
                (CloseMode::NonResponse, None)
            } else if m.temporary {
                (CloseMode::Temporary, None)
            } else {
                (
                    CloseMode::Resolved,
                    Some(Resolution {
                        primary: m.primary.unwrap_or_default(),
                        secondary: m.secondary.unwrap_or_default(),
                    }),
                )
            };
            let close = Command::Close {
                mode,
                resolution,
                notify_customer: !a.no_notify,
            };
            exec(a.number, close).await
        }
        CaseCmd::Reopen {
            number: n,
            reason,
            no_notify,
        } => {
            exec(
                n,
                Command::Reopen {
                    reason,
                    notify_customer: !no_notify,
                },
            )
            .await
        }
        CaseCmd::Similar { number: n, limit } => {
            let hits = svc.similar(&who, number(&n)?, limit).await?;
            if json {
                print_json(&hits)?;
            } else {
                out!("{}", output::hits(&hits));
            }
            Ok(0)
        }
        CaseCmd::Link(a) => {
            let t = a.target;
            let target = match (t.article, t.defect, t.case) {
                (Some(r), _, _) => LinkTarget {
                    kind: RefKind::Article,
                    reference: r,
                },
                (_, Some(r), _) => LinkTarget {
                    kind: RefKind::Defect,
                    reference: r,
                },
                (_, _, Some(r)) => LinkTarget {
                    kind: RefKind::Case,
                    reference: r,
                },
                _ => {
                    return Err(Failure::usage(
                        "give --article ID, --defect KEY or --case N",
                    ));
                }
            };
            exec(a.number, Command::Link(target)).await
        }
        CaseCmd::Attach {
            number: n,
            files,
            internal,
            text,
        } => super::files::attach(svc, &who, json, &n, &files, internal, text).await,
        CaseCmd::Files { number: n } => super::files::list(svc, &who, json, &n).await,
        CaseCmd::Download {
            number: n,
            id,
            out,
            force,
        } => super::files::download(svc, &who, json, &n, &id, out.as_deref(), force).await,
    }
}

fn priority(p: PriorityArg) -> Priority {
    match p {
        PriorityArg::Low => Priority::Low,
        PriorityArg::Medium => Priority::Medium,
        PriorityArg::High => Priority::High,
        PriorityArg::Urgent => Priority::Urgent,
    }
}
