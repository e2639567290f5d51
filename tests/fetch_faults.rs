//! The real Flexiti client against the real sandbox over TCP, one fault at a time and mixed.
//!
//! Every test generates the same seeded data set (a few hundred orders over three Toronto days),
//! fetches it through a faulty sandbox and compares the outcome with the truth: a fault-free
//! fetch of the same window, itself checked against the files read offline. Faults that retries
//! can absorb must leave the records identical (no lost or duplicated transaction) with retry
//! counts that match what the sandbox injected; faults that cannot be absorbed must show up as
//! failed calls and incomplete business days, exactly where they belong.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use flexiti_recon::domain::{DayRange, FlexitiRecord};
use flexiti_recon::flexiti::{self, FetchOutcome, FlexitiSettings};
use flexiti_sandbox::{Faults, SandboxStats, fault};

use common::{
    XREF, bin, calendar, data_requests, day, fast_settings, generated, lookup_window, records,
    start_sandbox,
};

const SECRET: &str = "fetch-faults-secret";

/// The three generated days; the data also covers the day before and after.
fn window() -> DayRange {
    DayRange::new(day("2026-11-23"), day("2026-11-25"))
}

/// A seeded data set in a temp dir (generated per test: it takes milliseconds).
fn dataset() -> tempfile::TempDir {
    generated(7, 3, 450, |opts| opts.flexiti_files = 2)
}

/// Small pages so that every date takes several pages; fast, generous retries.
fn settings(base: &str) -> FlexitiSettings {
    fast_settings(base, SECRET, 30)
}

/// The fault-free fetch of `window`, with the sandbox's view of it.
async fn truth(data: &Path, window: DayRange) -> (FetchOutcome, SandboxStats) {
    let (outcome, stats) = faulty_fetch(data, Faults::default(), window, |_| {}).await;
    assert!(
        outcome.failed_calls.is_empty(),
        "{:?}",
        outcome.failed_calls
    );
    assert!(outcome.side.incomplete_days.is_empty());
    assert_eq!(outcome.stats.retries, 0);
    (outcome, stats)
}

/// Everything a fetch that absorbed its faults must show.
fn assert_absorbed(outcome: &FetchOutcome, truth: &FetchOutcome, stats: &SandboxStats) {
    assert!(
        outcome.failed_calls.is_empty(),
        "{:#?}",
        outcome.failed_calls
    );
    assert!(outcome.failed_utc_dates.is_empty());
    assert!(outcome.side.incomplete_days.is_empty());
    assert_eq!(
        records(outcome),
        records(truth),
        "records differ from the truth"
    );
    assert_eq!(
        outcome.side.authorizations.len(),
        truth.side.authorizations.len()
    );
    assert_eq!(outcome.stats.calls, stats.total_requests(), "{stats:?}");
    assert_eq!(
        stats.reference_ids,
        BTreeSet::from([XREF.to_string()]),
        "the sandbox saw another x-reference-id"
    );
}

/// Retried faults as the sandbox counted them.
fn retryable_faults(stats: &SandboxStats) -> u64 {
    [
        fault::RATE_LIMIT,
        fault::SERVER_ERROR,
        fault::FAIL_FIRST_N,
        fault::MALFORMED_JSON,
        fault::DROP_CONNECTION,
    ]
    .iter()
    .map(|kind| stats.faults_of(kind))
    .sum()
}

async fn faulty_fetch(
    data: &Path,
    faults: Faults,
    window: DayRange,
    tune: impl FnOnce(&mut FlexitiSettings),
) -> (FetchOutcome, SandboxStats) {
    common::faulty_fetch(data, SECRET, faults, window, |base| {
        let mut s = settings(base);
        tune(&mut s);
        s
    })
    .await
}

