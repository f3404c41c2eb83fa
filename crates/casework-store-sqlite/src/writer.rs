//! Group commit: one writer thread owns the write connection. Concurrent writes queue up;
//! the writer takes everything waiting, runs each job in its own savepoint inside one
//! transaction, commits once (one fsync), and only then answers each caller. A job that
//! fails rolls back its savepoint alone; the others in the batch are not disturbed. With a
//! read cache, the writer tells it which cases each commit changed ([`crate::cache`]).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use casework_core::ports::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::cache::{CaseCache, feed_position, touched_since};
use crate::sql::map_err;

/// Most jobs in one transaction; a bound on how long one commit holds the write lock.
const MAX_BATCH: usize = 512;
/// How long the writer keeps retrying a busy database (another process writing) before it
/// reports the store unavailable.
const BUSY_DEADLINE: Duration = Duration::from_secs(30);

/// A unit of work for the writer.
trait Job: Send {
    /// Runs inside the job's savepoint; keeps its own result.
    fn run(&mut self, conn: &Connection) -> Result<(), StoreError>;
    /// Answers the caller: with the job's result if the transaction committed, else with the
    /// commit's error.
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
}

struct Typed<T, F> {
    work: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let outcome = match self.work.take() {
            Some(work) => work(conn),
            None => Err(StoreError::Internal("job ran twice".into())),
        };
        let ok = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
        self.result = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match (committed, self.result) {
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(()), Some(ok)) => ok,
            (Ok(()), None) => Err(StoreError::Internal("job did not run".into())),
        };
        // The caller may have gone away (a dropped request); that is not an error here.
        let _ = self.reply.send(answer);
    }
}

/// Handle to the writer thread.
pub struct Writer {
    tx: Option<Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer on its own thread with this connection, keeping `cache` current
    /// with its commits.
    pub fn start(conn: Connection, cache: Option<Arc<CaseCache>>) -> Result<Self, StoreError> {
        let (tx, rx) = channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("casework-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, cache.as_deref()))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next batch; resolves once the batch is durable.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            work: Some(work),
            result: None,
            reply,
        });
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store is closed".into()))?;
        tx.send(job)
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?
    }
}

impl Writer {
    /// A handle that queues jobs from a plain thread (outside any async runtime), as long as
    /// the writer runs.
    pub fn handle(&self) -> Option<WriterHandle> {
        self.tx.clone().map(|tx| WriterHandle { tx })
    }
}

/// Queues jobs for the writer from a plain thread (a background task of the store). The
/// writer thread runs until every handle is gone as well as the [`Writer`].
pub struct WriterHandle {
    tx: Sender<Box<dyn Job>>,
}

impl WriterHandle {
    /// Runs `work` in the next batch and waits, blocking this thread, until it is durable.
    pub fn write_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Box::new(Typed {
                work: Some(work),
                result: None,
                reply,
            }))
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        answer
            .blocking_recv()
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the loop once the queued jobs are done.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn begin(conn: &Connection) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_DEADLINE =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(map_err(e)),
        }
    }
}

fn writer_loop(conn: Connection, rx: Receiver<Box<dyn Job>>, cache: Option<&CaseCache>) {
    // this thread writes through `conn`, migrated, and no other
    crate::sql::remember_reindex_state();
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(3600)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = run_batch(&conn, &mut batch, cache);
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

fn run_batch(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    cache: Option<&CaseCache>,
) -> Result<(), StoreError> {
    begin(conn)?;
    // holding the write lock: no other connection commits until this batch has
    let from = cache.and_then(|_| feed_position(conn).ok());
    for job in batch.iter_mut() {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(map_err(e));
        }
        let ok = job.run(conn).is_ok();
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(map_err(e));
        }
    }
    // Which cases this batch changed. If that cannot be read, the cache is not told: the
    // next read finds a position it did not expect and starts over.
    let changed = match (cache, from) {
        (Some(cache), Some(from)) => match feed_position(conn) {
            Ok(to) if to != from => touched_since(conn, from).ok().map(|touched| {
                cache.committing(from, to);
                (cache, from, to, touched)
            }),
            _ => None,
        },
        _ => None,
    };
    let committed = match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(map_err(e))
        }
    };
    if let Some((cache, from, to, touched)) = changed {
        cache.committed(from, to, &touched, committed.is_ok());
    }
    committed
}

/// Runs a closure on a connection that is not the writer's, in a deferred read transaction.
pub fn read_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(map_err)?;
    let out = f(&tx)?;
    tx.finish().map_err(map_err)?;
    Ok(out)
}
