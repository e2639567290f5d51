//! Control totals per business day and store for both sides, beside the row-level findings.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::Keyed;
use crate::domain::{Amount, DayRange, FlexitiRecord, Kind, LedgerRow};
use crate::report::{DayStoreTotals, SideTotals};

const NO_STORE: &str = "(none)";

fn add(t: &mut SideTotals, kind: Kind, amount: Amount) {
    t.count += 1;
    match kind {
        Kind::Sale => t.sales += amount,
        Kind::Return => t.returns += amount,
    }
}

/// Totals keyed by borrowed store names while counting; owned names only once per slot.
type Slots<'a> = HashMap<(NaiveDate, &'a str), DayStoreTotals>;

fn slot<'m, 'a>(
    map: &'m mut Slots<'a>,
    day: NaiveDate,
    store: Option<&'a str>,
) -> &'m mut DayStoreTotals {
    let name = store.unwrap_or(NO_STORE);
    map.entry((day, name)).or_insert_with(|| DayStoreTotals {
        business_date: day,
        store: name.to_string(),
        ..DayStoreTotals::default()
    })
}

/// Totals of the records whose business day lies in `range` (and of `store` when given);
/// returns them with the number of Flexiti records and ledger rows counted.
pub(crate) fn per_day_and_store(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
    range: DayRange,
    store: Option<&str>,
) -> (Vec<DayStoreTotals>, u64, u64) {
    let keep = |day: NaiveDate, s: &Option<String>| {
        range.contains(day) && store.is_none_or(|want| s.as_deref() == Some(want))
    };
    let mut map = Slots::new();
    let (mut nf, mut nl) = (0, 0);
    for k in f.iter().filter(|k| keep(k.day, &k.item.store)) {
        nf += 1;
        add(
            &mut slot(&mut map, k.day, k.item.store.as_deref()).flexiti,
            k.item.kind,
            k.item.amount,
        );
    }
    for k in l.iter().filter(|k| keep(k.day, &k.item.store)) {
        nl += 1;
        add(
            &mut slot(&mut map, k.day, k.item.store.as_deref()).ledger,
            k.item.kind,
            k.item.amount,
        );
    }
    // Ordered by day, then store name (a missing store counts as "(none)").
    let mut totals: Vec<DayStoreTotals> = map.into_values().collect();
    totals.sort_by(|a, b| (a.business_date, &a.store).cmp(&(b.business_date, &b.store)));
    (totals, nf, nl)
}
