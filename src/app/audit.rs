//! The audit bundle of a run: the raw Flexiti pages, the ledger files' SHA-256, the effective
//! config (it never holds a secret) and the run's own facts, under `<data_dir>/runs/<id>/`.
//! A bundle is enough to replay the night offline with `run --replay ID`.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::{DayRange, FlexitiSide, LedgerSide};
use crate::flexiti::RawPage;
use crate::report::{FailedCall, RunReport};

#[derive(Debug, Serialize, Deserialize)]
struct LedgerFile {
    path: String,
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RunFacts {
    run_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    x_reference_id: String,
    incomplete_days: BTreeSet<NaiveDate>,
    failed_calls: Vec<FailedCallFacts>,
    ledger: Vec<LedgerFile>,
    /// Ledger files named twice (or identical copies), each read once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ledger_warnings: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FailedCallFacts {
    endpoint: String,
    parameters: String,
    http_status: Option<u16>,
    error_code: Option<String>,
    message: String,
    attempts: u32,
    duration_ms: u64,
    utc_date: Option<NaiveDate>,
}

pub fn bundle_dir(config: &Config, run_id: i64) -> PathBuf {
    config.data_dir.join("runs").join(run_id.to_string())
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes the bundle of a run and returns its folder.
pub fn write_bundle(
    config: &Config,
    report: &RunReport,
    ledger: &LedgerSide,
    pages: &[RawPage],
    flexiti: &FlexitiSide,
) -> anyhow::Result<PathBuf> {
    let dir = bundle_dir(config, report.run_id);
    let pages_dir = dir.join("flexiti");
    std::fs::create_dir_all(&pages_dir)
        .with_context(|| format!("{}: cannot create", pages_dir.display()))?;
    for (i, page) in pages.iter().enumerate() {
        let path = pages_dir.join(page.replay_file_name(i));
        std::fs::write(&path, page.replay_body())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let ledger_files = ledger
        .files
        .iter()
        .map(|p| {
            Ok(LedgerFile {
                path: p.display().to_string(),
                sha256: sha256_of(p)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let facts = RunFacts {
        run_id: report.run_id,
        from: report.range.from,
        to: report.range.to,
        x_reference_id: report.x_reference_id.clone(),
        incomplete_days: flexiti.incomplete_days.clone(),
        failed_calls: report.failed_calls.iter().map(facts_of).collect(),
        ledger: ledger_files,
        ledger_warnings: ledger.warnings.clone(),
    };
    let run_json = dir.join("run.json");
    std::fs::write(&run_json, serde_json::to_vec_pretty(&facts)?)
        .with_context(|| format!("{}: cannot write", run_json.display()))?;
    let config_copy = dir.join("config.toml");
    if config.path.as_os_str().is_empty() {
        std::fs::write(&config_copy, "# no config file: every default applied\n")
    } else {
        std::fs::copy(&config.path, &config_copy).map(|_| ())
    }
    .with_context(|| format!("{}: cannot write the config copy", config_copy.display()))?;
    tracing::info!(dir = %dir.display(), pages = pages.len(), "wrote the audit bundle");
    Ok(dir)
}

fn facts_of(c: &FailedCall) -> FailedCallFacts {
    FailedCallFacts {
        endpoint: c.endpoint.clone(),
        parameters: c.parameters.clone(),
        http_status: c.http_status,
        error_code: c.error_code.clone(),
        message: c.message.clone(),
        attempts: c.attempts,
        duration_ms: c.duration_ms,
        utc_date: c.utc_date,
    }
}

/// A past run, ready to be replayed offline.
#[derive(Debug)]
pub struct Replay {
    pub range: DayRange,
    pub flexiti_dir: PathBuf,
    pub incomplete_days: BTreeSet<NaiveDate>,
    pub failed_calls: Vec<FailedCall>,
}

impl Replay {
    pub fn load(config: &Config, run_id: i64) -> anyhow::Result<Replay> {
        let dir = bundle_dir(config, run_id);
        let run_json = dir.join("run.json");
        let text = std::fs::read(&run_json).with_context(|| {
            format!(
                "--replay {run_id}: no audit bundle at {}",
                run_json.display()
            )
        })?;
        let facts: RunFacts = serde_json::from_slice(&text)
            .with_context(|| format!("{}: not a run bundle", run_json.display()))?;
        for file in &facts.ledger {
            match sha256_of(Path::new(&file.path)) {
                Ok(sha) if sha == file.sha256 => {}
                Ok(_) => {
                    tracing::warn!(file = %file.path, "ledger file changed since run {run_id}; the replay reads it as it is now")
                }
                Err(e) => tracing::warn!("{e:#}"),
            }
        }
        Ok(Replay {
            range: DayRange::new(facts.from, facts.to),
            flexiti_dir: dir.join("flexiti"),
            incomplete_days: facts.incomplete_days,
            failed_calls: facts
                .failed_calls
                .into_iter()
                .map(|f| FailedCall {
                    endpoint: f.endpoint,
                    parameters: f.parameters,
                    http_status: f.http_status,
                    error_code: f.error_code,
                    message: f.message,
                    attempts: f.attempts,
                    duration_ms: f.duration_ms,
                    x_reference_id: facts.x_reference_id.clone(),
                    utc_date: f.utc_date,
                })
                .collect(),
        })
    }
}
