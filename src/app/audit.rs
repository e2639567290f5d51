//! The audit bundle of a run: the raw Flexiti pages, the ledger files' SHA-256, the effective
//! config with its secrets removed, the run's own facts and a manifest, under
//! `<data_dir>/runs/<id>/`. A bundle is enough to replay the night offline with `run --replay ID`.
//!
//! The pages are the bodies as the Flexiti adapter handed them over: account numbers already
//! masked to their last four digits (the rules never read them, so a replay gives the same
//! findings). Failed calls' texts are redacted before they get here. Bundles older than
//! `audit.keep_days` are pruned at the end of a run (see [`prune`]).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::replay_check::RecordedFinding;
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
    flexiti_files: &[PathBuf],
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
    let flexiti_source = flexiti_files
        .iter()
        .map(|p| {
            let absolute = std::fs::canonicalize(p)
                .with_context(|| format!("{}: cannot resolve", p.display()))?;
            Ok(LedgerFile {
                path: absolute.display().to_string(),
                sha256: sha256_of(&absolute)?,
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
    let config_copy = dir.join("config.toml");
    std::fs::write(&config_copy, effective_config(config, report.run_id)?)
        .with_context(|| format!("{}: cannot write the config copy", config_copy.display()))?;
    write_manifest(&dir, report.run_id)?;
    tracing::info!(dir = %dir.display(), pages = pages.len(), "wrote the audit bundle");
    Ok(dir)
}

/// The config the run used: the file's keys with the environment's overrides applied, every
/// secret-named key removed and every URL's password masked.
fn effective_config(config: &Config, run_id: i64) -> anyhow::Result<String> {
    let mut table = if config.path.as_os_str().is_empty() {
        toml::Table::new()
    } else {
        let text = std::fs::read_to_string(&config.path)
            .with_context(|| format!("config {}: cannot read", config.path.display()))?;
        text.parse::<toml::Table>()
            .with_context(|| format!("config {}: cannot read", config.path.display()))?
    };
    let s = |v: &str| toml::Value::String(v.to_string());
    let section = |table: &mut toml::Table, name: &str| -> toml::Table {
        match table.remove(name) {
            Some(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        }
    };
    table.insert("data_dir".into(), s(&config.data_dir.display().to_string()));
    let mut database = section(&mut table, "database");
    database.insert("url".into(), s(&config.database_url));
    table.insert("database".into(), toml::Value::Table(database));
    let mut flexiti = section(&mut table, "flexiti");
    flexiti.insert("environment".into(), s(&config.file.flexiti.environment));
    flexiti.insert("client_id".into(), s(&config.file.flexiti.client_id));
    table.insert("flexiti".into(), toml::Value::Table(flexiti));
    if config.file.email.is_some() {
        let mut email = section(&mut table, "email");
        let to = config.email.to.iter().map(|t| s(t)).collect();
        email.insert("to".into(), toml::Value::Array(to));
        email.insert("smtp_host".into(), s(&config.email.smtp_host));
        if let Some(port) = config.email.smtp_port {
            email.insert("smtp_port".into(), toml::Value::Integer(i64::from(port)));
        }
        if let Some(user) = &config.email.username {
            email.insert("username".into(), s(user));
        }
        table.insert("email".into(), toml::Value::Table(email));
    }
    scrub_config(&mut table);
    let source = if config.path.as_os_str().is_empty() {
        "no config file: every default applied".to_string()
    } else {
        format!("from {}", config.path.display())
    };
    Ok(format!(
        "# Effective config of run {run_id} ({source}), with the environment's overrides;\n\
         # secrets removed: secret, password and token keys, URL passwords. Keys not shown\n\
         # took their defaults.\n{}",
        toml::to_string(&table).context("writing the config copy")?
    ))
}

/// Drops secret-named keys and masks URL passwords (and any registered secret) in strings.
fn scrub_config(table: &mut toml::Table) {
    let secret_keys: Vec<String> = table
        .keys()
        .filter(|key| {
            let key = key.to_ascii_lowercase();
            ["secret", "password", "passwd", "token"]
                .iter()
                .any(|s| key.contains(s))
        })
        .cloned()
        .collect();
    for key in secret_keys {
        table.remove(&key);
    }
    for (_, value) in table.iter_mut() {
        scrub_value(value);
    }
}

fn scrub_value(value: &mut toml::Value) {
    match value {
        toml::Value::String(text) => *text = crate::redact::url(&crate::redact::text(text)),
        toml::Value::Array(items) => items.iter_mut().for_each(scrub_value),
        toml::Value::Table(table) => scrub_config(table),
        _ => {}
    }
}

/// What the bundle holds and how it was protected, for whoever opens it later.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    run_id: i64,
    version: String,
    written_at: chrono::DateTime<chrono::Utc>,
    masking: Vec<String>,
    files: Vec<ManifestFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    path: String,
    bytes: u64,
}

fn write_manifest(dir: &Path, run_id: i64) -> anyhow::Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("{}: cannot list", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", folder.display()))?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(relative) = entry.path().strip_prefix(dir) {
                files.push(ManifestFile {
                    path: relative.display().to_string(),
                    bytes: meta.len(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        format: 1,
        run_id,
        version: env!("CARGO_PKG_VERSION").into(),
        written_at: chrono::Utc::now(),
        masking: vec![
            "flexiti/*.json: every account_number masked to its last four digits (\"****6677\") \
             as the response arrived; no full account number is stored"
                .into(),
            "run.json: failed calls' messages and excerpts redacted (secrets, tokens, URL \
             passwords, account numbers)"
                .into(),
            "config.toml: the effective config without secrets (secret, password and token keys \
             removed, URL passwords masked)"
                .into(),
        ],
        files,
    };
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Deletes the bundles whose `run.json` (or folder) is older than `keep_days` days, except the
/// run `current`; returns the run ids pruned, in order. `keep_days = 0` keeps everything.
pub fn prune(config: &Config, keep_days: u32, current: i64) -> anyhow::Result<Vec<i64>> {
    let root = config.data_dir.join("runs");
    if keep_days == 0 || !root.is_dir() {
        return Ok(Vec::new());
    }
    let limit = std::time::Duration::from_secs(u64::from(keep_days) * 86_400);
    let now = std::time::SystemTime::now();
    let mut pruned = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("{}: cannot list", root.display()))?
    {
        let entry = entry.with_context(|| format!("{}: cannot list", root.display()))?;
        let Some(run_id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        if run_id == current || !entry.path().is_dir() {
            continue;
        }
        let written = std::fs::metadata(entry.path().join("run.json"))
            .or_else(|_| entry.metadata())
            .and_then(|m| m.modified());
        let old = written
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > limit);
        if old {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("{}: cannot delete", entry.path().display()))?;
            pruned.push(run_id);
        }
    }
    pruned.sort_unstable();
    if !pruned.is_empty() {
        tracing::info!(
            runs = ?pruned,
            "pruned {} audit bundles older than {keep_days} days",
            pruned.len()
        );
    }
    Ok(pruned)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_copy_loses_secret_keys_and_url_passwords() {
        let mut table: toml::Table = r#"
            merchant = "Acme"
            [database]
            url = "postgres://recon:p@ss@db/recon"
            [email]
            password = "hunter22"
            smtp_host = "smtp.example.com"
            [custom]
            api_token = "abc123456"
            note = "client_secret=s3cr3t-value"
        "#
        .parse()
        .expect("toml");
        scrub_config(&mut table);
        let text = toml::to_string(&table).expect("toml");
        assert!(text.contains("postgres://recon:***@db/recon"), "{text}");
        assert!(
            text.contains("smtp.example.com") && text.contains("Acme"),
            "{text}"
        );
        for secret in ["p@ss", "hunter22", "abc123456", "s3cr3t-value"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
