//! Files on disk: an export bundle (the `export` command: the CSV files and a `manifest.json`
//! with each file's rows, total and SHA-256), and the run's own CSV of its findings.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    ExportFormat, ExportRow, ExportStats, write_discrepancies, write_failed_calls,
    write_rejected_rows, write_summary,
};
use crate::domain::{Category, DayStoreTotals};
use crate::report::RunReport;
use crate::store::RunFacts;

/// One file of an export bundle, as listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub name: String,
    pub rows: u64,
    /// The column that `total` sums: `delta` or `net_difference`; left out of the manifest
    /// for files without a money column.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub total_column: &'static str,
    /// Exact decimal text with a `.`, whatever the file's own format.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub total: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub format: ExportFormat,
    pub files: Vec<ManifestFile>,
}

fn write_file(
    dir: &Path,
    name: String,
    total_column: &'static str,
    write: impl FnOnce(&mut Vec<u8>) -> Result<ExportStats>,
) -> Result<ManifestFile> {
    let path = dir.join(&name);
    let mut bytes = Vec::new();
    let stats = write(&mut bytes).with_context(|| format!("{}: writing csv", path.display()))?;
    std::fs::write(&path, &bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(ManifestFile {
        name,
        rows: stats.rows,
        total_column,
        total: if total_column.is_empty() {
            String::new()
        } else {
            stats.total.to_string()
        },
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

/// Writes `discrepancies.csv` (or `discrepancies-<category>.csv` per category present, when
/// split), `summary.csv` and `manifest.json` into `dir`, creating it if needed.
pub fn export_bundle(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    write_bundle(dir, rows, totals, None, fmt, split_by_category)
}

/// [`export_bundle`], plus `rejected_rows.csv` and `failed_calls.csv` from `facts`.
pub fn export_bundle_with_facts(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    facts: &RunFacts,
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    write_bundle(dir, rows, totals, Some(facts), fmt, split_by_category)
}

fn write_bundle(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    facts: Option<&RunFacts>,
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    fmt.validate()?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut files = Vec::new();
    if split_by_category {
        for category in Category::ALL {
            let subset: Vec<ExportRow<'_>> = rows
                .iter()
                .filter(|r| r.d.category == category)
                .cloned()
                .collect();
            if subset.is_empty() {
                continue;
            }
            let name = format!("discrepancies-{category}.csv");
            files.push(write_file(dir, name, "delta", |b| {
                write_discrepancies(b, &subset, fmt)
            })?);
        }
    } else {
        let name = "discrepancies.csv".to_string();
        files.push(write_file(dir, name, "delta", |b| {
            write_discrepancies(b, rows, fmt)
        })?);
    }
    let name = "summary.csv".to_string();
    files.push(write_file(dir, name, "net_difference", |b| {
        write_summary(b, totals, fmt)
    })?);
    if let Some(facts) = facts {
        let name = "rejected_rows.csv".to_string();
        files.push(write_file(dir, name, "", |b| {
            write_rejected_rows(b, &facts.rejects, fmt)
        })?);
        let name = "failed_calls.csv".to_string();
        files.push(write_file(dir, name, "", |b| {
            write_failed_calls(b, &facts.failed_calls, fmt)
        })?);
    }
    let manifest = Manifest {
        format: *fmt,
        files,
    };
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest)?;
    std::fs::write(&path, json).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(manifest)
}

/// The run's findings (all open, first seen by this run when new) as one CSV at `path`, in the
/// default format; the folder is created if needed.
pub fn write_run_file(path: &Path, report: &RunReport) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let file = std::fs::File::create(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    let rows = ExportRow::from_report(report);
    write_discrepancies(
        std::io::BufWriter::new(file),
        &rows,
        &ExportFormat::default(),
    )
    .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}
