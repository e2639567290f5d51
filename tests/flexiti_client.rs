//! The Flexiti adapter against the sandbox over real TCP, serving a hand-made week (see
//! `tests/common/week.rs`): every record and request of a clean fetch checked one by one, the
//! wrapped page shape, token refresh, faults the sandbox injects (a dead UTC date, a 409, a failed
//! lookup), offline replay and `check`. What the sandbox cannot express runs against a scripted
//! server in `tests/flexiti_client_scripted.rs`.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use flexiti_recon::domain::{Amount, Kind};
use flexiti_recon::flexiti::{self, FetchOutcome, FlexitiSettings};
use flexiti_sandbox::{Faults, SandboxHandle, SandboxStats};

use common::{
    XREF, calendar, day, fetch_week, start_sandbox, week_dataset, week_settings, week_window,
};

const SECRET: &str = "right-secret";

fn settings(base: &str) -> FlexitiSettings {
    week_settings(base, SECRET)
}

/// The week served by a sandbox with `faults`; the folder lives as long as the handle is used.
async fn serve(faults: Faults) -> (tempfile::TempDir, SandboxHandle) {
    let data = week_dataset();
    let sandbox = start_sandbox(data.path(), SECRET, faults).await;
    (data, sandbox)
}

/// A fetch of the week from a sandbox with `faults`, with the sandbox's view of it.
async fn faulty_week(faults: Faults) -> (FetchOutcome, SandboxStats) {
    let (_data, sandbox) = serve(faults).await;
    let out = fetch_week(&settings(&sandbox.base_url())).await;
    let stats = sandbox.stats();
    sandbox.shutdown().await;
    (out, stats)
}

#[tokio::test]
async fn progress_is_told_after_each_date_query_up_to_every_page() {
    let (_data, sandbox) = serve(Faults::default()).await;
    let seen: Mutex<Vec<flexiti::FetchProgress>> = Mutex::new(Vec::new());
    let record = |p: flexiti::FetchProgress| seen.lock().expect("lock").push(p);
    let out = flexiti::fetch_with_progress(
        &settings(&sandbox.base_url()),
        calendar(),
        week_window(),
        XREF,
        &record,
    )
    .await;
    let seen = seen.into_inner().expect("lock");
    // Nov 22..24 in Toronto touch four UTC dates, two endpoints each.
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|p| p.queries == 8 && p.failed == 0));
    let done: Vec<usize> = seen.iter().map(|p| p.queries_done).collect();
    assert_eq!(done, (1..=8).collect::<Vec<_>>());
    assert!(seen.windows(2).all(|w| w[0].pages <= w[1].pages));
    // Every list page; the one authorization lookup comes after the date queries.
    let list_pages = out
        .pages
        .iter()
        .filter(|p| p.endpoint != "authorization")
        .count();
    assert_eq!(seen.last().map(|p| p.pages), Some(list_pages));
}

