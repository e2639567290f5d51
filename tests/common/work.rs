//! A temp work folder the binary runs in: the sample ledger under `ledger/`, a sandbox serving
//! the samples, `config.toml` pointing at both, and what the runs leave behind (the SQLite
//! store, the file outbox).

use std::path::{Path, PathBuf};
use std::process::Output;

use flexiti_recon::report::StoredDiscrepancy;
use flexiti_recon::store::{DiscrepancyFilter, Store};
use flexiti_sandbox::{Faults, SandboxHandle};

use super::{bin, samples, start_sandbox};

/// The email section of a config that writes each email as an `.eml` under `data/outbox/`.
pub const FILE_EMAIL: &str = "[email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n";

/// The config the harnesses start from: the API at `url` with small pages and quick retries,
/// the ledger under `ledger/`, everything else under `data/`.
/// A fresh temp folder holding the sample ledger as `ledger/ledger.csv`.
pub fn ledger_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("ledger")).expect("ledger dir");
    std::fs::copy(
        samples().join("ledger/ledger.csv"),
        dir.path().join("ledger/ledger.csv"),
    )
    .expect("copy ledger");
    dir
}

pub fn base_config(url: &str) -> String {
    format!(
        "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
         [flexiti]\nenvironment = \"{url}\"\nclient_id = \"acme\"\npage_size = 5\n\
         max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
         [ledger]\nfiles = [\"ledger/*.csv\"]\n"
    )
}

pub struct Work {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    /// The client secret the binary gets from `FLEXITI_CLIENT_SECRET`.
    pub secret: &'static str,
    /// Kept alive for the test: dropping it would stop the server.
    pub sandbox: Option<SandboxHandle>,
}

/// One email of the outbox.
pub struct Email {
    pub subject: String,
    /// Every decoded part, joined.
    pub text: String,
    /// The content type of each part.
    pub types: Vec<String>,
}

impl Work {
    /// The folder with the sample ledger; no sandbox and no config yet.
    pub fn new(secret: &'static str) -> Work {
        let dir = ledger_folder();
        Work {
            config_path: dir.path().join("config.toml"),
            dir,
            secret,
            sandbox: None,
        }
    }

    /// The folder, a sandbox serving the samples with `faults`, and [`base_config`] for it
    /// followed by `config_tail`.
    pub async fn start(secret: &'static str, faults: Faults, config_tail: &str) -> Work {
        let mut work = Work::new(secret);
        let sandbox = start_sandbox(samples(), secret, faults).await;
        work.write_config(&format!(
            "{}{config_tail}",
            base_config(&sandbox.base_url())
        ));
        work.sandbox = Some(sandbox);
        work
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// The binary in the folder running `args` with this config and secret; the caller may add
    /// to its environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = bin(self.dir.path());
        command
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .env("FLEXITI_CLIENT_SECRET", self.secret);
        command
    }

    pub async fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("run the binary")
    }

    /// The SQLite store the runs wrote (the default `data/flexiti-recon.db`).
    pub async fn store(&self) -> Store {
        let url = format!("sqlite://{}", self.path("data/flexiti-recon.db").display());
        Store::connect(&url, "Test Merchant").await.expect("store")
    }

    /// Each `.eml` of the outbox.
    pub fn emails(&self) -> Vec<Email> {
        emails_in(&self.path("data/outbox"))
    }
}

fn emails_in(outbox: &Path) -> Vec<Email> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(outbox).into_iter().flatten().flatten() {
        let raw = std::fs::read(entry.path()).expect("read eml");
        let mail = mailparse::parse_mail(&raw).expect("parse eml");
        let subject = mailparse::MailHeaderMap::get_first_value(mail.headers.as_slice(), "Subject")
            .unwrap_or_default();
        let (mut text, mut types) = (String::new(), Vec::new());
        let mut stack = vec![&mail];
        while let Some(part) = stack.pop() {
            if part.subparts.is_empty() {
                types.push(part.ctype.mimetype.clone());
                text.push_str(&part.get_body().unwrap_or_default());
            }
            stack.extend(part.subparts.iter());
        }
        out.push(Email {
            subject,
            text,
            types,
        });
    }
    out
}

/// Every stored finding, newest days first.
pub async fn stored_findings(store: &Store) -> Vec<StoredDiscrepancy> {
    store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list")
}
