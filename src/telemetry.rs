//! Logging: human-readable on a terminal, one JSON object per line with `--log-format json`.
//! Logs go to stderr so that stdout carries only what a command prints for people or scripts.
//! Every line passes through [`crate::redact::text`] on its way out: no secret, token, URL
//! password or full account number reaches a log, whatever a message or field holds.

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "flexiti_recon=info,warn",
        1 => "flexiti_recon=debug,info",
        _ => "flexiti_recon=trace,debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr)
        .with_ansi(ansi);
    let result = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    // A subscriber already set (tests running several commands in one process) is fine.
    let _ = result;
}

/// Stderr, each event redacted. The formatter hands over one whole event per write, so a
/// secret is never split between two calls.
struct RedactedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedStderr
    }
}

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let clean = crate::redact::text(&String::from_utf8_lossy(buf));
        std::io::stderr().lock().write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Where a stage's time goes, step by step, for the log: `days=12ms matching=310ms …` (the
/// engine's steps, and building the Flexiti side's).
pub struct Steps {
    last: std::time::Instant,
    done: Vec<(&'static str, u128)>,
}

impl Steps {
    pub fn start() -> Self {
        Steps {
            last: std::time::Instant::now(),
            done: Vec::new(),
        }
    }

    pub fn step(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.done.push((name, (now - self.last).as_millis()));
        self.last = now;
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, ms)) in self.done.iter().enumerate() {
            let gap = if i == 0 { "" } else { " " };
            write!(f, "{gap}{name}={ms}ms")?;
        }
        Ok(())
    }
}
