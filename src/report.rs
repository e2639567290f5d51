//! What one run produced, as the database, the email, the CSV and the metrics see it: the
//! findings, the control totals, the failed calls, the rejected rows, and what changed since the
//! previous run of those days. The types it is made of are the domain's (`crates/domain/`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use crate::domain::{
    ChangeSummary, DayStoreTotals, FailedCall, FindingStatus, RunStatus, SideTotals,
    StoredDiscrepancy,
};
use crate::domain::{DayRange, Discrepancy, LedgerReject, Total};

/// Everything a finished run hands to the database and to the email.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub range: DayRange,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub x_reference_id: String,
    pub status: RunStatus,
    pub discrepancies: Vec<Discrepancy>,
    pub totals: Vec<DayStoreTotals>,
    pub failed_calls: Vec<FailedCall>,
    pub rejects: Vec<LedgerReject>,
    pub ignored_other_tender: u64,
    /// Business days in the range whose Flexiti side was not fully fetched.
    pub incomplete_days: Vec<NaiveDate>,
    pub flexiti_records: u64,
    pub ledger_rows: u64,
    pub matched_pairs: u64,
    pub changes: ChangeSummary,
}

impl RunReport {
    /// Sum of the absolute deltas of the error findings. Warnings (date and store mismatches)
    /// are left out: they share their pair's delta with any amount mismatch of the same pair.
    pub fn money_at_stake(&self) -> Total {
        self.discrepancies
            .iter()
            .filter(|d| d.severity == crate::domain::Severity::Error)
            .map(|d| d.delta.abs())
            .sum()
    }
}
