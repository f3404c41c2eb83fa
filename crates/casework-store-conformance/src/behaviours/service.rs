//! The service on the whole store: random command sequences through `CaseService`, checked
//! step by step against a model written without `evolve` (`crate::model`). This group
//! needs every capability.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use casework_core::event::replay;
use casework_core::model::{Actor, Case, Role};
use casework_core::ports::CaseStore;
use casework_core::service::CaseService;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::{Templates, WorkflowConfig};

use super::{email, new_case, staff};

/// A store with a service on top, a controllable clock, and three staff members.
struct Bench {
    store: Arc<dyn CaseStore>,
    svc: CaseService,
    clock: Arc<FixedClock>,
}

async fn bench<S: CaseStore + 'static>(store: Arc<S>) -> Bench {
    let store: Arc<dyn CaseStore> = store;
    let clock = Arc::new(FixedClock::default());
    let svc = CaseService::new(
        store.clone(),
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded().unwrap()),
    );
    for (n, r) in [
        ("ana", Role::Agent),
        ("bob", Role::Agent),
        ("lee", Role::Lead),
    ] {
        store.put_person(staff(n, r)).await.unwrap();
    }
    Bench { store, svc, clock }
}

impl Bench {
    async fn open(&self, title: &str, description: &str, customer: &str) -> Case {
        self.svc
            .open_case(&super::ana(), new_case(title, description, customer))
            .await
            .unwrap()
    }
}

/// Sequences of random commands by random people, through the service: after every step
/// the stored case is what replaying its stored history gives; an accepted command changed
/// exactly what the model (`crate::model`, written without `evolve`) says, recorded the
/// events it says and queued its emails; a refused one changed nothing in the store.
pub async fn random_commands_change_what_an_independent_model_says<S: CaseStore + 'static>(
    store: Arc<S>,
) {
    use crate::model::{Expected, Facts, Rng, actor, actors, command, describe, expect, pause};
    let b = bench(store).await;
    let config = WorkflowConfig::default_config();
    // cases 1 and 2, for links
    for title in ["link target one", "link target two"] {
        b.open(title, "d", "other@customer.example").await;
    }
    let (mut accepted, mut refused) = (0, 0);
    for seed in 0..16u64 {
        let mut rng = Rng::new(seed);
        let customer = Actor::customer("Jordan", email("jordan@customer.example"));
        let people = actors(&customer);
        let n = b
            .open(&format!("sequence {seed}"), "d", "jordan@customer.example")
            .await
            .number;
        let mut facts = Facts::of(&b.store.load_case(n).await.unwrap());
        let mut outbox = 0;
        for step in 0..50 {
            b.clock.advance(pause(&mut rng));
            let actor = actor(&mut rng, &people);
            let cmd = command(&mut rng);
            let what = describe(seed, step, n, &actor, &cmd);
            let history_before = b.store.history(n).await.unwrap();
            let result = b.svc.execute(&actor, n, None, cmd.clone()).await;
            let case = b.store.load_case(n).await.unwrap();
            let history = b.store.history(n).await.unwrap();
            assert_eq!(
                replay(&history).unwrap(),
                case,
                "{what}: replay equals state"
            );
            assert_eq!(case.version, history.len() as u64, "{what}");
            assert_eq!(case.check_invariants(), Ok(()), "{what}");
            let queued = b.store.outbox_for_case(n).await.unwrap().len();
            match result {
                Err(e) => {
                    refused += 1;
                    assert!(
                        !matches!(
                            e,
                            casework_core::ServiceError::Store(_)
                                | casework_core::ServiceError::Internal(_)
                        ),
                        "{what}: {e}"
                    );
                    assert_eq!(
                        history, history_before,
                        "{what}: refused ({e}), yet written"
                    );
                    assert_eq!(
                        Facts::of(&case),
                        facts,
                        "{what}: refused ({e}), yet changed"
                    );
                    assert_eq!(queued, outbox, "{what}: refused ({e}), yet an email");
                }
                Ok(outcome) => {
                    accepted += 1;
                    let Expected {
                        facts: want,
                        events,
                        emails,
                    } = expect(&config, &facts, &actor, &cmd, b.svc.now());
                    let got: Vec<&str> = outcome.events.iter().map(|e| e.kind.name()).collect();
                    assert_eq!(got, events, "{what}: events");
                    assert_eq!(&history[history_before.len()..], outcome.events, "{what}");
                    assert_eq!(Facts::of(&case), want, "{what}: the case");
                    assert_eq!(queued, outbox + emails, "{what}: emails queued");
                    facts = want;
                    outbox = queued;
                }
            }
        }
    }
    // the sequences really exercise both sides
    assert!(
        accepted > 300 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}
