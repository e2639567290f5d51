//! The stages of a run as the operator sees them: a spinner naming the current stage on a
//! terminal (long reruns), turned into a bar with a length and an estimated time left while the
//! fetch's count of date queries is known, and one `stage done` log line per stage with its
//! duration and the peak memory so far, which the benchmark reads from the JSON log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::flexiti::FetchProgress;

const SPINNER: &str = "{spinner} [{elapsed}] {msg}";
const BAR: &str = "{spinner} [{elapsed}] [{wide_bar}] {pos}/{len} date queries, ETA {eta} {msg}";

pub struct Stages {
    bar: Option<ProgressBar>,
    clock: Mutex<Instant>,
}

impl Stages {
    /// `show`: draw a spinner (only on a terminal with human logs).
    pub fn new(show: bool) -> Stages {
        let bar = show.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Stages::with_bar(bar)
    }

    fn with_bar(bar: Option<ProgressBar>) -> Stages {
        if let Some(bar) = &bar {
            style(bar, SPINNER);
        }
        Stages {
            bar,
            clock: Mutex::new(Instant::now()),
        }
    }

    /// During the fetch: a bar over the window's date queries (their number is known before
    /// the first page), with the pages read and failed as its message.
    pub fn fetch(&self, p: FetchProgress) {
        let Some(bar) = &self.bar else {
            return;
        };
        let queries = u64::try_from(p.queries).unwrap_or(u64::MAX);
        if bar.length() != Some(queries) {
            bar.set_length(queries);
            style(bar, BAR);
        }
        bar.set_position(u64::try_from(p.queries_done).unwrap_or(u64::MAX));
        let failed = if p.failed > 0 {
            format!(", {} failed", p.failed)
        } else {
            String::new()
        };
        bar.set_message(format!("{} pages{failed}", p.pages));
    }

    /// A stage begins: the spinner (a bar no longer) says what is being done.
    pub fn begin(&self, doing: &str) {
        if let Ok(mut clock) = self.clock.lock() {
            *clock = Instant::now();
        }
        if let Some(bar) = &self.bar
            && bar.length().is_some()
        {
            bar.unset_length();
            style(bar, SPINNER);
        }
        self.progress(doing);
    }

    /// Within a stage: the spinner says how far it has got.
    fn progress(&self, doing: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(doing.to_string());
        }
    }

    /// A stage ends: its duration goes to the log.
    pub fn done(&self, stage: &str) {
        let elapsed = self.clock.lock().map(|c| c.elapsed()).unwrap_or_default();
        Stages::took(stage, elapsed);
    }

    /// A stage that ran beside another (the audit bundle while the results are stored) took
    /// `elapsed`: logged like [`done`](Stages::done).
    pub fn took(stage: &str, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        match peak_rss_mb() {
            Some(peak_rss_mb) => tracing::info!(stage, ms, peak_rss_mb, "stage done"),
            None => tracing::info!(stage, ms, "stage done"),
        }
    }
}

fn style(bar: &ProgressBar, template: &str) {
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
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

#[cfg(test)]
mod tests {
    use indicatif::ProgressDrawTarget;

    use super::*;

    fn progress(queries_done: usize, queries: usize, pages: usize) -> FetchProgress {
        FetchProgress {
            queries_done,
            queries,
            pages,
            failed: 0,
        }
    }

    #[test]
    fn the_fetch_shows_a_bar_over_its_date_queries_and_the_next_stage_a_spinner_again() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let stages = Stages::with_bar(Some(bar.clone()));
        stages.begin("fetching the Flexiti side");
        assert_eq!(bar.length(), None, "a spinner before the count is known");
        stages.fetch(progress(3, 18, 41));
        assert_eq!(bar.length(), Some(18));
        assert_eq!(bar.position(), 3);
        assert_eq!(bar.message(), "41 pages");
        stages.fetch(FetchProgress {
            failed: 2,
            ..progress(18, 18, 90)
        });
        assert_eq!(bar.position(), 18);
        assert_eq!(bar.message(), "90 pages, 2 failed");
        stages.begin("reconciling");
        assert_eq!(bar.length(), None, "the next stage is a spinner again");
        assert_eq!(bar.message(), "reconciling");
    }
}
