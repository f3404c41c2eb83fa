//! Copying a whole store into another (`casework store copy`) through the service: the
//! workflow file decides who may, with the `store` permission (by default the `service`
//! role alone: reading and writing a whole database is database access), and core's
//! [`crate::transfer::copy`] does the moving.

use super::{CaseService, ServiceError};
use crate::config::Permission;
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
