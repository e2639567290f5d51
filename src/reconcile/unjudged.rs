//! References not judged: those of an invalid Flexiti record (see
//! `docs/RULES-invalid-records.md`).
//!
//! A reference that an invalid record carries is left out of both passes on both sides: its
//! ledger rows become `unverified` (naming the invalid record), whatever the rules would have
//! said, and its valid Flexiti records give no finding, since Flexiti's account of that order is
//! broken and any verdict on it could be wrong. Control totals still count every record and row.

use rustc_hash::FxHashMap;

use super::Keyed;
use super::classify::{self, Sides};
use crate::domain::{Category, Discrepancy, FlexitiRecord, FlexitiSide, InvalidRecord, LedgerRow};

/// The invalid records of each reference, in the side's order.
pub(crate) type Unjudged<'a> = FxHashMap<&'a str, Vec<&'a InvalidRecord>>;

pub(crate) fn references(flexiti: &FlexitiSide) -> Unjudged<'_> {
    let mut out: Unjudged<'_> = FxHashMap::default();
    for invalid in &flexiti.invalid {
        if !invalid.reference.is_empty() {
            out.entry(invalid.reference.as_str())
                .or_default()
                .push(invalid);
        }
    }
    out
}

/// Both sides without the unjudged references, and the ledger rows left out.
pub(crate) struct Split<'a> {
    pub(crate) f: Vec<Keyed<'a, FlexitiRecord>>,
    pub(crate) l: Vec<Keyed<'a, LedgerRow>>,
    pub(crate) unjudged: Vec<Keyed<'a, LedgerRow>>,
}

pub(crate) fn split<'a>(
    f: &[Keyed<'a, FlexitiRecord>],
    l: &[Keyed<'a, LedgerRow>],
    unjudged: &Unjudged<'_>,
) -> Split<'a> {
    let mut out = Split {
        f: f.iter()
            .filter(|k| !unjudged.contains_key(k.item.reference.as_str()))
            .map(copy)
            .collect(),
        l: Vec::with_capacity(l.len()),
        unjudged: Vec::new(),
    };
    for k in l {
        if unjudged.contains_key(k.item.reference.as_str()) {
            out.unjudged.push(copy(k));
        } else {
            out.l.push(copy(k));
        }
    }
    out
}

fn copy<'a, T>(k: &Keyed<'a, T>) -> Keyed<'a, T> {
    Keyed {
        item: k.item,
        day: k.day,
    }
}

/// One `unverified` finding per ledger row left out, naming the reference's invalid record.
pub(crate) fn findings(sides: &Sides<'_, '_>, unjudged: &Unjudged<'_>) -> Vec<Discrepancy> {
    let mut out: Vec<Discrepancy> = sides
        .l
        .iter()
        .map(|l| {
            let found = unjudged
                .get(l.item.reference.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            classify::ledger_only(sides, l, Category::Unverified, &why(found))
        })
        .collect();
    classify::assign_ledger_ids(sides, &mut out);
    out
}

fn why(found: &[&InvalidRecord]) -> String {
    let Some(first) = found.first() else {
        return "this reference is not judged".into();
    };
    let mut text = format!(
        "not judged: Flexiti {} is an invalid record, read from {}",
        first.describe(),
        first.source
    );
    if !first.parameters.is_empty() {
        text.push_str(&format!(" ({})", first.parameters));
    }
    if found.len() > 1 {
        text.push_str(&format!(
            ", and {} more invalid record(s) of this reference",
            found.len() - 1
        ));
    }
    text
}
