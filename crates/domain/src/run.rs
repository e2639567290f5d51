//! What a run is made of beyond its findings: its final state, the Flexiti calls that failed,
//! and the control totals of each business day and store.

use chrono::NaiveDate;
use serde::Serialize;

use super::{Amount, Total};

/// Final state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Results stored, but some API calls, the email or the run's CSV failed.
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

/// Control totals of one business day and store (a shop), for both sides.
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
