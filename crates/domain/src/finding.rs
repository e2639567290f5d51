//! Findings: the discrepancy categories of the matching rules, and one discrepancy with its
//! explanation and stable identity.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Amount, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    AmountMismatch,
    DateMismatch,
    StoreMismatch,
    DuplicateInFlexiti,
    DuplicateInLedger,
    MissingInLedger,
    MissingInFlexiti,
    NotCaptured,
    Unverified,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::AmountMismatch,
        Category::DateMismatch,
        Category::StoreMismatch,
        Category::DuplicateInFlexiti,
        Category::DuplicateInLedger,
        Category::MissingInLedger,
        Category::MissingInFlexiti,
        Category::NotCaptured,
        Category::Unverified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::AmountMismatch => "amount_mismatch",
            Category::DateMismatch => "date_mismatch",
            Category::StoreMismatch => "store_mismatch",
            Category::DuplicateInFlexiti => "duplicate_in_flexiti",
            Category::DuplicateInLedger => "duplicate_in_ledger",
            Category::MissingInLedger => "missing_in_ledger",
            Category::MissingInFlexiti => "missing_in_flexiti",
            Category::NotCaptured => "not_captured",
            Category::Unverified => "unverified",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// `date_mismatch` and `store_mismatch` are warnings; every other category is an error.
    pub fn severity(self) -> Severity {
        match self {
            Category::DateMismatch | Category::StoreMismatch => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Which step of the matching rules produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pass {
    /// Rule 1: equal reference, kind and amount.
    Exact,
    /// Rule 2: equal reference and kind.
    Amount,
    /// Rule 3: left over after both passes.
    Leftover,
}

impl Pass {
    pub fn as_str(self) -> &'static str {
        match self {
            Pass::Exact => "exact",
            Pass::Amount => "amount",
            Pass::Leftover => "leftover",
        }
    }
}

/// One finding of a run, with both sides' ids and the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// The business day it belongs to: the ledger row's, else the Flexiti record's.
    pub business_date: NaiveDate,
    pub category: Category,
    pub severity: Severity,
    pub reference: String,
    pub kind: Kind,
    pub flexiti_amount: Option<Amount>,
    pub ledger_amount: Option<Amount>,
    /// `ledger - flexiti`, an absent side counted as zero.
    pub delta: Amount,
    /// Ledger business day minus Flexiti business day, when both sides exist.
    pub day_delta: Option<i64>,
    pub pass: Pass,
    /// `capture:ID` or `return:ID` of the Flexiti record.
    pub flexiti_id: Option<String>,
    pub authorization_id: Option<u64>,
    pub flexiti_store: Option<String>,
    pub flexiti_at: Option<DateTime<Utc>>,
    pub ledger_store: Option<String>,
    pub ledger_register: Option<String>,
    pub ledger_at: Option<DateTime<Utc>>,
    pub ledger_file: Option<String>,
    pub ledger_line: Option<u64>,
    /// A content identity of the ledger row (time, store, register, amount, occurrence), stable
    /// across reruns even when files are re-exported in another order.
    pub ledger_id: Option<String>,
    pub explanation: String,
    /// The likely counterpart of an unmatched record, as advice: never part of the category,
    /// the amounts or the fingerprint.
    pub suggestion: Option<Suggestion>,
}

/// The record on the other side that an unmatched finding probably is (a mistyped or
/// differently prefixed reference), with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The counterpart's reference.
    pub reference: String,
    /// `capture:ID` / `return:ID` for a Flexiti record, `FILE:LINE` for a ledger row.
    pub id: String,
    /// Why, in words.
    pub why: String,
}

impl Discrepancy {
    /// A stable fingerprint of day, category, reference, kind and the records' ids: the
    /// identity under which a finding is upserted, so a rerun never duplicates it.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [
            self.business_date.to_string().as_str(),
            self.category.as_str(),
            self.reference.as_str(),
            self.kind.as_str(),
            self.flexiti_id.as_deref().unwrap_or("-"),
            self.ledger_id.as_deref().unwrap_or("-"),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0x1f]);
        }
        hex::encode(&hasher.finalize()[..16])
    }
}
