//! Rules 1 to 3 on integer columns: the n-th record of one side pairs with the n-th of the
//! other within a key, ordered by time then by id (Flexiti) or by file and line (ledger).

use std::collections::HashMap;

use polars::prelude::*;

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

    fn push(&mut self, idx: usize, reference: u32, kind: Kind, cents: i64, time: i64, tie: u64) {
        self.idx.push(u32::try_from(idx).unwrap_or(u32::MAX));
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
fn intern<'a>(map: &mut HashMap<&'a str, u32>, reference: &'a str) -> u32 {
    let next = u32::try_from(map.len()).unwrap_or(u32::MAX);
    *map.entry(reference).or_insert(next)
}

pub(crate) fn run(
    f: &[Keyed<'_, FlexitiRecord>],
    l: &[Keyed<'_, LedgerRow>],
) -> anyhow::Result<Matched> {
    if f.is_empty() && l.is_empty() {
        return Ok(Matched::default());
    }
    let mut refs: HashMap<&str, u32> = HashMap::with_capacity(f.len().max(l.len()));
    let mut fc = Columns::with_capacity(f.len());
    for (i, k) in f.iter().enumerate() {
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
    let mut lc = Columns::with_capacity(l.len());
    for (i, k) in l.iter().enumerate() {
        let r = k.item;
        let id = intern(&mut refs, &r.reference);
        let tie = ((r.file_index as u64) << 40) | r.line;
        lc.push(
            i,
            id,
            r.kind,
            r.amount.cents(),
            r.at.timestamp_micros(),
            tie,
        );
    }
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
