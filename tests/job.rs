//! The whole nightly job, end to end: the sandbox Flexiti API over real TCP, the sample ledger,
//! a SQLite file, the file email transport, and the binary's exit codes and messages.

mod common;

use flexiti_recon::app::{RunRequest, run_job};
use flexiti_recon::config::Config;
use flexiti_recon::domain::{Category, DayRange};
use flexiti_recon::report::RunStatus;
use flexiti_recon::store::Store;
use flexiti_sandbox::Faults;

use common::{
    BIN, Email, FILE_EMAIL, PgDatabase, Work, base_config, day, expected_row, expected_rows,
    generated, reconcile_dir, sample_day, samples, stderr, stdout, stored_findings,
};

const SECRET: &str = "job-test-secret";

/// The shared work folder (sample ledger, sandbox, config with the file email transport), with
/// the job's own config and store.
struct Harness(Work);

impl std::ops::Deref for Harness {
    type Target = Work;

    fn deref(&self) -> &Work {
        &self.0
    }
}

impl Harness {
    async fn start(faults: Faults) -> Harness {
        Harness(Work::start(SECRET, faults, FILE_EMAIL).await)
    }

    /// No sandbox: the config points at `url`.
    fn with_url(url: &str) -> Harness {
        let harness = Harness(Work::new(SECRET));
        harness.write_config(url, "");
        harness
    }

    fn write_config(&self, url: &str, extra_top: &str) {
        self.0
            .write_config(&format!("{extra_top}{}{FILE_EMAIL}", base_config(url)));
    }

    fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        std::fs::write(&self.config_path, edit(text)).expect("write config");
    }

    fn config(&self) -> Config {
        let mut config = Config::load(&self.config_path).expect("config");
        config.flexiti.client_secret = secrecy::SecretString::from(SECRET);
        config
    }

    async fn store(&self) -> Store {
        Store::connect(&self.config().database_url, "Test Merchant")
            .await
            .expect("store")
    }
}

fn expected_findings() -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = expected_rows(&samples())
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_nightly_job_stores_exactly_the_sample_findings_and_emails_them() {
    let h = Harness::start(Faults::default()).await;
    let config = h.config();
    let request = RunRequest {
        range: Some(DayRange::single(sample_day())),
        trigger: "test".into(),
        ..RunRequest::default()
    };
    let outcome = run_job(&config, &request).await.expect("run");
    assert_eq!(outcome.report.status, RunStatus::Succeeded);
    assert!(outcome.report.failed_calls.is_empty());

    let store = h.store().await;
    let stored = stored_findings(&store).await;
    let mut found: Vec<_> = stored
        .iter()
        .map(|s| {
            let d = &s.discrepancy;
            (
                d.business_date.to_string(),
                d.category.as_str().to_string(),
                d.reference.clone(),
                d.kind.as_str().to_string(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, expected_findings());
    let amount = stored
        .iter()
        .find(|s| s.discrepancy.category == Category::AmountMismatch)
        .expect("amount mismatch");
    assert_eq!(amount.discrepancy.delta.to_string(), "2.97");
    assert!(
        amount.discrepancy.explanation.contains("amount pass"),
        "{}",
        amount.discrepancy.explanation
    );

    let emails = h.emails();
    assert_eq!(emails.len(), 1);
    let Email {
        subject,
        text: bodies,
        types,
    } = &emails[0];
    assert_eq!(
        subject,
        "[flexiti-recon] 2026-11-23: 8 discrepancies (11,383.34 CAD), 0 failed API calls"
    );
    for t in ["text/plain", "text/html", "text/csv"] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    assert!(
        bodies.contains("ORD-20261123-000029"),
        "the email lists the missing order"
    );
    assert!(outcome.csv.as_ref().is_some_and(|p| p.exists()));
}

#[tokio::test]
async fn running_the_same_day_twice_keeps_one_row_per_finding_and_reports_them_still_open() {
    let h = Harness::start(Faults::default()).await;
    let first = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("0 new, 8 still open, 0 resolved"),
        "{}",
        stdout(&second)
    );
    let store = h.store().await;
    let stored = stored_findings(&store).await;
    assert_eq!(stored.len(), 8);
    assert!(
        stored
            .iter()
            .all(|s| s.first_seen_run == 1 && s.last_seen_run == 2)
    );
}

#[tokio::test]
async fn a_day_that_always_fails_is_incomplete_and_its_ledger_rows_are_unverified_not_missing() {
    let faults = Faults {
        failing_dates: vec![day(24)],
        ..Faults::default()
    };
    let h = Harness::start(faults).await;
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(3), "partial: {}", stderr(&out));
    assert!(
        stdout(&out).contains("not fully fetched: 2026-11-23"),
        "{}",
        stdout(&out)
    );
    let store = h.store().await;
    let stored = stored_findings(&store).await;
    assert!(
        stored
            .iter()
            .all(|s| s.discrepancy.category != Category::MissingInFlexiti
                && s.discrepancy.category != Category::NotCaptured)
    );
    let unverified: Vec<_> = stored
        .iter()
        .filter(|s| s.discrepancy.category == Category::Unverified)
        .map(|s| s.discrepancy.reference.as_str())
        .collect();
    assert!(
        unverified.contains(&"ORD-20261123-000029"),
        "{unverified:?}"
    );
    let runs = store.list_runs(5).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Partial);
    assert_eq!(runs[0].incomplete_days, vec![sample_day()]);
    let calls = store.failed_calls(runs[0].id).await.expect("failed calls");
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|c| c.utc_date == Some(day(24)) && c.http_status == Some(500))
    );
    let emails = h.emails();
    let Email {
        subject,
        text: bodies,
        ..
    } = &emails[0];
    assert!(
        subject.starts_with("[flexiti-recon] PARTIAL 2026-11-23")
            && subject.ends_with("failed API calls"),
        "{subject}"
    );
    assert!(
        bodies.contains("creation_date_from=2026-11-24"),
        "the email lists the failed calls"
    );
}

