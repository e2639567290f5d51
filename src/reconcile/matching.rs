//! Rules 1 to 3 on integer columns: the n-th record of one side pairs with the n-th of the
//! other within a key, ordered by time then by id (Flexiti) or by file and line (ledger).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::*;
use rustc_hash::FxHashMap;

use super::Keyed;
use crate::domain::{FlexitiRecord, Kind, LedgerRow};

/// Indices (into the engine's keyed vectors) of what each pass produced.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    pub(crate) exact: Vec<(u32, u32)>,
    pub(crate) amount: Vec<(u32, u32)>,
    /// Flexiti leftovers, with whether their (reference, kind) has a pair.
    pub(crate) flexiti_left: Vec<(u32, bool)>,
    pub(crate) ledger_left: Vec<(u32, bool)>,
}

struct Columns {
    idx: Vec<u32>,
    reference: Vec<u32>,
    kind: Vec<u32>,
    cents: Vec<i64>,
    time: Vec<i64>,
    tie: Vec<u64>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Columns {
            idx: Vec::with_capacity(n),
            reference: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            cents: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            tie: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, idx: u32, reference: u32, kind: Kind, cents: i64, time: i64, tie: u64) {
        self.idx.push(idx);
        self.reference.push(reference);
        self.kind.push(match kind {
            Kind::Sale => 0,
            Kind::Return => 1,
        });
        self.cents.push(cents);
        self.time.push(time);
        self.tie.push(tie);
    }

    fn into_frame(self, idx_name: &str) -> PolarsResult<LazyFrame> {
        let height = self.idx.len();
        let df = DataFrame::new(
            height,
            vec![
                Column::new(idx_name.into(), self.idx),
                Column::new("r".into(), self.reference),
                Column::new("k".into(), self.kind),
                Column::new("c".into(), self.cents),
                Column::new("t".into(), self.time),
                Column::new("b".into(), self.tie),
            ],
        )?;
        Ok(df.lazy())
    }
}

/// Interns references so that joins run on `u32` keys.
fn intern<'a>(map: &mut FxHashMap<&'a str, u32>, reference: &'a str) -> u32 {
    let next = u32::try_from(map.len()).unwrap_or(u32::MAX);
    *map.entry(reference).or_insert(next)
}

/// Rows per part when a large window is matched in parts.
const ROWS_PER_PART: usize = 600_000;

pub(crate) fn run(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
) -> anyhow::Result<Matched> {
    run_in_parts(f, l, ROWS_PER_PART)
}

