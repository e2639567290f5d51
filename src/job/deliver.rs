//! The deliver stage, once the results are stored: the run's CSV, the summary email, the pruning
//! of old audit bundles, the lock released, the nightly metrics.

use std::path::PathBuf;

use super::Plan;
use super::email::{self, EmailResult};
use super::progress::Stages;
use super::record::Recorded;
use super::session::Session;
use crate::audit;
use crate::domain::RunStatus;
use crate::export;
use crate::metrics;
use crate::report::RunReport;

/// A delivered run: its report in its final state and where everything went.
pub struct Delivered {
    pub report: RunReport,
    pub audit_dir: Option<PathBuf>,
    pub ledger_warnings: Vec<String>,
    pub csv: Option<PathBuf>,
    /// Why the run's CSV could not be written.
    pub csv_error: Option<String>,
    pub email: EmailResult,
    /// Runs whose audit bundles this run deleted (older than `audit.keep_days`).
    pub pruned: Vec<i64>,
}

pub async fn deliver(plan: &Plan<'_>, session: &mut Session, recorded: Recorded) -> Delivered {
    let Recorded {
        mut report,
        audit_dir,
        ledger_warnings,
    } = recorded;
    let stages = Stages::new(false);
    // What failed after the commit: the findings stay stored, the run ends partial and says why.
    let mut problems = Vec::new();
    stages.begin("writing the CSV");
    let csv = match write_csv(plan, &report, audit_dir.as_ref()) {
        Ok(csv) => csv,
        Err(e) => {
            let message = format!("csv failed: {e:#}");
            tracing::error!("{message}");
            problems.push(message);
            settle_partial(session, &mut report, &problems).await;
            None
        }
    };
    stages.done("csv");
    let csv_error = problems.first().cloned();
    let email = email::send_summary(plan, session, &report, &problems, &stages).await;
    if let Some(message) = &email.error {
        problems.push(message.clone());
        settle_partial(session, &mut report, &problems).await;
    }
    // Under the lock, so two runs never prune the same folder.
    let pruned = match &audit_dir {
        Some(_) => {
            let keep_days = plan.config.file.audit.keep_days;
            audit::prune(plan.config, keep_days, report.run_id).unwrap_or_else(|e| {
                tracing::warn!("pruning old audit bundles: {e:#}");
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    session.release().await;
    // The nightly metrics speak of nightly runs: a dry run and a replay leave them alone (a
    // replay has no database to read the last success from, so it would drop that gauge).
    if !plan.dry_run
        && let Some(path) = &plan.config.file.metrics.textfile
    {
        let last_success = match &session.db {
            Some(db) => db.last_successful_run_finished_at().await.ok().flatten(),
            None => None,
        };
        if let Err(e) = metrics::write(path, &report, &plan.config.file.merchant, last_success) {
            tracing::warn!("metrics textfile {}: {e:#}", path.display());
        }
    }
    Delivered {
        report,
        audit_dir,
        ledger_warnings,
        csv,
        csv_error,
        email,
        pruned,
    }
}

/// A failure after the results were stored: the stored run, and the report, end partial, the
/// stored run with every `problems` so far.
async fn settle_partial(session: &Session, report: &mut RunReport, problems: &[String]) {
    if let Some(db) = &session.db
        && let Err(e) = db.mark_partial(report.run_id, &problems.join("; ")).await
    {
        tracing::error!(
            "could not mark run {} partial: {e:#}; the stored run wrongly says {}",
            report.run_id,
            report.status.as_str()
        );
    }
    report.status = RunStatus::Partial;
}

/// The run's findings as CSV: to `--csv`, else into the audit bundle; none on a dry run
/// without `--csv`.
fn write_csv(
    plan: &Plan<'_>,
    report: &RunReport,
    audit_dir: Option<&PathBuf>,
) -> anyhow::Result<Option<PathBuf>> {
    let target = match (&plan.request.csv, audit_dir) {
        (Some(path), _) => path.clone(),
        (None, Some(dir)) => dir.join("discrepancies.csv"),
        (None, None) => return Ok(None),
    };
    export::write_run_file(&target, report)?;
    Ok(Some(target))
}
