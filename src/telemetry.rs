//! Logging: human-readable on a terminal, one JSON object per line with `--log-format json`.
//! Logs go to stderr so that stdout carries only what a command prints for people or scripts.

use std::io::IsTerminal;

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
        .with_writer(std::io::stderr)
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