#[tokio::test]
async fn a_fault_free_fetch_gets_exactly_the_records_of_the_files() {
    let data = dataset();
    let (outcome, stats) = truth(data.path(), window().widen(1)).await;
    let offline = flexiti::load_dir(&data.path().join("flexiti")).expect("load_dir");
    let mut expected = offline.side.records.clone();
    expected.sort_by_key(FlexitiRecord::identity);
    // Returns dated after the generated days are still listed with their captures.
    assert!(expected.len() > 300, "{}", expected.len());
    assert_eq!(records(&outcome), expected);
    let identities: BTreeSet<String> = expected.iter().map(FlexitiRecord::identity).collect();
    assert_eq!(identities.len(), expected.len(), "duplicated records");
    assert_eq!(stats.reference_ids, BTreeSet::from([XREF.to_string()]));
    assert_eq!(stats.tokens_issued, 1);

    let (lookups, stats) = truth(data.path(), lookup_window()).await;
    assert!(
        stats.requests_to("authorization") > 0,
        "the lookup window needs authorization lookups: {stats:?}"
    );
    assert!(lookups.pages.iter().any(|p| p.endpoint == "authorization"));
}

#[tokio::test]
async fn latency_slows_the_fetch_but_loses_nothing() {
    let data = dataset();
    let (truth, _) = truth(data.path(), window()).await;
    let faults = Faults {
        latency_ms: 20,
        ..Faults::default()
    };
    let started = Instant::now();
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |_| {}).await;
    let elapsed = started.elapsed();
    assert_absorbed(&outcome, &truth, &stats);
    assert_eq!(stats.faults_of(fault::LATENCY), stats.total_requests());
    assert_eq!(outcome.stats.retries, 0);
    // At most 4 requests in flight, each at least 20 ms.
    let floor = Duration::from_millis(20 * stats.total_requests() / 4);
    assert!(elapsed >= floor, "{elapsed:?} < {floor:?}");
}

#[tokio::test]
async fn a_share_of_server_errors_is_retried_until_every_page_succeeds() {
    let data = dataset();
    let (truth, _) = truth(data.path(), lookup_window()).await;
    let faults = Faults {
        seed: 11,
        server_error_per_mille: 250,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, lookup_window(), |_| {}).await;
    assert_absorbed(&outcome, &truth, &stats);
    assert!(stats.faults_of(fault::SERVER_ERROR) >= 3, "{stats:?}");
    assert_eq!(outcome.stats.retries, retryable_faults(&stats));
}

