//! Rules 3 to 6 turned into findings: categories, the day each belongs to, the explanation,
//! and the switch to `unverified` on days whose Flexiti side was not fully fetched.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use super::Keyed;
use super::matching::Matched;
use crate::domain::{
    Amount, Category, Discrepancy, FlexitiRecord, FlexitiSide, Kind, LedgerRow, LedgerSide, Pass,
};

pub(crate) struct Sides<'a, 'b> {
    pub(crate) f: &'b [Keyed<'a, FlexitiRecord>],
    pub(crate) l: &'b [Keyed<'a, LedgerRow>],
    pub(crate) ledger: &'a LedgerSide,
}

/// References of authorizations listed on a fetched date with no capture among the fetched
/// captures, whatever their status.
pub(crate) fn uncaptured_references(flexiti: &FlexitiSide) -> HashSet<&str> {
    // The side normally keeps only uncaptured authorizations; checked again here against the
    // records, looking up only the few authorization ids there are.
    let mut uncaptured: rustc_hash::FxHashSet<u64> = flexiti
        .authorizations
        .iter()
        .map(|a| a.authorization_id)
        .collect();
    if !uncaptured.is_empty() {
        for r in &flexiti.records {
            uncaptured.remove(&r.authorization_id);
        }
    }
    flexiti
        .authorizations
        .iter()
        .filter(|a| uncaptured.contains(&a.authorization_id))
        .map(|a| a.reference.as_str())
        .collect()
}

pub(crate) fn findings(
    sides: &Sides<'_, '_>,
    matched: &Matched,
    uncaptured: &HashSet<&str>,
    incomplete: &BTreeSet<NaiveDate>,
    tolerance: Amount,
) -> anyhow::Result<Vec<Discrepancy>> {
    let mut out = Vec::new();
    for (pass, pairs) in [
        (Pass::Exact, &matched.exact),
        (Pass::Amount, &matched.amount),
    ] {
        // Millions of pairs, few findings: each half of the pairs on its own core, the
        // findings kept in pair order (the first half's first).
        out.extend(in_halves(pairs, |half| {
            let mut out = Vec::new();
            for &(fi, li) in half {
                let (Some(f), Some(l)) = (sides.f.get(fi as usize), sides.l.get(li as usize))
                else {
                    continue;
                };
                pair_findings(sides, pass, f, l, tolerance, &mut out)?;
            }
            Ok(out)
        })?);
    }
    // Leftovers too: each half on its own core, in order (a finding's explanation is built
    // for each, about 130,000 at 10M rows).
    let flexiti_left = |left: &[(u32, bool)]| -> anyhow::Result<Vec<Discrepancy>> {
        let mut out = Vec::with_capacity(left.len());
        for &(fi, paired) in left {
            let Some(f) = sides.f.get(fi as usize) else {
                continue;
            };
            out.push(flexiti_leftover(f, paired)?);
        }
        Ok(out)
    };
    let ledger_left = |left: &[(u32, bool)]| -> anyhow::Result<Vec<Discrepancy>> {
        Ok(left
            .iter()
            .filter_map(|&(li, paired)| {
                let l = sides.l.get(li as usize)?;
                Some(ledger_leftover(sides, l, paired, uncaptured, incomplete))
            })
            .collect())
    };
    out.extend(in_halves(&matched.flexiti_left, flexiti_left)?);
    out.extend(in_halves(&matched.ledger_left, ledger_left)?);
    assign_ledger_ids(sides, &mut out);
    Ok(out)
}

/// `make` of each half of `items` on its own core, the first half's results first.
fn in_halves<T: Sync, R: Send>(
    items: &[T],
    make: impl Fn(&[T]) -> anyhow::Result<Vec<R>> + Sync,
) -> anyhow::Result<Vec<R>> {
    if items.len() < 1024 {
        return make(items);
    }
    let (first, second) = items.split_at(items.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| make(first));
        let second = make(second);
        (first.join(), second)
    });
    let mut all = first.map_err(|_| anyhow::anyhow!("a finding builder stopped"))??;
    all.extend(second?);
    Ok(all)
}

/// A Flexiti record left over: a duplicate when its (reference, kind) is paired, else missing
/// in the ledger.
fn flexiti_leftover(f: &Keyed<'_, FlexitiRecord>, paired: bool) -> anyhow::Result<Discrepancy> {
    let (category, why) = if paired {
        (
            Category::DuplicateInFlexiti,
            "another Flexiti record with this reference and kind is already paired with the ledger",
        )
    } else {
        (
            Category::MissingInLedger,
            "no ledger row has this reference and kind",
        )
    };
    flexiti_only(f, category, why)
}

