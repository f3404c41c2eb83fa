//! Delivering the outbox: claim due messages, send each through the mailer port, record the
//! outcome. Retries back off exponentially; a message fails for good after the policy's
//! attempts or on a permanent error, keeping the last error. Webhook deliveries go the same
//! way ([`CaseService::deliver_webhooks`]), signed, through the webhook sender port, with
//! the same policy.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::config::Permission;
use crate::model::{Actor, OutboxMessage};
use crate::ports::{DeliveryOutcome, MailError, Mailer, StoreError, WebhookSender};
use crate::service::{CaseService, ServiceError};
use crate::webhook::{self, WebhookEndpoint};

/// How hard delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub first_retry: SignedDuration,
    /// Longest wait between attempts.
    pub max_retry: SignedDuration,
    /// How long a claim holds a message from other workers.
    pub lease: SignedDuration,
    /// Messages claimed at a time.
    pub batch: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_retry: SignedDuration::from_mins(1),
            max_retry: SignedDuration::from_hours(6),
            lease: SignedDuration::from_mins(5),
            batch: 50,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after a message's `attempts`-th failed attempt (1-based).
    pub fn retry_delay(&self, attempts: u32) -> SignedDuration {
        let factor = 1i32 << attempts.saturating_sub(1).min(20);
        self.first_retry
            .checked_mul(factor)
            .unwrap_or(self.max_retry)
            .min(self.max_retry)
    }

    /// What to record after a delivery attempt of `message` ended with `result`.
    pub fn outcome(
        &self,
        message: &OutboxMessage,
        result: Result<(), MailError>,
        now: jiff::Timestamp,
    ) -> DeliveryOutcome {
        self.outcome_after(message.attempts, result, now)
    }

    /// What to record after an attempt, the one after `attempts` made before, ended with
    /// `result`: email and webhooks alike.
    pub fn outcome_after(
        &self,
        attempts: u32,
        result: Result<(), MailError>,
        now: jiff::Timestamp,
    ) -> DeliveryOutcome {
        let attempts = attempts + 1;
        match result {
            Ok(()) => DeliveryOutcome::Sent,
            Err(MailError::Permanent(error)) => DeliveryOutcome::Failed { error },
            Err(MailError::Temporary(error)) if attempts >= self.max_attempts => {
                DeliveryOutcome::Failed {
                    error: format!("{error} (gave up after {attempts} attempts)"),
                }
            }
            Err(MailError::Temporary(error)) => DeliveryOutcome::Retry {
                error,
                at: now.checked_add(self.retry_delay(attempts)).unwrap_or(now),
            },
        }
    }
}

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Messages sent.
    pub sent: u32,
    /// Messages that failed for now and will be retried.
    pub retried: u32,
    /// Messages that failed for good.
    pub failed: u32,
}

impl DeliveryReport {
    /// Counts one attempt's outcome.
    fn count(&mut self, outcome: &DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Sent => self.sent += 1,
            DeliveryOutcome::Retry { .. } => self.retried += 1,
            DeliveryOutcome::Failed { .. } => self.failed += 1,
        }
    }
}

impl CaseService {
    /// Now, and when a claim taken now lapses under the policy's lease.
    fn claim_window(
        &self,
        policy: &DeliveryPolicy,
    ) -> Result<(jiff::Timestamp, jiff::Timestamp), ServiceError> {
        let now = self.now();
        let until = now
            .checked_add(policy.lease)
            .map_err(|e| ServiceError::Internal(format!("the delivery lease from {now}: {e}")))?;
        Ok((now, until))
    }

