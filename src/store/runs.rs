//! The run lifecycle: `begin_run` (abandoning what a crash left running), `finish_run` (every
//! result of the run in one transaction), `fail_run`, and the queries behind `runs` and
//! `status`.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Connection, Row, Transaction};

use super::{
    Backend, Store, StoreError, details, findings, parse_date, parse_ts, resilience, to_i64,
    to_u64, ts,
};
use crate::domain::{Amount, DayRange};
use crate::report::{ChangeSummary, RunReport, RunStatus, SideTotals};

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    pub id: i64,
    pub range: DayRange,
    pub trigger: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub x_reference_id: String,
    pub version: String,
    pub error: Option<String>,
    pub flexiti_records: u64,
    pub ledger_rows: u64,
    pub matched_pairs: u64,
    pub discrepancies: u64,
    pub failed_calls: u64,
    pub rejected_rows: u64,
    pub ignored_rows: u64,
    pub incomplete_days: Vec<NaiveDate>,
    /// Totals of the Flexiti side over the run's days and stores.
    pub flexiti: SideTotals,
    pub ledger: SideTotals,
}

const RUN_COLUMNS: &str = "id, range_from, range_to, triggered_by, status, started_at, \
    finished_at, duration_ms, x_reference_id, version, error, flexiti_records, ledger_rows, \
    matched_pairs, discrepancies, failed_calls, rejected_rows, ignored_rows, incomplete_days, \
    flexiti_count, flexiti_sales_cents, flexiti_returns_cents, ledger_count, \
    ledger_sales_cents, ledger_returns_cents";

impl Store {
    /// Marks every run of this merchant still `running` as `abandoned` (the caller holds the
    /// merchant's lock, so such a run was interrupted; other merchants' runs are theirs), then
    /// records a new `running` run and returns its id.
    pub async fn begin_run(
        &self,
        range: DayRange,
        trigger: &str,
        x_reference_id: &str,
        version: &str,
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await.context("beginning a run")?;
        let abandoned = sqlx::query(
            "UPDATE runs SET status = 'abandoned', \
             error = COALESCE(error, 'interrupted: still running when a later run began') \
             WHERE status = 'running' AND merchant = $1",
        )
        .bind(&self.merchant)
        .execute(&mut *tx)
        .await
        .context("marking interrupted runs abandoned")?
        .rows_affected();
        if abandoned > 0 {
            tracing::warn!(abandoned, "marked interrupted runs abandoned");
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (range_from, range_to, triggered_by, status, started_at, \
             x_reference_id, version, merchant) VALUES ($1, $2, $3, 'running', $4, $5, $6, $7) \
             RETURNING id",
        )
        .bind(range.from.to_string())
        .bind(range.to.to_string())
        .bind(trigger)
        .bind(ts(Utc::now()))
        .bind(x_reference_id)
        .bind(version)
        .bind(&self.merchant)
        .fetch_one(&mut *tx)
        .await
        .context("inserting the run")?;
        tx.commit().await.context("committing the new run")?;
        Ok(id)
    }

    /// Stores everything `report` holds in one transaction and returns what changed: the
    /// findings are upserted by fingerprint, the open findings of the run's days that it did
    /// not find are resolved (except on its incomplete days), the failed calls, rejected rows
    /// and day totals are inserted, and the run row is completed. On error nothing is written
    /// and the run stays `running`.
    pub async fn finish_run(&self, report: &RunReport) -> Result<ChangeSummary> {
        self.finish_run_for_stores(report, &[]).await
    }

    /// [`finish_run`](Store::finish_run) for a run restricted to some stores (`run --store`):
    /// only findings of those stores (the ledger's store, else Flexiti's) can be resolved, since
    /// the run did not look at the others, and only those stores' day totals are replaced. An
    /// empty slice means every store.
    ///
    /// A store opened by [`Store::open_for_run`] on PostgreSQL writes through the run lock's
    /// connection and commits only if that session still holds the lock.
    pub async fn finish_run_for_stores(
        &self,
        report: &RunReport,
        stores: &[String],
    ) -> Result<ChangeSummary> {
        let (changes, ()) = self
            .finish_run_when(report, stores, std::future::ready(Ok(())))
            .await?;
        Ok(changes)
    }

