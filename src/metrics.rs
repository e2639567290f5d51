//! The metrics stage: Prometheus textfile metrics for node_exporter's textfile collector,
//! written atomically (a temporary file renamed into place) so the collector never reads half a
//! file. Entry point: [`write`], after a nightly run (never after a dry run or a replay).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{Category, Total};
use crate::report::RunReport;

/// Appends one gauge with its help text and samples (`labels`, value).
fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP flexiti_recon_{name} {help}");
    let _ = writeln!(out, "# TYPE flexiti_recon_{name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "flexiti_recon_{name}{labels} {value}");
    }
}

/// The metrics of a finished run, in the text exposition format.
pub fn render(report: &RunReport, last_success: Option<DateTime<Utc>>) -> String {
    let one = |v: String| vec![(String::new(), v)];
    let mut out = String::new();
    gauge(
        &mut out,
        "last_run_timestamp_seconds",
        "End of the last run.",
        &one(report.finished_at.timestamp().to_string()),
    );
    if let Some(t) = last_success {
        gauge(
            &mut out,
            "last_success_timestamp_seconds",
            "End of the last succeeded run.",
            &one(t.timestamp().to_string()),
        );
    }
    let per_category = |value: &dyn Fn(Category) -> String| -> Vec<(String, String)> {
        Category::ALL
            .iter()
            .map(|c| (format!("{{category=\"{c}\"}}"), value(*c)))
            .collect()
    };
    let of = |c: Category| report.discrepancies.iter().filter(move |d| d.category == c);
    gauge(
        &mut out,
        "discrepancies",
        "Findings of the last run by category.",
        &per_category(&|c| of(c).count().to_string()),
    );
    gauge(
        &mut out,
        "discrepancy_amount_cad",
        "Sum of |delta| of the last run's findings by category.",
        &per_category(&|c| of(c).map(|d| d.delta.abs()).sum::<Total>().to_string()),
    );
    gauge(
        &mut out,
        "failed_calls",
        "Flexiti calls that failed in the last run.",
        &one(report.failed_calls.len().to_string()),
    );
    gauge(
        &mut out,
        "rejected_rows",
        "Ledger rows rejected in the last run.",
        &one(report.rejects.len().to_string()),
    );
    gauge(
        &mut out,
        "incomplete_days",
        "Days of the last run not fully fetched.",
        &one(report.incomplete_days.len().to_string()),
    );
    out
}

pub fn write(
    path: &Path,
    report: &RunReport,
    last_success: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, render(report, last_success))
        .with_context(|| format!("{}: cannot write", tmp.display()))?;
    // Read by node_exporter, another user; it holds counts and totals only.
    world_readable(&tmp).with_context(|| format!("{}: cannot make it readable", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

/// Makes a file readable by everyone whatever the umask (the metrics textfile).
#[cfg(unix)]
fn world_readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn world_readable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
