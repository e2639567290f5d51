//! The sandbox Flexiti API over real TCP, seeded data sets, and the Flexiti client's settings
//! for fetching from it quickly.

use std::path::{Path, PathBuf};

use flexiti_recon::domain::{BusinessCalendar, DayRange, FlexitiRecord};
use flexiti_recon::flexiti::{self, FetchOutcome, FlexitiSettings};
use flexiti_sandbox::{
    self as sandbox, Faults, GenerateOptions, SandboxHandle, SandboxOptions, SandboxStats,
};
use secrecy::SecretString;

use super::day;

/// The client id every test uses.
pub const CLIENT_ID: &str = "acme";
/// The `x-reference-id` of the tests' fetches.
pub const XREF: &str = "0123456789abcdef0123456789abcdef";

/// How a test's sandbox runs: a free loopback port, client `acme` with `secret`.
pub fn sandbox_options(
    data_dir: impl Into<PathBuf>,
    secret: &str,
    faults: Faults,
) -> SandboxOptions {
    SandboxOptions {
        port: 0,
        data_dir: data_dir.into(),
        client_id: CLIENT_ID.into(),
        client_secret: secret.into(),
        faults,
    }
}

/// A sandbox serving `data_dir` (which holds `flexiti/`), running until the handle is dropped.
pub async fn start_sandbox(
    data_dir: impl Into<PathBuf>,
    secret: &str,
    faults: Faults,
) -> SandboxHandle {
    sandbox::spawn(sandbox_options(data_dir, secret, faults))
        .await
        .expect("sandbox")
}

/// The merchant's calendar in the tests: Toronto.
pub fn calendar() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::America::Toronto)
}

/// A seeded data set generated into a temp dir: `days` days from 2026-11-23, `orders` a day,
/// with what `tune` changes (it takes milliseconds).
pub fn generated(
    seed: u64,
    days: u32,
    orders: u64,
    tune: impl FnOnce(&mut GenerateOptions),
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = GenerateOptions::new(dir.path(), day("2026-11-23"), days, orders);
    opts.seed = seed;
    tune(&mut opts);
    sandbox::generate(&opts).expect("generate");
    dir
}

/// For a data set [`generated`] from 2026-11-23: a window that starts after its first day, so
/// captures of Nov 23 listed through their later returns need an authorization lookup.
pub fn lookup_window() -> DayRange {
    DayRange::new(day("2026-11-24"), day("2026-11-25"))
}

/// Small pages so that every date takes several pages; quick retries, `max_attempts` of them.
pub fn fast_settings(base: &str, secret: &str, max_attempts: u32) -> FlexitiSettings {
    let mut s = FlexitiSettings::new(base, CLIENT_ID, SecretString::from(secret.to_string()));
    s.page_size = 25;
    s.concurrency = 4;
    s.timeout_secs = 5;
    s.max_attempts = max_attempts;
    s.backoff_base_ms = 1;
    s.backoff_cap_ms = 5;
    s
}

/// The client's fetch of `window` for a Toronto merchant.
pub async fn fetch(settings: &FlexitiSettings, window: DayRange) -> FetchOutcome {
    flexiti::fetch(settings, calendar(), window, XREF).await
}

/// A fetch of `window` from a sandbox serving `data` with `faults`, with the sandbox's view of
/// it; `settings` makes the client's settings from the sandbox's base URL.
pub async fn faulty_fetch(
    data: &Path,
    secret: &str,
    faults: Faults,
    window: DayRange,
    settings: impl FnOnce(&str) -> FlexitiSettings,
) -> (FetchOutcome, SandboxStats) {
    let sandbox = start_sandbox(data, secret, faults).await;
    let outcome = fetch(&settings(&sandbox.base_url()), window).await;
    let stats = sandbox.stats();
    sandbox.shutdown().await;
    (outcome, stats)
}

/// The requests the sandbox saw, but for the token calls.
pub fn data_requests(stats: &SandboxStats) -> u64 {
    stats.total_requests() - stats.requests_to("token")
}

/// Records sorted by identity, with every field (amount, store, instant, authorization…).
pub fn records(outcome: &FetchOutcome) -> Vec<FlexitiRecord> {
    let mut records = outcome.side.records.clone();
    records.sort_by_key(FlexitiRecord::identity);
    records
}
