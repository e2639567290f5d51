//! The whole nightly job, end to end: the sandbox Flexiti API over real TCP, the sample ledger,
//! a SQLite file, the file email transport, and the binary's exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::Output;

use flexiti_recon::app::{RunRequest, run_job};
use flexiti_recon::config::Config;
use flexiti_recon::domain::{Category, DayRange};
use flexiti_recon::report::RunStatus;
use flexiti_recon::sandbox::{self, Faults, SandboxHandle, SandboxOptions};
use flexiti_recon::store::{DiscrepancyFilter, Store};

const SECRET: &str = "job-test-secret";
const BIN: &str = env!("CARGO_BIN_EXE_flexiti-recon");

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
}

/// A temp work dir seeded from `samples/`, a sandbox on a free port, a config pointing at both.
struct Harness {
    dir: tempfile::TempDir,
    // Kept alive for the test: dropping it would stop the server.
    _sandbox: Option<SandboxHandle>,
    config_path: PathBuf,
}

impl Harness {
    async fn start(faults: Faults) -> Harness {
        let sandbox = sandbox::spawn(SandboxOptions {
            port: 0,
            data_dir: samples(),
            client_id: "acme".into(),
            client_secret: SECRET.into(),
            faults,
        })
        .await
        .expect("sandbox");
        let url = sandbox.base_url();
        Harness::with_url(&url, Some(sandbox))
    }

    fn with_url(url: &str, sandbox: Option<SandboxHandle>) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ledger")).expect("ledger dir");
        std::fs::copy(
            samples().join("ledger/ledger.csv"),
            dir.path().join("ledger/ledger.csv"),
        )
        .expect("copy ledger");
        let config_path = dir.path().join("config.toml");
        let harness = Harness {
            dir,
            _sandbox: sandbox,
            config_path,
        };
        harness.write_config(url, "");
        harness
    }

    fn write_config(&self, url: &str, extra_top: &str) {
        let text = format!(
            "{extra_top}merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
             [flexiti]\nenvironment = \"{url}\"\nclient_id = \"acme\"\npage_size = 5\n\
             max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
             [ledger]\nfiles = [\"ledger/*.csv\"]\n\
             [email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n"
        );
        std::fs::write(&self.config_path, text).expect("write config");
    }

    fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.config_path).expect("read config");
        std::fs::write(&self.config_path, edit(text)).expect("write config");
    }

    fn config(&self) -> Config {
        let mut config = Config::load(&self.config_path).expect("config");
        config.flexiti.client_secret = secrecy::SecretString::from(SECRET);
        config.client_secret = Some(config.flexiti.client_secret.clone());
        config
    }

    async fn store(&self) -> Store {
        Store::connect(&self.config().database_url, "Test Merchant")
            .await
            .expect("store")
    }

    async fn cli(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("FLEXITI_CLIENT_SECRET", SECRET)
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .output()
            .await
            .expect("run the binary")
    }

    /// Each `.eml` of the outbox as (subject, every decoded part joined, part content types).
    fn emails(&self) -> Vec<(String, String, Vec<String>)> {
        let outbox = self.dir.path().join("data/outbox");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
            let raw = std::fs::read(entry.path()).expect("read eml");
            let mail = mailparse::parse_mail(&raw).expect("parse eml");
            let subject =
                mailparse::MailHeaderMap::get_first_value(mail.headers.as_slice(), "Subject")
                    .unwrap_or_default();
            let (mut bodies, mut types) = (String::new(), Vec::new());
            let mut stack = vec![&mail];
            while let Some(part) = stack.pop() {
                if part.subparts.is_empty() {
                    types.push(part.ctype.mimetype.clone());
                    bodies.push_str(&part.get_body().unwrap_or_default());
                }
                stack.extend(part.subparts.iter());
            }
            out.push((subject, bodies, types));
        }
        out
    }
}

fn expected_findings() -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(samples().join("expected.csv")).expect("expected.csv");
    let mut rows: Vec<_> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test]
