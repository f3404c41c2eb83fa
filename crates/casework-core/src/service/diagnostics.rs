//! `casework doctor` through the service: what the store holds, read against the workflow
//! file (its statuses, and the statuses cases are stranded in).

use serde::{Deserialize, Serialize};

use super::{CaseService, ServiceError, forbidden};
use crate::config::Permission;
use crate::ids::StatusName;
use crate::model::Actor;
use crate::ports::{StatusCount, StoreStats};

/// What `casework doctor` shows of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The store's counts.
    pub stats: StoreStats,
    /// The workflow file's statuses, in file order.
    pub statuses: Vec<StatusName>,
    /// Statuses cases are in that the workflow file no longer has, with how many cases each
    /// (`casework status map` moves them).
    pub stranded: Vec<StatusCount>,
}

impl CaseService {
    /// What the store holds, against the workflow file. For admins (`manage`) and for
    /// whoever holds the store's own credentials ([`Actor::operator`], through `store`).
    pub async fn diagnose(&self, actor: &Actor) -> Result<Diagnosis, ServiceError> {
        let may = |p| self.config.permits(actor.role, p);
        if !may(Permission::Manage) && !may(Permission::Store) {
            return Err(forbidden(actor.role, "read the store's diagnostics"));
        }
        let stats = self.store.stats().await?;
        Ok(Diagnosis {
            statuses: self
                .config
                .statuses()
                .iter()
                .map(|s| s.name.clone())
                .collect(),
            stranded: self.config.stranded(&stats.statuses),
            stats,
        })
    }
}
