//! The server's log writer: each line is appended to a buffer in memory and a thread of its
//! own writes the buffer to standard error a few milliseconds later, a burst in one write.
//! A request pays for a copy under a lock, never for a system call or a thread wake-up
//! (one wake-up per burst), and no line is ever dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the writer thread lets lines gather after the first of a burst.
const GATHER: Duration = Duration::from_millis(10);

/// Past this many buffered bytes (the writer thread cannot keep up), the request that
/// finds the buffer full writes it itself: memory stays bounded and nothing is dropped.
const MOST_BUFFERED: usize = 1024 * 1024;

struct Shared<W> {
    /// Lines not written yet, and whether the server is shutting down.
    pending: Mutex<(Vec<u8>, bool)>,
    /// Signalled when the buffer stops being empty, and at shutdown.
    ready: Condvar,
    /// The destination; held while a taken buffer is written, so bursts keep their order.
    out: Mutex<W>,
}

impl<W: Write> Shared<W> {
    fn pending(&self) -> MutexGuard<'_, (Vec<u8>, bool)> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes what is buffered and writes it, in order with any other writer of bursts.
    fn write_out(&self) -> bool {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let (burst, stopping) = {
            let mut p = self.pending();
            (std::mem::take(&mut p.0), p.1)
        };
        if !burst.is_empty() {
            // a closed or full standard error must not stop the server: the lines are lost
            let _ = out.write_all(&burst).and_then(|()| out.flush());
        }
        stopping
    }
}

/// Where `tracing_subscriber` writes the server's log lines ([`tracing_subscriber::fmt`]'s
/// writer); cheap to clone.
pub struct LogWriter<W> {
    shared: Arc<Shared<W>>,
}

impl<W> Clone for LogWriter<W> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

/// Stops the writer thread once everything buffered is written; dropped when `serve`
/// returns.
pub struct Flushed<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<W: Write + Send + 'static> Drop for Flushed<W> {
    fn drop(&mut self) {
        self.shared.pending().1 = true;
        self.shared.ready.notify_one();
        match self.thread.take() {
            Some(t) => {
                let _ = t.join();
            }
            None => {
                self.shared.write_out();
            }
        }
    }
}

/// A log writer into `out` and the guard that writes what is left when dropped. Without a
/// thread (the system refused one), every line is written at once.
pub fn writer<W: Write + Send + 'static>(out: W) -> (LogWriter<W>, Flushed<W>) {
    let shared = Arc::new(Shared {
        pending: Mutex::new((Vec::new(), false)),
        ready: Condvar::new(),
        out: Mutex::new(out),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("casework-log".into())
        .spawn(move || {
            loop {
                {
                    let mut p = worker.pending();
                    while p.0.is_empty() && !p.1 {
                        p = worker.ready.wait(p).unwrap_or_else(|e| e.into_inner());
                    }
                    if !p.1 {
                        drop(p);
                        std::thread::sleep(GATHER);
                    }
                }
                if worker.write_out() {
                    // lines a last request logged after the flag was set
                    worker.write_out();
                    return;
                }
            }
        })
        .ok();
    let immediate = thread.is_none();
    let writer = LogWriter {
        shared: shared.clone(),
    };
    if immediate {
        shared.pending().1 = true;
    }
    (writer, Flushed { shared, thread })
}

impl<W: Write> Write for LogWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (was_empty, full, stopping) = {
            let mut p = self.shared.pending();
            let was_empty = p.0.is_empty();
            p.0.extend_from_slice(buf);
            (was_empty, p.0.len() >= MOST_BUFFERED, p.1)
        };
        if full || stopping {
            self.shared.write_out();
        } else if was_empty {
            self.shared.ready.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter<W> {
    type Writer = LogWriter<W>;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<u8>>>);

    impl Write for Seen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seen {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_from_many_threads_are_all_written_whole_and_in_each_threads_order() {
        let seen = Seen::default();
        let (log, flushed) = writer(seen.clone());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let mut log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        log.write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flushed);
        let text = seen.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 40_000);
        for t in 0..8 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> =
                (0..5_000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "thread {t}");
        }
    }

    #[test]
    fn a_line_is_written_soon_without_waiting_for_more() {
        let seen = Seen::default();
        let (mut log, _flushed) = writer(seen.clone());
        log.write_all(b"one line\n").unwrap();
        let started = std::time::Instant::now();
        while seen.text().is_empty() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(seen.text(), "one line\n");
    }

    #[test]
    fn a_line_logged_after_shutdown_is_written_at_once() {
        let seen = Seen::default();
        let (mut log, flushed) = writer(seen.clone());
        log.write_all(b"before\n").unwrap();
        drop(flushed);
        assert_eq!(seen.text(), "before\n");
        log.write_all(b"after\n").unwrap();
        assert_eq!(seen.text(), "before\nafter\n");
    }

    #[test]
    fn a_buffer_the_thread_cannot_drain_is_written_by_the_caller() {
        /// A destination that is slow for its first write only.
        #[derive(Clone, Default)]
        struct SlowFirst(Seen, Arc<std::sync::atomic::AtomicBool>);
        impl Write for SlowFirst {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if !self.1.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                }
                self.0.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dest = SlowFirst::default();
        let (mut log, flushed) = writer(dest.clone());
        let line = vec![b'x'; 1023];
        for _ in 0..3 * 1024 {
            log.write_all(&line).unwrap();
            log.write_all(b"\n").unwrap();
            let buffered = log.shared.pending().0.len();
            assert!(buffered < MOST_BUFFERED, "{buffered} bytes buffered");
        }
        drop(flushed);
        assert_eq!(dest.0.text().len(), 3 * 1024 * 1024);
    }
}
