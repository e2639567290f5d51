//! Control totals per business day and store for both sides, beside the row-level findings.

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::Keyed;
use crate::domain::{
    Amount, DayRange, DayStoreTotals, FlexitiRecord, Kind, Label, LedgerRow, SideTotals,
};

const NO_STORE: &str = "(none)";

/// Counts one record; `None` when a sum would pass the range of 64-bit cents.
fn add(t: &mut SideTotals, kind: Kind, amount: Amount) -> Option<()> {
    t.count += 1;
    let sum = match kind {
        Kind::Sale => &mut t.sales,
        Kind::Return => &mut t.returns,
    };
    *sum = sum.checked_add(amount)?;
    Some(())
}

/// Totals are stored as 64-bit cents: a sum that does not fit is an error naming its slot,
/// never a wrapped figure.
fn too_large(side: &str, t: &DayStoreTotals) -> anyhow::Error {
    anyhow::anyhow!(
        "{side} totals of {} store {}: a sum passes 92233720368547758.07, the range of 64-bit \
         cents (an amount of that day is implausible)",
        t.business_date,
        t.store
    )
}

/// Totals keyed by store label while counting; names only once per slot.
/// A missing store counts under the name "(none)".
type Slots = FxHashMap<(NaiveDate, Label), DayStoreTotals>;

fn slot(map: &mut Slots, day: NaiveDate, store: Label) -> &mut DayStoreTotals {
    map.entry((day, store)).or_insert_with(|| DayStoreTotals {
        business_date: day,
        store: store.to_string(),
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
) -> anyhow::Result<(Vec<DayStoreTotals>, u64, u64)> {
    let keep = |day: NaiveDate, s: &Option<Label>| {
        range.contains(day) && store.is_none_or(|want| s.as_deref() == Some(want))
    };
    let mut map = Slots::default();
    let no_store = Label::new(NO_STORE);
    let (mut nf, mut nl) = (0, 0);
    for k in f.iter().filter(|k| keep(k.day, &k.item.store)) {
        nf += 1;
        let t = slot(&mut map, k.day, k.item.store.unwrap_or(no_store));
        add(&mut t.flexiti, k.item.kind(), k.item.amount).ok_or_else(|| too_large("Flexiti", t))?;
    }
    for k in l.iter().filter(|k| keep(k.day, &k.item.store)) {
        nl += 1;
        let t = slot(&mut map, k.day, k.item.store.unwrap_or(no_store));
        add(&mut t.ledger, k.item.kind, k.item.amount).ok_or_else(|| too_large("ledger", t))?;
    }
    // Ordered by day, then store name (a missing store counts as "(none)").
    let mut totals: Vec<DayStoreTotals> = map.into_values().collect();
    totals.sort_by(|a, b| (a.business_date, &a.store).cmp(&(b.business_date, &b.store)));
    Ok((totals, nf, nl))
}
