//! The engine over a data set folder as the generator writes it, and the findings in the form
//! of the generator's `expected.csv`.

use std::path::Path;

use flexiti_recon::domain::{Amount, DayRange, Discrepancy};
use flexiti_recon::ledger::{LedgerSettings, read_files, resolve_files};
use flexiti_recon::reconcile::{ReconcileParams, reconcile};

use super::calendar;

/// The findings of `range` over `<dir>/flexiti/` and `<dir>/ledger/*.csv`: a window of one
/// day, no tolerance, a Toronto merchant.
pub fn reconcile_dir(dir: &Path, range: DayRange) -> Vec<Discrepancy> {
    let flexiti = flexiti_recon::flexiti::load_dir(&dir.join("flexiti")).expect("flexiti");
    let files = resolve_files(&["ledger/*.csv".to_string()], dir).expect("ledger files");
    let ledger = read_files(&files, &LedgerSettings::default(), calendar()).expect("ledger");
    let params = ReconcileParams {
        range,
        window_days: 1,
        tolerance: Amount::ZERO,
        calendar: calendar(),
        store: None,
    };
    reconcile(&flexiti.side, &ledger, &params)
        .expect("reconcile")
        .discrepancies
}

/// A finding as a row of `expected.csv`: day, category, reference, kind, both amounts.
pub fn expected_row(d: &Discrepancy) -> String {
    let amount = |a: Option<Amount>| a.map(|a| a.to_string()).unwrap_or_default();
    format!(
        "{},{},{},{},{},{}",
        d.business_date,
        d.category,
        d.reference,
        d.kind,
        amount(d.flexiti_amount),
        amount(d.ledger_amount)
    )
}

/// The rows of `<dir>/expected.csv`, sorted.
pub fn expected_rows(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("expected.csv")).expect("expected.csv");
    let mut rows: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}
