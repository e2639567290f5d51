//! Control totals per business day and store for both sides, beside the row-level findings.

use std::collections::BTreeMap;

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

fn slot<'m>(
    map: &'m mut BTreeMap<(NaiveDate, String), DayStoreTotals>,
    day: NaiveDate,
    store: &Option<String>,
) -> &'m mut DayStoreTotals {
    let name = store.clone().unwrap_or_else(|| NO_STORE.to_string());
    map.entry((day, name.clone()))
        .or_insert_with(|| DayStoreTotals {
            business_date: day,
            store: name,
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
    let mut map = BTreeMap::new();
    let (mut nf, mut nl) = (0, 0);
    for k in f.iter().filter(|k| keep(k.day, &k.item.store)) {
        nf += 1;
        add(
            &mut slot(&mut map, k.day, &k.item.store).flexiti,
            k.item.kind,
            k.item.amount,
        );
    }
    for k in l.iter().filter(|k| keep(k.day, &k.item.store)) {
        nl += 1;
        add(
            &mut slot(&mut map, k.day, &k.item.store).ledger,
            k.item.kind,
            k.item.amount,
        );
    }
    (map.into_values().collect(), nf, nl)
}
