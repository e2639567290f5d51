//! One test per matching rule and per exact reading of the design.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::*;
use crate::domain::{AuthorizationInfo, Category, FlexitiRecord, Kind, LedgerRow, Pass};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn cal() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::America::Toronto)
}

fn amt(s: &str) -> Amount {
    Amount::parse(s, false).expect("test amount")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn local(s: &str) -> DateTime<Utc> {
    cal().local_to_utc(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time"))
}

#[derive(Default)]
struct Scenario {
    flexiti: FlexitiSide,
    ledger: LedgerSide,
}

impl Scenario {
    fn new() -> Self {
        let mut s = Scenario::default();
        s.ledger.files = vec![PathBuf::from("a.csv"), PathBuf::from("b.csv")];
        s
    }

    fn sale(&mut self, reference: &str, amount: &str, at: &str, capture_id: u64) -> &mut Self {
        self.flexiti_record(Kind::Sale, reference, amount, at, capture_id, None)
    }

    fn ret(
        &mut self,
        reference: &str,
        amount: &str,
        at: &str,
        capture_id: u64,
        return_id: u64,
    ) -> &mut Self {
        self.flexiti_record(
            Kind::Return,
            reference,
            amount,
            at,
            capture_id,
            Some(return_id),
        )
    }

    /// A record at store 00-1 (`store_of_last_flexiti` changes it).
    fn flexiti_record(
        &mut self,
        kind: Kind,
        reference: &str,
        amount: &str,
        at: &str,
        capture_id: u64,
        return_id: Option<u64>,
    ) -> &mut Self {
        self.flexiti.records.push(FlexitiRecord {
            kind,
            reference: reference.into(),
            amount: amt(amount),
            at: utc(at),
            capture_id,
            return_id,
            authorization_id: capture_id + 1_000_000,
            store: Some("00-1".into()),
        });
        self
    }

    fn store_of_last_flexiti(&mut self, store: &str) -> &mut Self {
        if let Some(r) = self.flexiti.records.last_mut() {
            r.store = Some(store.into());
        }
        self
    }

    /// An authorization listed with no capture. Its status is not modelled: the rule holds
    /// whatever the status, and the side does not keep it.
    fn uncaptured_auth(&mut self, reference: &str) -> &mut Self {
        self.flexiti.authorizations.push(AuthorizationInfo {
            authorization_id: 99_000_000 + self.flexiti.authorizations.len() as u64,
            reference: reference.into(),
            created_at: utc("2026-11-23T15:00:00Z"),
            amount: amt("10.00"),
            store: Some("00-1".into()),
        });
        self
    }

    fn led(
        &mut self,
        kind: Kind,
        reference: &str,
        amount: &str,
        at: &str,
        file: u32,
        line: u64,
    ) -> &mut Self {
        self.ledger.rows.push(LedgerRow {
            file_index: file,
            line,
            at: local(at),
            store: Some("00-1".into()),
            register: Some("R01".into()),
            reference: reference.into(),
            kind,
            amount: amt(amount),
        });
        self
    }

    fn led_sale(&mut self, reference: &str, amount: &str, at: &str, line: u64) -> &mut Self {
        self.led(Kind::Sale, reference, amount, at, 0, line)
    }

    fn store_of_last_row(&mut self, store: &str) -> &mut Self {
        if let Some(r) = self.ledger.rows.last_mut() {
            r.store = Some(store.into());
        }
        self
    }

    fn incomplete(&mut self, d: &str) -> &mut Self {
        self.flexiti.incomplete_days.insert(day(d));
        self
    }

    fn run_range(&self, from: &str, to: &str, window: u32, tolerance: &str) -> Outcome {
        let params = ReconcileParams {
            range: DayRange::new(day(from), day(to)),
            window_days: window,
            tolerance: amt(tolerance),
            calendar: cal(),
            store: None,
        };
        reconcile(&self.flexiti, &self.ledger, &params).expect("reconcile")
    }

    fn run(&self) -> Outcome {
        self.run_range("2026-11-23", "2026-11-23", 1, "0.00")
    }
}

fn categories(o: &Outcome) -> Vec<(Category, String)> {
    o.discrepancies
        .iter()
        .map(|d| (d.category, d.reference.clone()))
        .collect()
}

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
