//! Injected typos: one order whose ledger row carries its reference mistyped at the till (one
//! character changed, two adjacent ones swapped, one dropped or one doubled). Reconciled, it is
//! a `missing_in_ledger` (the Flexiti record, true reference) plus a `missing_in_flexiti` (the
//! ledger row, mistyped reference), both in `expected.csv`; `typos.csv` pairs them up as the
//! truth that suggestions are measured against.
//!
//! A mistyped reference must never be another record's, or the findings would interact:
//! it never has the generated shape `ORD-<8 digits>-<index as {:06}>` and is never used twice.

use std::collections::HashSet;

use flexiti_recon_domain::{Category, Kind};

use super::{Finding, Order, Orders, Till};

/// One row of `typos.csv`.
#[derive(Debug, Clone)]
pub(crate) struct Typo {
    pub day: chrono::NaiveDate,
    pub cents: i64,
    pub flexiti_reference: String,
    pub ledger_reference: String,
    pub typo: &'static str,
}

const TYPED: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Whether the generator could have made `reference` for an order (see `Orders::order`).
fn looks_generated(reference: &str) -> bool {
    let Some((date, index)) = reference
        .strip_prefix("ORD-")
        .and_then(|rest| rest.split_once('-'))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    date.len() == 8
        && digits(date)
        && digits(index)
        && (index.len() == 6 || (index.len() > 6 && !index.starts_with('0')))
}

impl Orders {
    pub(super) fn next_typo(&mut self) -> bool {
        if self.typo_per_mille == 0 {
            return false;
        }
        self.typo_credit += self.typo_per_mille;
        if self.typo_credit < 1000 {
            return false;
        }
        self.typo_credit -= 1000;
        true
    }

    pub(super) fn inject_typo(&mut self, o: &Order) -> anyhow::Result<()> {
        let (mistyped, typo) = self.mistype(&o.reference);
        let id = self.authorization(o, "closed", 0)?;
        self.capture(o, id, o.at, o.store, &[])?;
        let till = Till {
            reference: &mistyped,
            ..o.till()
        };
        self.ledger_row(till, "SALE", "FLEXITI")?;
        for (category, reference, flexiti, ledger) in [
            (Category::MissingInLedger, &o.reference, Some(o.cents), None),
            (Category::MissingInFlexiti, &mistyped, None, Some(o.cents)),
        ] {
            self.findings.push(Finding {
                day: o.day,
                category,
                reference: reference.clone(),
                kind: Kind::Sale,
                flexiti_cents: flexiti,
                ledger_cents: ledger,
            });
        }
        self.typos.push(Typo {
            day: o.day,
            cents: o.cents,
            flexiti_reference: o.reference.clone(),
            ledger_reference: mistyped,
            typo,
        });
        Ok(())
    }

    /// A mistyped copy of `reference` and which typo it is.
    fn mistype(&mut self, reference: &str) -> (String, &'static str) {
        let chars: Vec<char> = reference.chars().collect();
        for _ in 0..200 {
            let at = self.dice.range(0..=chars.len() as u64 - 1) as usize;
            let mut typed = chars.clone();
            let typo = match self.dice.range(0..=3) {
                0 => {
                    let c = char::from(TYPED[self.dice.range(0..=TYPED.len() as u64 - 1) as usize]);
                    typed[at] = c;
                    "changed"
                }
                1 if at + 1 < typed.len() => {
                    typed.swap(at, at + 1);
                    "swapped"
                }
                2 => {
                    typed.remove(at);
                    "dropped"
                }
                _ => {
                    typed.insert(at, chars[at]);
                    "doubled"
                }
            };
            let typed: String = typed.into_iter().collect();
            if typed != reference && !looks_generated(&typed) && self.typed.insert(typed.clone()) {
                return (typed, typo);
            }
        }
        // Never reached with generated references; still a fresh, never generated one.
        let mut typed = format!("O{reference}");
        while !self.typed.insert(typed.clone()) {
            typed.insert(0, 'O');
        }
        (typed, "doubled")
    }
}

/// Mistyped references handed out so far.
pub(super) type Typed = HashSet<String>;

#[cfg(test)]
mod tests {
    use super::looks_generated;

    #[test]
    fn only_the_generated_shape_looks_generated() {
        for yes in [
            "ORD-20261123-000123",
            "ORD-20261123-1000000",
            "ORD-20261199-999999",
        ] {
            assert!(looks_generated(yes), "{yes}");
        }
        for no in [
            "ORD-20261123-00123",
            "ORD-20261123-0001233",
            "ORD-2026123-000123",
            "ORD-20261123-0001A3",
            "ORD20261123-000123",
            "ORD-20261123000123-",
            "RD-20261123-000123",
        ] {
            assert!(!looks_generated(no), "{no}");
        }
    }
}