    /// [`finish_run_for_stores`](Store::finish_run_for_stores) that commits only once `ready`
    /// (work done meanwhile, e.g. the audit bundle) has succeeded: it is awaited after the
    /// results are written and before the commit, and its error rolls them back.
    pub async fn finish_run_when<T>(
        &self,
        report: &RunReport,
        stores: &[String],
        ready: impl Future<Output = Result<T>>,
    ) -> Result<(ChangeSummary, T)> {
        let run_id = report.run_id;
        let not_stored = || format!("the results of run {run_id} are not stored");
        let mut clock = WriteClock::start();
        let (changes, done) = match &self.holder {
            Some(holder) => {
                let mut slot = holder.connection().await;
                let conn = slot
                    .as_mut()
                    .context("the run lock was released before the results were stored")
                    .with_context(not_stored)?;
                let mut tx = conn
                    .begin()
                    .await
                    .context("the connection holding the run lock is lost")
                    .with_context(not_stored)?;
                holder.ensure_held(&mut tx).await.with_context(not_stored)?;
                let changes = self.write_results(&mut tx, report, stores).await?;
                clock.written();
                let done = ready.await.with_context(not_stored)?;
                clock.ready();
                tx.commit()
                    .await
                    .with_context(|| format!("committing the results of run {run_id}"))?;
                (changes, done)
            }
            None => {
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .context("beginning the run's transaction")?;
                if let Backend::Sqlite { .. } = self.backend {
                    // The default page cache (2 MB) spills a large run's pages to the WAL and
                    // reads them back; the pages a run writes stay in memory with this one.
                    sqlx::query(SQLITE_RUN_CACHE)
                        .execute(&mut *tx)
                        .await
                        .context("sizing the sqlite page cache")?;
                }
                let changes = self.write_results(&mut tx, report, stores).await?;
                clock.written();
                let done = ready.await.with_context(not_stored)?;
                clock.ready();
                self.ensure_same_file().with_context(not_stored)?;
                tx.commit()
                    .await
                    .with_context(|| format!("committing the results of run {run_id}"))?;
                (changes, done)
            }
        };
        tracing::info!(
            run_id,
            findings = report.discrepancies.len(),
            new = changes.new.len(),
            still_open = changes.still_open.len(),
            resolved = changes.resolved_count,
            write_ms = clock.write_ms,
            wait_ms = clock.wait_ms,
            commit_ms = clock.since_ms(),
            "stored the run's results"
        );
        Ok((changes, done))
    }

    /// Everything [`finish_run_for_stores`](Store::finish_run_for_stores) writes, in `tx`.
    async fn write_results(
        &self,
        tx: &mut Transaction<'_, Any>,
        report: &RunReport,
        stores: &[String],
    ) -> Result<ChangeSummary> {
        let run_id = report.run_id;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM runs WHERE id = $1 AND merchant = $2")
                .bind(run_id)
                .bind(&self.merchant)
                .fetch_optional(&mut **tx)
                .await
                .with_context(|| format!("reading run {run_id}"))?;
        match status.as_deref() {
            None => return Err(StoreError::UnknownRun(run_id).into()),
            Some("running") => {}
            Some(other) => {
                bail!("run {run_id} is {other}, not running: its results are not stored")
            }
        }
        let dialect = self.backend.dialect();
        let changes = findings::upsert_and_resolve(
            tx,
            &self.merchant,
            report,
            stores,
            dialect,
            self.backend.stage_url(),
        )
        .await?;
        details::insert_details(tx, report, dialect).await?;
        for store in stores {
            sqlx::query("INSERT INTO run_stores (run_id, store) VALUES ($1, $2)")
                .bind(run_id)
                .bind(store.as_str())
                .execute(&mut **tx)
                .await
                .with_context(|| format!("recording that run {run_id} covered store {store}"))?;
        }
        complete_run(tx, report).await?;
        Ok(changes)
    }