    /// Delivers every message due now, as `worker`, until none is left to claim, by the
    /// workflow file's `[delivery]` policy. Needs the `outbox` permission. Several workers
    /// may run at once: claims keep them apart, each until now plus the policy's lease.
    pub async fn deliver(
        &self,
        actor: &Actor,
        worker: &str,
        mailer: &dyn Mailer,
    ) -> Result<DeliveryReport, ServiceError> {
        self.require(actor, Permission::Outbox, "deliver the outbox")?;
        let policy = self.config().delivery;
        let mut report = DeliveryReport::default();
        loop {
            let (now, until) = self.claim_window(&policy)?;
            let claimed = self
                .store
                .outbox_claim(worker.to_string(), now, until, policy.batch)
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            for message in claimed {
                let result = mailer.send(&message).await;
                let outcome = policy.outcome(&message, result, self.now());
                report.count(&outcome);
                match self
                    .store
                    .outbox_finish(message.id.clone(), worker.to_string(), self.now(), outcome)
                    .await
                {
                    // the lease lapsed and another worker took the message over: its record wins
                    Ok(_) | Err(StoreError::ClaimLost(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

impl CaseService {
    /// Delivers every webhook delivery due now, as `worker`, until none is left to claim, by
    /// the workflow file's `[delivery]` policy, each signed per Standard Webhooks at the
    /// moment it is sent. Needs the `outbox` permission. An answer in 200–299 is delivered;
    /// any other answer or a network failure is retried; a URL the `[webhooks]` rules
    /// refuse fails for good. Claims keep workers apart, and a case's later events wait
    /// for its earlier ones at each endpoint.
    pub async fn deliver_webhooks(
        &self,
        actor: &Actor,
        worker: &str,
        sender: &dyn WebhookSender,
    ) -> Result<DeliveryReport, ServiceError> {
        self.require(actor, Permission::Outbox, "deliver webhooks")?;
        let policy = self.config().delivery;
        let allow_private = self.config().webhooks.allow_private_networks;
        let mut report = DeliveryReport::default();
        loop {
            let (now, until) = self.claim_window(&policy)?;
            let claimed = self
                .store
                .webhook_claim(worker.to_string(), now, until, policy.batch)
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let endpoints: Vec<WebhookEndpoint> = self.store.webhook_list().await?;
            for delivery in claimed {
                let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint);
                let attempt = match endpoint {
                    None => Err(MailError::Permanent(format!(
                        "webhook {} is not registered",
                        delivery.endpoint
                    ))),
                    Some(e) => webhook::check_url(&e.url, allow_private)
                        .and_then(|_| webhook::request(e, &delivery, self.now()))
                        .map_err(|e| MailError::Permanent(e.to_string())),
                };
                let (result, status) = match attempt {
                    Err(e) => (Err(e), None),
                    Ok(request) => match sender.post(&request, allow_private).await {
                        Ok(code) if (200..300).contains(&code) => (Ok(()), Some(code)),
                        Ok(code) => (
                            Err(MailError::Temporary(format!(
                                "the endpoint answered {code}"
                            ))),
                            Some(code),
                        ),
                        Err(e) => (Err(e), None),
                    },
                };
                let outcome = policy.outcome_after(delivery.attempts, result, self.now());
                report.count(&outcome);
                match self
                    .store
                    .webhook_finish(
                        delivery.id.clone(),
                        worker.to_string(),
                        self.now(),
                        outcome,
                        status,
                    )
                    .await
                {
                    Ok(_) | Err(StoreError::ClaimLost(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::START;

    fn message(attempts: u32) -> OutboxMessage {
        OutboxMessage {
            attempts,
            ..crate::testing::sample_message()
        }
    }

    #[test]
    fn customers_see_whether_an_email_went_but_not_why_it_did_not() {
        use crate::model::{DeliveryStatus, OutboxStatus};
        let mut m = message(3);
        m.last_error = Some("mx.internal.example:25: 451 greylisted".into());
        let staff = DeliveryStatus::of(&m, true);
        assert_eq!(staff.status, OutboxStatus::Queued);
        assert_eq!(staff.attempts, 3);
        assert_eq!(staff.last_error, m.last_error);
        assert_eq!(staff.next_attempt_at, Some(m.next_attempt_at));
        let customer = DeliveryStatus::of(&m, false);
        assert_eq!(customer.status, OutboxStatus::Queued);
        assert_eq!(
            (
                customer.attempts,
                customer.last_error,
                customer.next_attempt_at
            ),
            (0, None, None)
        );
        let text = serde_json::to_string(&DeliveryStatus::of(&m, false)).unwrap();
        assert!(!text.contains("mx.internal"), "{text}");
        m.status = OutboxStatus::Sent;
        m.sent_at = Some(START);
        let sent = DeliveryStatus::of(&m, false);
        assert_eq!(
            (sent.status, sent.sent_at),
            (OutboxStatus::Sent, Some(START))
        );
        assert_eq!(DeliveryStatus::of(&m, true).next_attempt_at, None);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap() {
        let p = DeliveryPolicy::default();
        assert_eq!(p.retry_delay(1), SignedDuration::from_mins(1));
        assert_eq!(p.retry_delay(2), SignedDuration::from_mins(2));
        assert_eq!(p.retry_delay(4), SignedDuration::from_mins(8));
        assert_eq!(p.retry_delay(30), SignedDuration::from_hours(6));
    }

    #[test]
    fn outcomes_follow_the_policy() {
        let p = DeliveryPolicy {
            max_attempts: 3,
            ..DeliveryPolicy::default()
        };
        assert_eq!(p.outcome(&message(0), Ok(()), START), DeliveryOutcome::Sent);
        assert_eq!(
            p.outcome(&message(0), Err(MailError::Temporary("421".into())), START),
            DeliveryOutcome::Retry {
                error: "421".into(),
                at: START + SignedDuration::from_mins(1)
            }
        );
        assert_eq!(
            p.outcome(&message(2), Err(MailError::Temporary("421".into())), START),
            DeliveryOutcome::Failed {
                error: "421 (gave up after 3 attempts)".into()
            }
        );
        assert_eq!(
            p.outcome(&message(0), Err(MailError::Permanent("550".into())), START),
            DeliveryOutcome::Failed {
                error: "550".into()
            }
        );
    }
}
