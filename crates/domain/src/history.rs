//! A finding's life across runs: open until a run of its day no longer finds it (resolved), or
//! until someone acknowledges it; and what one run changed against that history.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Discrepancy;

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
    /// How many findings open before this run it no longer found, and so resolved.
    pub resolved_count: usize,
    /// The first [`RESOLVED_LISTED`](ChangeSummary::RESOLVED_LISTED) of those, largest delta
    /// first (then by id), as they now are: what the email lists before "and N more". Not all
    /// of them: a run that resolves 50k findings would otherwise read every one back inside its
    /// transaction.
    pub resolved: Vec<StoredDiscrepancy>,
}

impl ChangeSummary {
    /// At most this many resolved findings are read back (the email lists 20 by default).
    pub const RESOLVED_LISTED: usize = 100;
}
