//! Days: returns, incomplete days, ranges, DST, reruns, partial captures and invalid records.

use super::*;

#[test]
fn a_return_is_its_own_record_on_its_own_day() {
    let mut s = Scenario::new();
    s.sale("A", "100.00", "2026-11-22T15:00:00Z", 1)
        .ret("A", "20.00", "2026-11-23T15:00:00Z", 1, 5)
        .led_sale("A", "100.00", "2026-11-22 10:00:00", 2)
        .led(Kind::Return, "A", "25.00", "2026-11-23 10:00:00", 0, 3);
    let o = s.run();
    assert_eq!(categories(&o), vec![(Category::AmountMismatch, "A".into())]);
    let d = &o.discrepancies[0];
    assert_eq!(d.kind, Kind::Return);
    assert_eq!(d.flexiti_id.as_deref(), Some("return:5"));
    assert_eq!(d.delta, amt("5.00"));
}

#[test]
fn on_an_incomplete_day_ledger_rows_missing_at_flexiti_become_unverified_and_nothing_else_changes()
{
    let mut s = Scenario::new();
    s.incomplete("2026-11-23")
        .uncaptured_auth("NC")
        .led_sale("NC", "10.00", "2026-11-23 10:00:00", 2)
        .led_sale("MF", "10.00", "2026-11-23 10:00:00", 3)
        .sale("ML", "10.00", "2026-11-23T15:00:00Z", 1)
        .sale("AM", "10.00", "2026-11-23T15:00:00Z", 2)
        .led_sale("AM", "11.00", "2026-11-23 10:00:00", 4)
        .sale("DL", "10.00", "2026-11-23T15:00:00Z", 3)
        .led_sale("DL", "10.00", "2026-11-23 10:00:00", 5)
        .led_sale("DL", "10.00", "2026-11-23 10:00:00", 6);
    let o = s.run();
    assert_eq!(
        categories(&o),
        vec![
            (Category::AmountMismatch, "AM".into()),
            (Category::DuplicateInLedger, "DL".into()),
            (Category::MissingInLedger, "ML".into()),
            (Category::Unverified, "MF".into()),
            (Category::Unverified, "NC".into()),
        ]
    );
    assert_eq!(o.incomplete_days, vec![day("2026-11-23")]);
    // A complete day next to it keeps its categories.
    let mut t = Scenario::new();
    t.incomplete("2026-11-24")
        .led_sale("MF", "10.00", "2026-11-23 10:00:00", 3);
    assert_eq!(
        categories(&t.run()),
        vec![(Category::MissingInFlexiti, "MF".into())]
    );
}

#[test]
fn an_empty_side_makes_every_record_of_the_other_side_missing() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-23T15:00:00Z", 1);
    assert_eq!(
        categories(&s.run()),
        vec![(Category::MissingInLedger, "A".into())]
    );
    let mut t = Scenario::new();
    t.led_sale("B", "10.00", "2026-11-23 10:00:00", 2);
    assert_eq!(
        categories(&t.run()),
        vec![(Category::MissingInFlexiti, "B".into())]
    );
    assert!(Scenario::new().run().discrepancies.is_empty());
}

#[test]
fn a_multi_day_range_records_every_day_and_totals_each_day_and_store() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-23T15:00:00Z", 1)
        .led_sale("A", "10.00", "2026-11-23 10:00:00", 2)
        .sale("B", "20.00", "2026-11-24T15:00:00Z", 2)
        .ret("B", "5.00", "2026-11-24T16:00:00Z", 2, 9)
        .led_sale("C", "7.00", "2026-11-24 10:00:00", 3)
        .store_of_last_row("00-2");
    let o = s.run_range("2026-11-23", "2026-11-24", 1, "0.00");
    assert_eq!(
        categories(&o),
        vec![
            (Category::MissingInLedger, "B".into()),
            (Category::MissingInLedger, "B".into()),
            (Category::MissingInFlexiti, "C".into()),
        ]
    );
    let t24: Vec<_> = o
        .totals
        .iter()
        .filter(|t| t.business_date == day("2026-11-24"))
        .collect();
    assert_eq!(t24.len(), 2);
    assert_eq!(t24[0].store, "00-1");
    assert_eq!(t24[0].flexiti.count, 2);
    assert_eq!(t24[0].flexiti.net(), amt("15.00").into());
    assert_eq!(t24[1].ledger.sales, amt("7.00"));
    assert_eq!((o.flexiti_records, o.ledger_rows), (3, 2));
}

#[test]
fn a_sale_in_the_autumn_dst_overlap_pairs_on_its_local_day() {
    let mut s = Scenario::new();
    // 01:30 local on 2026-11-01 happens twice; the earlier (EDT) instant is 05:30 UTC.
    s.sale("A", "10.00", "2026-11-01T05:30:00Z", 1).led_sale(
        "A",
        "10.00",
        "2026-11-01 01:30:00",
        2,
    );
    let o = s.run_range("2026-11-01", "2026-11-01", 1, "0.00");
    assert!(o.discrepancies.is_empty());
    assert_eq!(o.totals[0].business_date, day("2026-11-01"));
}