/// Every rule pairs records of one reference only, so the rows can be split by reference into
/// parts matched one after the other: the result is the same, and the working memory is one
/// part's instead of the whole window's (a year's rerun is tens of millions of rows).
fn run_in_parts(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
    rows_per_part: usize,
) -> anyhow::Result<Matched> {
    let parts = (f.len() + l.len()).div_ceil(rows_per_part.max(1)).max(1);
    if parts == 1 {
        let all_f: Vec<u32> = (0..f.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        let all_l: Vec<u32> = (0..l.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        return match_part(f, l, &all_f, &all_l);
    }
    let f_parts = split_by_reference(f, |r| &r.reference, parts);
    let l_parts = split_by_reference(l, |r| &r.reference, parts);
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
    let mut all = Matched::default();
    for m in results {
        let m = m.unwrap_or_else(|| Err(anyhow::anyhow!("a matching worker stopped")))?;
        all.exact.extend(m.exact);
        all.amount.extend(m.amount);
        all.flexiti_left.extend(m.flexiti_left);
        all.ledger_left.extend(m.ledger_left);
    }
    Ok(all)
}

/// The indices of `items` in `parts` lists, by a hash of their reference: every row of one
/// reference lands in the same part.
fn split_by_reference<T>(
    items: &[Keyed<'_, T>],
    reference: impl Fn(&T) -> &str,
    parts: usize,
) -> Vec<Vec<u32>> {
    let mut split: Vec<Vec<u32>> = vec![Vec::new(); parts];
    for (i, k) in items.iter().enumerate() {
        let hash = rustc_hash::FxBuildHasher.hash_one(reference(k.item));
        let part = usize::try_from(hash % parts as u64).unwrap_or(0);
        if let (Some(part), Ok(i)) = (split.get_mut(part), u32::try_from(i)) {
            part.push(i);
        }
    }
    split
}

/// Matches the rows at the given indices (which hold whole references) of each side.
fn match_part(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
    f_rows: &[u32],
    l_rows: &[u32],
) -> anyhow::Result<Matched> {
    if f_rows.is_empty() && l_rows.is_empty() {
        return Ok(Matched::default());
    }
    let mut refs: FxHashMap<&str, u32> = FxHashMap::default();
    refs.reserve(f_rows.len().max(l_rows.len()));
    let mut fc = Columns::with_capacity(f_rows.len());
    for &i in f_rows {
        let Some(k) = f.get(i as usize) else { continue };
        let r = k.item;
        let id = intern(&mut refs, &r.reference);
        fc.push(
            i,
            id,
            r.kind,
            r.amount.cents(),
            r.at.timestamp_micros(),
            r.record_id(),
        );
    }
    let mut lc = Columns::with_capacity(l_rows.len());
    for &i in l_rows {
        let Some(k) = l.get(i as usize) else { continue };
        let r = k.item;
        let id = intern(&mut refs, &r.reference);
        let tie = (u64::from(r.file_index) << 40) | r.line;
        lc.push(
            i,
            id,
            r.kind,
            r.amount.cents(),
            r.at.timestamp_micros(),
            tie,
        );
    }
    drop(refs);
    Ok(match_frames(fc.into_frame("fi")?, lc.into_frame("li")?)?)
}

/// Sorts by key, time and tie, and numbers the rows within each key (`n`, from 0). Sorted
/// rows of one key are contiguous, so `n` is the row's position minus the position of its
/// key's first row: a running maximum instead of a window over groups, which costs as much
/// as the sort itself on millions of rows.
fn ranked(lf: LazyFrame, key: &[&str]) -> PolarsResult<LazyFrame> {
    let mut order: Vec<Expr> = key.iter().map(|c| col(*c)).collect();
    order.push(col("t"));
    order.push(col("b"));
    let starts_key = key
        .iter()
        .map(|c| col(*c).neq_missing(col(*c).shift(lit(1))))
        .reduce(|a, b| a.or(b))
        .unwrap_or_else(|| lit(true));
    let key_start = when(starts_key)
        .then(col("pos"))
        .otherwise(lit(0u32))
        .cum_max(false);
    Ok(lf
        .sort_by_exprs(order, SortMultipleOptions::default())
        .with_row_index("pos", None)
        .with_column((col("pos") - key_start).alias("n"))
        .drop(by_name(["pos"], true, false)))
}

fn pair(f: LazyFrame, l: LazyFrame, key: &[&str]) -> PolarsResult<DataFrame> {
    let mut on: Vec<Expr> = key.iter().map(|c| col(*c)).collect();
    on.push(col("n"));
    ranked(f, key)?
        .join(
            ranked(l, key)?,
            on.clone(),
            on,
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("fi"), col("li")])
        .collect()
}

fn without(side: LazyFrame, pairs: &DataFrame, idx: &str) -> LazyFrame {
    side.join(
        pairs.clone().lazy(),
        [col(idx)],
        [col(idx)],
        JoinArgs::new(JoinType::Anti),
    )
}

fn match_frames(f: LazyFrame, l: LazyFrame) -> PolarsResult<Matched> {
    // Collected once so that each later plan starts from materialised columns.
    let f = f.collect()?.lazy();
    let l = l.collect()?.lazy();

    let exact = pair(f.clone(), l.clone(), &["r", "k", "c"])?;
    let f_rest = without(f.clone(), &exact, "fi").collect()?;
    let l_rest = without(l, &exact, "li").collect()?;

    let amount = pair(f_rest.clone().lazy(), l_rest.clone().lazy(), &["r", "k"])?;
    let f_left = without(f_rest.lazy(), &amount, "fi");
    let l_left = without(l_rest.lazy(), &amount, "li");

    // (reference, kind) keys that have at least one pair, for the duplicate rules.
    let pair_keys = concat(
        [
            exact.clone().lazy().join(
                f.clone(),
                [col("fi")],
                [col("fi")],
                JoinArgs::new(JoinType::Inner),
            ),
            amount.clone().lazy().join(
                f.clone(),
                [col("fi")],
                [col("fi")],
                JoinArgs::new(JoinType::Inner),
            ),
        ],
        UnionArgs::default(),
    )?
    .select([col("r"), col("k"), lit(true).alias("paired")])
    .unique(None, UniqueKeepStrategy::Any);

    let flag = |side: LazyFrame, idx: &str| -> PolarsResult<Vec<(u32, bool)>> {
        let df = side
            .join(
                pair_keys.clone(),
                [col("r"), col("k")],
                [col("r"), col("k")],
                JoinArgs::new(JoinType::Left),
            )
            .select([col(idx), col("paired").fill_null(lit(false))])
            .collect()?;
        let ids = u32_values(&df, idx)?;
        let paired = df.column("paired")?.bool()?.rechunk();
        let flags = paired.downcast_iter().flat_map(|a| a.values_iter());
        Ok(ids.into_iter().zip(flags).collect())
    };

    Ok(Matched {
        exact: index_pairs(&exact)?,
        amount: index_pairs(&amount)?,
        flexiti_left: flag(f_left, "fi")?,
        ledger_left: flag(l_left, "li")?,
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
    fn matching_in_parts_pairs_exactly_as_matching_at_once() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let at = |s: i64| {
            Utc.timestamp_opt(1_795_000_000 + s, 0)
                .single()
                .expect("time")
        };
        // 40 references with duplicates, both kinds, equal and different amounts, ties in time.
        let flexiti: Vec<FlexitiRecord> = (0..400u64)
            .map(|i| FlexitiRecord {
                kind: if i % 7 == 0 { Kind::Return } else { Kind::Sale },
                reference: format!("R{}", i % 40).into(),
                amount: Amount::from_cents(1000 + (i % 3) as i64),
                at: at((i % 5) as i64),
                capture_id: i,
                return_id: (i % 7 == 0).then_some(10_000 + i),
                authorization_id: i,
                store: None,
            })
            .collect();
        let ledger: Vec<LedgerRow> = (0..380u64)
            .map(|i| LedgerRow {
                file_index: (i % 2) as u32,
                line: i + 2,
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
}