#[tokio::test]
async fn a_run_writes_prometheus_metrics_for_node_exporter() {
    let h = Harness::start(Faults::default()).await;
    h.edit_config(|text| text + "[metrics]\ntextfile = \"metrics/recon.prom\"\n");
    let out = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let prom =
        std::fs::read_to_string(h.dir.path().join("metrics/recon.prom")).expect("metrics file");
    assert!(
        prom.contains(
            "flexiti_recon_discrepancies{merchant=\"Test Merchant\",category=\"amount_mismatch\"} 1"
        ),
        "{prom}"
    );
    assert!(
        prom.contains(
            "flexiti_recon_discrepancy_amount_cad{merchant=\"Test Merchant\",category=\"amount_mismatch\"} 2.97"
        ),
        "{prom}"
    );
    assert!(
        prom.contains("flexiti_recon_last_success_timestamp_seconds{merchant=\"Test Merchant\"} "),
        "{prom}"
    );
    assert!(
        prom.contains("flexiti_recon_failed_calls{merchant=\"Test Merchant\"} 0"),
        "{prom}"
    );
}

#[tokio::test]
async fn a_bad_config_key_is_a_usage_error_naming_the_key() {
    let h = Harness::with_url("http://127.0.0.1:9/flexiti/pos-api");
    h.write_config(
        "http://127.0.0.1:9/flexiti/pos-api",
        "match_windw_days = 2\n",
    );
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("match_windw_days") && err.contains("config.toml line 1"),
        "{err}"
    );
    assert!(
        !h.dir.path().join("data/flexiti-recon.db").exists(),
        "nothing touched before the config is valid"
    );
}

