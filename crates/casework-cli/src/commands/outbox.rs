//! `casework outbox flush` (email, then webhooks) and `outbox list`.

use casework_core::model::OutboxStatus;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::Ctx;

/// `casework outbox flush` and `outbox list`.
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
            });
            let messages = svc.outbox(&who, status, limit).await?;
            if json {
                print_json(&messages)?;
            } else {
                out!("{}", output::outbox(&messages));
            }
            Ok(0)
        }
    }
}