/// A ledger row left over: a duplicate when its (reference, kind) is paired, else not captured
/// or missing at Flexiti, `unverified` on a day whose Flexiti side was not fully fetched.
fn ledger_leftover(
    sides: &Sides<'_, '_>,
    l: &Keyed<'_, LedgerRow>,
    paired: bool,
    uncaptured: &HashSet<&str>,
    incomplete: &BTreeSet<NaiveDate>,
) -> Discrepancy {
    let category = if paired {
        Category::DuplicateInLedger
    } else if l.item.kind == Kind::Sale && uncaptured.contains(l.item.reference.as_str()) {
        Category::NotCaptured
    } else {
        Category::MissingInFlexiti
    };
    let rule6 = matches!(category, Category::NotCaptured | Category::MissingInFlexiti)
        && incomplete.contains(&l.day);
    if rule6 {
        let why = format!(
            "Flexiti data for {} was not fully fetched; the rules would say {category}",
            l.day
        );
        return ledger_only(sides, l, Category::Unverified, &why);
    }
    let why = match category {
        Category::DuplicateInLedger => {
            "another ledger row with this reference and kind is already paired with Flexiti"
        }
        Category::NotCaptured => "Flexiti has an authorization for this reference but no capture",
        _ => "no Flexiti record has this reference and kind",
    };
    ledger_only(sides, l, category, why)
}

/// `ledger - flexiti` for the finding of `reference`. Both are magnitudes of parsed amounts, so
/// the difference fits in 64-bit cents; should it ever not, the run fails naming the reference
/// rather than record a wrapped delta.
fn delta(reference: &str, ledger: Amount, flexiti: Amount) -> anyhow::Result<Amount> {
    ledger.checked_sub(flexiti).ok_or_else(|| {
        anyhow::anyhow!(
            "reference {reference}: ledger {ledger} minus Flexiti {flexiti} passes the range of \
             64-bit cents"
        )
    })
}

fn pair_findings(
    sides: &Sides<'_, '_>,
    pass: Pass,
    f: &Keyed<'_, FlexitiRecord>,
    l: &Keyed<'_, LedgerRow>,
    tolerance: Amount,
    out: &mut Vec<Discrepancy>,
) -> anyhow::Result<()> {
    let delta = delta(&l.item.reference, l.item.amount, f.item.amount)?;
    let day_delta = (l.day - f.day).num_days();
    let stores_differ = matches!((&f.item.store, &l.item.store), (Some(a), Some(b)) if a != b);
    // Built only for a pair that has a finding: most pairs have none.
    let sides_text = || {
        format!(
            "ledger {} {} at {} vs Flexiti {} {} at {}",
            l.item.amount,
            sides.ledger.file_name(l.item.file_index) + ":" + &l.item.line.to_string(),
            l.day,
            f.item.identity(),
            f.item.amount,
            f.day,
        )
    };
    let pass_text = match pass {
        Pass::Exact => "paired by the exact pass (reference, kind, amount)",
        _ => "paired by the amount pass (reference, kind)",
    };
    if pass == Pass::Amount && delta.abs() > tolerance {
        let why = format!(
            "{pass_text}; amounts differ by {delta} (tolerance {tolerance}): {}",
            sides_text()
        );
        out.push(paired(
            sides,
            pass,
            (f, l, delta),
            Category::AmountMismatch,
            why,
        ));
    }
    if day_delta != 0 {
        let why = format!(
            "{pass_text}; business days differ by {day_delta} day(s): {}",
            sides_text()
        );
        out.push(paired(
            sides,
            pass,
            (f, l, delta),
            Category::DateMismatch,
            why,
        ));
    }
    if stores_differ {
        let why = format!(
            "{pass_text}; stores differ: ledger {} vs Flexiti {}",
            l.item.store.as_deref().unwrap_or("-"),
            f.item.store.as_deref().unwrap_or("-"),
        );
        out.push(paired(
            sides,
            pass,
            (f, l, delta),
            Category::StoreMismatch,
            why,
        ));
    }
    Ok(())
}

fn base(
    category: Category,
    pass: Pass,
    reference: &str,
    kind: Kind,
    day: NaiveDate,
) -> Discrepancy {
    Discrepancy {
        business_date: day,
        category,
        severity: category.severity(),
        reference: reference.to_string(),
        kind,
        flexiti_amount: None,
        ledger_amount: None,
        delta: Amount::ZERO,
        day_delta: None,
        pass,
        flexiti_id: None,
        authorization_id: None,
        flexiti_store: None,
        flexiti_at: None,
        ledger_store: None,
        ledger_register: None,
        ledger_at: None,
        ledger_file: None,
        ledger_line: None,
        ledger_id: None,
        explanation: String::new(),
        suggestion: None,
    }
}

fn with_flexiti(d: &mut Discrepancy, f: &FlexitiRecord) {
    d.flexiti_amount = Some(f.amount);
    d.flexiti_id = Some(f.identity());
    d.authorization_id = Some(f.authorization_id);
    d.flexiti_store = f.store.map(|s| s.to_string());
    d.flexiti_at = Some(f.at);
}

fn with_ledger(sides: &Sides<'_, '_>, d: &mut Discrepancy, l: &LedgerRow) {
    d.ledger_amount = Some(l.amount);
    d.ledger_store = l.store.map(|s| s.to_string());
    d.ledger_register = l.register.map(|s| s.to_string());
    d.ledger_at = Some(l.at);
    d.ledger_file = Some(sides.ledger.file_name(l.file_index));
    d.ledger_line = Some(u64::from(l.line));
}

