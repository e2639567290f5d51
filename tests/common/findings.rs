//! Findings and totals built by hand for the tests of what is done with them (storing,
//! rendering).

use chrono::{DateTime, TimeZone, Utc};
use flexiti_recon::domain::{Amount, Category, DayRange, Discrepancy, Kind, Pass};
use flexiti_recon::report::{ChangeSummary, RunReport, RunStatus, SideTotals};

use super::sample_day;

/// A sale's finding of `category` on 2026-11-23 with the sides given (amounts in cents), each
/// present side filled as the engine fills it: Flexiti `capture:1` of authorization
/// 4821907733105521 at store 00-12345, ledger line 1 of `ledger-2026-11-23.csv` at register
/// R03, both at 18:42:09 UTC. Paired sides are an amount-pass pair, a lone side a leftover.
pub fn finding(
    category: Category,
    reference: &str,
    flexiti: Option<i64>,
    ledger: Option<i64>,
) -> Discrepancy {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 18, 42, 9).single();
    let paired = flexiti.is_some() && ledger.is_some();
    Discrepancy {
        business_date: sample_day(),
        category,
        severity: category.severity(),
        reference: reference.to_string(),
        kind: Kind::Sale,
        flexiti_amount: flexiti.map(Amount::from_cents),
        ledger_amount: ledger.map(Amount::from_cents),
        delta: Amount::from_cents(ledger.unwrap_or(0) - flexiti.unwrap_or(0)),
        day_delta: flexiti.and(ledger).map(|_| 0),
        pass: if paired { Pass::Amount } else { Pass::Leftover },
        flexiti_id: flexiti.map(|_| "capture:1".to_string()),
        authorization_id: flexiti.map(|_| 4_821_907_733_105_521),
        flexiti_store: flexiti.map(|_| "00-12345".to_string()),
        flexiti_at: flexiti.and(at),
        ledger_store: ledger.map(|_| "00-12345".to_string()),
        ledger_register: ledger.map(|_| "R03".to_string()),
        ledger_at: ledger.and(at),
        ledger_file: ledger.map(|_| "ledger-2026-11-23.csv".to_string()),
        ledger_line: ledger.map(|_| 1),
        ledger_id: None,
        explanation: format!(
            "{category} found by the {} pass",
            if paired { "amount" } else { "leftover" }
        ),
        suggestion: None,
    }
}

/// One side's totals: `count` records, sales and returns in cents.
pub fn side(count: u64, sales: i64, returns: i64) -> SideTotals {
    SideTotals {
        count,
        sales: Amount::from_cents(sales),
        returns: Amount::from_cents(returns),
    }
}

/// A succeeded run's report of `found` over `range`, finished at `finished` (begun 2 s before),
/// with nothing else in it: what the store tests hand to `finish_run`.
pub fn run_report(
    run_id: i64,
    range: DayRange,
    finished: DateTime<Utc>,
    found: Vec<Discrepancy>,
) -> RunReport {
    RunReport {
        run_id,
        range,
        trigger: "test".to_string(),
        started_at: finished - chrono::Duration::seconds(2),
        finished_at: finished,
        x_reference_id: "xref".to_string(),
        status: RunStatus::Succeeded,
        discrepancies: found,
        totals: Vec::new(),
        failed_calls: Vec::new(),
        rejects: Vec::new(),
        ignored_other_tender: 0,
        incomplete_days: Vec::new(),
        flexiti_records: 0,
        ledger_rows: 0,
        matched_pairs: 0,
        changes: ChangeSummary::default(),
    }
}
