//! Likely counterparts of unmatched records: advice on top of the findings, never a change to
//! them (a suggestion leaves the category, the amounts and the fingerprint as they are).
//!
//! Most unmatched pairs are one sale typed twice: an order number mistyped at the till (a
//! character changed, swapped, dropped or doubled), or prefixed differently by the POS. So an
//! unmatched record of one side (`missing_in_ledger`, `duplicate_in_flexiti`; or
//! `missing_in_flexiti`, `not_captured`, `duplicate_in_ledger`) looks among the other side's
//! unmatched records for one of the same kind and amount whose business day lies within the
//! match window, then ranks them by reference: one edit (Damerau), then a missing or extra
//! prefix, then two edits; same store, then the closer time break ties. A finding gets a
//! suggestion only when its best candidate is clearly better than the runner-up *and* it is
//! in turn that candidate's clearly best one, so two findings never claim the same record.
//!
//! Cost: candidates are bucketed by (kind, amount) and sorted by day, so each finding compares
//! references with the few same-amount records of nearby days only. A bucket that offers more
//! than [`MAX_CANDIDATES`] records within the window is too crowded to tell: no suggestion.

use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::FxHashMap;

use crate::domain::{Amount, Category, Discrepancy, Kind, Suggestion};

/// Same-amount records of the window one finding compares at most.
const MAX_CANDIDATES: usize = 64;
/// References longer than this are only compared for a prefix (edit distance is quadratic).
const MAX_EDIT_LEN: usize = 64;
/// A reference shorter than this is too short to tell a typo from another reference.
const MIN_LEN: usize = 4;
/// Two edits are a typo only in a reference at least this long.
const MIN_LEN_TWO_EDITS: usize = 8;
/// A prefix longer than this is another reference, not a prefix.
const MAX_PREFIX_LEN: usize = 8;
/// A time gap wins a tie only when it is within this many seconds…
const CLOSE_SECONDS: i64 = 10 * 60;
/// …and the runner-up's is at least this many.
const FAR_SECONDS: i64 = 60 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Flexiti,
    Ledger,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Flexiti => "Flexiti",
            Side::Ledger => "ledger",
        }
    }
}

/// One unmatched finding as a candidate for the other side.
struct Unmatched<'a> {
    finding: usize,
    side: Side,
    reference: &'a str,
    chars: Vec<char>,
    kind: Kind,
    amount: Amount,
    day: NaiveDate,
    at: Option<DateTime<Utc>>,
    store: Option<&'a str>,
    id: String,
}

fn unmatched(index: usize, d: &Discrepancy) -> Option<Unmatched<'_>> {
    let side = match d.category {
        Category::MissingInLedger | Category::DuplicateInFlexiti => Side::Flexiti,
        Category::MissingInFlexiti | Category::NotCaptured | Category::DuplicateInLedger => {
            Side::Ledger
        }
        _ => return None,
    };
    let (amount, at, store, id) = match side {
        Side::Flexiti => (
            d.flexiti_amount?,
            d.flexiti_at,
            d.flexiti_store.as_deref(),
            d.flexiti_id.clone()?,
        ),
        Side::Ledger => (
            d.ledger_amount?,
            d.ledger_at,
            d.ledger_store.as_deref(),
            format!("{}:{}", d.ledger_file.as_deref()?, d.ledger_line?),
        ),
    };
    Some(Unmatched {
        finding: index,
        side,
        reference: &d.reference,
        chars: d.reference.chars().collect(),
        kind: d.kind,
        amount,
        day: d.business_date,
        at,
        store,
        id,
    })
}

/// How two references differ, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Closeness {
    /// One character changed: (this side's, the other side's).
    Changed(char, char),
    Swapped(char, char),
    /// One character more on `Side`, equal to its neighbour (`Doubled`) or not (`Extra`).
    Doubled(Side, char),
    Extra(Side, char),
    /// `Side`'s reference is the other's with this prefix in front.
    Prefix(Side, String),
    TwoEdits,
}

impl Closeness {
    fn rank(&self) -> u8 {
        match self {
            Closeness::Prefix(..) => 1,
            Closeness::TwoEdits => 2,
            _ => 0,
        }
    }