    /// Marks a run `failed` with its error (the job failed after `begin_run`).
    pub async fn fail_run(&self, run_id: i64, error: &str) -> Result<()> {
        let now = Utc::now();
        let started: Option<String> =
            sqlx::query_scalar("SELECT started_at FROM runs WHERE id = $1 AND merchant = $2")
                .bind(run_id)
                .bind(&self.merchant)
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("reading run {run_id}"))?;
        let started = started.ok_or(StoreError::UnknownRun(run_id))?;
        let duration = (now - parse_ts(&started, "runs.started_at")?).num_milliseconds();
        let redacted = crate::redact::text(error);
        let what = format!("marking run {run_id} failed");
        resilience::retry_while_locked(&what, || {
            sqlx::query(
                "UPDATE runs SET status = 'failed', error = $2, finished_at = $3, \
                 duration_ms = $4 WHERE id = $1 AND merchant = $5",
            )
            .bind(run_id)
            .bind(&redacted)
            .bind(ts(now))
            .bind(duration)
            .bind(&self.merchant)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// Marks a stored run `partial` after the fact, keeping its results: the email failed.
    /// A locked database is retried (see [`resilience::retry_while_locked`]).
    pub async fn mark_partial(&self, run_id: i64, error: &str) -> Result<()> {
        let redacted = crate::redact::text(error);
        let what = format!("marking run {run_id} partial");
        resilience::retry_while_locked(&what, || {
            sqlx::query(
                "UPDATE runs SET status = 'partial', \
                 email = CASE WHEN email = 'pending' THEN 'failed' ELSE email END, \
                 error = CASE WHEN error IS NULL THEN $2 ELSE error || '; ' || $2 END \
                 WHERE id = $1 AND merchant = $3",
            )
            .bind(run_id)
            .bind(&redacted)
            .bind(&self.merchant)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    /// The latest runs, newest first.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<StoredRun>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE merchant = $2 ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .bind(&self.merchant)
        .fetch_all(&self.pool)
        .await
        .context("listing runs")?;
        rows.iter().map(run_from_row).collect()
    }

    pub async fn get_run(&self, id: i64) -> Result<Option<StoredRun>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND merchant = $2"
        ))
        .bind(id)
        .bind(&self.merchant)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("reading run {id}"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// When the last `succeeded` run finished (a `partial` one does not count: some of its
    /// days were not fully checked).
    pub async fn last_successful_run_finished_at(&self) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = sqlx::query_scalar(
            "SELECT MAX(finished_at) FROM runs WHERE status = 'succeeded' AND merchant = $1",
        )
        .bind(&self.merchant)
        .fetch_one(&self.pool)
        .await
        .context("reading the last successful run")?;
        at.map(|t| parse_ts(&t, "runs.finished_at")).transpose()
    }
}

async fn complete_run(tx: &mut Transaction<'_, Any>, report: &RunReport) -> Result<()> {
    let (mut flexiti, mut ledger) = (SideTotals::default(), SideTotals::default());
    for t in &report.totals {
        for (sum, part, side) in [
            (&mut flexiti, &t.flexiti, "Flexiti"),
            (&mut ledger, &t.ledger, "ledger"),
        ] {
            sum.count += part.count;
            // Stored as 64-bit cents: a run total that does not fit fails the run, never wraps.
            let add = |a: Amount, b: Amount, what: &str| {
                a.checked_add(b).ok_or_else(|| {
                    anyhow::anyhow!(
                        "run {}: the {side} {what} of the run pass 92233720368547758.07, the \
                         range of 64-bit cents",
                        report.run_id
                    )
                })
            };
            sum.sales = add(sum.sales, part.sales, "sales")?;
            sum.returns = add(sum.returns, part.returns, "returns")?;
        }
    }
    let incomplete = report
        .incomplete_days
        .iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let duration = (report.finished_at - report.started_at).num_milliseconds();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE runs SET status = $2, finished_at = $3, duration_ms = $4, flexiti_records = $5, \
         ledger_rows = $6, matched_pairs = $7, discrepancies = $8, failed_calls = $9, \
         rejected_rows = $10, ignored_rows = $11, incomplete_days = $12, flexiti_count = $13, \
         flexiti_sales_cents = $14, flexiti_returns_cents = $15, ledger_count = $16, \
         ledger_sales_cents = $17, ledger_returns_cents = $18 WHERE id = $1",
    )
    .bind(report.run_id)
    .bind(report.status.as_str())
    .bind(ts(report.finished_at))
    .bind(duration)
    .bind(to_i64(report.flexiti_records, "flexiti record count")?)
    .bind(to_i64(report.ledger_rows, "ledger row count")?)
    .bind(to_i64(report.matched_pairs, "matched pair count")?)
    .bind(count(report.discrepancies.len()))
    .bind(count(report.failed_calls.len()))
    .bind(count(report.rejects.len()))
    .bind(to_i64(report.ignored_other_tender, "ignored row count")?)
    .bind(incomplete)
    .bind(to_i64(flexiti.count, "flexiti count")?)
    .bind(flexiti.sales.cents())
    .bind(flexiti.returns.cents())
    .bind(to_i64(ledger.count, "ledger count")?)
    .bind(ledger.sales.cents())
    .bind(ledger.returns.cents())
    .execute(&mut **tx)
    .await
    .with_context(|| format!("completing run {}", report.run_id))?;
    Ok(())
}

fn run_from_row(row: &AnyRow) -> Result<StoredRun> {
    let text = |c: &str| -> Result<String> { row.try_get(c).with_context(|| format!("runs.{c}")) };
    let int = |c: &str| -> Result<i64> { row.try_get(c).with_context(|| format!("runs.{c}")) };
    let count = |c: &str| -> Result<u64> { to_u64(int(c)?, c) };
    let side = |prefix: &str| -> Result<SideTotals> {
        Ok(SideTotals {
            count: count(&format!("{prefix}_count"))?,
            sales: Amount::from_cents(int(&format!("{prefix}_sales_cents"))?),
            returns: Amount::from_cents(int(&format!("{prefix}_returns_cents"))?),
        })
    };
    let finished_at: Option<String> = row.try_get("finished_at").context("runs.finished_at")?;
    let incomplete_days = text("incomplete_days")?
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| parse_date(d, "runs.incomplete_days"))
        .collect::<Result<_>>()?;
    Ok(StoredRun {
        id: int("id")?,
        range: DayRange::new(
            parse_date(&text("range_from")?, "runs.range_from")?,
            parse_date(&text("range_to")?, "runs.range_to")?,
        ),
        trigger: text("triggered_by")?,
        status: parse_status(&text("status")?)?,
        started_at: parse_ts(&text("started_at")?, "runs.started_at")?,
        finished_at: finished_at
            .map(|t| parse_ts(&t, "runs.finished_at"))
            .transpose()?,
        duration_ms: row.try_get("duration_ms").context("runs.duration_ms")?,
        x_reference_id: text("x_reference_id")?,
        version: text("version")?,
        error: row.try_get("error").context("runs.error")?,
        flexiti_records: count("flexiti_records")?,
        ledger_rows: count("ledger_rows")?,
        matched_pairs: count("matched_pairs")?,
        discrepancies: count("discrepancies")?,
        failed_calls: count("failed_calls")?,
        rejected_rows: count("rejected_rows")?,
        ignored_rows: count("ignored_rows")?,
        incomplete_days,
        flexiti: side("flexiti")?,
        ledger: side("ledger")?,
    })
}

fn parse_status(text: &str) -> Result<RunStatus> {
    [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Partial,
        RunStatus::Failed,
        RunStatus::Abandoned,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
    .with_context(|| format!("column runs.status: unknown status '{text}'"))
}

/// The page cache of the connection that stores a run: up to 64 MiB (a negative size is KiB).
const SQLITE_RUN_CACHE: &str = "PRAGMA cache_size = -65536";

/// Where the time of storing a run goes: writing the results, waiting for the work it commits
/// after (the audit bundle), the commit.
struct WriteClock {
    mark: std::time::Instant,
    write_ms: u64,
    wait_ms: u64,
}

impl WriteClock {
    fn start() -> WriteClock {
        WriteClock {
            mark: std::time::Instant::now(),
            write_ms: 0,
            wait_ms: 0,
        }
    }

    /// Milliseconds since the last mark, and a new mark.
    fn lap(&mut self) -> u64 {
        let ms = self.since_ms();
        self.mark = std::time::Instant::now();
        ms
    }

    fn since_ms(&self) -> u64 {
        u64::try_from(self.mark.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn written(&mut self) {
        self.write_ms = self.lap();
    }

    fn ready(&mut self) {
        self.wait_ms = self.lap();
    }
}