#[tokio::test]
async fn a_missing_ledger_file_fails_the_run_naming_the_file_and_leaves_no_succeeded_run() {
    let h = Harness::start(Faults::default()).await;
    std::fs::remove_file(h.dir.path().join("ledger/ledger.csv")).expect("remove");
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("ledger") && err.contains("ledger/*.csv"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_a_partial_run_with_every_ledger_row_unverified() {
    // Nothing listens on port 9 of loopback.
    let h = Harness::with_url("http://127.0.0.1:9/flexiti/pos-api");
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let store = h.store().await;
    let runs = store.list_runs(5).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Partial);
    let calls = store.failed_calls(runs[0].id).await.expect("failed calls");
    assert!(
        calls.iter().any(|c| c.endpoint.contains("oauth/token")),
        "{calls:?}"
    );
    assert!(calls.iter().all(|c| !c.message.contains(SECRET)));
    let stored = stored_findings(&store).await;
    assert!(
        stored
            .iter()
            .all(|s| s.discrepancy.category == Category::Unverified),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_second_run_while_the_lock_is_held_exits_75() {
    let h = Harness::start(Faults::default()).await;
    let store = h.store().await;
    let guard = store
        .try_lock("Test Merchant")
        .await
        .expect("lock")
        .expect("free");
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(stderr(&out).contains("another run"), "{}", stderr(&out));
    guard.release().await.expect("release");
    let out = h
        .cli(&["run", "--date", "2026-11-23", "--fail-on-discrepancy"])
        .await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[tokio::test]
async fn accountants_export_acknowledge_and_list_from_the_command_line() {
    let h = Harness::start(Faults::default()).await;
    assert_eq!(
        h.cli(&["run", "--date", "2026-11-23", "--no-email"])
            .await
            .status
            .code(),
        Some(0)
    );
    assert!(h.emails().is_empty(), "--no-email sends nothing");
    let out_dir = h.dir.path().join("export");
    let out = h
        .cli(&[
            "export",
            "--out",
            out_dir.to_str().expect("path"),
            "--split",
            "--excel",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest = std::fs::read_to_string(out_dir.join("manifest.json")).expect("manifest");
    assert!(
        manifest.contains("discrepancies-amount_mismatch.csv"),
        "{manifest}"
    );
    let csv = std::fs::read(out_dir.join("discrepancies-amount_mismatch.csv")).expect("csv");
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]), "excel BOM");
    let text = String::from_utf8_lossy(&csv);
    assert!(
        text.contains("business_date,category,reference,kind,flexiti_amount,ledger_amount,delta")
    );
    assert!(text.contains("4702.19,4705.16,2.97"), "{text}");

    let list = h
        .cli(&["discrepancies", "list", "--category", "missing_in_flexiti"])
        .await;
    assert_eq!(list.status.code(), Some(0));
    let line = stdout(&list).lines().nth(1).expect("one row").to_string();
    let id = line.split_whitespace().next().expect("id").to_string();
    let ack = h
        .cli(&["discrepancies", "ack", &id, "--note", "refunded by cheque"])
        .await;
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    let show = h.cli(&["discrepancies", "show", &id]).await;
    assert!(
        stdout(&show).contains("acknowledged") && stdout(&show).contains("refunded by cheque"),
        "{}",
        stdout(&show)
    );
    let unknown = h
        .cli(&["discrepancies", "ack", "999999", "--note", "x"])
        .await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("999999"));
    let status = h.cli(&["status", "--max-age-hours", "1"]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
    let stale = h.cli(&["status", "--max-age-hours", "0"]).await;
    assert_eq!(stale.status.code(), Some(1), "{}", stdout(&stale));
    assert!(stdout(&stale).starts_with("STALE"), "{}", stdout(&stale));
}

#[tokio::test]
async fn the_flexiti_side_can_come_from_files_and_a_run_can_be_replayed_from_its_bundle() {
    let h = Harness::start(Faults::default()).await;
    let dir = samples().join("flexiti");
    let out = h
        .cli(&[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            dir.to_str().expect("path"),
            "--dry-run",
            "--no-email",
            "--csv",
            "out.csv",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let offline = std::fs::read_to_string(h.dir.path().join("out.csv")).expect("csv");
    assert_eq!(offline.lines().count(), 9, "{offline}");
    assert!(
        !h.dir.path().join("data/flexiti-recon.db").exists(),
        "a dry run stores nothing"
    );

    assert_eq!(
        h.cli(&["run", "--date", "2026-11-23", "--no-email"])
            .await
            .status
            .code(),
        Some(0)
    );
    let replay = h
        .cli(&["run", "--replay", "1", "--no-email", "--csv", "replay.csv"])
        .await;
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    let replayed = std::fs::read_to_string(h.dir.path().join("replay.csv")).expect("csv");
    let key = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .map(|l| l.split(',').take(7).collect::<Vec<_>>().join(","))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&replayed), key(&offline));
}

/// The generator knows what it injected; the engine must find exactly that, nothing else.
#[test]
fn generated_scenarios_are_recovered_exactly_by_the_engine() {
    for (seed, orders, days, per_mille) in [(7, 400, 1, 50), (11, 1500, 3, 30), (23, 3000, 2, 80)] {
        let dir = generated(seed, days, orders, |opts| {
            opts.discrepancy_per_mille = per_mille;
            opts.ledger_files = 2;
            opts.flexiti_files = 3;
        });
        let last = sample_day() + chrono::Days::new(u64::from(days) - 1);
        let range = DayRange::new(sample_day(), last);
        let mut found: Vec<String> = reconcile_dir(dir.path(), range)
            .iter()
            .map(expected_row)
            .collect();
        found.sort();
        let expected = expected_rows(dir.path());
        assert!(
            expected.len() >= 8,
            "seed {seed}: the scenario injects findings of every category"
        );
        assert_eq!(
            found, expected,
            "seed {seed}: findings differ from the injected ones"
        );
    }
}

#[tokio::test]
async fn an_accountant_can_reconcile_files_without_a_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(BIN)
        .args([
            "run",
            "--date",
            "2026-11-23",
            "--csv",
            "found.csv",
            "--flexiti-dir",
        ])
        .arg(samples().join("flexiti"))
        .arg("--ledger")
        .arg(samples().join("ledger/ledger.csv"))
        .env_remove("FLEXITI_RECON_CONFIG")
        .current_dir(dir.path())
        .output()
        .await
        .expect("run the binary");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("found.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(
        dir.path().join("data/flexiti-recon.db").exists(),
        "stored under ./data by default"
    );
}

/// `status` is the morning's check: it fails when the latest run's summary email did not go
/// out, even though that run's results are stored and the last success is recent, and clears
/// once a later run's email goes.
#[tokio::test]
async fn status_fails_while_the_latest_runs_email_did_not_go_out() {
    let h = Harness::start(Faults::default()).await;
    let ok = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let fine = h.cli(&["status", "--max-age-hours", "26"]).await;
    assert_eq!(fine.status.code(), Some(0), "{}", stdout(&fine));
    assert!(
        !stdout(&fine).contains("EMAIL NOT SENT"),
        "{}",
        stdout(&fine)
    );

    let file = "[email]\ntransport = \"file\"\n";
    let smtp = "[email]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 9\ntls = \"none\"\ntimeout_secs = 2\n";
    h.edit_config(|text| text.replace(file, smtp));
    let failed = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    let runs = h.store().await.list_runs(1).await.expect("runs");
    let status = h.cli(&["status", "--max-age-hours", "26"]).await;
    assert_eq!(status.status.code(), Some(1), "{}", stdout(&status));
    let text = stdout(&status);
    assert!(text.contains("OK: last successful run finished"), "{text}");
    assert!(
        text.contains(&format!(
            "EMAIL NOT SENT: run {id}'s summary email did not go out: sending it failed (runs show {id})",
            id = runs[0].id
        )),
        "{text}"
    );

    h.edit_config(|text| text.replace(smtp, file));
    let again = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let cleared = h.cli(&["status", "--max-age-hours", "26"]).await;
    assert_eq!(cleared.status.code(), Some(0), "{}", stdout(&cleared));
}

#[tokio::test]
async fn a_run_whose_email_fails_keeps_its_results_and_exits_partial() {
    let h = Harness::start(Faults::default()).await;
    h.edit_config(|text| {
        text.replace(
        "[email]\ntransport = \"file\"\n",
        "[email]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 9\ntls = \"none\"\ntimeout_secs = 2\n",
    )
    });
    let out = h.cli(&["run", "--date", "2026-11-23"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("email FAILED: email failed: smtp 127.0.0.1:9"),
        "{}",
        stdout(&out)
    );
    let store = h.store().await;
    let runs = store.list_runs(1).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Partial);
    assert!(
        runs[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("smtp 127.0.0.1:9")),
        "{:?}",
        runs[0].error
    );
    let stored = stored_findings(&store).await;
    assert_eq!(stored.len(), 8, "the results are stored all the same");
}

#[tokio::test]
async fn the_job_runs_the_same_on_postgresql() {
    let db = PgDatabase::create("flexiti_job").await;
    let db_url = db.url().to_string();

    let h = Harness::start(Faults::default()).await;
    let run = |args: &'static [&'static str]| {
        let db_url = db_url.clone();
        let h = &h;
        async move {
            h.command(args)
                .env("FLEXITI_DATABASE_URL", &db_url)
                .output()
                .await
                .expect("run the binary")
        }
    };
    let first = run(&["run", "--date", "2026-11-23", "--no-email"]).await;
    // Found again with the same values, each finding's stored values read the same as the
    // run's (src/store/digest.rs): only its `last_seen_*` is written, none is rewritten.
    let second = h
        .command(&["run", "--date", "2026-11-23", "--no-email"])
        .env("FLEXITI_DATABASE_URL", &db_url)
        .env("RUST_LOG", "flexiti_recon::store=debug")
        .output()
        .await
        .expect("run the binary");
    let listed = run(&["discrepancies", "list"]).await;
    let store = Store::connect(&db_url, "Test Merchant")
        .await
        .expect("store");
    let stored = stored_findings(&store).await;
    let runs = store.list_runs(5).await.expect("runs");
    store.close().await;
    drop(db);

    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("0 new, 8 still open"),
        "{}",
        stdout(&second)
    );
    let log = stderr(&second);
    assert!(
        log.contains("inserted=0 rewritten=0 seen_again_unchanged=8"),
        "{log}"
    );
    assert_eq!(stored.len(), 8);
    assert_eq!(runs.len(), 2);
    assert_eq!(stdout(&listed).lines().count(), 9, "{}", stdout(&listed));
    assert!(
        !h.dir.path().join("data/flexiti-recon.db").exists(),
        "nothing went to SQLite"
    );
}

