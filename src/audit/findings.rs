//! The findings a run records in its bundle (`findings.json`), for `--replay` to compare with.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::Discrepancy;

/// What a run recorded of one finding: its identity and every field a replay must reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFinding {
    pub fingerprint: String,
    pub business_date: NaiveDate,
    pub category: String,
    pub reference: String,
    pub flexiti_amount: Option<String>,
    pub ledger_amount: Option<String>,
    pub delta: String,
    pub explanation: String,
}

impl RecordedFinding {
    pub fn of(d: &Discrepancy) -> RecordedFinding {
        RecordedFinding {
            fingerprint: d.fingerprint(),
            business_date: d.business_date,
            category: d.category.as_str().to_string(),
            reference: d.reference.clone(),
            flexiti_amount: d.flexiti_amount.map(|a| a.to_string()),
            ledger_amount: d.ledger_amount.map(|a| a.to_string()),
            delta: d.delta.to_string(),
            explanation: d.explanation.clone(),
        }
    }

    /// One line for the replay's summary.
    pub(crate) fn line(&self) -> String {
        format!(
            "{} {} {}: flexiti {}, ledger {}, delta {} ({})",
            self.business_date,
            self.category,
            self.reference,
            self.flexiti_amount.as_deref().unwrap_or("-"),
            self.ledger_amount.as_deref().unwrap_or("-"),
            self.delta,
            self.explanation
        )
    }
}
