//! Duplicate listings dropped and records ordered by time, both by sorting small keys.

use chrono::{DateTime, Utc};

use crate::domain::{FlexitiRecord, Kind};

/// Keeps the first record read of each capture and of each (capture, return): a capture listed
/// on several dates, pages or files is one sale, and its returns the union of every listing's.
/// Found by sorting small keys rather than with a table filled while reading, which held as
/// much memory as the records' ids while the rows were still coming.
pub(super) fn keep_first_listing(records: &mut Vec<FlexitiRecord>) {
    let mut keys: Vec<(u64, u64, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            // Return ids have at most 16 digits, so `u64::MAX` marks the sale.
            (r.capture_id, r.return_id().unwrap_or(u64::MAX), i)
        })
        .collect();
    // Keys are distinct (the position), so any sort gives this order; the unstable one sorts
    // in place, where the stable one took a scratch copy of half the keys at the moment the
    // read peaks (records, authorizations and the ledger all held).
    keys.sort_unstable();
    let mut keep = vec![true; records.len()];
    for pair in keys.windows(2) {
        if let [a, b] = pair
            && (a.0, a.1) == (b.0, b.1)
            && let Some(k) = keep.get_mut(b.2 as usize)
        {
            *k = false;
        }
    }
    drop(keys);
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut flags = keep.into_iter();
    records.retain(|_| flags.next().unwrap_or(true));
}

/// Orders records by time, record id and kind (ties keep the order read), in place. The order is found on
/// small keys and each record then moves once along its cycle of the permutation: sorting the
/// records themselves moved each of them many times, and a sorted copy doubled the memory.
pub(super) fn sort_by_time(records: &mut [FlexitiRecord]) {
    let mut keys: Vec<(DateTime<Utc>, u64, Kind, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            (r.at, r.record_id(), r.kind(), i)
        })
        .collect();
    // The position makes every key distinct: the order is that of a stable sort. The stable
    // sort merges the runs each file's records already form instead of sorting them again.
    keys.sort();
    // `from[i]`: the position whose record belongs at position `i`.
    let mut from: Vec<u32> = keys.into_iter().map(|k| k.3).collect();
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let source = from[at] as usize;
            from[at] = u32::try_from(at).unwrap_or(u32::MAX);
            if source == start {
                break;
            }
            records.swap(at, source);
            at = source;
        }
    }
}
