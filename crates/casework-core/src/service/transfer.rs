//! Copying a whole store into another (`casework store copy`) through the service: the
//! workflow file decides who may, with the `store` permission (by default the `service`
//! role alone: reading and writing a whole database is database access), and core's
//! [`crate::transfer::copy`] does the moving. Export and import (`casework export`,
//! `casework import`) take the same permission.

use super::{CaseService, ServiceError};
use crate::config::Permission;
use crate::exchange::{Exporter, Importer};
use crate::model::Actor;
use crate::ports::TransferStore;
use crate::transfer::{CopyReport, Stage, copy};

impl CaseService {
    /// Copies everything in `from` into `to`, cases `batch` at a time, for `actor`, who needs
    /// the workflow file's `store` permission (`Forbidden` otherwise, and nothing is read or
    /// written). The composition root opens both stores (only it names store adapters) and
    /// builds this service over `from` with the workflow file in force. `progress` hears
    /// where the copy stands; records the target refuses are in the report, a store that
    /// fails stops the copy.
    pub async fn copy_store(
        &self,
        actor: &Actor,
        from: &dyn TransferStore,
        to: &dyn TransferStore,
        batch: u32,
        progress: &mut (dyn FnMut(Stage) + Send),
    ) -> Result<CopyReport, ServiceError> {
        self.require(actor, Permission::Store, "copy a whole store")?;
        Ok(copy(from, to, batch, progress).await?)
    }
}

impl CaseService {
    /// An export of `store` (the whole store: people, knowledge, every case with its
    /// history and outbox), `batch` records a step, for `actor`, who needs the `store`
    /// permission (`Forbidden` otherwise): an export holds every internal note, so it is
    /// the equivalent of database access.
    pub fn exporter<'a>(
        &self,
        actor: &Actor,
        store: &'a dyn TransferStore,
        batch: u32,
    ) -> Result<Exporter<'a>, ServiceError> {
        self.require(actor, Permission::Store, "export the store")?;
        Ok(Exporter::new(store, batch))
    }

    /// An import into `store` from `source` (its name, for the report), `batch` cases a
    /// transaction, for `actor`, who needs the `store` permission: an import writes whole
    /// histories past the workflow's checks. With `dry_run`, records are checked and
    /// nothing is written.
    pub fn importer<'a>(
        &self,
        actor: &Actor,
        store: &'a dyn TransferStore,
        source: &str,
        dry_run: bool,
        batch: u32,
    ) -> Result<Importer<'a>, ServiceError> {
        self.require(actor, Permission::Store, "import into the store")?;
        Ok(Importer::new(
            store,
            source,
            dry_run,
            batch,
            self.config.clone(),
        ))
    }
}
