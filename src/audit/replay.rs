//! `run --replay N`: run N's bundle read back, its recorded inputs checked against their hashes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;

use super::{RecordedFinding, RunFacts, bundle_dir, sha256_of};
use crate::config::Config;
use crate::domain::{DayRange, FailedCall};

/// A past run, ready to be replayed offline.
#[derive(Debug)]
pub struct Replay {
    pub run_id: i64,
    pub range: DayRange,
    /// The findings run `run_id` recorded; `None` for a bundle written before they were kept.
    pub recorded: Option<Vec<RecordedFinding>>,
    /// For a `--flexiti-dir` run: the names of the files it read (checked, in `flexiti_dir`).
    pub flexiti_files: Vec<String>,
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
        let mut flexiti_dir = dir.join("flexiti");
        let mut flexiti_files = Vec::new();
        if let Some(source) = &facts.flexiti_dir {
            for file in &facts.flexiti_files {
                let how = format!(
                    "restore the file as run {run_id} read it, or rerun the night with \
                     run --flexiti-dir (a new run, not a replay)"
                );
                match sha256_of(Path::new(&file.path)) {
                    Ok(sha) if sha == file.sha256 => {}
                    Ok(_) => anyhow::bail!(
                        "--replay {run_id}: Flexiti file {} changed since run {run_id} read it \
                         (SHA-256 differs); {how}",
                        file.path
                    ),
                    Err(e) => anyhow::bail!(
                        "--replay {run_id}: Flexiti file {} is gone or unreadable ({e:#}); {how}",
                        file.path
                    ),
                }
                if let Some(name) = Path::new(&file.path).file_name() {
                    flexiti_files.push(name.to_string_lossy().into_owned());
                }
            }
            flexiti_dir = PathBuf::from(source);
        }
        let findings_json = dir.join("findings.json");
        let recorded = match std::fs::read(&findings_json) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: not a findings list", findings_json.display()))?,
            ),
            Err(_) => None,
        };
        Ok(Replay {
            run_id,
            range: DayRange::new(facts.from, facts.to),
            recorded,
            flexiti_files,
            flexiti_dir,
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