#[tokio::test]
async fn each_call_failing_its_first_two_times_costs_exactly_two_retries() {
    let data = dataset();
    let (truth, clean) = truth(data.path(), lookup_window()).await;
    let faults = Faults {
        fail_first_n_per_call: 2,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, lookup_window(), |_| {}).await;
    assert_absorbed(&outcome, &truth, &stats);
    let distinct_calls = data_requests(&clean);
    assert_eq!(stats.faults_of(fault::FAIL_FIRST_N), 2 * distinct_calls);
    assert_eq!(outcome.stats.retries, 2 * distinct_calls);
    assert_eq!(data_requests(&stats), 3 * distinct_calls);
    for endpoint in ["captures", "authorizations", "authorization"] {
        assert_eq!(
            stats.requests_to(endpoint),
            3 * clean.requests_to(endpoint),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let data = dataset();
    let (truth, _) = truth(data.path(), window()).await;
    // One request in flight at a time, so the seeded dice fall the same way on every run.
    let faults = Faults {
        seed: 3,
        rate_limit_per_mille: 50,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let started = Instant::now();
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |s| {
        s.concurrency = 1;
        s.backoff_cap_ms = 2_000;
    })
    .await;
    let elapsed = started.elapsed();
    assert_absorbed(&outcome, &truth, &stats);
    let limited = stats.faults_of(fault::RATE_LIMIT);
    assert!((1..=3).contains(&limited), "{stats:?}");
    assert_eq!(outcome.stats.retries, limited);
    assert!(elapsed >= Duration::from_secs(limited), "{elapsed:?}");
}

#[tokio::test]
async fn a_token_that_expires_early_is_replaced_and_the_call_repeated() {
    let data = dataset();
    let (truth, _) = truth(data.path(), window()).await;
    // The fetch lasts well over a second, the token really lives one.
    let faults = Faults {
        token_ttl_secs: Some(1),
        latency_ms: 40,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |s| {
        s.concurrency = 2;
        s.page_size = 10;
    })
    .await;
    assert_absorbed(&outcome, &truth, &stats);
    assert!(stats.faults_of(fault::EXPIRED_TOKEN) >= 1, "{stats:?}");
    assert!(stats.tokens_issued >= 2, "{stats:?}");
    // A repeat with a new token is not a retry of a failure.
    assert_eq!(outcome.stats.retries, 0);
}

#[tokio::test]
async fn malformed_bodies_and_dropped_connections_are_retried() {
    let data = dataset();
    let (truth, _) = truth(data.path(), lookup_window()).await;
    let faults = Faults {
        seed: 5,
        malformed_json_per_mille: 150,
        drop_connection_per_mille: 150,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, lookup_window(), |_| {}).await;
    assert_absorbed(&outcome, &truth, &stats);
    assert!(stats.faults_of(fault::MALFORMED_JSON) > 0, "{stats:?}");
    assert!(stats.faults_of(fault::DROP_CONNECTION) > 0, "{stats:?}");
    assert_eq!(outcome.stats.retries, retryable_faults(&stats));
}

#[tokio::test]
async fn wrapped_pages_give_the_same_records_in_no_more_calls() {
    let data = dataset();
    let (truth, clean) = truth(data.path(), window()).await;
    let faults = Faults {
        wrapped_pages: true,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |_| {}).await;
    assert_absorbed(&outcome, &truth, &stats);
    assert!(data_requests(&stats) <= data_requests(&clean));
}

#[tokio::test]
async fn every_fault_at_once_still_loses_and_duplicates_nothing() {
    let data = dataset();
    let (truth, _) = truth(data.path(), lookup_window()).await;
    let faults = Faults {
        seed: 2,
        latency_ms: 5,
        server_error_per_mille: 100,
        rate_limit_per_mille: 10,
        retry_after_secs: 1,
        token_ttl_secs: Some(1),
        malformed_json_per_mille: 100,
        drop_connection_per_mille: 100,
        wrapped_pages: true,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, lookup_window(), |s| {
        s.page_size = 5;
        s.backoff_cap_ms = 1_000;
    })
    .await;
    assert_absorbed(&outcome, &truth, &stats);
    for kind in [
        fault::SERVER_ERROR,
        fault::MALFORMED_JSON,
        fault::DROP_CONNECTION,
        fault::LATENCY,
    ] {
        assert!(stats.faults_of(kind) > 0, "no {kind}: {stats:?}");
    }
    assert_eq!(outcome.stats.retries, retryable_faults(&stats));
}

/// Calls that keep failing: each becomes one failed call, with what an operator needs.
#[tokio::test]
async fn calls_that_fail_every_attempt_become_failed_calls_and_incomplete_days() {
    let data = dataset();
    let faults = Faults {
        fail_first_n_per_call: 3,
        ..Faults::default()
    };
    let (outcome, stats) =
        faulty_fetch(data.path(), faults, window(), |s| s.max_attempts = 3).await;
    let dates = calendar().utc_dates_touched(window());
    assert_eq!(outcome.failed_utc_dates, dates.iter().copied().collect());
    assert_eq!(
        outcome.side.incomplete_days,
        window().days().collect::<BTreeSet<_>>()
    );
    assert!(outcome.side.records.is_empty());
    assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
    let mut seen = BTreeSet::new();
    for call in &outcome.failed_calls {
        let date = call.utc_date.expect("a list call has a date");
        assert_eq!(call.http_status, Some(503), "{call:?}");
        assert_eq!(call.error_code.as_deref(), Some("general_error"));
        assert_eq!(call.attempts, 3);
        assert_eq!(call.x_reference_id, XREF);
        assert_eq!(
            call.parameters,
            format!(
                "lang=en&creation_date_from={date}&creation_date_to={date}&page_number=1&page_size=25"
            )
        );
        assert!(call.message.contains("temporarily unavailable"), "{call:?}");
        seen.insert((call.endpoint.clone(), date));
    }
    for date in &dates {
        for endpoint in ["captures", "authorizations"] {
            let name = format!("GET /v2.5.1/client-id/{{client_id}}/{endpoint}");
            assert!(seen.contains(&(name, *date)), "{endpoint} {date}");
        }
    }
    assert_eq!(stats.requests_to("captures"), 3 * dates.len() as u64);
    assert_eq!(stats.faults_of(fault::FAIL_FIRST_N), 6 * dates.len() as u64);
    assert_eq!(outcome.stats.retries, 4 * dates.len() as u64);
}

#[tokio::test]
async fn a_failing_utc_date_makes_exactly_the_two_toronto_days_touching_it_incomplete() {
    let data = dataset();
    let (truth, _) = truth(data.path(), window()).await;
    let dead = day("2026-11-24");
    let faults = Faults {
        failing_dates: vec![dead],
        ..Faults::default()
    };
    let (outcome, stats) =
        faulty_fetch(data.path(), faults, window(), |s| s.max_attempts = 2).await;
    assert_eq!(
        outcome.side.incomplete_days,
        BTreeSet::from([day("2026-11-23"), day("2026-11-24")])
    );
    assert_eq!(outcome.failed_utc_dates, BTreeSet::from([dead]));
    let calls: BTreeMap<&str, _> = outcome
        .failed_calls
        .iter()
        .map(|c| (c.endpoint.rsplit('/').next().unwrap_or_default(), c))
        .collect();
    assert_eq!(outcome.failed_calls.len(), 2, "{:#?}", outcome.failed_calls);
    for endpoint in ["captures", "authorizations"] {
        let call = calls.get(endpoint).expect("one failed call per list");
        assert_eq!(call.utc_date, Some(dead));
        assert_eq!(call.http_status, Some(500));
        assert_eq!(call.error_code.as_deref(), Some("general_error"));
        assert_eq!(call.attempts, 2);
        assert_eq!(call.x_reference_id, XREF);
        assert!(call.parameters.contains("creation_date_from=2026-11-24"));
    }
    assert_eq!(stats.faults_of(fault::FAILING_DATE), 4);
    // Nothing invented, and every record listed on another date is still there.
    let truth = records(&truth);
    let got = records(&outcome);
    assert!(got.iter().all(|r| truth.contains(r)));
    let kept: Vec<_> = truth.iter().filter(|r| r.at.date_naive() != dead).collect();
    assert!(kept.iter().all(|r| got.contains(r)));
    assert!(got.len() < truth.len());
}

#[tokio::test]
async fn a_failing_lookup_marks_the_days_of_its_records_incomplete_and_keeps_them() {
    let data = dataset();
    let (truth, _) = truth(data.path(), lookup_window()).await;
    let looked_up: Vec<u64> = truth
        .pages
        .iter()
        .filter(|p| p.endpoint == "authorization")
        .filter_map(|p| p.params.strip_prefix("authorization_id=")?.parse().ok())
        .collect();
    let dead = *looked_up.first().expect("at least one lookup");
    let faults = Faults {
        failing_authorization_ids: vec![dead],
        ..Faults::default()
    };
    let (outcome, stats) =
        faulty_fetch(data.path(), faults, lookup_window(), |s| s.max_attempts = 2).await;
    assert_eq!(outcome.failed_calls.len(), 1, "{:#?}", outcome.failed_calls);
    let call = &outcome.failed_calls[0];
    assert_eq!(
        call.endpoint,
        "GET /v2.5.1/client-id/{client_id}/authorization/{authorization_id}"
    );
    assert_eq!(call.parameters, format!("authorization_id={dead}"));
    assert_eq!(
        (call.http_status, call.error_code.as_deref(), call.attempts),
        (Some(500), Some("general_error"), 2)
    );
    assert_eq!(call.x_reference_id, XREF);
    assert_eq!(stats.faults_of(fault::FAILING_AUTHORIZATION), 2);
    assert!(outcome.failed_utc_dates.is_empty());

    let expected: BTreeSet<NaiveDate> = truth
        .side
        .records
        .iter()
        .filter(|r| r.authorization_id == dead)
        .map(|r| calendar().day_of(r.at))
        .filter(|d| lookup_window().contains(*d))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(outcome.side.incomplete_days, expected);
    // The same transactions; only the failed authorization's part (its store) may be missing.
    let got = records(&outcome);
    let want = records(&truth);
    assert_eq!(
        got.iter()
            .map(|r| (r.identity(), r.amount))
            .collect::<Vec<_>>(),
        want.iter()
            .map(|r| (r.identity(), r.amount))
            .collect::<Vec<_>>()
    );
    for (g, w) in got.iter().zip(&want) {
        if g.authorization_id == dead {
            assert_eq!(
                (g.kind(), g.at, g.amount, &g.reference),
                (w.kind(), w.at, w.amount, &w.reference)
            );
        } else {
            assert_eq!(g, w);
        }
    }
}

#[tokio::test]
async fn maintenance_fails_every_call_and_leaves_every_day_incomplete() {
    let data = dataset();
    let faults = Faults {
        maintenance: true,
        ..Faults::default()
    };
    let (outcome, stats) =
        faulty_fetch(data.path(), faults, window(), |s| s.max_attempts = 3).await;
    assert!(outcome.side.records.is_empty());
    assert!(outcome.pages.is_empty());
    assert_eq!(
        outcome.side.incomplete_days,
        window().days().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        outcome.failed_utc_dates,
        calendar().utc_dates_touched(window()).into_iter().collect()
    );
    assert_eq!(outcome.failed_calls.len(), 1, "{:#?}", outcome.failed_calls);
    let call = &outcome.failed_calls[0];
    assert_eq!(call.endpoint, "POST /v2.5/oauth/token");
    assert_eq!(call.http_status, Some(503));
    assert_eq!(call.error_code.as_deref(), Some("general_error"));
    assert_eq!(call.attempts, 3);
    assert_eq!(call.x_reference_id, XREF);
    assert_eq!(stats.requests_to("token"), 3);
    assert_eq!(stats.faults_of(fault::MAINTENANCE), 3);
    assert_eq!(data_requests(&stats), 0);
    assert_eq!(outcome.stats.calls, 3);
}

// ---- the check command, through the binary ----

fn write_check_config(dir: &Path, url: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("ledger")).expect("ledger dir");
    std::fs::write(
        dir.join("ledger/ledger.csv"),
        "sold_at,store_id,order_id,txn_type,tender,amount\n",
    )
    .expect("ledger");
    let path = dir.join("config.toml");
    let text = format!(
        "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
         [flexiti]\nenvironment = \"{url}\"\nclient_id = \"acme\"\n\
         max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
         [ledger]\nfiles = [\"ledger/*.csv\"]\n\
         [email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n"
    );
    std::fs::write(&path, text).expect("config");
    path
}

async fn run_check(dir: &Path, config: &Path, secret: &str) -> (Option<i32>, String) {
    let out = bin(dir)
        .arg("check")
        .arg("--config")
        .arg(config)
        .env("FLEXITI_CLIENT_SECRET", secret)
        .env_remove("FLEXITI_CLIENT_SECRET_FILE")
        .output()
        .await
        .expect("run the binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test]
async fn check_reports_token_and_page_ok_and_a_wrong_secret_as_a_token_failure() {
    let data = dataset();
    let sandbox = start_sandbox(data.path(), SECRET, Faults::default()).await;
    let work = tempfile::tempdir().expect("tempdir");
    let config = write_check_config(work.path(), &sandbox.base_url());

    let (code, text) = run_check(work.path(), &config, SECRET).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("token ok"), "{text}");
    assert!(text.contains("authorizations for"), "{text}");
    assert!(text.contains(": ok ("), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    let stats = sandbox.stats();
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.requests_to("authorizations"), 1);

    let wrong = "not-the-secret-42";
    let (code, text) = run_check(work.path(), &config, wrong).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("token FAILED"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(sandbox.stats().tokens_issued, 1);
    sandbox.shutdown().await;
}
