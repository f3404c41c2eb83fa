//! Helpers for Casework's end-to-end tests: a service wired to a store, with a fixed clock.

use std::sync::Arc;

use casework_core::model::{Person, Role};
use casework_core::ports::CaseStore;
use casework_core::testing::{FixedClock, SequentialIds};
use casework_core::{CaseService, Templates, WorkflowConfig};

/// A service over `store` with the default workflow, a fixed clock and sequential ids.
pub fn service(store: Arc<dyn CaseStore>) -> (CaseService, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::default());
    let templates = match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("embedded templates must load: {e}"),
    };
    let svc = CaseService::new(
        store,
        clock.clone(),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(templates),
    );
    (svc, clock)
}

/// A staff member with an email and a signature.
pub fn staff(name: &str, role: Role) -> Person {
    let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
    Person {
        name: name.into(),
        role,
        email: email.parse().ok(),
        phone: Some("+1 555 0100".into()),
        signature: Some(format!("{name}\nExample Corp Support")),
    }
}
