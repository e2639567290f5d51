//! The audit bundle of a run: the raw Flexiti pages, the ledger files' SHA-256, the effective
//! config with its secrets removed, the run's own facts and a manifest, under
//! `<data_dir>/runs/<id>/`. A bundle is enough to replay the night offline with `run --replay ID`.
//!
//! The pages are the bodies as the Flexiti client handed them over, with every account number
//! masked to its last four digits as the response arrived (`src/flexiti/mask.rs`; the rules
//! never read them, so a replay gives the same findings). Failed calls' texts are redacted here,
//! as they are written. Bundles older than `audit.keep_days` are pruned at the end of a run (see
//! [`prune`]).
//!
//! One entry point a use: [`BundleTarget::of`] then [`write_bundle`] (a run's bundle: the
//! target takes what it needs of the config, so the writing can run on a blocking thread while
//! the results are stored), [`Replay::load`] (`--replay`), [`prune`] (the end of a run).

mod config_copy;
mod findings;
mod manifest;
mod prune;
mod replay;

pub use findings::RecordedFinding;
pub use prune::prune;
pub use replay::Replay;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::{AsRead, FailedCall, FlexitiSide, LedgerSide};
use crate::flexiti::RawPage;
use crate::hashed;
use crate::report::RunReport;

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
    /// The folder a `--flexiti-dir` run read its Flexiti side from (absolute), and the SHA-256
    /// of each JSON file read there: the files are not copied (they can be gigabytes), so a
    /// replay reads them from there after checking them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flexiti_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    flexiti_files: Vec<LedgerFile>,
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

/// Where a run's bundle goes and its config copy (secrets removed): all a bundle needs of the
/// config, taken before it is written.
#[derive(Debug)]
pub struct BundleTarget {
    dir: PathBuf,
    config_copy: String,
}

impl BundleTarget {
    pub fn of(config: &Config, run_id: i64) -> anyhow::Result<BundleTarget> {
        Ok(BundleTarget {
            dir: bundle_dir(config, run_id),
            config_copy: config_copy::effective_config(config, run_id)?,
        })
    }
}

fn bundle_dir(config: &Config, run_id: i64) -> PathBuf {
    config.data_dir.join("runs").join(run_id.to_string())
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    hashed::sha256_hex(file).with_context(|| format!("{}: cannot read", path.display()))
}

/// Writes the bundle of a run and returns its folder.
pub fn write_bundle(
    target: BundleTarget,
    report: &RunReport,
    ledger: &LedgerSide,
    pages: &[RawPage],
    flexiti: &FlexitiSide,
    flexiti_files: &[(PathBuf, AsRead)],
) -> anyhow::Result<PathBuf> {
    let BundleTarget { dir, config_copy } = target;
    let pages_dir = dir.join("flexiti");
    std::fs::create_dir_all(&pages_dir)
        .with_context(|| format!("{}: cannot create", pages_dir.display()))?;
    for (i, page) in pages.iter().enumerate() {
        let path = pages_dir.join(page.replay_file_name(i));
        std::fs::write(&path, page.replay_body())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    // Each input file's hash is of the bytes the run read (`src/hashed.rs`): a file changed
    // since the run opened it fails the bundle, and the run stores nothing.
    if ledger.as_read.len() != ledger.files.len() {
        anyhow::bail!(
            "the ledger side knows how {} of its {} files were read",
            ledger.as_read.len(),
            ledger.files.len()
        );
    }
    let ledger_files = ledger
        .files
        .iter()
        .zip(&ledger.as_read)
        .map(|(p, as_read)| {
            Ok(LedgerFile {
                path: p.display().to_string(),
                sha256: hashed::sha256_of_read(p, as_read, "ledger file")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let flexiti_source = flexiti_files
        .iter()
        .map(|(p, as_read)| {
            let absolute = std::fs::canonicalize(p)
                .with_context(|| format!("{}: cannot resolve", p.display()))?;
            Ok(LedgerFile {
                sha256: hashed::sha256_of_read(&absolute, as_read, "Flexiti file")?,
                path: absolute.display().to_string(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let flexiti_dir = flexiti_source
        .first()
        .and_then(|f| Path::new(&f.path).parent())
        .map(|d| d.display().to_string());
    let facts = RunFacts {
        run_id: report.run_id,
        from: report.range.from,
        to: report.range.to,
        x_reference_id: report.x_reference_id.clone(),
        incomplete_days: flexiti.incomplete_days.clone(),
        failed_calls: report.failed_calls.iter().map(facts_of).collect(),
        ledger: ledger_files,
        ledger_warnings: ledger.warnings.clone(),
        flexiti_dir,
        flexiti_files: flexiti_source,
    };
    let findings: Vec<RecordedFinding> = report
        .discrepancies
        .iter()
        .map(RecordedFinding::of)
        .collect();
    let findings_json = dir.join("findings.json");
    std::fs::write(&findings_json, serde_json::to_vec_pretty(&findings)?)
        .with_context(|| format!("{}: cannot write", findings_json.display()))?;
    let run_json = dir.join("run.json");
    std::fs::write(&run_json, serde_json::to_vec_pretty(&facts)?)
        .with_context(|| format!("{}: cannot write", run_json.display()))?;
    let config_file = dir.join("config.toml");
    std::fs::write(&config_file, config_copy)
        .with_context(|| format!("{}: cannot write the config copy", config_file.display()))?;
    manifest::write(&dir, report.run_id)?;
    tracing::info!(dir = %dir.display(), pages = pages.len(), "wrote the audit bundle");
    Ok(dir)
}

fn facts_of(c: &FailedCall) -> FailedCallFacts {
    FailedCallFacts {
        endpoint: c.endpoint.clone(),
        parameters: c.parameters.clone(),
        http_status: c.http_status,
        error_code: c.error_code.clone(),
        message: crate::redact::text(&c.message),
        attempts: c.attempts,
        duration_ms: c.duration_ms,
        utc_date: c.utc_date,
    }
}
