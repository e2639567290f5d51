//! Does a replay reproduce its run? The findings a run wrote into its audit bundle
//! (`findings.json`) compared by fingerprint with the findings of the replay: new in the replay,
//! gone from it, or changed (same fingerprint, another amount, category or explanation).

use std::collections::BTreeMap;

use crate::audit::RecordedFinding;
use crate::domain::Discrepancy;

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
