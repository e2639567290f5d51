//! Rules 1 to 3 on integer columns: the n-th record of one side pairs with the n-th of the
//! other within a key, ordered by time then by id (Flexiti) or by file and line (ledger).
//!
//! Each side is put in that order once for the whole window (the Flexiti side is built in it,
//! so it is only checked). Rows are then split by reference into parts; within a part, every
//! row's rank within its key is counted in that order (no sort per part), a row has a
//! counterpart exactly when the other side has more rows of its key than its rank, and Polars
//! joins the rows that have one on (key, rank).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::Keyed;
use crate::domain::{FlexitiRecord, Kind, LedgerRow};
use crate::prefetch::{AHEAD, prefetch};

/// Indices (into the engine's keyed vectors) of what each pass produced.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    pub(crate) exact: Vec<(u32, u32)>,
    pub(crate) amount: Vec<(u32, u32)>,
    /// Flexiti leftovers, with whether their (reference, kind) has a pair.
    pub(crate) flexiti_left: Vec<(u32, bool)>,
    pub(crate) ledger_left: Vec<(u32, bool)>,
}

/// One side's rows of a part as the passes need them, in the rules' order.
#[derive(Default)]
struct Columns {
    idx: Vec<u32>,
    /// (reference, kind, amount), interned (`exact_ids`).
    exact: Vec<u64>,
    /// (reference, kind), interned (`Keys`).
    amount: Vec<u64>,
    cents: Vec<i64>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Columns {
            idx: Vec::with_capacity(n),
            cents: Vec::with_capacity(n),
            ..Columns::default()
        }
    }

    fn push(&mut self, idx: u32, cents: i64) {
        self.idx.push(idx);
        self.cents.push(cents);
    }
}

/// A reference of at most 23 bytes and a kind, held inside the interning table: comparing
/// keys does not reach back into the records (most references are short). The first byte is
/// the length, its top bit the kind.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ShortRef([u8; 24]);

impl ShortRef {
    fn of(reference: &str, kind: Kind) -> Option<ShortRef> {
        let bytes = reference.as_bytes();
        let mut key = [0u8; 24];
        let (len, text) = key.split_first_mut()?;
        text.get_mut(..bytes.len())?.copy_from_slice(bytes);
        *len = u8::try_from(bytes.len()).ok()? | kind_bit(kind) << 7;
        Some(ShortRef(key))
    }
}

fn kind_bit(kind: Kind) -> u8 {
    match kind {
        Kind::Sale => 0,
        Kind::Return => 1,
    }
}

/// Rows per group when references are interned group by group (`Keys::finish`): a group's
/// table stays in the cache.
const ROWS_PER_GROUP: usize = 4096;

