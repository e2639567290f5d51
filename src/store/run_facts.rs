//! The rejected ledger rows and failed API calls behind a date range, for the export: those of
//! the latest `succeeded` or `partial` run covering each day of the range, the same runs whose
//! control totals [`Store::day_totals`] reports. A rerun of a day replaces what an older run
//! recorded, so a day rerun three times is not exported three times.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::Row;

use super::{Store, parse_date};
use crate::domain::LedgerReject;
use crate::report::FailedCall;

/// What the chosen runs recorded beside their findings, each with its run id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The runs chosen, ascending.
    pub runs: Vec<i64>,
    pub rejects: Vec<(i64, LedgerReject)>,
    pub failed_calls: Vec<(i64, FailedCall)>,
}

impl Store {
    /// The ids of the latest `succeeded` or `partial` run covering each day of `[from, to]`.
    pub async fn latest_runs_covering(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id, range_from, range_to FROM runs \
             WHERE merchant = $3 AND range_from <= $1 AND range_to >= $2 \
             AND status IN ('succeeded', 'partial') ORDER BY id DESC",
        )
        .bind(to.to_string())
        .bind(from.to_string())
        .bind(&self.merchant)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("finding the runs of {from}..{to}"))?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id").context("runs.id")?;
            let start: String = row.try_get("range_from").context("runs.range_from")?;
            let end: String = row.try_get("range_to").context("runs.range_to")?;
            let start = parse_date(&start, "runs.range_from")?.max(from);
            let end = parse_date(&end, "runs.range_to")?.min(to);
            runs.push((id, start, end));
        }
        // Runs newest first: a run is chosen when it covers a day no newer run covers.
        let mut chosen = BTreeSet::new();
        let mut covered: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        for (id, start, end) in runs {
            let mut day = start;
            while day <= end {
                if !covered.iter().any(|(a, b)| *a <= day && day <= *b) {
                    chosen.insert(id);
                    break;
                }
                match day.succ_opt() {
                    Some(next) => day = next,
                    None => break,
                }
            }
            covered.push((start, end));
        }
        Ok(chosen.into_iter().collect())
    }

    /// The rejected rows and failed calls of [`Store::latest_runs_covering`]`(from, to)`, in
    /// run order, then in the order each run recorded them.
    pub async fn run_facts(&self, from: NaiveDate, to: NaiveDate) -> Result<RunFacts> {
        let runs = self.latest_runs_covering(from, to).await?;
        let mut facts = RunFacts::default();
        for &run_id in &runs {
            facts
                .rejects
                .extend(self.rejects(run_id).await?.into_iter().map(|r| (run_id, r)));
            facts.failed_calls.extend(
                self.failed_calls(run_id)
                    .await?
                    .into_iter()
                    .map(|c| (run_id, c)),
            );
        }
        facts.runs = runs;
        Ok(facts)
    }
}
