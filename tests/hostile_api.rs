//! The Flexiti client under a hostile API, over real TCP: the sandbox with its hostile faults (a
//! token reply that would overflow a clock, redirects that would carry the secret away, bodies
//! that never end, rate limits, pages that hide records, a lookup answering for another id), a
//! tiny server where the sandbox is the wrong place, and the binary end to end. Each hostile
//! answer must end as a failed call that says what happened, or be absorbed without losing a
//! record: never a panic, a hang, unbounded memory or a silent truncation.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flexiti_recon::domain::DayRange;
use flexiti_recon::flexiti::{FetchOutcome, FlexitiSettings};
use flexiti_recon::report::FailedCall;
use flexiti_sandbox::{Faults, SandboxHandle, SandboxStats, fault};

use common::{
    FILE_EMAIL, Work, XREF, calendar, data_requests, day, fast_settings, fetch, generated,
    lookup_window, records, start_sandbox, stderr, stdout,
};

const SECRET: &str = "hostile-api-secret-0042";
const TOKEN_ENDPOINT: &str = "POST /v2.5/oauth/token";

fn window() -> DayRange {
    DayRange::new(day("2026-11-23"), day("2026-11-24"))
}

fn dataset() -> tempfile::TempDir {
    generated(13, 3, 300, |_| {})
}

async fn start(data: &Path, faults: Faults) -> SandboxHandle {
    start_sandbox(data, SECRET, faults).await
}

fn settings(base: &str) -> FlexitiSettings {
    fast_settings(base, SECRET, 3)
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

/// The fault-free fetch of `window`.
async fn truth(data: &Path, window: DayRange) -> FetchOutcome {
    let (outcome, _) = faulty_fetch(data, Faults::default(), window, |_| {}).await;
    assert!(
        outcome.failed_calls.is_empty(),
        "{:?}",
        outcome.failed_calls
    );
    outcome
}

/// The one failed call of a fetch that could not get a token, with everything it must say.
fn the_token_failure(outcome: &FetchOutcome, window: DayRange) -> &FailedCall {
    assert_eq!(outcome.failed_calls.len(), 1, "{:#?}", outcome.failed_calls);
    let call = &outcome.failed_calls[0];
    assert_eq!(call.endpoint, TOKEN_ENDPOINT);
    assert_eq!(call.x_reference_id, XREF);
    assert!(!call.message.contains(SECRET), "{call:?}");
    assert!(outcome.side.records.is_empty());
    assert_eq!(
        outcome.side.incomplete_days,
        window.days().collect::<BTreeSet<_>>()
    );
    call
}

// ---- token replies ----

#[tokio::test]
async fn a_token_reply_with_a_huge_expires_in_is_a_failed_token_call_not_a_panic() {
    let data = dataset();
    for (raw, says) in [
        (
            "18446744073709551615",
            "expires_in 18446744073709551615 is not a whole number of seconds",
        ),
        ("18446744073709551616", "is not a whole number of seconds"),
        ("-5", "expires_in -5 is not"),
        ("0", "expires_in 0 is not"),
        ("1.5", "expires_in 1.5 is not"),
        ("\"forever\"", "expires_in \"forever\" is not"),
        ("{}", "expires_in is an object"),
    ] {
        let faults = Faults {
            token_expires_in: Some(raw.into()),
            ..Faults::default()
        };
        let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |_| {}).await;
        let call = the_token_failure(&outcome, window());
        assert_eq!(call.http_status, Some(200), "{raw}");
        assert_eq!(call.attempts, 1, "a bad reply is not asked again: {raw}");
        assert!(
            call.message
                .starts_with("HTTP 200 token reply refused: expires_in")
                && call.message.contains(says),
            "{raw}: {}",
            call.message
        );
        assert_eq!(stats.faults_of(fault::TOKEN_EXPIRES_IN), 1);
        assert_eq!(data_requests(&stats), 0);
    }
}

