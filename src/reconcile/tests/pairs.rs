//! Pairing and the categories decided from pairs and leftovers.

use super::*;

#[test]
fn identical_records_pair_in_the_exact_pass_and_report_nothing() {
    let mut s = Scenario::new();
    s.sale("A", "1299.99", "2026-11-23T18:42:09Z", 1).led_sale(
        "A",
        "1299.99",
        "2026-11-23 13:42:00",
        2,
    );
    let o = s.run();
    assert!(o.discrepancies.is_empty(), "{:?}", o.discrepancies);
    assert_eq!(o.matched_pairs, 1);
}

#[test]
fn different_amounts_pair_in_the_amount_pass_as_amount_mismatch_with_ledger_minus_flexiti() {
    let mut s = Scenario::new();
    s.sale("A", "100.00", "2026-11-23T18:00:00Z", 1).led_sale(
        "A",
        "90.01",
        "2026-11-23 13:00:00",
        2,
    );
    let o = s.run();
    assert_eq!(o.discrepancies.len(), 1);
    let d = &o.discrepancies[0];
    assert_eq!(d.category, Category::AmountMismatch);
    assert_eq!(d.pass, Pass::Amount);
    assert_eq!(d.flexiti_amount, Some(amt("100.00")));
    assert_eq!(d.ledger_amount, Some(amt("90.01")));
    assert_eq!(d.delta, amt("-9.99"));
    assert!(d.explanation.contains("-9.99"), "{}", d.explanation);
}

#[test]
fn a_delta_within_the_tolerance_is_not_an_amount_mismatch() {
    let mut s = Scenario::new();
    s.sale("A", "100.00", "2026-11-23T18:00:00Z", 1).led_sale(
        "A",
        "100.02",
        "2026-11-23 13:00:00",
        2,
    );
    assert!(
        s.run_range("2026-11-23", "2026-11-23", 1, "0.02")
            .discrepancies
            .is_empty()
    );
    assert_eq!(
        s.run_range("2026-11-23", "2026-11-23", 1, "0.01")
            .discrepancies
            .len(),
        1
    );
}

#[test]
fn within_a_key_the_nth_record_by_time_pairs_with_the_nth_of_the_other_side() {
    let mut s = Scenario::new();
    s.sale("A", "60.00", "2026-11-23T16:00:00Z", 1)
        .sale("A", "50.00", "2026-11-23T15:00:00Z", 2)
        .led_sale("A", "65.00", "2026-11-23 11:00:00", 2)
        .led_sale("A", "55.00", "2026-11-23 10:00:00", 3);
    let o = s.run();
    let deltas: Vec<Amount> = o.discrepancies.iter().map(|d| d.delta).collect();
    assert_eq!(deltas, vec![amt("5.00"), amt("5.00")]);
}

#[test]
fn ties_in_time_are_broken_by_record_id_and_by_file_then_line() {
    let mut s = Scenario::new();
    // Same instant on both Flexiti records: capture 7 comes before capture 9.
    s.sale("A", "60.00", "2026-11-23T16:00:00Z", 9)
        .sale("A", "50.00", "2026-11-23T16:00:00Z", 7)
        // Same local time on both ledger rows: file a.csv before b.csv whatever the line.
        .led(Kind::Sale, "A", "61.00", "2026-11-23 11:00:00", 1, 2)
        .led(Kind::Sale, "A", "51.00", "2026-11-23 11:00:00", 0, 9);
    let o = s.run();
    let pairs: Vec<(String, String)> = o
        .discrepancies
        .iter()
        .map(|d| {
            (
                d.flexiti_id.clone().unwrap_or_default(),
                d.ledger_amount.map(|a| a.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("capture:7".to_string(), "51.00".to_string()),
            ("capture:9".to_string(), "61.00".to_string())
        ]
    );
}

#[test]
fn an_extra_flexiti_record_with_a_paired_key_is_a_duplicate_in_flexiti_else_missing_in_ledger() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-23T15:00:00Z", 1)
        .sale("A", "10.00", "2026-11-23T16:00:00Z", 2)
        .led_sale("A", "10.00", "2026-11-23 10:00:00", 2)
        .sale("B", "20.00", "2026-11-23T15:00:00Z", 3);
    let o = s.run();
    assert_eq!(
        categories(&o),
        vec![
            (Category::DuplicateInFlexiti, "A".into()),
            (Category::MissingInLedger, "B".into())
        ]
    );
    let dup = &o.discrepancies[0];
    assert_eq!(
        dup.flexiti_id.as_deref(),
        Some("capture:2"),
        "the later record is the duplicate"
    );
    assert_eq!(dup.delta, amt("-10.00"));
    assert_eq!(dup.ledger_amount, None);
}

#[test]
fn the_same_row_in_two_files_is_a_duplicate_in_ledger() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-23T15:00:00Z", 1)
        .led(Kind::Sale, "A", "10.00", "2026-11-23 10:00:00", 0, 2)
        .led(Kind::Sale, "A", "10.00", "2026-11-23 10:00:00", 1, 2);
    let o = s.run();
    assert_eq!(
        categories(&o),
        vec![(Category::DuplicateInLedger, "A".into())]
    );
    let d = &o.discrepancies[0];
    assert_eq!(d.ledger_file.as_deref(), Some("b.csv"));
    assert_eq!(d.delta, amt("10.00"));
    assert_eq!(d.flexiti_amount, None);
}