async fn the_nightly_job_stores_exactly_the_sample_findings_and_emails_them() {
    let h = Harness::start(Faults::default()).await;
    let config = h.config();
    let request = RunRequest {
        range: Some(DayRange::single(day())),
        trigger: "test".into(),
        ..RunRequest::default()
    };
    let outcome = run_job(&config, &request).await.expect("run");
    assert_eq!(outcome.report.status, RunStatus::Succeeded);
    assert!(outcome.report.failed_calls.is_empty());

    let store = h.store().await;
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
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
    let (subject, bodies, types) = &emails[0];
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
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
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
        failing_dates: vec![chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")],
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
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
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
    assert_eq!(runs[0].incomplete_days, vec![day()]);
    let calls = store.failed_calls(runs[0].id).await.expect("failed calls");
    assert!(!calls.is_empty());
    assert!(calls.iter().all(
        |c| c.utc_date == chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            && c.http_status == Some(500)
    ));
    let emails = h.emails();
    let (subject, bodies, _) = &emails[0];
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
        prom.contains("flexiti_recon_discrepancies{category=\"amount_mismatch\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("flexiti_recon_discrepancy_amount_cad{category=\"amount_mismatch\"} 2.97"),
        "{prom}"
    );
    assert!(
        prom.contains("flexiti_recon_last_success_timestamp_seconds "),
        "{prom}"
    );
    assert!(prom.contains("flexiti_recon_failed_calls 0"), "{prom}");
}

#[tokio::test]
async fn a_bad_config_key_is_a_usage_error_naming_the_key() {
    let h = Harness::with_url("http://127.0.0.1:9/flexiti/pos-api", None);
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
    let h = Harness::with_url("http://127.0.0.1:9/flexiti/pos-api", None);
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
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
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
    use flexiti_recon::domain::BusinessCalendar;
    use flexiti_recon::ledger::{LedgerSettings, read_files, resolve_files};
    use flexiti_recon::reconcile::{ReconcileParams, reconcile};

    for (seed, orders, days, per_mille) in [(7, 400, 1, 50), (11, 1500, 3, 30), (23, 3000, 2, 80)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = sandbox::GenerateOptions::new(dir.path(), day(), days, orders);
        opts.seed = seed;
        opts.discrepancy_per_mille = per_mille;
        opts.ledger_files = 2;
        opts.flexiti_files = 3;
        sandbox::generate(&opts).expect("generate");

        let calendar = BusinessCalendar::new(chrono_tz::America::Toronto);
        let flexiti =
            flexiti_recon::flexiti::load_dir(&dir.path().join("flexiti")).expect("flexiti");
        let files = resolve_files(&["ledger/*.csv".to_string()], dir.path()).expect("ledger files");
        let ledger = read_files(&files, &LedgerSettings::default(), calendar).expect("ledger");
        let last = day() + chrono::Days::new(u64::from(days) - 1);
        let params = ReconcileParams {
            range: DayRange::new(day(), last),
            window_days: 1,
            tolerance: flexiti_recon::domain::Amount::ZERO,
            calendar,
            store: None,
        };
        let outcome = reconcile(&flexiti.side, &ledger, &params).expect("reconcile");
        let mut found: Vec<String> = outcome
            .discrepancies
            .iter()
            .map(|d| {
                let amount = |a: Option<flexiti_recon::domain::Amount>| {
                    a.map(|a| a.to_string()).unwrap_or_default()
                };
                format!(
                    "{},{},{},{},{},{}",
                    d.business_date,
                    d.category,
                    d.reference,
                    d.kind,
                    amount(d.flexiti_amount),
                    amount(d.ledger_amount)
                )
            })
            .collect();
        found.sort();
        let text = std::fs::read_to_string(dir.path().join("expected.csv")).expect("expected");
        let mut expected: Vec<String> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        expected.sort();
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
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
    assert_eq!(stored.len(), 8, "the results are stored all the same");
}

#[tokio::test]
async fn the_job_runs_the_same_on_postgresql() {
    use sqlx::{Connection, Executor};
    let admin_url = std::env::var("FLEXITI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is unreachable ({e}): start it or set FLEXITI_TEST_PG_URL")
        });
    let name = format!("flexiti_job_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let db_url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("FLEXITI_TEST_PG_URL has no database part"),
    };

    let h = Harness::start(Faults::default()).await;
    let run = |args: &'static [&'static str]| {
        let db_url = db_url.clone();
        let h = &h;
        async move {
            tokio::process::Command::new(BIN)
                .args(args)
                .arg("--config")
                .arg(&h.config_path)
                .env("FLEXITI_CLIENT_SECRET", SECRET)
                .env("FLEXITI_DATABASE_URL", &db_url)
                .current_dir(h.dir.path())
                .output()
                .await
                .expect("run the binary")
        }
    };
    let first = run(&["run", "--date", "2026-11-23", "--no-email"]).await;
    let second = run(&["run", "--date", "2026-11-23", "--no-email"]).await;
    let listed = run(&["discrepancies", "list"]).await;
    let store = Store::connect(&db_url, "Test Merchant")
        .await
        .expect("store");
    let stored = store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list");
    let runs = store.list_runs(5).await.expect("runs");
    store.close().await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .expect("drop database");

    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("0 new, 8 still open"),
        "{}",
        stdout(&second)
    );
    assert_eq!(stored.len(), 8);
    assert_eq!(runs.len(), 2);
    assert_eq!(stdout(&listed).lines().count(), 9, "{}", stdout(&listed));
    assert!(
        !h.dir.path().join("data/flexiti-recon.db").exists(),
        "nothing went to SQLite"
    );
}