/// A server for what the sandbox does not model: a token reply of any bytes, a list page of
/// any status and bytes.
#[derive(Clone)]
struct Canned {
    token: (u16, Vec<u8>),
    list: (u16, Vec<u8>),
    token_requests: Arc<AtomicUsize>,
}

async fn canned(token: (u16, &[u8]), list: (u16, &[u8])) -> (String, Arc<AtomicUsize>) {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let state = Canned {
        token: (token.0, token.1.to_vec()),
        list: (list.0, list.1.to_vec()),
        token_requests: Arc::clone(&token_requests),
    };
    let answer = |(status, body): (u16, Vec<u8>)| -> Response {
        let status = StatusCode::from_u16(status).expect("status");
        (status, [("content-type", "application/json")], body).into_response()
    };
    let app = Router::new()
        .route(
            "/flexiti/pos-api/v2.5/oauth/token",
            post(
                move |axum::extract::State(s): axum::extract::State<Canned>| async move {
                    s.token_requests.fetch_add(1, Ordering::SeqCst);
                    answer(s.token.clone())
                },
            ),
        )
        .route(
            "/flexiti/pos-api/v2.5.1/client-id/{client}/{endpoint}",
            get(
                move |axum::extract::State(s): axum::extract::State<Canned>| async move {
                    answer(s.list.clone())
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/flexiti/pos-api"), token_requests)
}

const GOOD_TOKEN: &[u8] = br#"{"token_type":"bearer","access_token":"tok-1","expires_in":1200}"#;

#[tokio::test]
async fn token_replies_of_any_shape_are_failed_token_calls_with_a_clear_message() {
    let huge = format!(
        r#"{{"access_token":"tok","padding":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    let cases: Vec<(u16, Vec<u8>, &str)> = vec![
        (200, br#"{"expires_in":1200}"#.to_vec(), "no access_token"),
        (200, br#"{"access_token":null}"#.to_vec(), "no access_token"),
        (
            200,
            br#"{"access_token":42}"#.to_vec(),
            "access_token is a number",
        ),
        (
            200,
            br#"{"access_token":["a"]}"#.to_vec(),
            "access_token is an array",
        ),
        (
            200,
            br#"{"access_token":""}"#.to_vec(),
            "access_token is empty",
        ),
        (
            200,
            b"{\"access_token\":\"a\\nb\"}".to_vec(),
            "visible ASCII",
        ),
        (
            200,
            br#"{"access_token":"a","token_type":"mac"}"#.to_vec(),
            "not bearer",
        ),
        (200, b"null".to_vec(), "null instead of an object"),
        (200, b"<html>welcome</html>".to_vec(), "not JSON"),
        (200, b"".to_vec(), "not JSON"),
        (
            200,
            b"{\"access_token\":\"tok\xff\xfe\"}".to_vec(),
            "not JSON",
        ),
        (200, huge.into_bytes(), "body over 1048576 bytes"),
        (400, vec![0xff; 300], "HTTP 400 rejected"),
    ];
    for (status, body, says) in cases {
        let (base, token_requests) = canned((status, &body), (200, b"[]")).await;
        let mut s = settings(&base);
        s.max_body_bytes = 1 << 20;
        let outcome = fetch(&s, window()).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let call = the_token_failure(&outcome, window());
        assert_eq!(call.http_status, Some(status), "{shown}");
        assert!(call.message.contains(says), "{shown}: {}", call.message);
        // A reply that is not JSON at all is a glitch and is retried; JSON that breaks the
        // contract, an oversized body and a 4xx are answers, refused at the first attempt.
        let attempts = if says == "not JSON" {
            s.max_attempts
        } else {
            1
        };
        assert_eq!(call.attempts, attempts, "{shown}");
        assert_eq!(
            token_requests.load(Ordering::SeqCst),
            attempts as usize,
            "{shown}"
        );
    }
}

// ---- redirects ----

#[tokio::test]
async fn a_token_call_redirected_to_another_server_never_sends_it_the_secret() {
    let data = dataset();
    let elsewhere = start(data.path(), Faults::default()).await;
    let faults = Faults {
        redirect_token_to: Some(elsewhere.base_url()),
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |_| {}).await;
    let call = the_token_failure(&outcome, window());
    assert_eq!(call.http_status, Some(307));
    assert_eq!(call.attempts, 1);
    assert_eq!(
        call.message,
        format!(
            "HTTP 307 redirect to {}/v2.5/oauth/token refused: the token call is never redirected",
            elsewhere.base_url()
        )
    );
    assert_eq!(stats.faults_of(fault::REDIRECT), 1);
    let there = elsewhere.stats();
    assert_eq!(
        there.total_requests(),
        0,
        "the other server saw a request: {there:?}"
    );
    assert_eq!(there.tokens_issued, 0);
    elsewhere.shutdown().await;
}

#[tokio::test]
async fn list_pages_redirected_to_another_origin_or_to_plain_http_are_refused() {
    let data = dataset();
    let elsewhere = start(data.path(), Faults::default()).await;
    for (target, says) in [
        (elsewhere.base_url(), "another origin than the API's"),
        (
            "http://flexiti-recon.invalid/pos-api".to_string(),
            "plain http outside loopback (https only)",
        ),
    ] {
        let faults = Faults {
            redirect_lists_to: Some(target.clone()),
            ..Faults::default()
        };
        let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |_| {}).await;
        let dates = calendar().utc_dates_touched(window());
        assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
        for call in &outcome.failed_calls {
            assert_eq!(
                (call.http_status, call.attempts),
                (Some(307), 1),
                "{call:?}"
            );
            assert!(
                call.message
                    .starts_with(&format!("HTTP 307 redirect to {target}/v2.5.1/"))
                    && call.message.ends_with(&format!("refused: {says}")),
                "{}",
                call.message
            );
            assert!(!call.message.contains("page_number"), "no query shown");
        }
        assert_eq!(stats.faults_of(fault::REDIRECT), 2 * dates.len() as u64);
        assert!(outcome.side.records.is_empty());
    }
    assert_eq!(elsewhere.stats().total_requests(), 0);
    elsewhere.shutdown().await;
}

// ---- bodies ----

#[tokio::test]
async fn an_endless_list_body_fails_its_call_at_the_size_cap() {
    let data = dataset();
    let faults = Faults {
        endless_list_body: true,
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |s| {
        s.max_body_bytes = 1 << 20;
        s.timeout_secs = 30;
    })
    .await;
    let dates = calendar().utc_dates_touched(window());
    assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
    for call in &outcome.failed_calls {
        assert_eq!(
            call.message,
            "HTTP 200 body over 1048576 bytes (flexiti.max_body_bytes)"
        );
        assert_eq!((call.http_status, call.attempts), (Some(200), 1));
    }
    assert_eq!(stats.faults_of(fault::ENDLESS_BODY), 2 * dates.len() as u64);
    assert_eq!(
        outcome.side.incomplete_days,
        window().days().collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn an_error_body_over_the_cap_fails_its_call_without_retrying() {
    let big = vec![b'x'; 300 << 10];
    let (base, _) = canned((200, GOOD_TOKEN), (503, &big)).await;
    let mut s = settings(&base);
    s.max_body_bytes = 256 << 10;
    let outcome = fetch(&s, window()).await;
    let dates = calendar().utc_dates_touched(window());
    assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
    for call in &outcome.failed_calls {
        assert_eq!(
            call.message,
            "HTTP 503 body over 262144 bytes (flexiti.max_body_bytes)"
        );
        assert_eq!(call.attempts, 1);
    }
}

#[tokio::test]
async fn a_body_that_trickles_forever_hits_the_timeout() {
    let data = dataset();
    let faults = Faults {
        trickle_list_body_ms: Some(100),
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |s| {
        s.timeout_secs = 1;
        s.max_attempts = 2;
    })
    .await;
    let dates = calendar().utc_dates_touched(window());
    assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
    for call in &outcome.failed_calls {
        assert!(call.message.contains("timed out"), "{}", call.message);
        assert_eq!(call.attempts, 2);
    }
    assert_eq!(stats.faults_of(fault::TRICKLE_BODY), 4 * dates.len() as u64);
}

// ---- rate limits ----

#[tokio::test]
async fn a_server_limiting_every_ninth_request_slows_the_whole_client_and_loses_nothing() {
    let data = dataset();
    let truth = truth(data.path(), lookup_window()).await;
    let faults = Faults {
        rate_limit_every: 9,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let started = Instant::now();
    // One attempt per call: only the rate-limit budget keeps a limited call going.
    let (outcome, stats) = faulty_fetch(data.path(), faults, lookup_window(), |s| {
        s.page_size = 50;
        s.max_attempts = 1;
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        outcome.failed_calls.is_empty(),
        "{:#?}",
        outcome.failed_calls
    );
    assert!(outcome.side.incomplete_days.is_empty());
    assert_eq!(records(&outcome), records(&truth));
    let limited = stats.faults_of(fault::RATE_LIMIT);
    assert!(limited >= 2, "{stats:?}");
    assert_eq!(outcome.stats.retries, limited);
    // Each 429 paused every call for its second: the next 429 could only come after it.
    assert!(
        elapsed >= Duration::from_secs(limited),
        "{limited} pauses of 1 s in {elapsed:?}"
    );
}

#[tokio::test]
async fn an_api_rate_limited_beyond_the_budget_fails_its_calls_even_with_a_retry_after_of_a_day() {
    let data = dataset();
    let faults = Faults {
        rate_limit_per_mille: 1000,
        retry_after_secs: 86_400,
        ..Faults::default()
    };
    let started = Instant::now();
    let (outcome, stats) = faulty_fetch(data.path(), faults, window(), |s| {
        s.rate_limit_budget = Duration::from_secs(2);
        s.max_attempts = 1;
    })
    .await;
    let elapsed = started.elapsed();
    let dates = calendar().utc_dates_touched(window());
    assert_eq!(outcome.failed_calls.len(), 2 * dates.len());
    for call in &outcome.failed_calls {
        assert_eq!(call.http_status, Some(429));
        assert!(
            call.message
                .contains("still rate limited after 2 s (flexiti.rate_limit_budget_mins)"),
            "{}",
            call.message
        );
        // Calls limited from the start try again once the budget's pause is over; calls that
        // start after the API has been limiting for longer than the budget give up at once.
        assert!((1..=2).contains(&call.attempts), "{call:?}");
    }
    let attempts: u64 = outcome
        .failed_calls
        .iter()
        .map(|c| u64::from(c.attempts))
        .sum();
    assert!(
        attempts > 2 * dates.len() as u64,
        "someone waited and tried again"
    );
    assert_eq!(data_requests(&stats), attempts);
    assert_eq!(
        outcome.side.incomplete_days,
        window().days().collect::<BTreeSet<_>>()
    );
    // Not a day: the budget, once, for every call together.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

// ---- silent truncation ----

#[tokio::test]
async fn a_date_needing_more_pages_than_the_cap_is_a_failed_call() {
    let data = dataset();
    let truth = truth(data.path(), window()).await;
    let (outcome, _) = faulty_fetch(data.path(), Faults::default(), window(), |s| {
        s.page_size = 5;
        s.max_pages_per_date = 2;
    })
    .await;
    assert!(!outcome.failed_calls.is_empty());
    for call in &outcome.failed_calls {
        assert!(
            call.message.ends_with(
                "incomplete: page 2 is not the last and flexiti.max_pages_per_date is 2"
            ),
            "{}",
            call.message
        );
        assert!(call.parameters.contains("page_number=2"), "{call:?}");
        assert_eq!(call.http_status, None);
    }
    assert!(!outcome.side.incomplete_days.is_empty());
    let truth = records(&truth);
    assert!(records(&outcome).iter().all(|r| truth.contains(r)));
}

#[tokio::test]
async fn a_server_capping_page_size_without_totals_is_a_failed_call_not_a_short_day() {
    let data = dataset();
    let truth = truth(data.path(), window()).await;
    let faults = Faults {
        page_size_cap: Some(10),
        ..Faults::default()
    };
    let (outcome, stats) = faulty_fetch(data.path(), faults.clone(), window(), |_| {}).await;
    assert!(stats.faults_of(fault::PAGE_SIZE_CAP) > 0);
    assert!(!outcome.failed_calls.is_empty());
    for call in &outcome.failed_calls {
        assert!(
            call.message.ends_with(
                "page 2 holds 10 records after page 1 held only 10 of page_size 25: the server \
                 caps page_size or ignores page_number (set flexiti.page_size to 10 or less)"
            ),
            "{}",
            call.message
        );
        assert!(call.parameters.contains("page_number=2"), "{call:?}");
    }
    assert!(!outcome.side.incomplete_days.is_empty());

    // With the server's page size, the same server gives every record.
    let (outcome, _) = faulty_fetch(data.path(), faults, window(), |s| s.page_size = 10).await;
    assert!(
        outcome.failed_calls.is_empty(),
        "{:?}",
        outcome.failed_calls
    );
    assert_eq!(records(&outcome), records(&truth));
}

#[tokio::test]
async fn a_lookup_answered_for_another_authorization_is_a_failed_call() {
    let data = dataset();
    let truth = truth(data.path(), lookup_window()).await;
    let asked: BTreeSet<String> = truth
        .pages
        .iter()
        .filter(|p| p.endpoint == "authorization")
        .map(|p| p.params.clone())
        .collect();
    assert!(!asked.is_empty());
    let faults = Faults {
        lookup_other_id: true,
        ..Faults::default()
    };
    let (outcome, _) = faulty_fetch(data.path(), faults, lookup_window(), |_| {}).await;
    assert_eq!(outcome.failed_calls.len(), asked.len());
    for call in &outcome.failed_calls {
        let id: u64 = call
            .parameters
            .strip_prefix("authorization_id=")
            .and_then(|id| id.parse().ok())
            .expect("a lookup's parameters");
        assert!(asked.contains(&call.parameters));
        assert_eq!(
            call.message,
            format!(
                "HTTP 200 the lookup of authorization {id} answered authorization {}",
                id + 1
            )
        );
    }
    assert!(!outcome.side.incomplete_days.is_empty());
    assert!(outcome.pages.iter().all(|p| p.endpoint != "authorization"));
}

// ---- the binary ----

#[tokio::test]
async fn the_nightly_run_reports_a_hostile_token_reply_as_a_failed_call_and_exits_partial() {
    let faults = Faults::from_spec("token_expires_in=18446744073709551615").expect("spec");
    let work = Work::start(SECRET, faults, FILE_EMAIL).await;
    // The client's default page size.
    let config = std::fs::read_to_string(&work.config_path).expect("config");
    work.write_config(&config.replace("page_size = 5\n", ""));
    let out = work.cli(&["run", "--date", "2026-11-23"]).await;
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("failed API calls: 1"), "{stdout}");
    assert!(stdout.contains("not fully fetched: 2026-11-23"), "{stdout}");

    let shown = common::stdout(&work.cli(&["runs", "show", "1"]).await);
    assert!(
        shown.contains(
            "failed call: POST /v2.5/oauth/token grant_type=client_credentials -> 200 - \
             HTTP 200 token reply refused: expires_in 18446744073709551615 is not a whole \
             number of seconds"
        ),
        "{shown}"
    );
    assert!(!shown.contains(SECRET) && !stdout.contains(SECRET) && !stderr.contains(SECRET));
    // The alert went out.
    let outbox: Vec<_> = std::fs::read_dir(work.path("data/outbox"))
        .expect("outbox")
        .flatten()
        .collect();
    assert_eq!(outbox.len(), 1);
    let email = std::fs::read_to_string(outbox[0].path()).expect("email");
    assert!(email.contains("PARTIAL"), "{email}");
    let sandbox = work.sandbox.as_ref().expect("the sandbox runs");
    assert_eq!(sandbox.stats().faults_of(fault::TOKEN_EXPIRES_IN), 1);
}
