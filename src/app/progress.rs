//! The stages of a run as the operator sees them: a spinner naming the current stage on a
//! terminal (long reruns), and one `stage done` log line per stage with its duration and the
//! peak memory so far, which the benchmark reads from the JSON log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Stages {
    bar: Option<ProgressBar>,
    clock: Mutex<Instant>,
}

impl Stages {
    /// `show`: draw a spinner (only on a terminal with human logs).
    pub fn new(show: bool) -> Stages {
        let bar = show.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Stages {
            bar,
            clock: Mutex::new(Instant::now()),
        }
    }

    /// A stage begins: the spinner says what is being done.
    pub fn begin(&self, doing: &str) {
        if let Ok(mut clock) = self.clock.lock() {
            *clock = Instant::now();
        }
        self.progress(doing);
    }

    /// Within a stage: the spinner says how far it has got.
    pub fn progress(&self, doing: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(doing.to_string());
        }
    }

    /// A stage ends: its duration goes to the log.
    pub fn done(&self, stage: &str) {
        let ms = self
            .clock
            .lock()
            .map(|c| c.elapsed().as_millis())
            .unwrap_or_default();
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        match peak_rss_mb() {
            Some(peak_rss_mb) => tracing::info!(stage, ms, peak_rss_mb, "stage done"),
            None => tracing::info!(stage, ms, "stage done"),
        }
    }
}

/// The process's peak resident memory so far, in MB (Linux `VmHWM`), so that the log shows
/// which stage set the peak.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1000)
}

impl Drop for Stages {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