    fn describe(&self) -> String {
        match self {
            Closeness::Changed(here, there) => {
                format!("one character differs ('{here}' here, '{there}' there)")
            }
            Closeness::Swapped(a, b) => format!("two characters swapped ('{a}{b}' / '{b}{a}')"),
            Closeness::Doubled(side, c) => {
                format!("the {} reference has '{c}' doubled", side.name())
            }
            Closeness::Extra(side, c) => {
                format!("the {} reference has an extra '{c}'", side.name())
            }
            Closeness::Prefix(side, prefix) => {
                format!(
                    "the {} reference has the extra prefix '{prefix}'",
                    side.name()
                )
            }
            Closeness::TwoEdits => "the references differ by two characters".to_string(),
        }
    }
}

/// How `a` (of side `a_side`) and `b` (of the other side) differ, if close enough.
fn closeness(a: &[char], a_side: Side, b: &[char], b_side: Side) -> Option<Closeness> {
    let shortest = a.len().min(b.len());
    if shortest < MIN_LEN {
        return None;
    }
    if a.len().abs_diff(b.len()) <= 2 && a.len().max(b.len()) <= MAX_EDIT_LEN {
        match osa_distance(a, b) {
            0 => return None,
            1 => return Some(one_edit(a, a_side, b, b_side)),
            2 if shortest >= MIN_LEN_TWO_EDITS && prefix(a, a_side, b, b_side).is_none() => {
                return Some(Closeness::TwoEdits);
            }
            _ => {}
        }
    }
    prefix(a, a_side, b, b_side)
}

/// The optimal-string-alignment distance (insertions, deletions, substitutions and swaps of
/// adjacent characters) of two references of at most `MAX_EDIT_LEN` characters, on three rows
/// kept on the stack: this runs for every candidate pair, so it allocates nothing.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let mut before = [0usize; MAX_EDIT_LEN + 1];
    let mut previous: [usize; MAX_EDIT_LEN + 1] = std::array::from_fn(|j| j);
    let mut current = [0usize; MAX_EDIT_LEN + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        before = previous;
        previous = current;
    }
    previous[b.len()]
}

fn one_edit(a: &[char], a_side: Side, b: &[char], b_side: Side) -> Closeness {
    let first = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if a.len() == b.len() {
        let (x, y) = (a[first], b[first]);
        return match (a.get(first + 1), b.get(first + 1)) {
            (Some(&x2), Some(&y2)) if x2 == y && y2 == x && x != y => Closeness::Swapped(x, y),
            _ => Closeness::Changed(x, y),
        };
    }
    let (longer, side) = if a.len() > b.len() {
        (a, a_side)
    } else {
        (b, b_side)
    };
    let c = longer[first];
    let doubled = (first > 0 && longer[first - 1] == c) || longer.get(first + 1) == Some(&c);
    if doubled {
        Closeness::Doubled(side, c)
    } else {
        Closeness::Extra(side, c)
    }
}

fn prefix(a: &[char], a_side: Side, b: &[char], b_side: Side) -> Option<Closeness> {
    let (longer, shorter, side) = if a.len() > b.len() {
        (a, b, a_side)
    } else {
        (b, a, b_side)
    };
    let extra = longer.len() - shorter.len();
    ((1..=MAX_PREFIX_LEN).contains(&extra) && longer.ends_with(shorter))
        .then(|| Closeness::Prefix(side, longer[..extra].iter().collect()))
}

/// A candidate's standing for one finding: lower is better.
#[derive(Debug, Clone)]
struct Score {
    candidate: usize,
    closeness: Closeness,
    other_store: bool,
    gap_seconds: i64,
}

impl Score {
    fn key(&self) -> (u8, bool, i64) {
        (self.closeness.rank(), self.other_store, self.gap_seconds)
    }

    /// Whether `self` wins clearly over `next`: a closer reference, else the same store
    /// against another, else a time within minutes against one hours away.
    fn clearly_beats(&self, next: &Score) -> bool {
        let (rank, next_rank) = (self.closeness.rank(), next.closeness.rank());
        if rank != next_rank {
            return rank < next_rank;
        }
        if self.other_store != next.other_store {
            return !self.other_store;
        }
        self.gap_seconds <= CLOSE_SECONDS && next.gap_seconds >= FAR_SECONDS
    }
}

/// Buckets of one side: (kind, amount) → indices into the side's records, by day.
type Buckets = FxHashMap<(Kind, i64), Vec<usize>>;