#[tokio::test]
async fn a_clean_fetch_unions_utc_dates_without_losing_or_duplicating_a_transaction() {
    let (out, stats) = faulty_week(Faults::default()).await;

    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    assert!(out.side.incomplete_days.is_empty());
    let ids: Vec<String> = out.side.records.iter().map(|r| r.identity()).collect();
    assert_eq!(
        ids,
        [
            "capture:346126",
            "capture:346123",
            "capture:346125",
            "capture:346124",
            "return:9000000000123456"
        ]
    );
    let by_id = |id: &str| {
        out.side
            .records
            .iter()
            .find(|r| r.identity() == id)
            .expect("record")
    };
    assert_eq!(by_id("capture:346123").amount, Amount::from_cents(100_012));
    assert_eq!(by_id("capture:346124").amount, Amount::from_cents(100_012));
    assert_eq!(by_id("capture:346126").amount, Amount::from_cents(30));
    let ret = by_id("return:9000000000123456");
    assert_eq!(
        (ret.kind(), ret.amount, ret.capture_id),
        (Kind::Return, Amount::from_cents(20_000), 346_123)
    );
    assert_eq!(ret.at.to_rfc3339(), "2026-11-24T15:05:44.250+00:00");
    // The store comes from the authorization, and from the lookup for an older authorization.
    assert_eq!(by_id("capture:346123").store.as_deref(), Some("00-12345"));
    assert_eq!(by_id("capture:346125").store.as_deref(), Some("00-77777"));
    assert_eq!(stats.calls_to("authorization:77"), 1);

    // Only listed authorizations feed not_captured, and of those only the one no capture
    // refers to is kept; the looked-up one is not among them.
    let auths: BTreeSet<u64> = out
        .side
        .authorizations
        .iter()
        .map(|a| a.authorization_id)
        .collect();
    assert_eq!(auths, BTreeSet::from([555]));
    assert_eq!(out.side.listed_authorizations, 4);

    // Nov 22..24 in Toronto touch UTC Nov 22..25; Nov 23 captures need two pages of 2.
    assert_eq!(stats.calls_to("captures:2026-11-23:1"), 1);
    assert_eq!(stats.calls_to("captures:2026-11-23:2"), 1);
    assert_eq!(stats.calls_to("captures:2026-11-25:1"), 1);
    assert_eq!(stats.calls_to("captures:2026-11-21:1"), 0);
    // A short first page is confirmed by an empty page 2 (a server may cap page_size).
    assert_eq!(stats.calls_to("captures:2026-11-22:2"), 1);
    assert_eq!(out.stats.pages, 10 + 4 + 1);
    assert_eq!(out.stats.retries, 0);
    assert_eq!(
        stats.reference_ids,
        BTreeSet::from([XREF.to_string()]),
        "every call carries the x-reference-id"
    );
}

