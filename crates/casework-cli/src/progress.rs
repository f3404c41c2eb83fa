//! Progress of a long command (`store copy`, `import`, `export`) on standard error: a bar
//! with its rate and ETA on a terminal (indicatif), plain lines otherwise (a log, a pipe),
//! at most one a second, and always the last.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Where a long command stands, shown as it suits standard error.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: Option<Instant>,
}

impl Progress {
    /// A bar drawn with `template` (indicatif's syntax) on a terminal, else plain lines.
    pub(crate) fn new(template: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, last: None }
    }

    /// A new stage: `label` on the bar, or `line` printed.
    pub(crate) fn stage(&mut self, label: &str, line: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(label.to_string()),
            None => eprintln!("{line}"),
        }
    }

    /// `done` of `total`; on plain lines, `line()` when a second has passed or at the end.
    pub(crate) fn at(&mut self, done: u64, total: u64, line: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None => {
                let due = self
                    .last
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                if due || done == total {
                    eprintln!("{}", line());
                    self.last = Some(Instant::now());
                }
            }
        }
    }

    /// The bar's message (nothing on plain lines).
    pub(crate) fn message(&self, text: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
