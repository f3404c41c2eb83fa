//! `casework outbox flush` (email, then webhooks), `outbox list`, and `outbox retry` and
//! `outbox cancel` for one message.

use casework_core::model::OutboxStatus;
use casework_core::ports::OutboxAction;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::Ctx;

/// `casework outbox flush`, `list`, `retry` and `cancel`.
pub(crate) async fn outbox(cx: &Ctx<'_>, cmd: OutboxCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    match cmd {
        OutboxCmd::Flush { mailer } => {
            let who = cx.who().await?;
            let mailer = casework_mail::mailer_from_url(&mailer)
                .map_err(|e| Failure::usage(e.to_string()))?;
            let worker = format!("cli-{}", std::process::id());
            let report = svc.deliver(&who, &worker, mailer.as_ref()).await?;
            let sender = casework_webhook::HttpSender::new().map_err(Failure::unavailable)?;
            let hooks = svc.deliver_webhooks(&who, &worker, &sender).await?;
            if json {
                print_json(&serde_json::json!({
                    "sent": report.sent,
                    "retried": report.retried,
                    "failed": report.failed,
                    "webhooks": hooks,
                }))?;
            } else {
                outln!(
                    "Sent {}, to retry {}, failed {}",
                    report.sent,
                    report.retried,
                    report.failed
                );
                if hooks != casework_core::delivery::DeliveryReport::default() {
                    outln!(
                        "Webhooks: sent {}, to retry {}, failed {}",
                        hooks.sent,
                        hooks.retried,
                        hooks.failed
                    );
                }
            }
            Ok(0)
        }
        OutboxCmd::List { status, limit } => {
            let who = cx.who().await?;
            let status = status.map(|s| match s {
                OutboxStatusArg::Queued => OutboxStatus::Queued,
                OutboxStatusArg::Sent => OutboxStatus::Sent,
                OutboxStatusArg::Failed => OutboxStatus::Failed,
                OutboxStatusArg::Cancelled => OutboxStatus::Cancelled,
            });
            let messages = svc.outbox(&who, status, limit).await?;
            if json {
                print_json(&messages)?;
            } else {
                out!("{}", output::outbox(&messages));
            }
            Ok(0)
        }
        OutboxCmd::Retry { id } => act(cx, &id, OutboxAction::Retry).await,
        OutboxCmd::Cancel { id } => act(cx, &id, OutboxAction::Cancel).await,
    }
}

/// Retries or cancels one message and says where it stands now.
async fn act(cx: &Ctx<'_>, id: &str, action: OutboxAction) -> Result<u8, Failure> {
    let who = cx.who().await?;
    let m = cx.app.service.outbox_act(&who, id, action).await?;
    if cx.json {
        print_json(&m)?;
    } else {
        match action {
            OutboxAction::Retry => outln!(
                "Queued again: {} to {} ({}), due now.",
                m.id,
                m.to,
                m.case.display()
            ),
            OutboxAction::Cancel => outln!(
                "Cancelled: {} to {} ({}) will not be sent.",
                m.id,
                m.to,
                m.case.display()
            ),
        }
    }
    Ok(0)
}