fn paired(
    sides: &Sides<'_, '_>,
    pass: Pass,
    (f, l, delta): (&Keyed<'_, FlexitiRecord>, &Keyed<'_, LedgerRow>, Amount),
    category: Category,
    explanation: String,
) -> Discrepancy {
    let mut d = base(category, pass, &l.item.reference, l.item.kind, l.day);
    with_flexiti(&mut d, f.item);
    with_ledger(sides, &mut d, l.item);
    d.delta = delta;
    d.day_delta = Some((l.day - f.day).num_days());
    d.explanation = explanation;
    d
}

fn flexiti_only(
    f: &Keyed<'_, FlexitiRecord>,
    category: Category,
    why: &str,
) -> anyhow::Result<Discrepancy> {
    let mut d = base(
        category,
        Pass::Leftover,
        &f.item.reference,
        f.item.kind(),
        f.day,
    );
    with_flexiti(&mut d, f.item);
    d.delta = delta(&f.item.reference, Amount::ZERO, f.item.amount)?;
    d.explanation = format!(
        "Flexiti {} {} {} at {}; {why}",
        f.item.identity(),
        f.item.kind(),
        f.item.amount,
        f.item.at.to_rfc3339(),
    );
    Ok(d)
}

pub(crate) fn ledger_only(
    sides: &Sides<'_, '_>,
    l: &Keyed<'_, LedgerRow>,
    category: Category,
    why: &str,
) -> Discrepancy {
    let mut d = base(
        category,
        Pass::Leftover,
        &l.item.reference,
        l.item.kind,
        l.day,
    );
    with_ledger(sides, &mut d, l.item);
    d.delta = l.item.amount;
    d.explanation = format!(
        "ledger {}:{} {} {}; {why}",
        sides.ledger.file_name(l.item.file_index),
        l.item.line,
        l.item.kind,
        l.item.amount,
    );
    d
}

/// Gives each ledger row in a finding a content identity (time, store, register, amount and
/// its occurrence among identical rows), so that a rerun over re-exported files finds the
/// same finding again.
pub(crate) fn assign_ledger_ids(sides: &Sides<'_, '_>, out: &mut [Discrepancy]) {
    let wanted: rustc_hash::FxHashSet<&str> = out
        .iter()
        .filter(|d| d.ledger_line.is_some())
        .map(|d| d.reference.as_str())
        .collect();
    if wanted.is_empty() {
        return;
    }
    // Every ledger row of the window is looked up (millions, for a few findings): each half
    // on its own core.
    let wanted_in = |half| wanted_rows(half, &wanted);
    let (first, second) = sides.l.split_at(sides.l.len() / 2);
    let mut rows = std::thread::scope(|scope| {
        let first = scope.spawn(|| wanted_in(first));
        let second = wanted_in(second);
        first.join().map(|mut first| {
            first.extend(second);
            first
        })
    })
    .unwrap_or_else(|_| wanted_in(sides.l));
    rows.sort_by_key(|r| (r.file_index, r.line));
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut ids: HashMap<(u32, u64), String> = HashMap::new();
    for r in rows {
        let content = format!(
            "{}|{}|{}|{}|{}|{}",
            r.reference,
            r.kind,
            r.at.to_rfc3339(),
            r.store.as_deref().unwrap_or(""),
            r.register.as_deref().unwrap_or(""),
            r.amount
        );
        let n = seen.entry(content.clone()).or_insert(0);
        *n += 1;
        ids.insert((r.file_index, u64::from(r.line)), format!("{content}#{n}"));
    }
    let file_index: HashMap<String, u32> = (0..sides.ledger.files.len())
        .filter_map(|i| u32::try_from(i).ok())
        .map(|i| (sides.ledger.file_name(i), i))
        .collect();
    for d in out.iter_mut() {
        if let (Some(file), Some(line)) = (&d.ledger_file, d.ledger_line) {
            let key = (file_index.get(file).copied().unwrap_or(u32::MAX), line);
            d.ledger_id = ids.get(&key).cloned();
        }
    }
}

/// The rows of `rows` whose reference is `wanted`.
fn wanted_rows<'a>(
    rows: &[Keyed<'a, LedgerRow>],
    wanted: &rustc_hash::FxHashSet<&str>,
) -> Vec<&'a LedgerRow> {
    rows.iter()
        .map(|k| k.item)
        .filter(|r| wanted.contains(r.reference.as_str()))
        .collect()
}

/// Findings ordered by day, category, reference, kind, then the ids on each side.
pub(crate) fn display_order(a: &Discrepancy, b: &Discrepancy) -> Ordering {
    (
        a.business_date,
        a.category,
        &a.reference,
        a.kind,
        &a.flexiti_id,
        &a.ledger_file,
        a.ledger_line,
    )
        .cmp(&(
            b.business_date,
            b.category,
            &b.reference,
            b.kind,
            &b.flexiti_id,
            &b.ledger_file,
            b.ledger_line,
        ))
}