#[tokio::test]
async fn a_sigterm_while_fetching_fails_the_run_alerts_and_frees_the_lock() {
    // Every Flexiti answer takes 3 s: the run is still fetching when the signal comes.
    let h = Harness::start(Faults::from_spec("latency_ms=3000").expect("faults")).await;
    let child = h
        .command(&["run", "--date", "2026-11-23"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the run");
    let pid = child.id().expect("pid").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the run stops soon after SIGTERM")
        .expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped by SIGTERM"),
        "{}",
        stderr(&out)
    );

    let run = h
        .store()
        .await
        .get_run(1)
        .await
        .expect("read")
        .expect("run 1");
    assert_eq!(run.status, RunStatus::Failed, "not left running");
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .contains("stopped by SIGTERM"),
        "{:?}",
        run.error
    );
    let alerts: Vec<Email> = h.emails();
    assert_eq!(alerts.len(), 1, "one failure alert");
    assert!(
        alerts[0].text.contains("stopped by SIGTERM"),
        "{}",
        alerts[0].text
    );
    // Nothing is left `running` for the next run to find abandoned.
    let next = h.cli(&["runs", "list"]).await;
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    assert!(!stdout(&next).contains("running"), "{}", stdout(&next));
}

#[tokio::test]
async fn from_files_the_ledger_and_the_flexiti_folder_are_read_at_once_and_the_ledger_error_comes_first()
 {
    let h = Harness::start(Faults::default()).await;
    let flexiti = h.dir.path().join("flexiti-empty");
    std::fs::create_dir_all(&flexiti).expect("flexiti dir");
    let dir = flexiti.to_str().expect("utf-8 path");
    let args = [
        "run",
        "--date",
        "2026-11-23",
        "--flexiti-dir",
        dir,
        "--dry-run",
    ];

    // Only the folder is wrong: the error names it.
    let out = h.cli(&args).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no captures*.json file"), "{err}");

    // Both are wrong: the ledger's error, as when the ledger is read first, and only it.
    std::fs::remove_file(h.dir.path().join("ledger/ledger.csv")).expect("remove");
    let out = h.cli(&args).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("ledger/*.csv") && !err.contains("no captures*.json file"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
}
