use chrono::{NaiveDate, TimeZone, Utc};

use super::annotate;
use crate::domain::{Amount, Category, Discrepancy, Kind, Pass};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

fn bare(category: Category, reference: &str, d: u32) -> Discrepancy {
    Discrepancy {
        business_date: day(d),
        category,
        severity: category.severity(),
        reference: reference.to_string(),
        kind: Kind::Sale,
        flexiti_amount: None,
        ledger_amount: None,
        delta: Amount::ZERO,
        day_delta: None,
        pass: Pass::Leftover,
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
        explanation: "why".to_string(),
        suggestion: None,
    }
}

/// A Flexiti-only finding at `hour`:00 of day `d` in `store`.
fn flexiti(reference: &str, cents: i64, d: u32, hour: u32, store: &str, id: u64) -> Discrepancy {
    let mut f = bare(Category::MissingInLedger, reference, d);
    f.flexiti_amount = Some(Amount::from_cents(cents));
    f.delta = Amount::from_cents(-cents);
    f.flexiti_id = Some(format!("capture:{id}"));
    f.authorization_id = Some(id + 1000);
    f.flexiti_store = Some(store.to_string());
    f.flexiti_at = Utc.with_ymd_and_hms(2026, 11, d, hour, 0, 0).single();
    f
}

fn ledger(reference: &str, cents: i64, d: u32, hour: u32, store: &str, line: u64) -> Discrepancy {
    let mut l = bare(Category::MissingInFlexiti, reference, d);
    l.ledger_amount = Some(Amount::from_cents(cents));
    l.delta = Amount::from_cents(cents);
    l.ledger_store = Some(store.to_string());
    l.ledger_register = Some("3".to_string());
    l.ledger_at = Utc.with_ymd_and_hms(2026, 11, d, hour, 0, 0).single();
    l.ledger_file = Some("ledger.csv".to_string());
    l.ledger_line = Some(line);
    l.ledger_id = Some(format!("row-{line}"));
    l
}

fn suggested(findings: &[Discrepancy]) -> Vec<Option<(&str, &str)>> {
    findings
        .iter()
        .map(|d| {
            d.suggestion
                .as_ref()
                .map(|s| (s.reference.as_str(), s.id.as_str()))
        })
        .collect()
}

const REF: &str = "ORD-20261123-000123";

#[test]
fn each_kind_of_typo_suggests_the_counterpart_on_both_sides() {
    for (typo, words) in [
        (
            "ORD-20261123-000128",
            "one character differs ('8' here, '3' there)",
        ),
        ("ORD-20261123-000213", "two characters swapped"),
        (
            "ORD-20261123-00123",
            "the Flexiti reference has '0' doubled",
        ),
        (
            "ORD-20261123-00013",
            "the Flexiti reference has an extra '2'",
        ),
        (
            "ORD-20261123-0001223",
            "the ledger reference has '2' doubled",
        ),
        (
            "ORD-20261123-0001243",
            "the ledger reference has an extra '4'",
        ),
        (
            "POS-ORD-20261123-000123",
            "the ledger reference has the extra prefix 'POS-'",
        ),
        (
            "20261123-000123",
            "the Flexiti reference has the extra prefix 'ORD-'",
        ),
        (
            "ORD-20261123-000198",
            "the references differ by two characters",
        ),
    ] {
        let mut findings = vec![
            flexiti(REF, 12_345, 23, 18, "00-12345", 346_001),
            ledger(typo, 12_345, 23, 18, "00-12345", 57),
        ];
        assert_eq!(annotate(&mut findings, 1), 2, "{typo}");
        assert_eq!(
            suggested(&findings),
            vec![Some((typo, "ledger.csv:57")), Some((REF, "capture:346001"))],
            "{typo}"
        );
        let why = &findings[1].suggestion.as_ref().expect("suggestion").why;
        assert!(why.contains(words), "{typo}: {why}");
        assert!(
            why.starts_with(&format!("probably Flexiti capture:346001 ({REF}): "))
                && why.contains("same kind and amount (123.45), the same business day, the same store, 0 s apart"),
            "{why}"
        );
    }
}

#[test]
fn a_suggestion_changes_no_category_amount_explanation_or_fingerprint() {
    let mut findings = vec![
        flexiti(REF, 12_345, 23, 18, "00-12345", 346_001),
        ledger("ORD-20261123-000132", 12_345, 23, 18, "00-12345", 57),
    ];
    let before = findings.clone();
    assert_eq!(annotate(&mut findings, 1), 2);
    for (after, before) in findings.iter().zip(&before) {
        assert!(after.suggestion.is_some());
        assert_eq!(after.fingerprint(), before.fingerprint());
        let mut without = after.clone();
        without.suggestion = None;
        assert_eq!(&without, before);
    }
}

#[test]
fn another_amount_kind_or_a_day_outside_the_window_is_no_counterpart() {
    let typo = "ORD-20261123-000128";
    let mut other_amount = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger(typo, 12_346, 23, 18, "s", 2),
    ];
    let mut other_kind = other_amount.clone();
    other_kind[1].ledger_amount = Some(Amount::from_cents(12_345));
    other_kind[1].kind = Kind::Return;
    let mut two_days_later = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger(typo, 12_345, 25, 18, "s", 2),
    ];
    let mut one_day_later = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger(typo, 12_345, 24, 18, "s", 2),
    ];
    let mut far_reference = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000999", 12_345, 23, 18, "s", 2),
    ];
    assert_eq!(annotate(&mut other_amount, 1), 0);
    assert_eq!(annotate(&mut other_kind, 1), 0);
    assert_eq!(annotate(&mut two_days_later, 1), 0);
    assert_eq!(annotate(&mut far_reference, 1), 0);
    assert_eq!(annotate(&mut one_day_later, 1), 2);
    let why = &one_day_later[0]
        .suggestion
        .as_ref()
        .expect("suggestion")
        .why;
    assert!(why.contains("+1 business day(s)"), "{why}");
}