/// Interns the amount pass's key, `(reference, kind)`, into an integer shared by both sides
/// of a part (ids dense from 0), so that Polars sorts and joins on one integer column. Rows
/// are pushed first, then interned at once.
#[derive(Default)]
struct Keys<'a> {
    /// Short references with their kind and row.
    short: Vec<(ShortRef, u32)>,
    long: Vec<((&'a str, Kind), u32)>,
    rows: usize,
}

impl<'a> Keys<'a> {
    fn with_capacity(n: usize) -> Self {
        Keys {
            short: Vec::with_capacity(n),
            ..Keys::default()
        }
    }

    /// The next row's reference and kind.
    fn push(&mut self, reference: &'a str, kind: Kind) {
        let row = u32::try_from(self.rows).unwrap_or(u32::MAX);
        self.rows += 1;
        match ShortRef::of(reference, kind) {
            Some(key) => self.short.push((key, row)),
            None => self.long.push(((reference, kind), row)),
        }
    }

    /// Each row's amount key, in the order pushed, and a bound above every key.
    ///
    /// One table of a part's references misses the cache on nearly every look-up. So the rows
    /// are first grouped by a hash of their key (a counting sort; every row of one key lands
    /// in the same group), then each group is interned with a small table. The group is taken
    /// from the middle bits of the hash, which the table itself does not use for a small group
    /// (it places keys by the low bits and tags them with the top ones).
    fn finish(self) -> (Vec<u64>, usize) {
        let Keys { short, long, rows } = self;
        let mut keys = vec![0u64; rows];
        let groups = (short.len() / ROWS_PER_GROUP).max(1).next_power_of_two();
        let group_of = |key: &ShortRef| -> usize {
            let hash = rustc_hash::FxBuildHasher.hash_one(key);
            usize::try_from(hash >> 32).unwrap_or(0) & (groups - 1)
        };
        let group: Vec<usize> = short.iter().map(|(key, _)| group_of(key)).collect();
        let (order, starts) = by_bucket(group.iter().copied(), groups);
        drop(group);
        let grouped: Vec<(ShortRef, u32)> = order.iter().map(|&i| short[i].clone()).collect();
        drop((order, short));
        let mut next = 0u64;
        let mut table: FxHashMap<&ShortRef, u64> = FxHashMap::default();
        for g in 0..groups {
            table.clear();
            for (key, row) in &grouped[starts[g]..starts[g + 1]] {
                keys[*row as usize] = *table.entry(key).or_insert_with(|| {
                    next += 1;
                    next - 1
                });
            }
        }
        let mut table: FxHashMap<(&str, Kind), u64> = FxHashMap::default();
        for (key, row) in long {
            keys[row as usize] = *table.entry(key).or_insert_with(|| {
                next += 1;
                next - 1
            });
        }
        (keys, usize::try_from(next).unwrap_or(usize::MAX))
    }
}

/// Items ordered by their bucket (a counting sort, stable): `order` holds the items' positions
/// in `bucket_of`, and `order[starts[b]..starts[b + 1]]` are bucket `b`'s. Every bucket is
/// below `buckets`.
fn by_bucket(
    bucket_of: impl Iterator<Item = usize> + Clone,
    buckets: usize,
) -> (Vec<usize>, Vec<usize>) {
    let mut starts = vec![0usize; buckets + 1];
    for b in bucket_of.clone() {
        starts[b + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let mut fill = starts.clone();
    let mut order = vec![0usize; starts[buckets]];
    for (i, b) in bucket_of.enumerate() {
        order[fill[b]] = i;
        fill[b] += 1;
    }
    (order, starts)
}

/// The exact pass's key, `(reference, kind, amount)`, as dense ids shared by both sides: rows
/// are bucketed by their amount key (a counting sort, no hashing), and the distinct amounts
/// within a bucket numbered in order. Returns a bound above every id.
fn exact_ids(sides: [&mut Columns; 2], bound: usize) -> usize {
    let [f, l] = sides;
    let n = f.amount.len() + l.amount.len();
    let cents_of = |r: usize| -> i64 {
        match r.checked_sub(f.cents.len()) {
            None => f.cents[r],
            Some(r) => l.cents[r],
        }
    };
    let (order, starts) = by_bucket(f.amount.iter().chain(&l.amount).map(|&a| a as usize), bound);
    // Each row's cents beside it, in bucket order: a bucket's rows are then read side by side
    // (most buckets are one sale on both sides, of one amount, and need no sort).
    let mut grouped: Vec<(i64, usize)> = order.into_iter().map(|r| (cents_of(r), r)).collect();
    let mut ids = vec![0u64; n];
    let mut next = 0u64;
    for a in 0..bound {
        let bucket = &mut grouped[starts[a]..starts[a + 1]];
        let Some(&(first, _)) = bucket.first() else {
            continue;
        };
        if bucket.iter().any(|&(cents, _)| cents != first) {
            bucket.sort_unstable_by_key(|&(cents, _)| cents);
        }
        let mut last = first;
        for &(cents, r) in bucket.iter() {
            if cents != last {
                next += 1;
            }
            last = cents;
            ids[r] = next;
        }
        next += 1;
    }
    l.exact = ids.split_off(f.amount.len());
    f.exact = ids;
    usize::try_from(next).unwrap_or(usize::MAX)
}

/// Rows per part when a large window is matched in parts. Small, so that a part's working
/// memory (its interning tables, columns and join frames, some 50 bytes a row) stays in the
/// core's cache: at 10M ledger rows, matching the parts took 2.1 to 2.3 s in parts of 600,000 rows,
/// 1.6 s in parts of 75,000 and 1.2 to 1.3 s in parts of 40,000 or 20,000, and the run's peak
/// fell by about 100 MB (by a third at 1M rows, where matching held the peak).
const ROWS_PER_PART: usize = 40_000;

pub(crate) fn run(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
) -> anyhow::Result<Matched> {
    run_in_parts(f, l, ROWS_PER_PART)
}

/// The positions of `items` in the rules' order: by time, then by `tie` (the Flexiti id, the
/// ledger's file and line), then by position. A side already in that order (the Flexiti side
/// as built) is checked in one pass, not sorted.
fn rules_order<T: Sync>(items: &[Keyed<'_, T>], key: impl Fn(&T) -> (i64, u64) + Sync) -> Vec<u32> {
    // Vectors sized once (collected from a filter, they grew by doubling, each step a copy
    // into fresh memory).
    let positions = || (0..items.len()).filter_map(|i| u32::try_from(i).ok());
    if items.windows(2).all(|w| key(w[0].item) <= key(w[1].item)) {
        let mut order = Vec::with_capacity(items.len());
        order.extend(positions());
        return order;
    }
    let mut keys: Vec<(i64, u64, u32)> = Vec::with_capacity(items.len());
    keys.extend(positions().zip(items).map(|(i, k)| {
        let (time, tie) = key(k.item);
        (time, tie, i)
    }));
    crate::sorting::sort_unstable(&mut keys);
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// Every rule pairs records of one reference only, so the rows can be split by reference into
/// parts matched one after the other: the result is the same, and the working memory is one
/// part's instead of the whole window's (a year's rerun is tens of millions of rows).
fn run_in_parts(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
    rows_per_part: usize,
) -> anyhow::Result<Matched> {
    // The ledger's sort keys (24 bytes a row) and the window's order are freed once the parts
    // are made: handed back (`src/memory.rs`), not kept beside the parts' working memory.
    let hand_back = crate::memory::hand_back_freed();
    let mut clock = crate::telemetry::Steps::start();
    let (f_order, l_order) = std::thread::scope(|scope| {
        let f_order = scope.spawn(|| rules_order(f, |r| (r.at.timestamp_micros(), r.record_id())));
        let l_order = rules_order(l, |r| {
            let tie = (u64::from(r.file_index) << 40) | u64::from(r.line);
            (r.at.timestamp_micros(), tie)
        });
        (f_order.join(), l_order)
    });
    let f_order =
        f_order.map_err(|_| anyhow::anyhow!("ordering the Flexiti side: a worker stopped"))?;
    clock.step("order");
    let parts = (f.len() + l.len()).div_ceil(rows_per_part.max(1)).max(1);
    if parts == 1 {
        drop(hand_back);
        return match_part(f, l, &f_order, &l_order);
    }
    // Each side split on its own core: a hash of each row's reference, read at random.
    let (f_parts, l_parts) = std::thread::scope(|scope| {
        let f_parts = scope.spawn(move || split_by_reference(f, &f_order, |r| &r.reference, parts));
        let l_parts = split_by_reference(l, &l_order, |r| &r.reference, parts);
        drop(l_order);
        (f_parts.join(), l_parts)
    });
    let f_parts =
        f_parts.map_err(|_| anyhow::anyhow!("splitting the Flexiti side: a worker stopped"))?;
    drop(hand_back);
    clock.step("split");
    // Two parts at a time: gathering a part's rows from the whole window is bound by memory
    // latency, which a second core hides. Results are joined in part order.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 2);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<anyhow::Result<Matched>>> = (0..parts).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (next, f_parts, l_parts) = (&next, &f_parts, &l_parts);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let p = next.fetch_add(1, Ordering::Relaxed);
                        let (Some(fp), Some(lp)) = (f_parts.get(p), l_parts.get(p)) else {
                            break;
                        };
                        done.push((p, match_part(f, l, fp, lp)));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            for (p, m) in handle.join().unwrap_or_default() {
                if let Some(slot) = results.get_mut(p) {
                    *slot = Some(m);
                }
            }
        }
    });
    let results = results
        .into_iter()
        .map(|m| m.unwrap_or_else(|| Err(anyhow::anyhow!("a matching worker stopped"))))
        .collect::<anyhow::Result<Vec<Matched>>>()?;
    // Sized once: grown by doubling, the pairs (8 bytes each, millions of them) left their
    // smaller copies behind at the moment the engine holds the most.
    let total = |len: fn(&Matched) -> usize| results.iter().map(len).sum::<usize>();
    let mut all = Matched {
        exact: Vec::with_capacity(total(|m| m.exact.len())),
        amount: Vec::with_capacity(total(|m| m.amount.len())),
        flexiti_left: Vec::with_capacity(total(|m| m.flexiti_left.len())),
        ledger_left: Vec::with_capacity(total(|m| m.ledger_left.len())),
    };
    for m in results {
        all.exact.extend(m.exact);
        all.amount.extend(m.amount);
        all.flexiti_left.extend(m.flexiti_left);
        all.ledger_left.extend(m.ledger_left);
    }
    clock.step("parts");
    tracing::info!(steps = %clock, parts, "matched the window in parts");
    Ok(all)
}

/// The positions of `order` in `parts` lists, by a hash of their item's reference: every row
/// of one reference lands in the same part, and each part keeps the order of `order`.
fn split_by_reference<T>(
    items: &[Keyed<'_, T>],
    order: &[u32],
    reference: impl Fn(&T) -> &str,
    parts: usize,
) -> Vec<Vec<u32>> {
    let mut split: Vec<Vec<u32>> = vec![Vec::new(); parts];
    // In the ledger's rules order the rows are read at random: each row's key prefetched two
    // turns ahead of its row, its row one turn ahead of its own (`src/prefetch.rs`).
    let ahead = |k: usize| order.get(k).and_then(|&a| items.get(a as usize));
    for (j, &i) in order.iter().enumerate() {
        if let Some(keyed) = ahead(j + 2 * AHEAD) {
            prefetch(keyed);
        }
        if let Some(keyed) = ahead(j + AHEAD) {
            prefetch(keyed.item);
        }
        let Some(k) = items.get(i as usize) else {
            continue;
        };
        let hash = rustc_hash::FxBuildHasher.hash_one(reference(k.item));
        let part = usize::try_from(hash % parts as u64).unwrap_or(0);
        if let Some(part) = split.get_mut(part) {
            part.push(i);
        }
    }
    split
}

/// Matches the rows at the given indices (which hold whole references, in the rules' order)
/// of each side.
fn match_part(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
    f_rows: &[u32],
    l_rows: &[u32],
) -> anyhow::Result<Matched> {
    if f_rows.is_empty() && l_rows.is_empty() {
        return Ok(Matched::default());
    }
    // The rows are scattered over the window: each side's records are found first in a loop
    // that does nothing else, so that many of those look-ups wait on memory at once, and only
    // then read.
    let f_items: Vec<(u32, &FlexitiRecord)> = f_rows
        .iter()
        .enumerate()
        .filter_map(|(j, &i)| {
            if let Some(ahead) = f_rows.get(j + AHEAD).and_then(|&a| f.get(a as usize)) {
                prefetch(ahead);
            }
            Some((i, f.get(i as usize)?.item))
        })
        .collect();
    let l_items: Vec<(u32, &LedgerRow)> = l_rows
        .iter()
        .enumerate()
        .filter_map(|(j, &i)| {
            if let Some(ahead) = l_rows.get(j + AHEAD).and_then(|&a| l.get(a as usize)) {
                prefetch(ahead);
            }
            Some((i, l.get(i as usize)?.item))
        })
        .collect();
    // Each record prefetched some rows ahead of its turn (`src/prefetch.rs`).
    let mut keys = Keys::with_capacity(f_items.len() + l_items.len());
    let mut fc = Columns::with_capacity(f_items.len());
    for (j, &(i, r)) in f_items.iter().enumerate() {
        if let Some((_, ahead)) = f_items.get(j + AHEAD) {
            prefetch(&ahead.reference);
        }
        keys.push(&r.reference, r.kind());
        fc.push(i, r.amount.cents());
    }
    let mut lc = Columns::with_capacity(l_items.len());
    for (j, &(i, r)) in l_items.iter().enumerate() {
        if let Some((_, ahead)) = l_items.get(j + AHEAD) {
            prefetch(&ahead.reference);
        }
        keys.push(&r.reference, r.kind);
        lc.push(i, r.amount.cents());
    }
    let (mut amount, bound) = keys.finish();
    lc.amount = amount.split_off(fc.idx.len());
    fc.amount = amount;
    if bound >= 1 << 32 {
        anyhow::bail!(
            "the match window holds more than 2^32 distinct (reference, kind) keys in one part; \
             reconcile a shorter range"
        );
    }
    let exact_bound = exact_ids([&mut fc, &mut lc], bound);

    // The exact pass over every row, the amount pass over what it left.
    let every = |c: &Columns| {
        (0..c.idx.len())
            .filter_map(|p| u32::try_from(p).ok())
            .collect()
    };
    let (f_all, l_all): (Vec<u32>, Vec<u32>) = (every(&fc), every(&lc));
    let exact = pass(
        Rows::new(&fc.idx, &fc.exact, &f_all),
        Rows::new(&lc.idx, &lc.exact, &l_all),
        exact_bound,
    )?;
    drop((f_all, l_all));
    let amount = pass(
        Rows::new(&fc.idx, &fc.amount, &exact.f_rest),
        Rows::new(&lc.idx, &lc.amount, &exact.l_rest),
        bound,
    )?;

    // (reference, kind) keys that have at least one pair, for the duplicate rules.
    let mut paired = vec![false; bound];
    for &p in exact.f_paired.iter().chain(&amount.f_paired) {
        paired[fc.amount[p as usize] as usize] = true;
    }
    let left = |c: &Columns, rest: &[u32]| -> Vec<(u32, bool)> {
        rest.iter()
            .map(|&p| (c.idx[p as usize], paired[c.amount[p as usize] as usize]))
            .collect()
    };
    Ok(Matched {
        flexiti_left: left(&fc, &amount.f_rest),
        ledger_left: left(&lc, &amount.l_rest),
        exact: exact.pairs,
        amount: amount.pairs,
    })
}

/// One side's rows taking part in a pass: their positions in the part's columns, in the rules'
/// order, and every row's index and key.
struct Rows<'a> {
    idx: &'a [u32],
    key: &'a [u64],
    rows: &'a [u32],
}

impl<'a> Rows<'a> {
    fn new(idx: &'a [u32], key: &'a [u64], rows: &'a [u32]) -> Self {
        Rows { idx, key, rows }
    }

    /// How many rows each key has, for keys below `bound`.
    fn counts(&self, bound: usize) -> Vec<u32> {
        let mut n = vec![0u32; bound];
        for &p in self.rows {
            n[self.key[p as usize] as usize] += 1;
        }
        n
    }

    /// Each row's rank within its key (from 0, in the rules' order): the rows whose rank the
    /// other side also has (`other` counts its rows per key), as their index and join key
    /// `key << 32 | rank` with their positions, and the others' positions.
    fn split(&self, other: &[u32]) -> Ranked {
        let mut seen = vec![0u32; other.len()];
        let mut out = Ranked::default();
        for &p in self.rows {
            let key = self.key[p as usize];
            let rank = &mut seen[key as usize];
            if *rank < other[key as usize] {
                out.idx.push(self.idx[p as usize]);
                out.join.push(key << 32 | u64::from(*rank));
                out.paired.push(p);
            } else {
                out.rest.push(p);
            }
            *rank += 1;
        }
        out
    }
}

#[derive(Default)]
struct Ranked {
    idx: Vec<u32>,
    join: Vec<u64>,
    paired: Vec<u32>,
    rest: Vec<u32>,
}

/// What one pass made: its pairs (by index), and the positions of the rows it paired (Flexiti)
/// and left (both sides).
struct PassOutcome {
    pairs: Vec<(u32, u32)>,
    f_paired: Vec<u32>,
    f_rest: Vec<u32>,
    l_rest: Vec<u32>,
}

/// One pass: within each key below `bound` (ids below 2^32, ranks below 2^32, so the join key
/// is exact), the n-th row of one side pairs with the n-th of the other.
fn pass(f: Rows<'_>, l: Rows<'_>, bound: usize) -> PolarsResult<PassOutcome> {
    let (f_counts, l_counts) = (f.counts(bound), l.counts(bound));
    let (f, l) = (f.split(&l_counts), l.split(&f_counts));
    drop((f_counts, l_counts));
    let frame = |name: &str, idx: Vec<u32>, join: Vec<u64>| {
        DataFrame::new(
            idx.len(),
            vec![Column::new(name.into(), idx), Column::new("j".into(), join)],
        )
    };
    let joined = frame("fi", f.idx, f.join)?
        .lazy()
        .join(
            frame("li", l.idx, l.join)?.lazy(),
            [col("j")],
            [col("j")],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("fi"), col("li")])
        .collect()?;
    Ok(PassOutcome {
        pairs: index_pairs(&joined)?,
        f_paired: f.paired,
        f_rest: f.rest,
        l_rest: l.rest,
    })
}
fn u32_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<u32>> {
    let ca = df.column(name)?.u32()?;
    Ok(ca
        .downcast_iter()
        .flat_map(|a| a.values_iter().copied())
        .collect())
}

fn index_pairs(df: &DataFrame) -> PolarsResult<Vec<(u32, u32)>> {
    Ok(u32_values(df, "fi")?
        .into_iter()
        .zip(u32_values(df, "li")?)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, FlexitiRecord, LedgerRow};
    use chrono::{NaiveDate, TimeZone, Utc};

    fn sorted(mut m: Matched) -> Matched {
        m.exact.sort_unstable();
        m.amount.sort_unstable();
        m.flexiti_left.sort_unstable();
        m.ledger_left.sort_unstable();
        m
    }

    #[test]
    fn keys_are_equal_exactly_when_reference_kind_and_amount_are() {
        let long = "R".repeat(40);
        let long_too = format!("{}X", "R".repeat(39));
        // (reference, kind, cents) per row; the first four rows are one side, the rest the other.
        let rows: Vec<(&str, Kind, i64)> = vec![
            ("A", Kind::Sale, 100),
            ("A\0", Kind::Sale, 100),
            (&long, Kind::Sale, 100),
            ("A", Kind::Return, 100),
            ("A", Kind::Sale, 100),
            ("A", Kind::Sale, 101),
            (&long_too, Kind::Sale, 100),
            (&long, Kind::Sale, 100),
            ("ABCDEFGHIJKLMNOPQRSTUVW", Kind::Sale, -5),
            ("ABCDEFGHIJKLMNOPQRSTUVWX", Kind::Sale, -5),
        ];
        let mut keys = Keys::default();
        let mut sides = [Columns::with_capacity(4), Columns::with_capacity(6)];
        for (i, (reference, kind, cents)) in rows.iter().enumerate() {
            keys.push(reference, *kind);
            sides[usize::from(i >= 4)].push(0, *cents);
        }
        let [f, l] = &mut sides;
        let (mut amount, bound) = keys.finish();
        l.amount = amount.split_off(4);
        f.amount = amount;
        exact_ids([f, l], bound);
        let all: Vec<(u64, u64)> = f
            .amount
            .iter()
            .chain(&l.amount)
            .zip(f.exact.iter().chain(&l.exact))
            .map(|(a, e)| (*a, *e))
            .collect();
        for (i, x) in rows.iter().enumerate() {
            for (j, y) in rows.iter().enumerate() {
                assert_eq!(
                    all[i].0 == all[j].0,
                    (x.0, x.1) == (y.0, y.1),
                    "amount keys of rows {i} and {j}"
                );
                assert_eq!(
                    all[i].1 == all[j].1,
                    x == y,
                    "exact keys of rows {i} and {j}"
                );
            }
        }
        // Dense from 0: as many exact ids as distinct rows.
        let distinct: std::collections::BTreeSet<u64> = all.iter().map(|k| k.1).collect();
        assert_eq!(
            distinct.into_iter().collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
    }

    #[test]
    fn references_interned_group_by_group_get_one_dense_id_per_reference_and_kind() {
        // Enough rows for many groups; every reference on several rows, some long ones, some
        // of them as both kinds.
        let references: Vec<String> = (0..30_000u32)
            .map(|i| match i % 11 {
                0 => format!("LONG-REFERENCE-OVER-23-BYTES-{}", i % 3_001),
                _ => format!("ORD-{:06}", i % 9_001),
            })
            .collect();
        let kind_of = |i: usize| {
            if i.is_multiple_of(5) {
                Kind::Return
            } else {
                Kind::Sale
            }
        };
        let mut keys = Keys::default();
        for (i, reference) in references.iter().enumerate() {
            keys.push(reference, kind_of(i));
        }
        let (amount, bound) = keys.finish();
        let mut id_of: std::collections::HashMap<(&str, Kind), u64> =
            std::collections::HashMap::new();
        for (i, reference) in references.iter().enumerate() {
            let id = *id_of
                .entry((reference.as_str(), kind_of(i)))
                .or_insert(amount[i]);
            assert_eq!(amount[i], id, "row {i}: {reference}");
        }
        // One id per distinct (reference, kind), dense from 0.
        let ids: std::collections::BTreeSet<u64> = id_of.values().copied().collect();
        assert_eq!(ids.len(), id_of.len());
        assert_eq!(ids.last().copied(), Some(id_of.len() as u64 - 1));
        assert_eq!(bound, id_of.len());
        // A reference as both kinds: two keys.
        let both = (0..references.len())
            .filter(|&i| kind_of(i) == Kind::Return)
            .any(|i| id_of.contains_key(&(references[i].as_str(), Kind::Sale)));
        assert!(both, "the data has references of both kinds");
    }

    /// `s` seconds after a fixed instant.
    fn at(s: i64) -> chrono::DateTime<Utc> {
        Utc.timestamp_opt(1_795_000_000 + s, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn matching_in_parts_pairs_exactly_as_matching_at_once() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        // 40 references with duplicates, both kinds, equal and different amounts, ties in time.
        let flexiti: Vec<FlexitiRecord> = (0..400u64)
            .map(|i| {
                FlexitiRecord::new(
                    i,
                    (i % 7 == 0).then_some(10_000 + i),
                    i,
                    format!("R{}", i % 40).into(),
                    Amount::from_cents(1000 + (i % 3) as i64),
                    at((i % 5) as i64),
                    None,
                )
            })
            .collect();
        let ledger: Vec<LedgerRow> = (0..380u64)
            .map(|i| LedgerRow {
                file_index: (i % 2) as u32,
                line: (i + 2) as u32,
                at: at((i % 4) as i64),
                store: None,
                register: None,
                reference: format!("R{}", (i * 3) % 43).into(),
                kind: if i % 5 == 0 { Kind::Return } else { Kind::Sale },
                amount: Amount::from_cents(1000 + (i % 4) as i64),
            })
            .collect();
        let f: Vec<Keyed<'_, FlexitiRecord>> =
            flexiti.iter().map(|item| Keyed { item, day }).collect();
        let l: Vec<Keyed<'_, LedgerRow>> = ledger.iter().map(|item| Keyed { item, day }).collect();

        let whole = sorted(run_in_parts(&f, &l, usize::MAX).expect("matches"));
        let parts = sorted(run_in_parts(&f, &l, 50).expect("matches in parts"));
        assert!(!whole.exact.is_empty() && !whole.amount.is_empty());
        assert!(whole.ledger_left.iter().any(|(_, paired)| *paired));
        assert_eq!(whole.exact, parts.exact);
        assert_eq!(whole.amount, parts.amount);
        assert_eq!(whole.flexiti_left, parts.flexiti_left);
        assert_eq!(whole.ledger_left, parts.ledger_left);
    }

    #[test]
    fn rows_pair_in_time_then_id_or_file_and_line_order_whatever_order_they_come_in() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        // One reference, kind and amount. Flexiti (time, id) listed latest first, two at one
        // time; the ledger (time, file, line) with two rows at one time, lines out of order.
        let flexiti: Vec<FlexitiRecord> = [(30, 1), (20, 9), (20, 4), (10, 7)]
            .into_iter()
            .map(|(s, id)| {
                FlexitiRecord::new(
                    id,
                    None,
                    id,
                    "R1".into(),
                    Amount::from_cents(1000),
                    at(s),
                    None,
                )
            })
            .collect();
        let ledger: Vec<LedgerRow> = [(25, 1, 2), (20, 0, 5), (20, 0, 3)]
            .into_iter()
            .map(|(s, file_index, line)| LedgerRow {
                file_index,
                line,
                at: at(s),
                store: None,
                register: None,
                reference: "R1".into(),
                kind: Kind::Sale,
                amount: Amount::from_cents(1000),
            })
            .collect();
        let f: Vec<Keyed<'_, FlexitiRecord>> =
            flexiti.iter().map(|item| Keyed { item, day }).collect();
        let l: Vec<Keyed<'_, LedgerRow>> = ledger.iter().map(|item| Keyed { item, day }).collect();
        for rows_per_part in [usize::MAX, 2] {
            let m = sorted(run_in_parts(&f, &l, rows_per_part).expect("matches"));
            // Earliest with earliest: (10, 7) with (20, 0, 3), (20, 4) with (20, 0, 5),
            // (20, 9) with (25, 1, 2); the latest Flexiti record is left over, its key paired.
            assert_eq!(m.exact, vec![(1, 0), (2, 1), (3, 2)], "{rows_per_part}");
            assert!(m.amount.is_empty());
            assert_eq!(m.flexiti_left, vec![(0, true)]);
            assert!(m.ledger_left.is_empty());
        }
    }
}
