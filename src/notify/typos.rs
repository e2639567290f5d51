//! The "likely typos" section: unmatched records that are probably one sale whose reference
//! was typed differently on each side. Each pair is listed once (from the ledger row's side
//! when both halves are in the report); the findings themselves are unchanged by it.

use std::collections::BTreeMap;

use super::layout::{Block, Section, Table, human_money};
use super::options::RenderOptions;
use super::sections::plural;
use crate::report::RunReport;

/// `None` when no finding has a suggestion.
pub(super) fn likely_typos(report: &RunReport, opts: &RenderOptions) -> Option<Section> {
    // (ledger row, Flexiti record) → (day, ledger reference, Flexiti reference, amount, why)
    let mut pairs: BTreeMap<(String, String), (bool, Vec<String>)> = BTreeMap::new();
    for d in &report.discrepancies {
        let Some(s) = &d.suggestion else {
            continue;
        };
        let ledger_side = d.flexiti_id.is_none();
        let (key, ledger_ref, flexiti_ref) = if ledger_side {
            let here = format!(
                "{}:{}",
                d.ledger_file.as_deref().unwrap_or("-"),
                d.ledger_line.unwrap_or(0)
            );
            ((here, s.id.clone()), &d.reference, &s.reference)
        } else {
            let here = d.flexiti_id.clone().unwrap_or_default();
            ((s.id.clone(), here), &s.reference, &d.reference)
        };
        if pairs.get(&key).is_some_and(|(from_ledger, _)| *from_ledger) {
            continue;
        }
        let amount = d.ledger_amount.or(d.flexiti_amount).map(human_money);
        let row = vec![
            d.business_date.to_string(),
            ledger_ref.clone(),
            flexiti_ref.clone(),
            amount.unwrap_or_default(),
            s.why.clone(),
        ];
        pairs.insert(key, (ledger_side, row));
    }
    if pairs.is_empty() {
        return None;
    }
    let mut rows: Vec<Vec<String>> = pairs.into_values().map(|(_, row)| row).collect();
    rows.sort();
    let total = rows.len();
    rows.truncate(opts.list_cap);
    let mut section = Section::new(format!("Likely typos ({total})"))
        .push(Block::Para(format!(
            "{} probably one sale whose reference differs between the ledger and Flexiti. \
             This is advice: the findings above keep their categories and amounts.",
            plural(total, "unmatched pair is", "unmatched pairs are")
        )))
        .push(Block::Table(Table {
            headers: vec![
                "Day",
                "Ledger reference",
                "Flexiti reference",
                "Amount",
                "Why",
            ],
            numeric: vec![false, false, false, true, false],
            rows,
        }));
    if total > opts.list_cap {
        section = section.push(Block::Para(format!(
            "and {} more in the attached CSV (columns suggested_reference, suggested_id, suggestion)",
            total - opts.list_cap
        )));
    }
    Some(section)
}
