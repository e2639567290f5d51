//! Many merchants' nightly jobs against one PostgreSQL database, as separate processes of the
//! real binary, each against its own sandbox Flexiti API (own credentials) with its own ledger:
//! they run at once without abandoning each other, each stores exactly its findings, and a
//! merchant's run killed with SIGKILL is abandoned by that merchant's next run only.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use flexiti_recon::report::RunStatus;
use flexiti_recon::store::{DiscrepancyFilter, Store};
use flexiti_sandbox::{self as sandbox, Faults, SandboxHandle, SandboxOptions};
use sqlx::{Connection, Executor, PgConnection};

use common::{BIN, ledger_folder, samples};

const DAY: &str = "2026-11-23";

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

/// A fresh PostgreSQL database, dropped when the test ends (see [`TestDb::drop_now`]).
struct TestDb {
    admin: PgConnection,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> TestDb {
        let admin_url = std::env::var("FLEXITI_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is unreachable ({e}): set FLEXITI_TEST_PG_URL"));
        let name = format!("flexiti_tenants_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("FLEXITI_TEST_PG_URL has no database part"),
        };
        TestDb { admin, name, url }
    }

    async fn drop_now(mut self) {
        self.admin
            .execute(format!("DROP DATABASE {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop database");
    }
}

/// One merchant: its own sandbox (own client id and secret), work dir, ledger and config.
struct Merchant {
    name: String,
    secret: String,
    dir: tempfile::TempDir,
    config: PathBuf,
    _sandbox: SandboxHandle,
}

impl Merchant {
    async fn start(i: usize, latency_ms: u64) -> Merchant {
        let (client_id, secret) = (format!("client-{i}"), format!("secret-{i}"));
        let sandbox = sandbox::spawn(SandboxOptions {
            port: 0,
            data_dir: samples(),
            client_id: client_id.clone(),
            client_secret: secret.clone(),
            faults: Faults {
                latency_ms,
                ..Faults::default()
            },
        })
        .await
        .expect("sandbox");
        let dir = ledger_folder();
        let name = format!("Merchant {i}");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "merchant = \"{name}\"\ndata_dir = \"data\"\n\
                 [flexiti]\nenvironment = \"{}\"\nclient_id = \"{client_id}\"\npage_size = 5\n\
                 max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
                 [ledger]\nfiles = [\"ledger/*.csv\"]\n",
                sandbox.base_url()
            ),
        )
        .expect("write config");
        Merchant {
            name,
            secret,
            dir,
            config,
            _sandbox: sandbox,
        }
    }

    fn command(&self, db: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("FLEXITI_CLIENT_SECRET", &self.secret)
            .env("FLEXITI_DATABASE_URL", db)
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, db: &str, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--date", DAY, "--no-email"];
        args.extend_from_slice(extra);
        self.command(db, &args)
            .output()
            .await
            .expect("run the binary")
    }

    /// The merchant's stored findings as (day, category, reference, kind), sorted.
    async fn findings(&self, db: &str) -> Vec<(String, String, String, String)> {
        let store = Store::connect(db, &self.name).await.expect("store");
        let stored = store
            .list_discrepancies(&DiscrepancyFilter::default())
            .await
            .expect("list");
        store.close().await;
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
        found
    }

    async fn runs(&self, db: &str) -> Vec<flexiti_recon::store::StoredRun> {
        let store = Store::connect(db, &self.name).await.expect("store");
        let runs = store.list_runs(20).await.expect("runs");
        store.close().await;
        runs
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_merchants_run_at_once_into_one_database_each_storing_exactly_its_findings() {
    let db = TestDb::create().await;
    let mut merchants = Vec::new();
    for i in 1..=8 {
        merchants.push(Merchant::start(i, 20).await);
    }
    let outputs = futures::future::join_all(merchants.iter().map(|m| m.run(&db.url, &[]))).await;
    let mut intervals = Vec::new();
    for (m, out) in merchants.iter().zip(&outputs) {
        assert_eq!(out.status.code(), Some(0), "{}: {}", m.name, stderr(out));
        assert_eq!(m.findings(&db.url).await, expected_findings(), "{}", m.name);
        let runs = m.runs(&db.url).await;
        assert_eq!(runs.len(), 1, "{}: {runs:?}", m.name);
        assert_eq!(runs[0].status, RunStatus::Succeeded, "{}", m.name);
        intervals.push((runs[0].started_at, runs[0].finished_at.expect("finished")));
    }
    // The runs really were in progress at the same time.
    intervals.sort();
    let overlapping = intervals.windows(2).filter(|w| w[1].0 < w[0].1).count();
    assert!(overlapping >= 1, "no two runs overlapped: {intervals:?}");
    let mut admin = PgConnection::connect(&db.url).await.expect("connect");
    let not_succeeded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE status <> 'succeeded'")
            .fetch_one(&mut admin)
            .await
            .expect("count");
    let findings: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM discrepancies")
        .fetch_one(&mut admin)
        .await
        .expect("count");
    admin.close().await.ok();
    db.drop_now().await;
    assert_eq!(not_succeeded, 0);
    assert_eq!(findings, 8 * expected_findings().len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_killed_mid_run_is_abandoned_by_its_next_run_and_the_others_are_untouched() {
    let db = TestDb::create().await;
    // The victim's API answers slowly, so its run is surely in progress when it is killed.
    let victim = Merchant::start(0, 400).await;
    let mut others = Vec::new();
    for i in 1..=3 {
        others.push(Merchant::start(i, 20).await);
    }
    let mut child = victim
        .command(&db.url, &["run", "--date", DAY, "--no-email"])
        .spawn()
        .expect("start the victim");
    let mut admin = PgConnection::connect(&db.url).await.expect("connect");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // The table does not exist until the first run has migrated.
        let running: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM runs WHERE merchant = $1 AND status = 'running'",
        )
        .bind(&victim.name)
        .fetch_one(&mut admin)
        .await
        .unwrap_or(0);
        if running == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the victim never began"
        );
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the victim ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let others_running = futures::future::join_all(others.iter().map(|m| m.run(&db.url, &[])));
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reap")
    };
    let (outputs, status) = tokio::join!(others_running, killer);
    assert_eq!(status.code(), None, "killed by a signal");

    for (m, out) in others.iter().zip(&outputs) {
        assert_eq!(out.status.code(), Some(0), "{}: {}", m.name, stderr(out));
    }
    let killed = victim.runs(&db.url).await;
    assert_eq!(killed.len(), 1);
    assert_eq!(
        killed[0].status,
        RunStatus::Running,
        "nothing marked it yet"
    );

    // Its next run takes the lock the dead process held, and abandons the killed run.
    let next = victim.run(&db.url, &["--wait"]).await;
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
    let runs = victim.runs(&db.url).await;
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(
        (runs[1].id, runs[1].status),
        (killed[0].id, RunStatus::Abandoned)
    );
    assert_eq!(victim.findings(&db.url).await, expected_findings());
    for m in &others {
        let runs = m.runs(&db.url).await;
        assert_eq!(runs.len(), 1, "{}", m.name);
        assert_eq!(runs[0].status, RunStatus::Succeeded, "{}", m.name);
        assert_eq!(m.findings(&db.url).await, expected_findings(), "{}", m.name);
    }
    admin.close().await.ok();
    db.drop_now().await;
}
