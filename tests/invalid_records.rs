//! Invalid Flexiti records end to end: a capture with a negative amount, read from files
//! (`run --flexiti-dir`) or served by the sandbox over real TCP, is never paired; it is reported
//! like a failed call (exit code, `runs show`, the email, the stored failed calls) and the ledger
//! rows of its reference are stored `unverified`.

use std::path::{Path, PathBuf};
use std::process::Output;

use flexiti_recon::domain::Category;
use flexiti_recon::report::RunStatus;
use flexiti_recon::sandbox::{self, Faults, SandboxOptions};
use flexiti_recon::store::{DiscrepancyFilter, Store};

const SECRET: &str = "invalid-records-secret";
const BIN: &str = env!("CARGO_BIN_EXE_flexiti-recon");
/// Pairs cleanly with ledger line 8 in the samples, until its amount is made negative.
const CAPTURE: u64 = 346_007;
const REFERENCE: &str = "ORD-20261123-000003";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A work dir: the sample ledger, the sample Flexiti files with capture 346007 made negative
/// under `flexiti/flexiti/`, a config with the file email transport.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new(url: &str) -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("ledger")).expect("ledger dir");
        std::fs::copy(
            samples().join("ledger/ledger.csv"),
            root.join("ledger/ledger.csv"),
        )
        .expect("copy ledger");
        let flexiti = root.join("flexiti/flexiti");
        std::fs::create_dir_all(&flexiti).expect("flexiti dir");
        std::fs::copy(
            samples().join("flexiti/authorizations.json"),
            flexiti.join("authorizations.json"),
        )
        .expect("copy authorizations");
        let text =
            std::fs::read_to_string(samples().join("flexiti/captures.json")).expect("captures");
        let mut captures: Vec<serde_json::Value> =
            serde_json::from_str(&text).expect("captures parse");
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
        std::fs::write(
            root.join("config.toml"),
            format!(
                "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
                 [flexiti]\nenvironment = \"{url}\"\nclient_id = \"acme\"\npage_size = 5\n\
                 max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
                 [ledger]\nfiles = [\"ledger/*.csv\"]\n\
                 [email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n"
            ),
        )
        .expect("write config");
        Work { dir }
    }

    fn files(&self) -> PathBuf {
        self.dir.path().join("flexiti/flexiti")
    }

    async fn cli(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .env("FLEXITI_CLIENT_SECRET", SECRET)
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .output()
            .await
            .expect("run the binary")
    }

    async fn store(&self) -> Store {
        let url = format!(
            "sqlite://{}",
            self.dir.path().join("data/flexiti-recon.db").display()
        );
        Store::connect(&url, "Test Merchant").await.expect("store")
    }

    /// Every `.eml` of the outbox, decoded parts joined.
    fn emails(&self) -> Vec<String> {
        let mut out = Vec::new();
        let outbox = self.dir.path().join("data/outbox");
        for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
            let raw = std::fs::read(entry.path()).expect("read eml");
            let mail = mailparse::parse_mail(&raw).expect("parse eml");
            let mut text = String::new();
            let mut stack = vec![&mail];
            while let Some(part) = stack.pop() {
                if part.subparts.is_empty() {
                    text.push_str(&part.get_body().unwrap_or_default());
                }
                stack.extend(part.subparts.iter());
            }
            out.push(text);
        }
        out
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The stored findings: the reference's ledger rows unverified, nothing else of it, the
/// samples' other findings unchanged.
async fn assert_stored_findings(store: &Store) {
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
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
    let work = Work::new("training");
    let files = work.files();
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
        emails[0].contains("capture:346007 amount -3379.29 (negative amount)")
            && emails[0].contains("invalid_record"),
        "the email names the invalid record"
    );
}

#[tokio::test]
async fn a_negative_capture_served_by_the_api_names_its_page_and_a_replay_reports_it_once() {
    let work = Work::new("placeholder");
    let sandbox = sandbox::spawn(SandboxOptions {
        port: 0,
        data_dir: work.dir.path().join("flexiti"),
        client_id: "acme".into(),
        client_secret: SECRET.into(),
        faults: Faults::default(),
    })
    .await
    .expect("sandbox");
    let config = work.dir.path().join("config.toml");
    let text_config = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text_config.replace("placeholder", &sandbox.base_url()),
    )
    .expect("config");

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
