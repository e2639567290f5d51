//! The synthetic data generator: a Flexiti data set, the merchant ledger that goes with it, and
//! `expected.csv`, the findings a reconciliation of the generated days must report.
//!
//! Invariants that make `expected.csv` exact: every normal order has identical instants and
//! amounts on both sides (so it pairs and lands on the same business day); every injected finding
//! gets its own fresh reference and no return, so findings never interact; findings are injected
//! only on the reconciled days `[from, from + days - 1]`, while lighter traffic on the day before
//! and after fills the match window. Output is a pure function of the options (one seeded RNG,
//! one fixed order of writes), so a seed always gives the same bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use flexiti_recon_domain::{BusinessCalendar, Category, DayRange};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::orders::{Finding, Orders, Typo};

/// What to generate. `orders` is roughly the number of ledger rows of the reconciled days.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub out_dir: PathBuf,
    pub seed: u64,
    pub orders: u64,
    pub from: NaiveDate,
    pub days: u32,
    /// Store ids, used both as the ledger's `store_id` and Flexiti's `external_location_id`.
    pub stores: Vec<String>,
    /// Share of the reconciled days' Flexiti orders turned into a finding (20 = 2%).
    pub discrepancy_per_mille: u32,
    /// Share of the reconciled days' Flexiti orders whose ledger row gets a mistyped reference
    /// (a pair of findings each, listed in `typos.csv`); 0 writes no `typos.csv`.
    pub typo_per_mille: u32,
    /// Split captures and authorizations over this many files (`captures-0001.json`…).
    pub flexiti_files: u32,
    pub ledger_files: u32,
    /// Pretty-printed JSON (for small, readable samples).
    pub pretty: bool,
}

impl GenerateOptions {
    pub fn new(out_dir: impl Into<PathBuf>, from: NaiveDate, days: u32, orders: u64) -> Self {
        GenerateOptions {
            out_dir: out_dir.into(),
            seed: 1,
            orders,
            from,
            days,
            stores: vec!["00-12345".to_string(), "00-67890".to_string()],
            discrepancy_per_mille: 20,
            typo_per_mille: 0,
            flexiti_files: 1,
            ledger_files: 1,
            pretty: false,
        }
    }

