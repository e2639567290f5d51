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
        let record = FlexitiRecord::new(
            capture_id,
            return_id,
            capture_id + 1_000_000,
            reference.into(),
            amt(amount),
            utc(at),
            Some("00-1".into()),
        );
        assert_eq!(record.kind(), kind, "a return has a return id, a sale none");
        self.flexiti.records.push(record);
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
        line: u32,
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

    fn led_sale(&mut self, reference: &str, amount: &str, at: &str, line: u32) -> &mut Self {
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

mod days;
mod pairs;
