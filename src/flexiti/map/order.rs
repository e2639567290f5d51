//! Duplicate listings dropped and records ordered by time, both by sorting small keys.

use crate::domain::{FlexitiRecord, Kind};

use super::runs::Runs;

/// Keeps the first record read of each capture and of each (capture, return): a capture listed
/// on several dates, pages or files is one sale, and its returns the union of every listing's.
/// Found by sorting small keys rather than with a table filled while reading, which held as
/// much memory as the records' ids while the rows were still coming.
pub(super) fn keep_first_listing(records: &mut Runs<FlexitiRecord>) {
    // Keys are distinct (the position), so any sort gives this order; the unstable one sorts
    // in place, where the stable one took a scratch copy of half the keys at the moment the
    // read peaks (records, authorizations and the ledger all held). The return id is not in
    // the key (16 bytes a record instead of 24, at that same moment): it is read from the
    // records of a capture listed with others, its returns or itself again.
    let mut keys: Vec<(u64, u32)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.capture_id, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    keys.sort_unstable();
    let mut keep = vec![true; records.len()];
    let mut listing: Vec<(Option<u64>, u32)> = Vec::new();
    for capture in keys.chunk_by(|a, b| a.0 == b.0) {
        if capture.len() < 2 {
            continue;
        }
        listing.clear();
        listing.extend(
            capture
                .iter()
                .filter_map(|&(_, i)| Some((records.get(i as usize)?.return_id(), i))),
        );
        // The sale (no return id) and each return, first read first.
        listing.sort_unstable();
        for pair in listing.windows(2) {
            if let [a, b] = pair
                && a.0 == b.0
                && let Some(k) = keep.get_mut(b.1 as usize)
            {
                *k = false;
            }
        }
    }
    drop(keys);
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut flags = keep.into_iter();
    records.retain(|_| flags.next().unwrap_or(true));
}

/// A record's place in time order, as integers: seconds, nanoseconds, the id and the kind in
/// one word (ids have at most 16 digits, below 2^54), then the position read. Compared as a
/// tuple in that order, it orders as `(at, record_id, kind, position)` does; sorting integers
/// took two thirds of the time of comparing `DateTime`s (a date, then seconds and fraction of
/// the day). Laid out in 24 bytes.
type TimeKey = (i64, u32, u64, u32);

fn time_key(r: &FlexitiRecord, position: u32) -> TimeKey {
    let kind = u64::from(r.kind() == Kind::Return);
    (
        r.at.timestamp(),
        r.at.timestamp_subsec_nanos(),
        r.record_id() << 1 | kind,
        position,
    )
}