    /// The reconciled days.
    pub fn days_range(&self) -> DayRange {
        let last = self
            .from
            .checked_add_days(Days::new(u64::from(self.days.saturating_sub(1))));
        DayRange::new(self.from, last.unwrap_or(NaiveDate::MAX))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.days == 0 {
            bail!("generate: days must be at least 1");
        }
        if self.stores.is_empty() {
            bail!("generate: at least one store is needed");
        }
        for store in &self.stores {
            let plain = store
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
            if store.is_empty() || store.len() > 40 || !plain {
                bail!("generate: store '{store}' must be 1 to 40 letters, digits or -_./");
            }
        }
        if self.discrepancy_per_mille > 1000 {
            bail!(
                "generate: discrepancy_per_mille {} is more than 1000",
                self.discrepancy_per_mille
            );
        }
        if self.typo_per_mille > 1000 {
            bail!(
                "generate: typo_per_mille {} is more than 1000",
                self.typo_per_mille
            );
        }
        if self.flexiti_files == 0 || self.ledger_files == 0 {
            bail!("generate: flexiti_files and ledger_files must be at least 1");
        }
        Ok(())
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// The reconciled days; the data also covers the day before and the day after.
    pub days: Option<DayRange>,
    pub ledger_rows: u64,
    pub other_tender_rows: u64,
    pub authorizations: u64,
    pub captures: u64,
    pub returns: u64,
    pub findings: BTreeMap<Category, u64>,
    /// Injected typos (each also two findings of `findings`).
    pub typos: u64,
    pub files: Vec<PathBuf>,
}

/// Writes `<out_dir>/flexiti/*.json`, `<out_dir>/ledger/*.csv`, `<out_dir>/expected.csv` and,
/// with typos, `<out_dir>/typos.csv`.
pub fn generate(opts: &GenerateOptions) -> anyhow::Result<GenerateSummary> {
    opts.validate()?;
    let flexiti_dir = opts.out_dir.join("flexiti");
    let ledger_dir = opts.out_dir.join("ledger");
    for dir in [&flexiti_dir, &ledger_dir] {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let reconciled = opts.days_range();
    let mut orders = Orders::create(opts, &flexiti_dir, &ledger_dir)?;
    let per_day = opts.orders / u64::from(opts.days);
    let extra = opts.orders % u64::from(opts.days);
    let context_orders = if opts.orders == 0 {
        0
    } else {
        (per_day / 10).max(1)
    };
    for (index, day) in reconciled.widen(1).days().enumerate() {
        let in_range = reconciled.contains(day);
        let count = match u64::try_from(index) {
            _ if !in_range => context_orders,
            Ok(i) if i <= extra => per_day + 1,
            _ => per_day,
        };
        orders.day(day, count, in_range)?;
    }
    let (mut summary, findings, typos) = orders.finish()?;
    let expected = opts.out_dir.join("expected.csv");
    write_expected(&expected, findings)?;
    summary.files.push(expected);
    if opts.typo_per_mille > 0 {
        let truth = opts.out_dir.join("typos.csv");
        write_typos(&truth, &typos)?;
        summary.files.push(truth);
    }
    summary.days = Some(reconciled);
    Ok(summary)
}

fn write_expected(path: &std::path::Path, mut findings: Vec<Finding>) -> anyhow::Result<()> {
    findings.sort_by(|a, b| {
        (a.day, a.category.as_str(), &a.reference).cmp(&(b.day, b.category.as_str(), &b.reference))
    });
    let mut text =
        String::from("business_date,category,reference,kind,flexiti_amount,ledger_amount\n");
    let money = |cents: Option<i64>| {
        cents
            .map(|c| format!("{}.{:02}", c / 100, c % 100))
            .unwrap_or_default()
    };
    for f in &findings {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            f.day,
            f.category.as_str(),
            f.reference,
            f.kind.as_str(),
            money(f.flexiti_cents),
            money(f.ledger_cents)
        ));
    }
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

/// `typos.csv`: each injected typo, the Flexiti record's true reference and the ledger row's
/// mistyped one.
fn write_typos(path: &std::path::Path, typos: &[Typo]) -> anyhow::Result<()> {
    let mut text =
        String::from("business_date,kind,amount,flexiti_reference,ledger_reference,typo\n");
    for t in typos {
        text.push_str(&format!(
            "{},sale,{}.{:02},{},{},{}\n",
            t.day,
            t.cents / 100,
            t.cents % 100,
            t.flexiti_reference,
            t.ledger_reference,
            t.typo
        ));
    }
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

/// The generator's dice and calendar, shared by the order writers.
pub(crate) struct Dice {
    rng: StdRng,
    pub calendar: BusinessCalendar,
}

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice {
            rng: StdRng::seed_from_u64(seed),
            calendar: BusinessCalendar::new(chrono_tz::America::Toronto),
        }
    }

    pub fn roll(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.rng.random_range(0..1000) < per_mille
    }

    pub fn range(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        self.rng.random_range(range)
    }

    pub fn coin(&mut self) -> bool {
        self.rng.random::<bool>()
    }

    /// A second of the day: shop hours mostly, a few right around midnight.
    pub fn second_of_day(&mut self, near_midnight_per_mille: u32) -> u32 {
        if self.roll(near_midnight_per_mille) {
            if self.coin() {
                self.midnight_early()
            } else {
                self.midnight_late()
            }
        } else {
            self.shop_hours()
        }
    }

    pub fn shop_hours(&mut self) -> u32 {
        self.rng.random_range(9 * 3600..21 * 3600)
    }

    /// 00:00:00 to 00:09:59.
    pub fn midnight_early(&mut self) -> u32 {
        self.rng.random_range(0..600)
    }

    /// 23:50:00 to 23:59:59.
    pub fn midnight_late(&mut self) -> u32 {
        self.rng.random_range(86_400 - 600..86_400)
    }

    /// The instant of a local time of day.
    pub fn instant(&self, day: NaiveDate, second: u32) -> DateTime<Utc> {
        let time =
            NaiveTime::from_num_seconds_from_midnight_opt(second, 0).unwrap_or(NaiveTime::MIN);
        self.calendar.local_to_utc(day.and_time(time))
    }
}