#[tokio::test]
async fn wrapped_and_bare_pages_give_the_same_side() {
    let (bare, _) = faulty_week(Faults::default()).await;
    let (wrapped, wrapped_stats) = faulty_week(Faults {
        wrapped_pages: true,
        ..Faults::default()
    })
    .await;
    assert!(
        wrapped.failed_calls.is_empty(),
        "{:?}",
        wrapped.failed_calls
    );
    assert_eq!(bare.side.records, wrapped.side.records);
    assert_eq!(bare.side.authorizations, wrapped.side.authorizations);
    // total_pages = 1 ends paging even on a full page.
    assert_eq!(wrapped_stats.calls_to("authorizations:2026-11-23:2"), 0);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed_with_the_refresh_token() {
    let (out, stats) = faulty_week(Faults {
        token_expires_in: Some("60".into()),
        ..Faults::default()
    })
    .await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    let grants = stats.grants;
    assert_eq!(grants[0], "client_credentials");
    assert!(
        grants.len() > 2 && grants[1..].iter().all(|g| g == "refresh_token"),
        "{grants:?}"
    );
}

#[tokio::test]
async fn a_dead_utc_date_makes_two_toronto_days_incomplete() {
    let (out, stats) = faulty_week(Faults {
        failing_dates: vec![day("2026-11-24")],
        ..Faults::default()
    })
    .await;

    assert_eq!(out.failed_utc_dates, BTreeSet::from([day("2026-11-24")]));
    assert_eq!(
        out.side.incomplete_days,
        BTreeSet::from([day("2026-11-23"), day("2026-11-24")])
    );
    assert_eq!(stats.calls_to("captures:2026-11-24:1"), 3);
    // The date is dead on both list endpoints: one failed call each.
    assert_eq!(out.failed_calls.len(), 2, "{:?}", out.failed_calls);
    let f = out
        .failed_calls
        .iter()
        .find(|f| f.endpoint.ends_with("/captures"))
        .expect("the captures call");
    assert_eq!(f.endpoint, "GET /v2.5.1/client-id/{client_id}/captures");
    assert!(
        f.parameters.contains("creation_date_from=2026-11-24"),
        "{}",
        f.parameters
    );
    assert!(f.parameters.contains("page_number=1"), "{}", f.parameters);
    assert_eq!(
        (f.http_status, f.error_code.as_deref()),
        (Some(500), Some("general_error"))
    );
    assert_eq!((f.attempts, f.x_reference_id.as_str()), (3, XREF));
    assert_eq!(f.utc_date, Some(day("2026-11-24")));
    // The capture and its return were still found through Nov 23's listing.
    assert_eq!(out.side.records.len(), 5);
}

#[tokio::test]
async fn a_409_is_an_answer_and_is_not_retried() {
    let (out, stats) = faulty_week(Faults {
        conflict_dates: vec![day("2026-11-22")],
        ..Faults::default()
    })
    .await;
    assert_eq!(stats.calls_to("authorizations:2026-11-22:1"), 1);
    let f = out
        .failed_calls
        .iter()
        .find(|f| f.endpoint.ends_with("/authorizations"))
        .expect("the authorizations call");
    assert_eq!(
        (f.http_status, f.error_code.as_deref(), f.attempts),
        (Some(409), Some("wrong_inputs"), 1)
    );
    assert!(
        f.message.contains("account_number: account closed"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_record_with_the_capture_store_and_marks_its_day() {
    let (out, _) = faulty_week(Faults {
        failing_authorization_ids: vec![77],
        ..Faults::default()
    })
    .await;
    let rec = out
        .side
        .records
        .iter()
        .find(|r| r.capture_id == 346_125)
        .expect("kept");
    assert_eq!(rec.store.as_deref(), Some("cap-store"));
    assert_eq!(out.failed_calls.len(), 1);
    assert_eq!(out.failed_calls[0].parameters, "authorization_id=77");
    assert!(out.failed_utc_dates.is_empty());
    // 2026-11-23T20:00Z is Nov 23 in Toronto.
    assert_eq!(
        out.side.incomplete_days,
        BTreeSet::from([day("2026-11-23")])
    );
}

#[tokio::test]
async fn fetched_pages_replay_offline_into_the_same_records() {
    let (out, _) = faulty_week(Faults::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, page) in out.pages.iter().enumerate() {
        std::fs::write(
            dir.path().join(page.replay_file_name(i)),
            page.replay_body(),
        )
        .expect("write");
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let offline = flexiti::load_dir(dir.path()).expect("loads");
    assert_eq!(offline.side.records, out.side.records);
    assert!(offline.side.incomplete_days.is_empty());
    assert_eq!(offline.files.len(), out.pages.len());
    // Regular files are stamped as read, to be hashed for the bundle once the run is over.
    assert_eq!(offline.as_read.len(), offline.files.len());
    for (file, as_read) in offline.files.iter().zip(&offline.as_read) {
        use sha2::Digest;
        let bytes = std::fs::read(file).expect("read");
        assert!(
            matches!(as_read, flexiti_recon::domain::AsRead::Stamp(_)),
            "{as_read:?}"
        );
        assert_eq!(
            flexiti_recon::hashed::sha256_of_read(file, as_read, "Flexiti file").expect("same"),
            hex::encode(sha2::Sha256::digest(&bytes)),
            "{}",
            file.display()
        );
    }

    std::fs::write(
        dir.path().join("captures-broken.json"),
        "{\"captures\": [1,",
    )
    .expect("write");
    let err = format!(
        "{:#}",
        flexiti::load_dir(dir.path()).expect_err("broken file")
    );
    assert!(err.contains("captures-broken.json"), "{err}");
}

#[tokio::test]
async fn check_reports_a_token_and_a_page() {
    let (_data, sandbox) = serve(Faults::default()).await;
    let report = flexiti::check(&settings(&sandbox.base_url()), XREF)
        .await
        .expect("config is fine");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(sandbox.stats().grants.len(), 1);
    let bad = flexiti::check(&settings("http://flexiti.example.com"), XREF).await;
    assert!(bad.is_err());
}