/// The records ordered by time, record id and kind (ties keep the order read), as one vector.
/// The order is found on small keys, then the records are copied once, in that order, out of
/// the runs they were read in, on both cores (`Runs::cloned_in`), and the runs dropped. Within
/// a file or page they are nearly in time order, the runs interleaved: reading them in the new
/// order walks each run forward, where moving them in place along the permutation's cycles
/// jumped across the whole vector for each record (the step took 4.9 s of a 10M-row read).
///
/// Called once the authorizations are dropped, so the new vector lands below the read's
/// peak (records, authorizations, ledger and keys all held).
pub(super) fn sort_by_time(records: Runs<FlexitiRecord>) -> Vec<FlexitiRecord> {
    let mut keys: Vec<TimeKey> = records
        .iter()
        .enumerate()
        .map(|(i, r)| time_key(r, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    // The position makes every key distinct: any sort gives the order of a stable one. The
    // unstable sort, in place: the runs each file's records form are cut short by the returns
    // (read with their capture, dated later), so the stable sort's run merging saved little,
    // and it took a scratch copy of the keys (24 bytes a record). On both cores when large:
    // the ledger is usually read by now, the second core idle.
    crate::sorting::sort_unstable(&mut keys);
    if keys.iter().enumerate().all(|(i, k)| k.3 as usize == i) {
        return records.into_vec();
    }
    let from: Vec<u32> = keys.iter().map(|k| k.3).collect();
    drop(keys);
    records.cloned_in(&from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Amount;
    use chrono::{DateTime, NaiveDate, Utc};

    #[test]
    fn records_are_ordered_by_time_then_id_then_kind_and_ties_keep_the_order_read() {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(1_795_000_000 + s, 0).expect("time");
        let record = |capture: u64, ret: Option<u64>, s: i64, reference: &str| {
            FlexitiRecord::new(capture, ret, 1, reference.into(), Amount::ZERO, at(s), None)
        };
        // Two runs in time order, interleaved as two files' records are, read as two runs.
        let first = vec![
            record(5, None, 0, "a"),
            record(9, None, 3, "b"),
            record(5, Some(9), 3, "c"),
        ];
        let second = vec![
            record(2, None, 1, "d"),
            record(2, None, 1, "e"),
            record(7, None, 2, "f"),
        ];
        let records = sort_by_time(Runs::from_runs(vec![first, second]));
        let order: Vec<&str> = records.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(order, ["a", "d", "e", "f", "b", "c"]);
        // Already in order: left as it is, in one run or several.
        let before = records.clone();
        let again = sort_by_time(Runs::from_runs(vec![records.clone()]));
        assert_eq!(again, before);
        let (one, two) = records.split_at(2);
        let again = sort_by_time(Runs::from_runs(vec![one.to_vec(), vec![], two.to_vec()]));
        assert_eq!(again, before);
    }

    #[test]
    fn the_integer_key_orders_as_time_id_kind_and_position_do() {
        // Before and after 1970, fractions of a second, a leap second (a fraction past one
        // second), equal times with ids and kinds that decide.
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
        let times = [
            DateTime::<Utc>::from_timestamp(-1, 500_000_000),
            DateTime::<Utc>::from_timestamp(-1, 0),
            DateTime::<Utc>::from_timestamp(0, 0),
            DateTime::<Utc>::from_timestamp(0, 1),
            day.and_hms_nano_opt(23, 59, 59, 999_999_999)
                .map(|t| t.and_utc()),
            day.and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                .map(|t| t.and_utc()),
            day.succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc()),
        ];
        let mut records = Vec::new();
        for (n, at) in times.into_iter().enumerate() {
            let at = at.expect("time");
            for (capture, ret) in [(9, None), (3, Some(9)), (3, None), (9, Some(1))] {
                let reference = format!("{n}-{capture}-{ret:?}");
                let record =
                    FlexitiRecord::new(capture, ret, 1, reference.into(), Amount::ZERO, at, None);
                records.push(record.clone());
                records.push(record);
            }
        }
        records.reverse();
        let mut expected: Vec<usize> = (0..records.len()).collect();
        expected.sort_by_key(|&i| {
            let r = &records[i];
            (r.at, r.record_id(), r.kind() == Kind::Return, i)
        });
        let mut keys: Vec<TimeKey> = records
            .iter()
            .enumerate()
            .map(|(i, r)| time_key(r, i as u32))
            .collect();
        keys.sort_unstable();
        let got: Vec<usize> = keys.iter().map(|k| k.3 as usize).collect();
        assert_eq!(got, expected);
        assert_eq!(std::mem::size_of::<TimeKey>(), 24);
    }

    #[test]
    fn the_first_listing_of_each_sale_and_return_is_kept_in_the_order_read() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let record = |capture: u64, ret: Option<u64>, reference: &str| {
            FlexitiRecord::new(capture, ret, 1, reference.into(), Amount::ZERO, at, None)
        };
        // Read in three runs (files or pages).
        let mut records = Runs::from_runs(vec![
            vec![
                record(7, None, "sale 7"),
                record(7, Some(70), "return 70"),
                record(3, None, "sale 3"),
            ],
            // Capture 7 listed again with a new return, then once more as first listed.
            vec![
                record(7, None, "sale 7 again"),
                record(7, Some(70), "return 70 again"),
            ],
            vec![
                record(7, Some(71), "return 71"),
                record(3, Some(7), "return 7 of capture 3"),
                record(7, None, "sale 7 a third time"),
            ],
        ]);
        keep_first_listing(&mut records);
        let kept: Vec<&str> = records.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(
            kept,
            [
                "sale 7",
                "return 70",
                "sale 3",
                "return 71",
                "return 7 of capture 3"
            ]
        );
    }
}
