//! What one run produced, as the store and the email see it: the findings, the control totals,
//! the failed calls, the rejected rows, and what changed since the previous run of those days.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{Amount, DayRange, Discrepancy, LedgerReject, Total};

/// Final state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Results stored, but some API calls or the email failed.
    Partial,
    Failed,
    /// Left `running` by a crash; marked by the next run.
    Abandoned,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

/// A Flexiti API call that still failed after its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCall {
    /// e.g. `GET /v2.5.1/client-id/{client_id}/captures`
    pub endpoint: String,
    /// Query parameters or path ids, e.g. `creation_date_from=2026-11-23&page_number=2`.
    pub parameters: String,
    pub http_status: Option<u16>,
    /// Flexiti's `error` code, when the body had one.
    pub error_code: Option<String>,
    /// Flexiti's message, or the transport error, or an excerpt of an unparseable body.
    pub message: String,
    pub attempts: u32,
    pub duration_ms: u64,
    pub x_reference_id: String,
    /// The UTC creation date a list page was fetching, if any.
    pub utc_date: Option<NaiveDate>,
}

/// Control totals of one business day and store, for both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DayStoreTotals {
    pub business_date: NaiveDate,
    pub store: String,
    pub flexiti: SideTotals,
    pub ledger: SideTotals,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SideTotals {
    pub count: u64,
    pub sales: Amount,
    pub returns: Amount,
}

impl SideTotals {
    /// Sales less returns, exact in 128 bits.
    pub fn net(&self) -> Total {
        Total::from(self.sales) - self.returns
    }
}

/// Lifecycle of a stored finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Open,
    Resolved,
    Acknowledged,
}

impl FindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Resolved => "resolved",
            FindingStatus::Acknowledged => "acknowledged",
        }
    }
}

/// A finding as stored, with its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredDiscrepancy {
    pub id: i64,
    pub fingerprint: String,
    pub discrepancy: Discrepancy,
    pub status: FindingStatus,
    pub first_seen_run: i64,
    pub last_seen_run: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_run: Option<i64>,
    pub note: Option<String>,
}

/// What a run changed against the stored state of the same days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSummary {
    /// Fingerprints first seen by this run.
    pub new: Vec<String>,
    /// Fingerprints seen before and still found, with the age in days since first seen.
    pub still_open: Vec<(String, i64)>,
    /// Findings open before, not found any more.
    pub resolved: Vec<StoredDiscrepancy>,
}

/// Everything a finished run hands to the store and to the email.
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