#[test]
fn two_equally_likely_candidates_give_no_suggestion() {
    let mut findings = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000124", 12_345, 23, 18, "s", 2),
        ledger("ORD-20261123-000122", 12_345, 23, 18, "s", 3),
    ];
    assert_eq!(annotate(&mut findings, 1), 0);
    assert_eq!(suggested(&findings), vec![None, None, None]);
}

#[test]
fn a_closer_reference_then_the_same_store_then_a_close_time_break_ties() {
    // One edit beats two edits.
    let mut closer = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000124", 12_345, 23, 18, "s", 2),
        ledger("ORD-20261123-000145", 12_345, 23, 18, "s", 3),
    ];
    assert_eq!(annotate(&mut closer, 1), 2);
    assert_eq!(
        suggested(&closer)[0],
        Some(("ORD-20261123-000124", "ledger.csv:2"))
    );
    assert_eq!(suggested(&closer)[2], None);
    // Same store beats another store.
    let mut store = vec![
        flexiti(REF, 12_345, 23, 18, "00-12345", 1),
        ledger("ORD-20261123-000124", 12_345, 23, 18, "00-67890", 2),
        ledger("ORD-20261123-000122", 12_345, 23, 18, "00-12345", 3),
    ];
    assert_eq!(annotate(&mut store, 1), 2);
    assert_eq!(
        suggested(&store)[0],
        Some(("ORD-20261123-000122", "ledger.csv:3"))
    );
    // Minutes apart beats hours apart; an hour against two is no clear winner.
    let mut time = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000124", 12_345, 23, 12, "s", 2),
        ledger("ORD-20261123-000122", 12_345, 23, 18, "s", 3),
    ];
    assert_eq!(annotate(&mut time, 1), 2);
    assert_eq!(
        suggested(&time)[0],
        Some(("ORD-20261123-000122", "ledger.csv:3"))
    );
    let mut unclear = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000124", 12_345, 23, 16, "s", 2),
        ledger("ORD-20261123-000122", 12_345, 23, 17, "s", 3),
    ];
    assert_eq!(annotate(&mut unclear, 1), 0);
}

#[test]
fn a_record_claimed_by_two_findings_goes_to_neither_unless_it_prefers_one_clearly() {
    // Two Flexiti records both one edit from one ledger row: the row cannot choose, and
    // neither record gets it.
    let mut findings = vec![
        flexiti("ORD-20261123-000124", 12_345, 23, 18, "s", 1),
        flexiti("ORD-20261123-000122", 12_345, 23, 18, "s", 2),
        ledger(REF, 12_345, 23, 18, "s", 3),
    ];
    assert_eq!(annotate(&mut findings, 1), 0);
}

#[test]
fn duplicates_and_not_captured_take_part_while_paired_and_unverified_findings_do_not() {
    let mut duplicate = vec![
        flexiti(REF, 12_345, 23, 18, "s", 1),
        ledger("ORD-20261123-000132", 12_345, 23, 18, "s", 2),
    ];
    duplicate[0].category = Category::DuplicateInFlexiti;
    duplicate[1].category = Category::DuplicateInLedger;
    assert_eq!(annotate(&mut duplicate, 1), 2);
    let mut not_captured = duplicate.clone();
    for d in &mut not_captured {
        d.suggestion = None;
    }
    not_captured[1].category = Category::NotCaptured;
    assert_eq!(annotate(&mut not_captured, 1), 2);
    for category in [Category::Unverified, Category::AmountMismatch] {
        let mut other = vec![
            flexiti(REF, 12_345, 23, 18, "s", 1),
            ledger("ORD-20261123-000132", 12_345, 23, 18, "s", 2),
        ];
        other[1].category = category;
        assert_eq!(annotate(&mut other, 1), 0, "{category}");
    }
}

#[test]
fn a_crowded_amount_gives_up_instead_of_comparing_everything() {
    let mut findings = vec![flexiti(REF, 10_000, 23, 18, "s", 1)];
    findings.extend((0..100).map(|i| ledger(&format!("X-{i:05}"), 10_000, 23, 18, "s", i + 2)));
    findings.push(ledger("ORD-20261123-000132", 10_000, 23, 18, "s", 500));
    assert_eq!(annotate(&mut findings, 1), 0);
}

#[test]
fn short_or_long_references_and_odd_characters_never_panic() {
    let mut findings = vec![
        flexiti("", 100, 23, 18, "s", 1),
        ledger("a", 100, 23, 18, "s", 2),
        flexiti("ÉÉÉ-é1", 200, 23, 18, "s", 3),
        ledger("ÉÉÉ-1é", 200, 23, 18, "s", 4),
        flexiti(&"9".repeat(5_000), 300, 23, 18, "s", 5),
        ledger(&format!("P{}", "9".repeat(5_000)), 300, 23, 18, "s", 6),
    ];
    assert_eq!(annotate(&mut findings, 1), 4);
    assert_eq!(suggested(&findings)[0], None);
    assert_eq!(suggested(&findings)[2], Some(("ÉÉÉ-1é", "ledger.csv:4")));
    let why = &findings[5].suggestion.as_ref().expect("suggestion").why;
    assert!(
        why.contains("the ledger reference has the extra prefix 'P'"),
        "{why}"
    );
}
