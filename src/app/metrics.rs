//! Prometheus textfile metrics for node_exporter's textfile collector, written atomically
//! (a temporary file renamed into place) so the collector never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::Category;
use crate::report::RunReport;

pub fn write(
    path: &Path,
    report: &RunReport,
    last_success: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_last_run_timestamp_seconds End of the last run."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_last_run_timestamp_seconds gauge");
    let _ = writeln!(
        out,
        "flexiti_recon_last_run_timestamp_seconds {}",
        report.finished_at.timestamp()
    );
    if let Some(t) = last_success {
        let _ = writeln!(
            out,
            "# HELP flexiti_recon_last_success_timestamp_seconds End of the last succeeded run."
        );
        let _ = writeln!(
            out,
            "# TYPE flexiti_recon_last_success_timestamp_seconds gauge"
        );
        let _ = writeln!(
            out,
            "flexiti_recon_last_success_timestamp_seconds {}",
            t.timestamp()
        );
    }
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_discrepancies Findings of the last run by category."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_discrepancies gauge");
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_discrepancy_amount_cad Sum of |delta| of the last run's findings by category."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_discrepancy_amount_cad gauge");
    for category in Category::ALL {
        let found: Vec<_> = report
            .discrepancies
            .iter()
            .filter(|d| d.category == category)
            .collect();
        let money: crate::domain::Amount = found.iter().map(|d| d.delta.abs()).sum();
        let _ = writeln!(
            out,
            "flexiti_recon_discrepancies{{category=\"{category}\"}} {}",
            found.len()
        );
        let _ = writeln!(
            out,
            "flexiti_recon_discrepancy_amount_cad{{category=\"{category}\"}} {money}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_failed_calls Flexiti calls that failed in the last run."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_failed_calls gauge");
    let _ = writeln!(
        out,
        "flexiti_recon_failed_calls {}",
        report.failed_calls.len()
    );
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_rejected_rows Ledger rows rejected in the last run."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_rejected_rows gauge");
    let _ = writeln!(out, "flexiti_recon_rejected_rows {}", report.rejects.len());
    let _ = writeln!(
        out,
        "# HELP flexiti_recon_incomplete_days Days of the last run not fully fetched."
    );
    let _ = writeln!(out, "# TYPE flexiti_recon_incomplete_days gauge");
    let _ = writeln!(
        out,
        "flexiti_recon_incomplete_days {}",
        report.incomplete_days.len()
    );
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, out).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}
