//! What a run writes once its results are stored, besides the database: the run's CSV and the
//! nightly metrics textfile. A failure there must not hide behind a succeeded run, and a replay
//! must leave the nightly metrics alone. Through the binary, with the sample Flexiti files
//! (`--flexiti-dir`), the sample ledger, SQLite and the file email transport.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{BIN, ledger_folder, samples};

const DAY: &str = "2026-11-23";

/// A temp work dir with the sample ledger and a config; `extra` is appended to the config.
struct Work {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Work {
    fn new(extra: &str) -> Work {
        let dir = ledger_folder();
        let config = dir.path().join("config.toml");
        let text = format!(
            "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
             [ledger]\nfiles = [\"ledger/*.csv\"]\n{extra}"
        );
        std::fs::write(&config, text).expect("write config");
        Work { dir, config }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    async fn cli(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .output()
            .await
            .expect("run the binary")
    }

    /// A nightly run of the sample day from the sample Flexiti files, with `extra` flags.
    async fn run(&self, extra: &[&str]) -> Output {
        let flexiti = samples().join("flexiti");
        let mut args = vec!["run", "--date", DAY, "--flexiti-dir"];
        let flexiti = flexiti.to_string_lossy().into_owned();
        args.push(&flexiti);
        args.extend_from_slice(extra);
        self.cli(&args).await
    }

    /// The subjects and decoded bodies of the `.eml` files of the outbox.
    fn emails(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.path("data/outbox"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let raw = std::fs::read(entry.path()).expect("read eml");
            let mail = mailparse::parse_mail(&raw).expect("parse eml");
            let subject =
                mailparse::MailHeaderMap::get_first_value(mail.headers.as_slice(), "Subject")
                    .unwrap_or_default();
            let mut bodies = String::new();
            let mut stack = vec![&mail];
            while let Some(part) = stack.pop() {
                if part.subparts.is_empty() {
                    bodies.push_str(&part.get_body().unwrap_or_default());
                }
                stack.extend(part.subparts.iter());
            }
            out.push((subject, bodies));
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

/// The CSV cannot be written after the findings were committed: the findings stay stored, the
/// run ends partial (exit 3) in the database, the summary and the email, each naming the CSV.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_csv_that_cannot_be_written_after_the_commit_ends_the_run_partial_with_an_alert() {
    let work = Work::new("[email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n");
    // Every write to /dev/full fails with "no space left on device".
    let out = work.run(&["--csv", "/dev/full"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": partial ("), "{stdout}");
    assert!(stdout.contains("csv FAILED: /dev/full"), "{stdout}");

    let show = work.cli(&["runs", "show", "1", "--format", "json"]).await;
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    let run: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(run["status"], "partial", "{run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("/dev/full"), "{run}");
    assert!(run["discrepancies"].as_u64().unwrap_or(0) > 0, "{run}");

    let listed = work
        .cli(&["discrepancies", "list", "--format", "json"])
        .await;
    let found: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    assert_eq!(
        found.as_array().map(Vec::len),
        run["discrepancies"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok()),
        "the findings are stored"
    );

    let emails = work.emails();
    assert_eq!(emails.len(), 1, "one summary email");
    let (subject, body) = &emails[0];
    assert!(subject.starts_with("[flexiti-recon] PARTIAL "), "{subject}");
    assert!(
        body.contains("/dev/full"),
        "the email names the CSV: {body}"
    );
}
/// A replay is a dry run: the nightly metrics (and their last-success gauge) stay as the last
/// nightly run left them.
#[tokio::test]
async fn a_replay_leaves_the_nightly_metrics_alone() {
    let work = Work::new("[metrics]\ntextfile = \"metrics/recon.prom\"\n");
    let nightly = work.run(&[]).await;
    assert_eq!(nightly.status.code(), Some(0), "{}", text(&nightly));
    let textfile = work.path("metrics/recon.prom");
    let before = std::fs::read_to_string(&textfile).expect("metrics file");
    assert!(
        before.contains("flexiti_recon_last_success_timestamp_seconds{merchant="),
        "{before}"
    );

    // A rewrite a second later would show in the last run's timestamp.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let replay = work.cli(&["run", "--replay", "1"]).await;
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay));
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains("reproduces"),
        "{}",
        text(&replay)
    );
    let after = std::fs::read_to_string(&textfile).expect("metrics file");
    assert_eq!(after, before, "the replay rewrote the nightly metrics");
}
