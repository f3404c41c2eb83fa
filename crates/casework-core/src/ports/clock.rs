//! Time and ids, through ports so tests and snapshots are deterministic.

use async_trait::async_trait;
use jiff::Timestamp;

/// The time, through a port so tests and snapshots are deterministic.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Waits about `backoff` (the service's pause between two attempts at a contended
    /// write; a wall clock may add jitter). Test clocks return at once, which is the default.
    async fn pause(&self, backoff: std::time::Duration) {
        let _ = backoff;
    }
}

/// Unique ids for outbox messages and other records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new id, unique across processes for production generators.
    fn new_id(&self) -> String;
}

/// The wall clock, for embedders and the CLI. [`Clock::pause`] sleeps between half and one
/// and a half times the backoff (so writers that lost the same race do not all come back at
/// the same instant) on a timer thread of its own, so it works under any async runtime and
/// core needs none.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn pause(&self, backoff: std::time::Duration) {
        let nanos = Timestamp::now().subsec_nanosecond().unsigned_abs();
        let jitter = 0.5 + f64::from(nanos) / 1e9;
        Sleep::new(backoff.mul_f64(jitter)).await;
    }
}

/// A future that is ready once a timer thread has slept for its duration.
struct Sleep {
    duration: std::time::Duration,
    state: std::sync::Arc<std::sync::Mutex<SleepState>>,
}

#[derive(Default)]
struct SleepState {
    started: bool,
    done: bool,
    waker: Option<std::task::Waker>,
}

impl Sleep {
    fn new(duration: std::time::Duration) -> Self {
        Self {
            duration,
            state: std::sync::Arc::default(),
        }
    }
}

impl std::future::Future for Sleep {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.done {
            return std::task::Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        if !state.started {
            state.started = true;
            let shared = std::sync::Arc::clone(&self.state);
            let duration = self.duration;
            let spawned = std::thread::Builder::new()
                .name("casework-pause".into())
                .spawn(move || {
                    std::thread::sleep(duration);
                    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
                    state.done = true;
                    if let Some(w) = state.waker.take() {
                        w.wake();
                    }
                });
            if spawned.is_err() {
                // no thread to be had: do not wait at all rather than wait forever
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    }
}

/// Ids unique across processes: 64 random bits (the time hashed under the standard
/// library's hash keys, which it draws from the operating system's random source) and a
/// counter.
#[derive(Debug)]
pub struct RandomIds {
    prefix: String,
    counter: std::sync::atomic::AtomicU64,
}

impl RandomIds {
    /// A generator with a fresh random prefix.
    pub fn new() -> Self {
        use std::hash::BuildHasher;
        let now = Timestamp::now();
        let bits = std::collections::hash_map::RandomState::new()
            .hash_one((now.as_second(), now.subsec_nanosecond()));
        Self {
            prefix: format!("{bits:016x}"),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Default for RandomIds {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGenerator for RandomIds {
    fn new_id(&self) -> String {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}{n:04x}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generators_never_share_an_id() {
        let (a, b) = (RandomIds::new(), RandomIds::new());
        let ids: std::collections::HashSet<String> =
            (0..100).flat_map(|_| [a.new_id(), b.new_id()]).collect();
        assert_eq!(ids.len(), 200);
        assert!(
            ids.iter().all(|id| id.len() == 20),
            "16 hex digits and a counter"
        );
    }

    #[test]
    fn the_system_clock_pauses_about_as_long_as_asked() {
        let started = std::time::Instant::now();
        futures::executor::block_on(SystemClock.pause(std::time::Duration::from_millis(20)));
        // between half and one and a half times the backoff: at least 10 ms
        assert!(started.elapsed() >= std::time::Duration::from_millis(10));
    }
}
