//! The reconciliation engine: pure, no IO, no SQL, no HTTP.
//!
//! It takes both sides as validated domain values and applies the matching rules of the design
//! in order: the exact pass, the amount pass, the leftovers, the date and store checks on every
//! pair, the day each finding belongs to, and the rule that an incompletely fetched day never
//! calls a ledger row missing at Flexiti. Both sides are keyed on integer columns, each row
//! ranked within its key in the rules' order, and Polars joins them on (key, rank); Rust builds
//! the few findings with their explanations.
//! Last, [`suggest`] names the likely counterpart of an unmatched record: advice that changes
//! no finding.

mod classify;
mod matching;
mod suggest;
mod totals;
mod unjudged;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::domain::{
    Amount, BusinessCalendar, DayRange, DayStoreTotals, Discrepancy, FlexitiSide, LedgerSide,
    RememberingCalendar,
};

/// How to reconcile: the days to judge, the matching window around them and the tolerance.
#[derive(Debug, Clone)]
pub struct ReconcileParams {
    pub range: DayRange,
    /// `match_window_days`: both sides are loaded for `[from - w, to + w]`.
    pub window_days: u32,
    /// An amount-pass pair whose `|delta|` is at most this is not an `amount_mismatch`.
    pub tolerance: Amount,
    pub calendar: BusinessCalendar,
    /// Keep only findings and totals of this store (after the store map).
    pub store: Option<String>,
}

/// What the engine found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Findings whose business day lies in the range, in a stable order.
    pub discrepancies: Vec<Discrepancy>,
    /// Control totals per business day and store of the range, both sides.
    pub totals: Vec<DayStoreTotals>,
    /// Pairs made by the exact and the amount pass over the whole window.
    pub matched_pairs: u64,
    /// Records of each side inside the range (what the totals count).
    pub flexiti_records: u64,
    pub ledger_rows: u64,
    /// Days of the range whose Flexiti side was not fully fetched.
    pub incomplete_days: Vec<NaiveDate>,
}

/// One side's record as the engine keys it: index into the side's vector, its business day.
pub(crate) struct Keyed<'a, T> {
    pub(crate) item: &'a T,
    pub(crate) day: NaiveDate,
}

/// The items whose business day lies in `window`, keyed with that day.
///
/// Room for every item is taken at once: collected from a filter, the view grew by doubling,
/// each step a copy into memory touched for the first time (twice the view's size in page
/// faults). Room the items outside the window leave unused is never touched, so it costs
/// address space only.
fn in_window<T>(
    items: &[T],
    at: impl Fn(&T) -> chrono::DateTime<chrono::Utc>,
    cal: BusinessCalendar,
    window: DayRange,
) -> Vec<Keyed<'_, T>> {
    let mut keyed = Vec::with_capacity(items.len());
    let mut cal = RememberingCalendar::new(cal);
    keyed.extend(
        items
            .iter()
            .map(|item| Keyed {
                item,
                day: cal.day_of(at(item)),
            })
            .filter(|k| window.contains(k.day)),
    );
    keyed
}

/// Runs every matching rule over both sides and returns the findings of `params.range`.
pub fn reconcile(
    flexiti: &FlexitiSide,
    ledger: &LedgerSide,
    params: &ReconcileParams,
) -> anyhow::Result<Outcome> {
    let mut clock = crate::telemetry::Steps::start();
    let window = params.range.widen(params.window_days);
    let cal = params.calendar;
    // Each side's business days on its own core: a time zone lookup per record.
    let (f, l) = std::thread::scope(|scope| {
        let f = scope.spawn(|| in_window(&flexiti.records, |r| r.at, cal, window));
        let l = in_window(&ledger.rows, |r| r.at, cal, window);
        (f.join(), l)
    });
    let f =
        f.map_err(|_| anyhow::anyhow!("the business days of the Flexiti side: a worker stopped"))?;
    clock.step("days");

    // References of invalid Flexiti records are not judged; the split is made only when
    // there are some.
    let unjudged = unjudged::references(flexiti);
    let split = (!unjudged.is_empty()).then(|| unjudged::split(&f, &l, &unjudged));
    let (fj, lj) = match &split {
        Some(s) => (s.f.as_slice(), s.l.as_slice()),
        None => (f.as_slice(), l.as_slice()),
    };

    clock.step("unjudged");
    let mut matched = matching::run(fj, lj)?;
    // Pairs come part by part, each part's rows scattered over the window: in the order of
    // the Flexiti side (time), checking them reads both sides nearly in order instead of
    // missing the cache twice a pair. Their findings are ordered at the end like all others.
    crate::sorting::sort_unstable(&mut matched.exact);
    crate::sorting::sort_unstable(&mut matched.amount);
    clock.step("matching");
    let incomplete: BTreeSet<NaiveDate> = flexiti.incomplete_days.clone();
    // The control totals need nothing of the findings: counted on the second core while the
    // findings are built (most of that work is on one core).
    let (totals, discrepancies) = std::thread::scope(|scope| {
        let totals = scope
            .spawn(|| totals::per_day_and_store(&f, &l, params.range, params.store.as_deref()));
        let discrepancies = (|| -> anyhow::Result<Vec<Discrepancy>> {
            let uncaptured = classify::uncaptured_references(flexiti);
            let mut discrepancies = classify::findings(
                &classify::Sides {
                    f: fj,
                    l: lj,
                    ledger,
                },
                &matched,
                &uncaptured,
                &incomplete,
                params.tolerance,
            )?;
            if let Some(s) = &split {
                let sides = classify::Sides {
                    f: &[],
                    l: &s.unjudged,
                    ledger,
                };
                discrepancies.extend(unjudged::findings(&sides, &unjudged));
            }
            Ok(discrepancies)
        })();
        (totals.join(), discrepancies)
    });
    let mut discrepancies = discrepancies?;
    let (totals, flexiti_records, ledger_rows) =
        totals.map_err(|_| anyhow::anyhow!("the control totals: a worker stopped"))??;
    clock.step("classify+totals");
    let suggested = suggest::annotate(&mut discrepancies, params.window_days);
    clock.step("suggest");
    tracing::info!(
        suggested,
        "suggested likely counterparts for unmatched records"
    );
    discrepancies.retain(|d| params.range.contains(d.business_date));
    if let Some(store) = &params.store {
        discrepancies.retain(|d| {
            d.ledger_store.as_deref() == Some(store) || d.flexiti_store.as_deref() == Some(store)
        });
    }
    discrepancies.sort_by(classify::display_order);

    clock.step("order");
    tracing::info!(steps = %clock, "reconciled");
    Ok(Outcome {
        discrepancies,
        totals,
        matched_pairs: (matched.exact.len() + matched.amount.len()) as u64,
        flexiti_records,
        ledger_rows,
        incomplete_days: incomplete
            .into_iter()
            .filter(|d| params.range.contains(*d))
            .collect(),
    })
}
