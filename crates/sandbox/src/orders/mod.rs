//! One generated order at a time: a normal Flexiti order (authorization, capture, maybe a return,
//! and the matching ledger rows), an other-tender sale, an abandoned authorization, or an order
//! bent into exactly one finding of the matching rules.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use flexiti_recon_domain::{Category, Kind};

mod inject;
mod typo;

pub(crate) use typo::Typo;

use super::generate::{Dice, GenerateOptions, GenerateSummary};
use super::writers::{
    AuthorizationOut, CaptureOut, JsonFiles, LedgerFiles, LedgerLine, Money, ReturnOut,
};

const OTHER_TENDERS: [&str; 5] = ["VISA", "MASTERCARD", "DEBIT", "CASH", "AMEX"];
const OTHER_TENDER_PER_MILLE: u32 = 180;
const RETURN_PER_MILLE: u32 = 60;
const LATER_DAY_RETURN_PER_MILLE: u32 = 350;
const NEAR_MIDNIGHT_PER_MILLE: u32 = 30;
const ABANDONED_PER_MILLE: u32 = 15;
/// Every category but `unverified` (the last): that one comes from what could not be checked,
/// not from the data.
const INJECTED: &[Category] = Category::ALL.split_at(Category::ALL.len() - 1).0;

/// One row of `expected.csv`.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub day: NaiveDate,
    pub category: Category,
    pub reference: String,
    pub kind: Kind,
    pub flexiti_cents: Option<i64>,
    pub ledger_cents: Option<i64>,
}

/// The fields of one order that every variant needs.
struct Order {
    day: NaiveDate,
    reference: String,
    at: DateTime<Utc>,
    cents: i64,
    store: usize,
    register: u32,
}

/// Where, when and how much a ledger row rings up (its reference, store, register, instant,
/// amount); the row's type and tender are given beside it.
struct Till<'a> {
    at: DateTime<Utc>,
    store: usize,
    register: u32,
    reference: &'a str,
    cents: i64,
}

impl Order {
    fn till(&self) -> Till<'_> {
        Till {
            at: self.at,
            store: self.store,
            register: self.register,
            reference: &self.reference,
            cents: self.cents,
        }
    }
}

pub(crate) struct Orders {
    dice: Dice,
    stores: Vec<String>,
    per_mille: u32,
    authorizations: JsonFiles,
    captures: JsonFiles,
    ledger: LedgerFiles,
    /// Ledger returns waiting for their (later) day, so the ledger stays roughly in day order.
    pending: BTreeMap<NaiveDate, Vec<Order>>,
    findings: Vec<Finding>,
    injection_credit: u32,
    injected: usize,
    typo_per_mille: u32,
    typo_credit: u32,
    typos: Vec<Typo>,
    typed: typo::Typed,
    next_authorization: u64,
    next_capture: u64,
    next_return: u64,
    summary: GenerateSummary,
}

impl Orders {
    pub fn create(opts: &GenerateOptions, flexiti: &Path, ledger: &Path) -> anyhow::Result<Orders> {
        Ok(Orders {
            dice: Dice::new(opts.seed),
            stores: opts.stores.clone(),
            per_mille: opts.discrepancy_per_mille,
            authorizations: JsonFiles::create(
                flexiti,
                "authorizations",
                opts.flexiti_files,
                opts.pretty,
            )?,
            captures: JsonFiles::create(flexiti, "captures", opts.flexiti_files, opts.pretty)?,
            ledger: LedgerFiles::create(ledger, opts.ledger_files)?,
            pending: BTreeMap::new(),
            findings: Vec::new(),
            // The first Flexiti order of the reconciled days is already a finding.
            injection_credit: 1000u32.saturating_sub(opts.discrepancy_per_mille),
            injected: 0,
            typo_per_mille: opts.typo_per_mille,
            typo_credit: 0,
            typos: Vec::new(),
            typed: typo::Typed::new(),
            next_authorization: 0,
            next_capture: 346_000,
            next_return: 9_000_000_000_000_000,
            summary: GenerateSummary::default(),
        })
    }