#[test]
fn a_ledger_sale_with_an_uncaptured_authorization_is_not_captured_whatever_its_status() {
    let mut s = Scenario::new();
    s.uncaptured_auth("A")
        .uncaptured_auth("R")
        .led_sale("A", "10.00", "2026-11-23 10:00:00", 2)
        .led(Kind::Return, "R", "5.00", "2026-11-23 10:00:00", 0, 3)
        .led_sale("Z", "7.00", "2026-11-23 10:00:00", 4);
    let o = s.run();
    assert_eq!(
        categories(&o),
        vec![
            (Category::MissingInFlexiti, "R".into()),
            (Category::MissingInFlexiti, "Z".into()),
            (Category::NotCaptured, "A".into()),
        ]
    );
}

#[test]
fn an_authorization_that_has_a_capture_is_not_an_uncaptured_one() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-23T15:00:00Z", 1);
    let auth_id = s.flexiti.records[0].authorization_id;
    s.uncaptured_auth("A");
    if let Some(a) = s.flexiti.authorizations.last_mut() {
        a.authorization_id = auth_id;
    }
    s.led_sale("A", "10.00", "2026-11-23 10:00:00", 2).led_sale(
        "A",
        "10.00",
        "2026-11-23 10:00:00",
        3,
    );
    assert_eq!(
        categories(&s.run()),
        vec![(Category::DuplicateInLedger, "A".into())]
    );
}

#[test]
fn a_pair_across_local_midnight_is_a_date_mismatch_on_the_ledger_day() {
    let mut s = Scenario::new();
    // Ledger 23:50 local on the 23rd; Flexiti 00:10 local on the 24th (05:10 UTC).
    s.sale("A", "10.00", "2026-11-24T05:10:00Z", 1).led_sale(
        "A",
        "10.00",
        "2026-11-23 23:50:00",
        2,
    );
    let o = s.run();
    assert_eq!(categories(&o), vec![(Category::DateMismatch, "A".into())]);
    let d = &o.discrepancies[0];
    assert_eq!(d.business_date, day("2026-11-23"));
    assert_eq!(d.day_delta, Some(-1));
    assert_eq!(d.delta, Amount::ZERO);
    assert_eq!(d.severity, crate::domain::Severity::Warning);
}

#[test]
fn a_sale_just_before_local_midnight_stays_on_its_day() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-24T04:59:59Z", 1).led_sale(
        "A",
        "10.00",
        "2026-11-23 23:59:59",
        2,
    );
    assert!(s.run().discrepancies.is_empty());
}

#[test]
fn one_pair_can_be_amount_date_and_store_mismatch_at_once() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-24T05:10:00Z", 1)
        .store_of_last_flexiti("00-2")
        .led_sale("A", "12.00", "2026-11-23 23:50:00", 2);
    let o = s.run();
    let cats: Vec<Category> = o.discrepancies.iter().map(|d| d.category).collect();
    assert_eq!(
        cats,
        vec![
            Category::AmountMismatch,
            Category::DateMismatch,
            Category::StoreMismatch
        ]
    );
    assert!(o.discrepancies.iter().all(|d| d.delta == amt("2.00")));
}

#[test]
fn only_findings_whose_day_lies_in_the_range_are_recorded() {
    let mut s = Scenario::new();
    s.sale("F24", "10.00", "2026-11-24T15:00:00Z", 1)
        .led_sale("L22", "10.00", "2026-11-22 10:00:00", 2)
        // Flexiti on the 24th paired with a ledger row of the 23rd: recorded on the 23rd.
        .sale("P", "10.00", "2026-11-24T15:00:00Z", 3)
        .led_sale("P", "10.00", "2026-11-23 10:00:00", 3);
    let o = s.run();
    assert_eq!(categories(&o), vec![(Category::DateMismatch, "P".into())]);
}

#[test]
fn records_outside_the_match_window_are_not_loaded() {
    let mut s = Scenario::new();
    s.sale("A", "10.00", "2026-11-25T15:00:00Z", 1).led_sale(
        "A",
        "10.00",
        "2026-11-23 10:00:00",
        2,
    );
    assert_eq!(
        categories(&s.run()),
        vec![(Category::MissingInFlexiti, "A".into())]
    );
    let wide = s.run_range("2026-11-23", "2026-11-23", 2, "0.00");
    assert_eq!(
        categories(&wide),
        vec![(Category::DateMismatch, "A".into())]
    );
    assert_eq!(wide.discrepancies[0].day_delta, Some(-2));
}
