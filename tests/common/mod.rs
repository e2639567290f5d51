//! Helpers the integration tests share: test dates, the samples, the binary and its output, the
//! sandbox, a work folder the binary runs in, PostgreSQL databases of their own and findings.
//!
//! Each test file that says `mod common;` compiles its own copy and uses only a part of it, so
//! what one file leaves unused is not dead code.
#![allow(dead_code, unused_imports, unused_macros)]

#[macro_use]
mod backends;
mod engine;
mod findings;
mod pg;
mod sandbox;
mod week;
mod work;

use std::path::{Path, PathBuf};
use std::process::Output;

use chrono::NaiveDate;

pub use backends::{on_postgres, on_sqlite};
pub use engine::{expected_row, expected_rows, reconcile_dir};
pub use findings::{finding, run_report, side};
pub use pg::PgDatabase;
pub use sandbox::{
    CLIENT_ID, XREF, calendar, data_requests, fast_settings, faulty_fetch, fetch, generated,
    lookup_window, records, sandbox_options, start_sandbox,
};
pub use week::{
    fetch_week, week_authorizations, week_captures, week_dataset, week_settings, week_window,
};
pub use work::{Email, FILE_EMAIL, Work, base_config, ledger_folder, stored_findings};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_flexiti-recon");

/// The committed sample data set: one night, 2026-11-23, with one finding of each category.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A test date: `day("2026-11-24")`, or `day(24)` for that day of November 2026, the month of
/// the samples.
pub fn day(d: impl TestDay) -> NaiveDate {
    d.date()
}

/// The samples' business day, 2026-11-23.
pub fn sample_day() -> NaiveDate {
    day(23)
}

/// What [`day`] accepts.
pub trait TestDay {
    fn date(self) -> NaiveDate;
}

impl TestDay for &str {
    fn date(self) -> NaiveDate {
        NaiveDate::parse_from_str(self, "%Y-%m-%d").expect("a test date")
    }
}

impl TestDay for u32 {
    fn date(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, self).expect("a day of November 2026")
    }
}

/// The binary, run in `dir` with colours off; the caller adds the arguments and environment.
pub fn bin(dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command.env("NO_COLOR", "1").current_dir(dir);
    command
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both streams, standard output first.
pub fn text(o: &Output) -> String {
    format!("{}\n{}", stdout(o), stderr(o))
}

/// A file's text; panics naming the file.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON text parsed; panics showing the text.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}