fn buckets(side: &[Unmatched<'_>]) -> Buckets {
    let mut map: Buckets = FxHashMap::default();
    for (i, u) in side.iter().enumerate() {
        map.entry((u.kind, u.amount.cents())).or_default().push(i);
    }
    for list in map.values_mut() {
        list.sort_by_key(|&i| side[i].day);
    }
    map
}

/// The clearly best candidate of `me` among `others`, if any.
fn best(
    me: &Unmatched<'_>,
    others: &[Unmatched<'_>],
    buckets: &Buckets,
    window: i64,
) -> Option<Score> {
    let list = buckets.get(&(me.kind, me.amount.cents()))?;
    let start = list.partition_point(|&i| (others[i].day - me.day).num_days() < -window);
    let end = list.partition_point(|&i| (others[i].day - me.day).num_days() <= window);
    let near = list.get(start..end)?;
    if near.len() > MAX_CANDIDATES {
        return None;
    }
    let mut scores: Vec<Score> = Vec::new();
    for &i in near {
        let other = &others[i];
        let Some(closeness) = closeness(&me.chars, me.side, &other.chars, other.side) else {
            continue;
        };
        let other_store = match (me.store, other.store) {
            (Some(a), Some(b)) => a != b,
            _ => true,
        };
        let gap_seconds = match (me.at, other.at) {
            (Some(a), Some(b)) => (a - b).num_seconds().abs(),
            _ => i64::MAX,
        };
        scores.push(Score {
            candidate: i,
            closeness,
            other_store,
            gap_seconds,
        });
    }
    scores.sort_by_key(Score::key);
    let mut scores = scores.into_iter();
    let first = scores.next()?;
    match scores.next() {
        Some(next) if !first.clearly_beats(&next) => None,
        _ => Some(first),
    }
}

/// Sets `suggestion` on the unmatched findings whose likely counterpart is clear; touches no
/// other field. `window_days` is the match window: how many business days apart two records
/// of one sale may lie. Returns how many findings got a suggestion.
pub(crate) fn annotate(findings: &mut [Discrepancy], window_days: u32) -> usize {
    let (flexiti, ledger): (Vec<Unmatched<'_>>, Vec<Unmatched<'_>>) = findings
        .iter()
        .enumerate()
        .filter_map(|(i, d)| unmatched(i, d))
        .partition(|u| u.side == Side::Flexiti);
    if flexiti.is_empty() || ledger.is_empty() {
        return 0;
    }
    let window = i64::from(window_days);
    let (f_buckets, l_buckets) = (buckets(&flexiti), buckets(&ledger));
    let l_best: Vec<Option<Score>> = ledger
        .iter()
        .map(|l| best(l, &flexiti, &f_buckets, window))
        .collect();
    let mut found: Vec<(usize, Suggestion)> = Vec::new();
    for f in &flexiti {
        let Some(score) = best(f, &ledger, &l_buckets, window) else {
            continue;
        };
        let l = &ledger[score.candidate];
        let mutual = l_best[score.candidate]
            .as_ref()
            .is_some_and(|back| flexiti[back.candidate].finding == f.finding);
        if !mutual {
            continue;
        }
        found.push((f.finding, suggestion(f, l, &score)));
        if let Some(back) = &l_best[score.candidate] {
            found.push((l.finding, suggestion(l, f, back)));
        }
    }
    let count = found.len();
    for (index, s) in found {
        if let Some(d) = findings.get_mut(index) {
            d.suggestion = Some(s);
        }
    }
    count
}

fn suggestion(me: &Unmatched<'_>, other: &Unmatched<'_>, score: &Score) -> Suggestion {
    let day = match (other.day - me.day).num_days() {
        0 => "the same business day".to_string(),
        n => format!("{n:+} business day(s)"),
    };
    let store = match (me.store, other.store) {
        (Some(a), Some(b)) if a == b => "the same store".to_string(),
        (Some(a), Some(b)) => format!("store {b} (not {a})"),
        _ => "store unknown".to_string(),
    };
    let time = if score.gap_seconds == i64::MAX {
        String::new()
    } else if score.gap_seconds < 120 {
        format!(", {} s apart", score.gap_seconds)
    } else {
        format!(", {} min apart", score.gap_seconds / 60)
    };
    Suggestion {
        reference: other.reference.to_string(),
        id: other.id.clone(),
        why: format!(
            "probably {} {} ({}): {}; same kind and amount ({}), {day}, {store}{time}",
            other.side.name(),
            other.id,
            other.reference,
            score.closeness.describe(),
            other.amount,
        ),
    }
}

#[cfg(test)]
mod tests;
