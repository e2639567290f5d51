//! Does a replay reproduce its run? The findings a run wrote into its audit bundle
//! (`findings.json`) compared by fingerprint with the findings of the replay: new in the replay,
//! gone from it, or changed (same fingerprint, another amount, category or explanation).

use std::collections::BTreeMap;

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

    fn line(&self) -> String {
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

/// The differences between run N's findings and its replay's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCheck {
    pub run_id: i64,
    pub recorded: usize,
    pub new: Vec<RecordedFinding>,
    pub gone: Vec<RecordedFinding>,
    /// (as run N recorded it, as the replay found it)
    pub changed: Vec<(RecordedFinding, RecordedFinding)>,
}

impl ReplayCheck {
    pub fn compare(run_id: i64, recorded: &[RecordedFinding], replayed: &[Discrepancy]) -> Self {
        let before: BTreeMap<&str, &RecordedFinding> = recorded
            .iter()
            .map(|f| (f.fingerprint.as_str(), f))
            .collect();
        let after_list: Vec<RecordedFinding> = replayed.iter().map(RecordedFinding::of).collect();
        let after: BTreeMap<&str, &RecordedFinding> = after_list
            .iter()
            .map(|f| (f.fingerprint.as_str(), f))
            .collect();
        let mut check = ReplayCheck {
            run_id,
            recorded: recorded.len(),
            new: Vec::new(),
            gone: Vec::new(),
            changed: Vec::new(),
        };
        for (fp, now) in &after {
            match before.get(fp) {
                None => check.new.push((*now).clone()),
                Some(then) if then != now => check.changed.push(((*then).clone(), (*now).clone())),
                Some(_) => {}
            }
        }
        for (fp, then) in &before {
            if !after.contains_key(fp) {
                check.gone.push((*then).clone());
            }
        }
        check
    }

    pub fn reproduces(&self) -> bool {
        self.new.is_empty() && self.gone.is_empty() && self.changed.is_empty()
    }

    /// The summary's lines: one verdict, then each difference.
    pub fn summary(&self) -> String {
        let n = self.run_id;
        if self.reproduces() {
            return format!(
                "  replay of run {n}: reproduces its {} findings exactly\n",
                self.recorded
            );
        }
        let mut out = format!(
            "  replay of run {n} differs: {} new, {} gone, {} changed\n",
            self.new.len(),
            self.gone.len(),
            self.changed.len()
        );
        for f in &self.new {
            out.push_str(&format!("    new:     {}\n", f.line()));
        }
        for f in &self.gone {
            out.push_str(&format!("    gone:    {}\n", f.line()));
        }
        for (then, now) in &self.changed {
            out.push_str(&format!("    changed: {}\n", then.line()));
            out.push_str(&format!("         now {}\n", now.line()));
        }
        out
    }
}
