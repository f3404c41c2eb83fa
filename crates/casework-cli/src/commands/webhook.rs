//! `casework webhook add|list|remove|deliveries|redeliver`: webhook endpoints (admins).

use casework_core::service::NewWebhook;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

use super::Ctx;

/// `casework webhook …`.
pub(crate) async fn webhook(cx: &Ctx<'_>, cmd: WebhookCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let who = cx.who().await?;
    match cmd {
        WebhookCmd::Add {
            url,
            events,
            secret,
        } => {
            let secret = match secret {
                Some(s) => s,
                None => casework_webhook::new_secret().map_err(Failure::unavailable)?,
            };
            let e = svc
                .add_webhook(
                    &who,
                    NewWebhook {
                        url,
                        events,
                        secret,
                    },
                )
                .await?;
            if json {
                print_json(&e)?;
            } else {
                outln!("Added webhook {} for {}", e.id, e.url);
                outln!("Signing secret (shown once): {}", e.secret);
            }
        }
        WebhookCmd::List => {
            let all = svc.webhooks(&who).await?;
            if json {
                print_json(&all)?;
            } else {
                out!("{}", output::webhooks(&all));
            }
        }
        WebhookCmd::Remove { id } => {
            let e = svc.remove_webhook(&who, &id).await?;
            if json {
                print_json(&e)?;
            } else {
                outln!("Removed webhook {}", e.id);
            }
        }
        WebhookCmd::Deliveries { id, limit } => {
            let log = svc.webhook_deliveries(&who, &id, limit).await?;
            if json {
                print_json(&log)?;
            } else {
                out!("{}", output::webhook_deliveries(&log));
            }
        }
        WebhookCmd::Redeliver { id, delivery } => {
            let d = svc.redeliver_webhook(&who, &id, &delivery).await?;
            if json {
                print_json(&d)?;
            } else {
                outln!("Queued {} again", d.id);
            }
        }
    }
    Ok(0)
}
