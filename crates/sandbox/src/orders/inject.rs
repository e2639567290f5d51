//! Injected findings: one order bent into exactly one finding of the matching rules, on its own
//! reference and without returns, so that no two findings interact.

use chrono::Days;
use flexiti_recon_domain::{Category, Kind};

use super::{Finding, Order, Orders, Till};

impl Orders {
    /// Bends one order into exactly one finding of `category` (see `docs/RULES.md`).
    pub(super) fn inject(&mut self, category: Category, o: &Order) -> anyhow::Result<()> {
        let mut finding = Finding {
            day: o.day,
            category,
            reference: o.reference.clone(),
            kind: Kind::Sale,
            flexiti_cents: Some(o.cents),
            ledger_cents: Some(o.cents),
        };
        let sale = |this: &mut Self, at, cents| {
            this.ledger_row(
                Till {
                    at,
                    cents,
                    ..o.till()
                },
                "SALE",
                "FLEXITI",
            )
        };
        match category {
            Category::AmountMismatch => {
                let delta = i64::try_from(self.dice.range(1..=5_000)).unwrap_or(1);
                let ledger = if self.dice.coin() && o.cents > delta {
                    o.cents - delta
                } else {
                    o.cents + delta
                };
                let id = self.authorization(o, "closed", 0)?;
                self.capture(o, id, o.at, o.store, &[])?;
                sale(self, o.at, ledger)?;
                finding.ledger_cents = Some(ledger);
            }
            Category::DateMismatch => {
                let next_day = o.day.checked_add_days(Days::new(1)).unwrap_or(o.day);
                let (late, early) = (self.dice.midnight_late(), self.dice.midnight_early());
                let rung_up = self.dice.instant(o.day, late);
                let captured = self.dice.instant(next_day, early);
                let late = Order {
                    at: captured,
                    reference: o.reference.clone(),
                    ..*o
                };
                let id = self.authorization(&late, "closed", 0)?;
                self.capture(o, id, captured, o.store, &[])?;
                sale(self, rung_up, o.cents)?;
            }
            Category::StoreMismatch => {
                let other = (o.store + 1) % self.stores.len();
                let elsewhere = Order {
                    store: other,
                    reference: o.reference.clone(),
                    ..*o
                };
                let id = self.authorization(&elsewhere, "closed", 0)?;
                let store = if self.stores.len() > 1 {
                    other
                } else {
                    usize::MAX
                };
                self.capture(o, id, o.at, store, &[])?;
                sale(self, o.at, o.cents)?;
            }
            Category::DuplicateInFlexiti => {
                let id = self.authorization(o, "closed", 0)?;
                self.capture(o, id, o.at, o.store, &[])?;
                let again = o.at
                    + chrono::Duration::seconds(
                        i64::try_from(self.dice.range(20..=300)).unwrap_or(20),
                    );
                self.capture(o, id, again, o.store, &[])?;
                sale(self, o.at, o.cents)?;
                finding.ledger_cents = None;
            }
            Category::DuplicateInLedger => {
                let id = self.authorization(o, "closed", 0)?;
                self.capture(o, id, o.at, o.store, &[])?;
                sale(self, o.at, o.cents)?;
                sale(self, o.at, o.cents)?;
                finding.flexiti_cents = None;
            }
            Category::MissingInLedger => {
                let id = self.authorization(o, "closed", 0)?;
                self.capture(o, id, o.at, o.store, &[])?;
                finding.ledger_cents = None;
            }
            Category::MissingInFlexiti => {
                sale(self, o.at, o.cents)?;
                finding.flexiti_cents = None;
            }
            _ => {
                self.authorization(o, "opened", o.cents)?;
                sale(self, o.at, o.cents)?;
                finding.flexiti_cents = None;
            }
        }
        self.findings.push(finding);
        Ok(())
    }
}
