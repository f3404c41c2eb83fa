//! The case log in memory: numbers from a counter, a case's events and state in one record,
//! each commit checked whole before anything is written; idempotency keys beside them.

use async_trait::async_trait;
use casework_core::event::{Event, Opened, replay};
use casework_core::ids::CaseNumber;
use casework_core::model::{Case, OutboxMessage};
use casework_core::ports::{CaseLog, Commit, Created, StoreError, check_attachments, key_reused};
use casework_core::workflow::notify::number_notices;
use jiff::Timestamp;

use crate::{Inner, MemoryStore, Record};

/// Whether an outbox id of `new` is taken, by the store or earlier in `new`.
fn outbox_taken(inner: &Inner, new: &[OutboxMessage]) -> Result<(), StoreError> {
    for (i, m) in new.iter().enumerate() {
        if inner.outbox.iter().any(|o| o.id == m.id) || new[..i].iter().any(|o| o.id == m.id) {
            return Err(StoreError::Duplicate(format!("outbox message {}", m.id)));
        }
    }
    Ok(())
}

/// Opens a case with the next number, queuing its notices; the caller holds the lock.
fn create_locked(
    inner: &mut Inner,
    at: Timestamp,
    actor: String,
    opened: Opened,
    mut outbox: Vec<OutboxMessage>,
) -> Result<Case, StoreError> {
    let next = inner.last_number + 1;
    let number = CaseNumber::new(next)
        .ok_or_else(|| StoreError::Internal("case numbers exhausted".into()))?;
    let event = opened.event(number, at, actor);
    let case = replay([&event]).map_err(|e| StoreError::Invalid(e.to_string()))?;
    outbox_taken(inner, &outbox)?;
    number_notices(&mut outbox, number);
    inner.outbox.extend(outbox);
    inner.last_number = next;
    inner.append_feed(next, &event);
    inner.cases.insert(
        next,
        Record {
            case: case.clone(),
            events: vec![event],
        },
    );
    Ok(case)
}

#[async_trait]
impl CaseLog for MemoryStore {
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Case, StoreError> {
        create_locked(&mut self.lock(), at, actor, opened, outbox)
    }

    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: Opened,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Created, StoreError> {
        // Check and create under one lock, so concurrent calls make one case.
        let mut inner = self.lock();
        if let Some((fp, n)) = inner.keys.get(&key) {
            if *fp != fingerprint {
                return Err(key_reused(&key));
            }
            let first = inner.cases.get(n).and_then(|r| r.events.first());
            let case = replay(first).map_err(|e| StoreError::Internal(e.to_string()))?;
            return Ok(Created {
                case,
                replayed: true,
            });
        }
        let case = create_locked(&mut inner, at, actor, opened, outbox)?;
        inner.keys.insert(key, (fingerprint, case.number.get()));
        Ok(Created {
            case,
            replayed: false,
        })
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.lock()
            .cases
            .get(&number.get())
            .map(|r| r.case.clone())
            .ok_or_else(|| StoreError::NotFound(format!("case {number}")))
    }

    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        let mut inner = self.lock();
        let record = inner
            .cases
            .get(&commit.number.get())
            .ok_or_else(|| StoreError::NotFound(format!("case {}", commit.number)))?;
        let current = record.case.version;
        if current != commit.expected_version {
            return Err(StoreError::Conflict {
                expected_version: commit.expected_version,
                current_version: current,
            });
        }
        for (i, e) in commit.events.iter().enumerate() {
            if e.case != commit.number || e.seq != current + 1 + i as u64 {
                return Err(StoreError::Invalid(format!(
                    "event {} is not numbered to follow version {current}",
                    e.seq
                )));
            }
        }
        let new_version = current + commit.events.len() as u64;
        if commit.state.number != commit.number || commit.state.version != new_version {
            return Err(StoreError::Invalid(
                "the new state does not match the events".into(),
            ));
        }
        outbox_taken(&inner, &commit.outbox)?;
        check_attachments(&commit)?;
        if let Some(a) = commit
            .attachments
            .iter()
            .find(|a| inner.attachments.contains_key(&a.info.id))
        {
            return Err(StoreError::Duplicate(format!("attachment {}", a.info.id)));
        }
        // Every check passed: now write, all of it.
        let inner = &mut *inner;
        let n = commit.number.get();
        let Some(record) = inner.cases.get_mut(&n) else {
            return Err(StoreError::NotFound(format!("case {}", commit.number)));
        };
        record.events.extend(commit.events.iter().cloned());
        record.case = commit.state.clone();
        for e in &commit.events {
            inner.append_feed(n, e);
        }
        inner.outbox.extend(commit.outbox);
        for a in commit.attachments {
            inner.attachments.insert(a.info.id.clone(), a);
        }
        Ok(commit.state)
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.lock()
            .cases
            .get(&number.get())
            .map(|r| r.events.clone())
            .ok_or_else(|| StoreError::NotFound(format!("case {number}")))
    }
}
