//! What a finished run hands back: its report in its final state, the exit code, where
//! everything went, and the summary printed on stdout.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::replay_check::ReplayCheck;
use crate::domain::Category;
use crate::exit::Exit;
use crate::report::RunReport;

/// What a finished run leaves behind.
#[derive(Debug)]
pub struct JobOutcome {
    pub report: RunReport,
    pub exit: Exit,
    pub database: Option<String>,
    pub email: Option<String>,
    pub email_error: Option<String>,
    pub csv: Option<PathBuf>,
    /// Why the run's CSV could not be written (the results are stored; the run is partial).
    pub csv_error: Option<String>,
    pub audit_dir: Option<PathBuf>,
    /// Runs whose audit bundles this run deleted (older than `audit.keep_days`).
    pub pruned: Vec<i64>,
    /// Ledger files named twice (or identical copies), each read once.
    pub ledger_warnings: Vec<String>,
    /// For `--replay N`: whether the replay reproduces run N's findings (`None` when run N's
    /// bundle predates recorded findings).
    pub replay_check: Option<ReplayCheck>,
    /// For `--replay N`: run N's id, when its bundle holds no findings to compare with.
    pub replay_uncompared: Option<i64>,
}

impl JobOutcome {
    /// A short human summary: counts and money per category, and where everything went.
    pub fn summary(&self) -> String {
        let r = &self.report;
        let mut out = format!(
            "run {} for {}: {} ({} Flexiti records, {} ledger rows, {} pairs)\n",
            r.run_id,
            r.range,
            r.status.as_str(),
            r.flexiti_records,
            r.ledger_rows,
            r.matched_pairs
        );
        for warning in &self.ledger_warnings {
            out.push_str(&format!("  warning: {warning}\n"));
        }
        if r.discrepancies.is_empty() {
            out.push_str("  no discrepancies\n");
        }
        for category in Category::ALL {
            let found: Vec<_> = r
                .discrepancies
                .iter()
                .filter(|d| d.category == category)
                .collect();
            if !found.is_empty() {
                let money: crate::domain::Total = found.iter().map(|d| d.delta.abs()).sum();
                out.push_str(&format!(
                    "  {:<22} {:>5}  {:>14} CAD\n",
                    category.as_str(),
                    found.len(),
                    money.to_string()
                ));
            }
        }
        if !r.failed_calls.is_empty() {
            out.push_str(&format!("  failed API calls: {}\n", r.failed_calls.len()));
        }
        let invalid = r
            .failed_calls
            .iter()
            .filter(|c| c.error_code.as_deref() == Some(crate::domain::INVALID_RECORD_CODE))
            .count();
        if invalid > 0 {
            out.push_str(&format!(
                "  invalid Flexiti records: {invalid} (among the failed calls; their references not judged)\n"
            ));
        }
        if !r.incomplete_days.is_empty() {
            let days: Vec<String> = r.incomplete_days.iter().map(NaiveDate::to_string).collect();
            out.push_str(&format!("  not fully fetched: {}\n", days.join(", ")));
        }
        if !r.rejects.is_empty() {
            out.push_str(&format!("  rejected ledger rows: {}\n", r.rejects.len()));
        }
        let changes = &r.changes;
        if !changes.new.is_empty() || !changes.still_open.is_empty() || changes.resolved_count > 0 {
            out.push_str(&format!(
                "  since the last run: {} new, {} still open, {} resolved\n",
                changes.new.len(),
                changes.still_open.len(),
                changes.resolved_count
            ));
        }
        if let Some(db) = &self.database {
            out.push_str(&format!("  database: {db}\n"));
        }
        match (&self.email, &self.email_error) {
            (Some(e), _) => out.push_str(&format!("  email: {e}\n")),
            (None, Some(err)) => {
                out.push_str(&format!("  email FAILED: {}\n", crate::redact::text(err)))
            }
            _ => {}
        }
        if let Some(csv) = &self.csv {
            out.push_str(&format!("  csv: {}\n", csv.display()));
        }
        if let Some(err) = &self.csv_error {
            let err = err.strip_prefix("csv failed: ").unwrap_or(err);
            out.push_str(&format!("  csv FAILED: {}\n", crate::redact::text(err)));
        }
        if let Some(dir) = &self.audit_dir {
            out.push_str(&format!("  audit bundle: {}\n", dir.display()));
        }
        if let Some(check) = &self.replay_check {
            out.push_str(&check.summary());
        }
        if let Some(n) = self.replay_uncompared {
            out.push_str(&format!(
                "  replay of run {n}: not compared (its bundle holds no findings.json; it was \
                 written by an older version)\n"
            ));
        }
        if !self.pruned.is_empty() {
            let ids: Vec<String> = self.pruned.iter().map(i64::to_string).collect();
            out.push_str(&format!(
                "  pruned audit bundles (older than audit.keep_days): runs {}\n",
                ids.join(", ")
            ));
        }
        out.trim_end().to_string()
    }
}