    /// Writes `count` orders of `day`; findings only when `reconciled`.
    pub fn day(&mut self, day: NaiveDate, count: u64, reconciled: bool) -> anyhow::Result<()> {
        if let Some(returns) = self.pending.remove(&day) {
            for r in returns {
                self.ledger_row(r.till(), "RETURN", "FLEXITI")?;
            }
        }
        let mut seconds: Vec<u32> = (0..count)
            .map(|_| self.dice.second_of_day(NEAR_MIDNIGHT_PER_MILLE))
            .collect();
        if reconciled && seconds.len() >= 4 {
            seconds[0] = self.dice.midnight_early();
            seconds[1] = self.dice.midnight_late();
        }
        seconds.sort_unstable();
        let mut later_return_due = reconciled;
        let mut abandoned = 0u64;
        for (index, second) in (1u64..).zip(seconds) {
            let mut order = self.order(day, index, second);
            if self.dice.roll(OTHER_TENDER_PER_MILLE) {
                let tender = OTHER_TENDERS[self.dice.range(0..=4) as usize % OTHER_TENDERS.len()];
                self.ledger_row(order.till(), "SALE", tender)?;
                self.summary.other_tender_rows += 1;
            } else if let Some(category) = reconciled.then(|| self.next_injection()).flatten() {
                if category == Category::DuplicateInFlexiti {
                    // the second capture must stay on the same business day
                    let second = self.dice.shop_hours();
                    order.at = self.dice.instant(day, second);
                }
                self.inject(category, &order)?;
            } else if reconciled && self.next_typo() {
                self.inject_typo(&order)?;
            } else {
                let forced_later = later_return_due && (9 * 3600..21 * 3600).contains(&second);
                later_return_due &= !forced_later;
                self.normal(&order, forced_later)?;
            }
            if self.dice.roll(ABANDONED_PER_MILLE) {
                abandoned += 1;
                let mut walked_away = self.order(day, count + abandoned, second);
                walked_away.at = order.at;
                let status = if self.dice.coin() {
                    "unauthorized"
                } else {
                    "opened"
                };
                self.authorization(&walked_away, status, walked_away.cents)?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<(GenerateSummary, Vec<Finding>, Vec<Typo>)> {
        for (_, returns) in std::mem::take(&mut self.pending) {
            for r in returns {
                self.ledger_row(r.till(), "RETURN", "FLEXITI")?;
            }
        }
        let mut summary = self.summary;
        summary.files.extend(self.authorizations.finish()?);
        summary.files.extend(self.captures.finish()?);
        summary.files.extend(self.ledger.finish()?);
        for f in &self.findings {
            *summary.findings.entry(f.category).or_insert(0) += 1;
        }
        summary.typos = self.typos.len() as u64;
        Ok((summary, self.findings, self.typos))
    }

    fn order(&mut self, day: NaiveDate, index: u64, second: u32) -> Order {
        let reference = format!(
            "ORD-{:04}{:02}{:02}-{index:06}",
            day.year(),
            day.month(),
            day.day()
        );
        Order {
            day,
            reference,
            at: self.dice.instant(day, second),
            cents: i64::try_from(self.dice.range(2_500..=500_000)).unwrap_or(2_500),
            store: self.dice.range(0..=(self.stores.len() as u64 - 1)) as usize,
            register: u32::try_from(self.dice.range(1..=8)).unwrap_or(1),
        }
    }

    fn next_injection(&mut self) -> Option<Category> {
        self.injection_credit += self.per_mille;
        if self.injection_credit < 1000 {
            return None;
        }
        self.injection_credit -= 1000;
        let category = INJECTED[self.injected % INJECTED.len()];
        self.injected += 1;
        Some(category)
    }

    fn normal(&mut self, o: &Order, forced_later_return: bool) -> anyhow::Result<()> {
        let authorization_id = self.authorization(o, "closed", 0)?;
        let mut returns = Vec::new();
        let promotional = self.promotional(authorization_id);
        if forced_later_return || (promotional && self.dice.roll(RETURN_PER_MILLE)) {
            let later = forced_later_return || self.dice.roll(LATER_DAY_RETURN_PER_MILLE);
            let offset = if forced_later_return {
                1
            } else {
                self.dice.range(1..=3)
            };
            let same_day = o.at
                + chrono::Duration::seconds(
                    i64::try_from(self.dice.range(600..=7200)).unwrap_or(600),
                );
            let at = if !later && self.dice.calendar.day_of(same_day) == o.day {
                same_day
            } else {
                let day = o.day.checked_add_days(Days::new(offset)).unwrap_or(o.day);
                let second = self.dice.shop_hours();
                self.dice.instant(day, second)
            };
            let cents = i64::try_from(self.dice.range(100.min(o.cents as u64)..=o.cents as u64))
                .unwrap_or(o.cents);
            self.next_return += 1;
            returns.push(ReturnOut {
                id: self.next_return,
                at,
                amount: self.money(cents),
                remaining_capture: self.money(o.cents - cents),
            });
            self.summary.returns += 1;
            let day = self.dice.calendar.day_of(at);
            self.pending.entry(day).or_default().push(Order {
                day,
                reference: o.reference.clone(),
                at,
                cents,
                store: o.store,
                register: o.register,
            });
        }
        self.capture(o, authorization_id, o.at, o.store, &returns)?;
        self.ledger_row(o.till(), "SALE", "FLEXITI")
    }

    fn money(&mut self, cents: i64) -> Money {
        Money {
            cents,
            as_string: self.dice.coin(),
        }
    }

    /// Eight authorizations in ten are promotional purchases (only those may have returns).
    fn promotional(&self, authorization_id: u64) -> bool {
        authorization_id % 10 < 8
    }

    /// Writes an authorization created a few seconds before `o.at`; returns its id.
    fn authorization(&mut self, o: &Order, status: &str, remaining: i64) -> anyhow::Result<u64> {
        self.next_authorization += 1;
        let id = 4_000_000_000_000_000 + self.next_authorization * 1000 + self.dice.range(0..=999);
        let digits = self.dice.range(8..=14);
        let account = format!(
            "{:0width$}",
            self.dice.range(10_000_000..=99_999_999_999_999) % 10u64.pow(digits as u32),
            width = digits as usize
        );
        let account = format!("2{}", &account[1..]);
        let created =
            o.at - chrono::Duration::seconds(i64::try_from(self.dice.range(3..=40)).unwrap_or(3));
        let millis = self
            .dice
            .roll(200)
            .then(|| u32::try_from(self.dice.range(0..=999)).unwrap_or(0));
        let transaction_type = if self.promotional(id) {
            "promotional_purchase"
        } else {
            "regular_purchase"
        };
        let term = [6, 12, 18, 24][self.dice.range(0..=3) as usize];
        let (amount, remaining) = (self.money(o.cents), self.money(remaining));
        self.authorizations
            .authorization(&AuthorizationOut {
                id,
                reference: &o.reference,
                account_number: &account,
                transaction_type,
                status,
                created,
                created_millis: millis,
                amount,
                remaining,
                store: &self.stores[o.store],
                plan_id: 4,
                term,
            })
            .context("generate: cannot write an authorization")?;
        self.summary.authorizations += 1;
        Ok(id)
    }

    /// `store` out of range stands for an id no configured store has.
    fn capture(
        &mut self,
        o: &Order,
        authorization_id: u64,
        at: DateTime<Utc>,
        store: usize,
        returns: &[ReturnOut],
    ) -> anyhow::Result<()> {
        self.next_capture += 1;
        let (amount, remaining) = (self.money(o.cents), self.money(0));
        let as_string = self.dice.roll(50);
        let store = self.stores.get(store).map_or("99-99999", String::as_str);
        self.captures
            .capture(&CaptureOut {
                id: self.next_capture,
                authorization_id,
                authorization_id_as_string: as_string,
                reference: &o.reference,
                at,
                amount,
                remaining_authorization: remaining,
                store,
                returns,
            })
            .context("generate: cannot write a capture")?;
        self.summary.captures += 1;
        Ok(())
    }

    /// Writes one ledger row: `till` says where, when and how much, `txn_type` and `tender` what.
    fn ledger_row(&mut self, till: Till<'_>, txn_type: &str, tender: &str) -> anyhow::Result<()> {
        let sold_at = till
            .at
            .with_timezone(&self.dice.calendar.zone)
            .naive_local();
        self.ledger
            .row(&LedgerLine {
                sold_at,
                store: &self.stores[till.store],
                register: till.register,
                order_id: till.reference,
                txn_type,
                tender,
                cents: till.cents,
            })
            .context("generate: cannot write a ledger row")?;
        self.summary.ledger_rows += 1;
        Ok(())
    }
}