#[test]
fn a_rerun_gives_the_same_fingerprints() {
    let mut s = Scenario::new();
    s.led_sale("A", "10.00", "2026-11-23 10:00:00", 2).led_sale(
        "A",
        "10.00",
        "2026-11-23 10:00:00",
        3,
    );
    let a: BTreeSet<String> = s
        .run()
        .discrepancies
        .iter()
        .map(|d| d.fingerprint())
        .collect();
    let b: BTreeSet<String> = s
        .run()
        .discrepancies
        .iter()
        .map(|d| d.fingerprint())
        .collect();
    assert_eq!(a.len(), 2, "two identical rows are two findings");
    assert_eq!(a, b);
}

#[test]
fn a_partial_capture_pairs_on_the_captured_amount_and_its_authorization_counts_as_captured() {
    let mut s = Scenario::new();
    s.sale("A", "600.00", "2026-11-23T15:00:00Z", 1);
    let auth_id = s.flexiti.records[0].authorization_id;
    s.uncaptured_auth("A");
    if let Some(a) = s.flexiti.authorizations.last_mut() {
        a.authorization_id = auth_id;
        a.amount = amt("1000.00");
    }
    s.led_sale("A", "600.00", "2026-11-23 10:00:00", 2);
    let o = s.run();
    assert!(o.discrepancies.is_empty(), "{:?}", o.discrepancies);
    assert_eq!(o.totals[0].flexiti.sales, amt("600.00"));
}

fn invalid(reference: &str, id: &str) -> crate::domain::InvalidRecord {
    crate::domain::InvalidRecord {
        source: "captures.json".into(),
        parameters: String::new(),
        utc_date: None,
        id: id.into(),
        reference: reference.into(),
        breach: crate::domain::Breach::NegativeAmount,
        value: "-10.00".into(),
    }
}

#[test]
fn ledger_rows_of_an_invalid_records_reference_are_unverified_and_nothing_of_it_pairs() {
    let mut s = Scenario::new();
    // BAD: the ledger sale and a valid Flexiti return of the reference would pair; the capture
    // is invalid. UC: an uncaptured authorization would make its ledger sale not_captured.
    s.ret("BAD", "2.00", "2026-11-23T16:00:00Z", 1, 5)
        .led_sale("BAD", "10.00", "2026-11-23 10:00:00", 2)
        .led(Kind::Return, "BAD", "2.00", "2026-11-23 11:00:00", 0, 3)
        .led_sale("BAD", "10.00", "2026-11-23 10:00:00", 4)
        .uncaptured_auth("UC")
        .led_sale("UC", "5.00", "2026-11-23 10:00:00", 5)
        .sale("OK", "7.00", "2026-11-23T15:00:00Z", 2)
        .led_sale("OK", "7.00", "2026-11-23 10:00:00", 6);
    s.flexiti.invalid = vec![
        invalid("BAD", "capture:1"),
        invalid("UC", "authorization:9"),
    ];
    let o = s.run();
    assert_eq!(
        categories(&o),
        vec![
            (Category::Unverified, "BAD".into()),
            (Category::Unverified, "BAD".into()),
            (Category::Unverified, "BAD".into()),
            (Category::Unverified, "UC".into()),
        ],
        "no pair, no duplicate, no not_captured: {:?}",
        o.discrepancies
    );
    assert_eq!(o.matched_pairs, 1, "only OK pairs");
    let first = &o.discrepancies[0];
    assert_eq!(first.flexiti_id, None);
    assert_eq!(first.ledger_line, Some(2));
    assert!(first.ledger_id.is_some());
    assert!(
        first
            .explanation
            .contains("Flexiti capture:1 amount -10.00 (negative amount) is an invalid record, read from captures.json"),
        "{}",
        first.explanation
    );
    // Totals still count every record and row.
    assert_eq!(o.flexiti_records, 2);
    assert_eq!(o.ledger_rows, 5);
}

#[test]
fn a_valid_flexiti_record_of_an_unjudged_reference_gives_no_finding() {
    let mut s = Scenario::new();
    s.sale("BAD", "10.00", "2026-11-23T15:00:00Z", 2).sale(
        "BAD",
        "10.00",
        "2026-11-23T15:00:00Z",
        3,
    );
    s.flexiti.invalid = vec![invalid("BAD", "return:7")];
    assert_eq!(categories(&s.run()), vec![]);
    // Without the invalid record the same side has findings.
    s.flexiti.invalid.clear();
    assert_eq!(categories(&s.run()).len(), 2);
}

#[test]
fn an_invalid_record_without_a_reference_leaves_every_other_reference_judged() {
    let mut s = Scenario::new();
    s.led_sale("MF", "10.00", "2026-11-23 10:00:00", 2);
    s.flexiti.invalid = vec![invalid("", "capture:1")];
    assert_eq!(
        categories(&s.run()),
        vec![(Category::MissingInFlexiti, "MF".into())]
    );
}
