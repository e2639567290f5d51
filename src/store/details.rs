//! The per-run details beside the findings: failed API calls, rejected ledger rows and the
//! control totals per day and store.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::batch::{Dialect, RowsStatement, add};
use super::{Store, parse_date, to_i64, to_u64};
use crate::domain::{Amount, LedgerReject};
use crate::report::{DayStoreTotals, FailedCall, RunReport, SideTotals};

impl Store {
    /// The failed calls of a run, in the order they were recorded.
    pub async fn failed_calls(&self, run_id: i64) -> Result<Vec<FailedCall>> {
        let rows = sqlx::query(
            "SELECT endpoint, parameters, http_status, error_code, message, attempts, \
             duration_ms, x_reference_id, utc_date FROM api_failures WHERE run_id = $1 \
             AND run_id IN (SELECT id FROM runs WHERE merchant = $2) ORDER BY id",
        )
        .bind(run_id)
        .bind(&self.merchant)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("reading the failed calls of run {run_id}"))?;
        rows.iter().map(failed_call_from_row).collect()
    }

    /// The rejected ledger rows of a run, in the order they were recorded.
    pub async fn rejects(&self, run_id: i64) -> Result<Vec<LedgerReject>> {
        let rows = sqlx::query(
            "SELECT file, line, reason, raw FROM ledger_rejects WHERE run_id = $1 \
             AND run_id IN (SELECT id FROM runs WHERE merchant = $2) ORDER BY id",
        )
        .bind(run_id)
        .bind(&self.merchant)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("reading the rejected rows of run {run_id}"))?;
        rows.iter().map(reject_from_row).collect()
    }

    /// Control totals per day and store over `[from, to]`, each day and store taken from the
    /// latest `succeeded` or `partial` run whose range holds the day and that covered the store
    /// (a rerun replaces older totals; a `run --store` run replaces only its stores' totals).
    pub async fn day_totals(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<DayStoreTotals>> {
        let rows = sqlx::query(
            "SELECT t.business_date, t.store, t.flexiti_count, t.flexiti_sales_cents, \
             t.flexiti_returns_cents, t.ledger_count, t.ledger_sales_cents, \
             t.ledger_returns_cents FROM day_totals t \
             WHERE t.business_date >= $1 AND t.business_date <= $2 \
             AND t.run_id = (SELECT MAX(r.id) FROM runs r WHERE r.merchant = $3 \
                 AND r.range_from <= t.business_date AND r.range_to >= t.business_date \
                 AND r.status IN ('succeeded', 'partial') \
                 AND (NOT EXISTS (SELECT 1 FROM run_stores s WHERE s.run_id = r.id) \
                      OR EXISTS (SELECT 1 FROM run_stores s WHERE s.run_id = r.id \
                                 AND s.store = t.store))) \
             ORDER BY t.business_date, t.store",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(&self.merchant)
        .fetch_all(&self.pool)
        .await
        .with_context(|| format!("reading the day totals of {from}..{to}"))?;
        rows.iter().map(totals_from_row).collect()
    }
}

const FAILED_CALLS: RowsStatement = RowsStatement {
    head: "INSERT INTO api_failures (run_id, endpoint, parameters, http_status, error_code, \
           message, attempts, duration_ms, x_reference_id, utc_date) VALUES ",
    row: "(#, #, #, #, #, #, #, #, #, #)",
    tail: "",
};

const REJECTS: RowsStatement = RowsStatement {
    head: "INSERT INTO ledger_rejects (run_id, file, line, reason, raw) VALUES ",
    row: "(#, #, #, #, #)",
    tail: "",
};

const TOTALS: RowsStatement = RowsStatement {
    head: "INSERT INTO day_totals (run_id, business_date, store, flexiti_count, \
           flexiti_sales_cents, flexiti_returns_cents, ledger_count, ledger_sales_cents, \
           ledger_returns_cents) VALUES ",
    row: "(#, #, #, #, #, #, #, #, #)",
    tail: "",
};

/// Inserts the run's failed calls, rejected rows and day totals, many rows per statement, in
/// the order the report holds them (their ids follow that order).
pub(super) async fn insert_details(
    tx: &mut Transaction<'_, Any>,
    report: &RunReport,
    dialect: Dialect,
) -> Result<()> {
    let run_id = report.run_id;
    let calls = report
        .failed_calls
        .iter()
        .map(|call| {
            let duration = to_i64(call.duration_ms, "failed call duration").with_context(|| {
                format!(
                    "storing the failed call {} {}",
                    call.endpoint, call.parameters
                )
            })?;
            let message = crate::redact::text(&call.message);
            Ok((
                call,
                duration,
                call.utc_date.map(|d| d.to_string()),
                message,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    FAILED_CALLS
        .run(
            tx,
            dialect,
            &calls,
            |(call, duration, utc_date, message), args| {
                add(args, run_id)?;
                add(args, call.endpoint.as_str())?;
                add(args, call.parameters.as_str())?;
                add(args, call.http_status.map(i64::from))?;
                add(args, call.error_code.as_deref())?;
                add(args, message.as_str())?;
                add(args, i64::from(call.attempts))?;
                add(args, *duration)?;
                add(args, call.x_reference_id.as_str())?;
                add(args, utc_date.as_deref())
            },
            "failed calls",
        )
        .await?;

    let rejects = report
        .rejects
        .iter()
        .map(|reject| {
            let line = to_i64(reject.line, &format!("rejected row {}: line", reject.file))
                .with_context(|| {
                    format!("storing the rejected row {}:{}", reject.file, reject.line)
                })?;
            Ok((reject, line))
        })
        .collect::<Result<Vec<_>>>()?;
    REJECTS
        .run(
            tx,
            dialect,
            &rejects,
            |(reject, line), args| {
                add(args, run_id)?;
                add(args, reject.file.as_str())?;
                add(args, *line)?;
                add(args, reject.reason.as_str())?;
                add(args, reject.raw.as_str())
            },
            "rejected rows",
        )
        .await?;

    let totals = report
        .totals
        .iter()
        .map(|t| {
            let context = || {
                format!(
                    "storing the totals of {} store {}",
                    t.business_date, t.store
                )
            };
            let flexiti = to_i64(t.flexiti.count, "flexiti count").with_context(context)?;
            let ledger = to_i64(t.ledger.count, "ledger count").with_context(context)?;
            Ok((t, t.business_date.to_string(), flexiti, ledger))
        })
        .collect::<Result<Vec<_>>>()?;
    TOTALS
        .run(
            tx,
            dialect,
            &totals,
            |(t, date, flexiti_count, ledger_count), args| {
                add(args, run_id)?;
                add(args, date.as_str())?;
                add(args, t.store.as_str())?;
                add(args, *flexiti_count)?;
                add(args, t.flexiti.sales.cents())?;
                add(args, t.flexiti.returns.cents())?;
                add(args, *ledger_count)?;
                add(args, t.ledger.sales.cents())?;
                add(args, t.ledger.returns.cents())
            },
            "day totals",
        )
        .await?;
    Ok(())
}

fn reject_from_row(row: &AnyRow) -> Result<LedgerReject> {
    Ok(LedgerReject {
        file: row.try_get("file").context("ledger_rejects.file")?,
        line: to_u64(row.try_get("line")?, "ledger_rejects.line")?,
        reason: row.try_get("reason").context("ledger_rejects.reason")?,
        raw: row.try_get("raw").context("ledger_rejects.raw")?,
    })
}

fn failed_call_from_row(row: &AnyRow) -> Result<FailedCall> {
    let col = |c: &str| format!("api_failures.{c}");
    let http_status: Option<i64> = row.try_get("http_status").context(col("http_status"))?;
    let attempts: i64 = row.try_get("attempts").context(col("attempts"))?;
    let utc_date: Option<String> = row.try_get("utc_date").context(col("utc_date"))?;
    Ok(FailedCall {
        endpoint: row.try_get("endpoint").context(col("endpoint"))?,
        parameters: row.try_get("parameters").context(col("parameters"))?,
        http_status: http_status
            .map(|s| u16::try_from(s).with_context(|| format!("{}: {s}", col("http_status"))))
            .transpose()?,
        error_code: row.try_get("error_code").context(col("error_code"))?,
        message: row.try_get("message").context(col("message"))?,
        attempts: u32::try_from(attempts)
            .with_context(|| format!("{}: {attempts}", col("attempts")))?,
        duration_ms: to_u64(row.try_get("duration_ms")?, &col("duration_ms"))?,
        x_reference_id: row
            .try_get("x_reference_id")
            .context(col("x_reference_id"))?,
        utc_date: utc_date
            .map(|d| parse_date(&d, &col("utc_date")))
            .transpose()?,
    })
}

fn totals_from_row(row: &AnyRow) -> Result<DayStoreTotals> {
    let int =
        |c: &str| -> Result<i64> { row.try_get(c).with_context(|| format!("day_totals.{c}")) };
    let side = |prefix: &str| -> Result<SideTotals> {
        Ok(SideTotals {
            count: to_u64(int(&format!("{prefix}_count"))?, "day_totals count")?,
            sales: Amount::from_cents(int(&format!("{prefix}_sales_cents"))?),
            returns: Amount::from_cents(int(&format!("{prefix}_returns_cents"))?),
        })
    };
    let date: String = row
        .try_get("business_date")
        .context("day_totals.business_date")?;
    Ok(DayStoreTotals {
        business_date: parse_date(&date, "day_totals.business_date")?,
        store: row.try_get("store").context("day_totals.store")?,
        flexiti: side("flexiti")?,
        ledger: side("ledger")?,
    })
}
