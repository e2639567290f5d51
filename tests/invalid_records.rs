//! Invalid Flexiti records end to end: a capture with a negative amount, read from files
//! (`run --flexiti-dir`) or served by the sandbox over real TCP, is never paired; it is reported
//! like a failed call (exit code, `runs show`, the email, the stored failed calls) and the ledger
//! rows of its reference are stored `unverified`.

mod common;

use std::path::PathBuf;

use flexiti_recon::domain::Category;
use flexiti_recon::report::RunStatus;
use flexiti_recon::store::Store;
use flexiti_sandbox::Faults;

use common::{FILE_EMAIL, Work, base_config, samples, start_sandbox, stored_findings, text};

const SECRET: &str = "invalid-records-secret";
/// Pairs cleanly with ledger line 8 in the samples, until its amount is made negative.
const CAPTURE: u64 = 346_007;
const REFERENCE: &str = "ORD-20261123-000003";

/// The shared work folder with the sample Flexiti files, capture 346007 made negative, under
/// `flexiti/flexiti/`, and a config with the file email transport pointing at `url`.
fn work(url: &str) -> Work {
    let work = Work::new(SECRET);
    let flexiti = flexiti_files(&work);
    std::fs::create_dir_all(&flexiti).expect("flexiti dir");
    std::fs::copy(
        samples().join("flexiti/authorizations.json"),
        flexiti.join("authorizations.json"),
    )
    .expect("copy authorizations");
    let text = std::fs::read_to_string(samples().join("flexiti/captures.json")).expect("captures");
    let mut captures: Vec<serde_json::Value> = serde_json::from_str(&text).expect("captures parse");
    let capture = captures
        .iter_mut()
        .find(|c| c["capture_id"] == CAPTURE)
        .expect("the sample capture");
    assert_eq!(capture["amount"], serde_json::json!(3379.29));
    capture["amount"] = serde_json::json!("-3379.29");
    std::fs::write(
        flexiti.join("captures.json"),
        serde_json::to_vec_pretty(&captures).expect("json"),
    )
    .expect("write captures");
    work.write_config(&format!("{}{FILE_EMAIL}", base_config(url)));
    work
}

fn flexiti_files(work: &Work) -> PathBuf {
    work.path("flexiti/flexiti")
}

/// The stored findings: the reference's ledger rows unverified, nothing else of it, the
/// samples' other findings unchanged.
async fn assert_stored_findings(store: &Store) {
    let stored = stored_findings(store).await;
    let ours: Vec<_> = stored
        .iter()
        .filter(|s| s.discrepancy.reference == REFERENCE)
        .map(|s| &s.discrepancy)
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].category, Category::Unverified);
    assert_eq!(ours[0].ledger_line, Some(8));
    assert!(
        ours[0].explanation.contains(
            "Flexiti capture:346007 amount -3379.29 (negative amount) is an invalid record"
        ),
        "{}",
        ours[0].explanation
    );
    assert_eq!(stored.len(), 9, "the 8 sample findings and this one");
}

#[tokio::test]
async fn a_negative_capture_in_flexiti_files_is_reported_and_its_ledger_rows_are_unverified() {
    let work = work("training");
    let files = flexiti_files(&work);
    let out = work
        .cli(&[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            files.to_str().expect("path"),
        ])
        .await;
    assert_eq!(out.status.code(), Some(3), "partial: {}", text(&out));
    assert!(
        text(&out).contains("invalid Flexiti records: 1"),
        "{}",
        text(&out)
    );

    let store = work.store().await;
    let runs = store.list_runs(1).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Partial);
    assert!(runs[0].incomplete_days.is_empty(), "no day is incomplete");
    let calls = store.failed_calls(runs[0].id).await.expect("failed calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.error_code.as_deref(), Some("invalid_record"));
    assert!(
        call.endpoint.ends_with("captures.json"),
        "{}",
        call.endpoint
    );
    assert_eq!(
        call.message,
        "invalid record capture:346007 amount -3379.29 (negative amount); reference ORD-20261123-000003 not judged"
    );
    assert_stored_findings(&store).await;

    let show = work.cli(&["runs", "show", &runs[0].id.to_string()]).await;
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.lines().any(|l| l.contains("failed call:")
            && l.contains("captures.json")
            && l.contains("invalid_record")
            && l.contains("capture:346007 amount -3379.29")),
        "{shown}"
    );

    let emails = work.emails();
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0]
            .text
            .contains("capture:346007 amount -3379.29 (negative amount)")
            && emails[0].text.contains("invalid_record"),
        "the email names the invalid record"
    );
}

#[tokio::test]
async fn a_negative_capture_served_by_the_api_names_its_page_and_a_replay_reports_it_once() {
    let mut work = work("placeholder");
    let sandbox = start_sandbox(work.path("flexiti"), SECRET, Faults::default()).await;
    let config = std::fs::read_to_string(&work.config_path).expect("config");
    work.write_config(&config.replace("placeholder", &sandbox.base_url()));
    work.sandbox = Some(sandbox);
    let out = work.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(3), "partial: {}", text(&out));
    let store = work.store().await;
    let run = store.list_runs(1).await.expect("runs")[0].id;
    let calls = store.failed_calls(run).await.expect("failed calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].endpoint,
        "GET /v2.5.1/client-id/{client_id}/captures"
    );
    assert!(
        calls[0].parameters.contains("creation_date_from=")
            && calls[0].parameters.contains("page_number="),
        "{}",
        calls[0].parameters
    );
    assert!(calls[0].message.contains("capture:346007"));
    assert_stored_findings(&store).await;

    // The replay reads the bundle's pages: the record is found again there, and reported once.
    let replay = work
        .cli(&[
            "run",
            "--replay",
            &run.to_string(),
            "--no-email",
            "--csv",
            "replay.csv",
        ])
        .await;
    assert_eq!(replay.status.code(), Some(3), "{}", text(&replay));
    assert!(
        text(&replay).contains("failed API calls: 1")
            && text(&replay).contains("invalid Flexiti records: 1"),
        "{}",
        text(&replay)
    );
    let csv = std::fs::read_to_string(work.dir.path().join("replay.csv")).expect("csv");
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("2026-11-23,unverified,{REFERENCE},sale"))),
        "{csv}"
    );
}
