//! The workers `casework serve` runs beside the API: email and webhook delivery, and with `--imap` the
//! IMAP poller ([`crate::mailbox`]). Each round runs in a task of its own under a
//! supervisor: a round that fails or panics is logged, `/healthz`
//! says so (503) until a round completes again, and the next round runs anyway, so one bad
//! message or one bug can never stop delivery for good while the server looks healthy.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use casework_core::CaseService;
use casework_core::model::Actor;
use casework_core::ports::{Mailer, WebhookSender};
use casework_http::Health;

use crate::output::err_line;

/// The delivery worker's name on `/healthz`.
pub const DELIVERY: &str = "delivery";

/// The IMAP poller's name on `/healthz`.
pub const IMAP: &str = "imap";

/// Takes the mailbox's mail every `every`, for as long as the server runs, as the system
/// actor `imap`. Messages the pipeline refuses for good stay in the mailbox and are logged.
pub async fn fetch_forever(
    service: CaseService,
    settings: casework_mail::imap::ImapSettings,
    every: Duration,
    health: Arc<Health>,
) {
    let system = Actor::system("imap");
    let settings = Arc::new(settings);
    supervise(&health, IMAP, every, move || {
        let (service, system, settings) = (service.clone(), system.clone(), settings.clone());
        async move {
            let report = crate::mailbox::fetch_once(&service, &system, &settings)
                .await
                .map_err(|f| f.message)?;
            for left in &report.left {
                err_line(&format!(
                    "imap: left UID {} in the mailbox: {}",
                    left.uid, left.reason
                ));
            }
            if let Some(change) = &report.uid_validity_changed {
                err_line(&format!(
                    "imap: the mailbox's UIDVALIDITY changed from {} to {}: read again from its start",
                    change.from, change.to
                ));
            }
            Ok(())
        }
    })
    .await;
}

/// Delivers due email, then due webhooks, every `every`, for as long as the server runs.
pub async fn deliver_forever(
    service: CaseService,
    mailer: Arc<dyn Mailer>,
    webhooks: Arc<dyn WebhookSender>,
    every: Duration,
    health: Arc<Health>,
) {
    let system = Actor::system("delivery");
    let worker = format!("serve-{}", std::process::id());
    supervise(&health, DELIVERY, every, move || {
        let (service, mailer, webhooks, system, worker) = (
            service.clone(),
            mailer.clone(),
            webhooks.clone(),
            system.clone(),
            worker.clone(),
        );
        async move {
            let email = service.deliver(&system, &worker, mailer.as_ref()).await;
            let hooks = service
                .deliver_webhooks(&system, &worker, webhooks.as_ref())
                .await;
            email.and(hooks).map(|_| ()).map_err(|e| e.to_string())
        }
    })
    .await;
}

/// Runs `round` every `every` until the task running this is cancelled, each round in a
/// task of its own. A round that completes marks the worker `name` running on `health`; one
/// that fails or panics is logged to standard error and marks it down (with a reason fit
/// for the public `/healthz`: the details stay in the log).
pub async fn supervise<F, R>(health: &Health, name: &'static str, every: Duration, mut round: F)
where
    F: FnMut() -> R,
    R: Future<Output = Result<(), String>> + Send + 'static,
{
    loop {
        match tokio::spawn(round()).await {
            Ok(Ok(())) => health.running(name),
            Ok(Err(e)) => {
                err_line(&format!("{name}: {e}"));
                health.down(
                    name,
                    format!("the last {name} run failed; see the server log"),
                );
            }
            Err(e) if e.is_panic() => {
                let why = casework_mail::panic_text(e.into_panic().as_ref());
                err_line(&format!(
                    "{name}: the worker stopped unexpectedly ({why}); it restarts in {every:?}"
                ));
                health.down(
                    name,
                    format!(
                        "the {name} worker stopped unexpectedly and is restarting; see the server log"
                    ),
                );
            }
            Err(_) => return, // cancelled: the server is stopping
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_round_that_panics_or_fails_is_reported_and_the_worker_goes_on() {
        let health = Arc::new(Health::default());
        let rounds = Arc::new(AtomicUsize::new(0));
        // what /healthz said when each round started
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (h, r, s) = (health.clone(), rounds.clone(), seen.clone());
        let worker = tokio::spawn(async move {
            let h2 = h.clone();
            supervise(&h, DELIVERY, Duration::from_millis(5), move || {
                let n = r.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(h2.problems().contains_key(DELIVERY));
                async move {
                    match n {
                        0 => panic!("a bug in a round"),
                        1 => Err("store unavailable: connection refused".to_string()),
                        _ => Ok(()),
                    }
                }
            })
            .await;
        });
        let start = std::time::Instant::now();
        while rounds.load(Ordering::SeqCst) < 4 && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        worker.abort();
        let seen = seen.lock().unwrap().clone();
        // round 1 panicked: round 2 started with the worker reported down; round 2 failed:
        // still down when round 3 started; round 3 went well: up when round 4 started
        assert_eq!(&seen[..4], &[false, true, true, false], "{seen:?}");
        assert!(health.problems().is_empty());
    }
}
