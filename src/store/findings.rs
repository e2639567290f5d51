//! Findings and their history: the upsert by fingerprint, the resolution of what a run no
//! longer finds, and the queries behind `discrepancies` and `export`.
//!
//! A finding's status moves only here: new → `open`; found again → stays `open`, a `resolved`
//! one is reopened, an `acknowledged` one stays acknowledged; not found by a run whose range
//! holds its day → `resolved`, unless that day is incomplete (never judge on an incomplete
//! fetch) or the finding is acknowledged.

use std::collections::HashSet;

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, parse_date, parse_ts, to_i64, to_u64, ts};
use crate::domain::{Amount, Category, Discrepancy, Kind, Pass, Severity, Suggestion};
use crate::report::{ChangeSummary, FindingStatus, RunReport, StoredDiscrepancy};

/// Which stored findings to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscrepancyFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<Category>,
    pub status: Option<FindingStatus>,
    /// Matches the ledger's or Flexiti's store.
    pub store: Option<String>,
    pub reference: Option<String>,
    pub limit: Option<u32>,
}

const COLUMNS: &str = "id, fingerprint, business_date, category, severity, reference, kind, \
    flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass, flexiti_id, \
    authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register, ledger_at, \
    ledger_file, ledger_line, ledger_id, explanation, status, first_seen_run, last_seen_run, \
    first_seen_at, last_seen_at, resolved_run, note, suggested_reference, suggested_id, suggestion";

impl Store {
    /// Stored findings matching `filter`, by day, category and reference.
    pub async fn list_discrepancies(
        &self,
        filter: &DiscrepancyFilter,
    ) -> Result<Vec<StoredDiscrepancy>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM discrepancies \
             WHERE ($1 IS NULL OR business_date >= $1) AND ($2 IS NULL OR business_date <= $2) \
             AND ($3 IS NULL OR category = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR ledger_store = $5 OR flexiti_store = $5) \
             AND ($6 IS NULL OR reference = $6) \
             ORDER BY business_date, category, reference, id LIMIT $7"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.from.map(|d| d.to_string()))
            .bind(filter.to.map(|d| d.to_string()))
            .bind(filter.category.map(Category::as_str))
            .bind(filter.status.map(FindingStatus::as_str))
            .bind(filter.store.as_deref())
            .bind(filter.reference.as_deref())
            .bind(filter.limit.map_or(i64::MAX, i64::from))
            .fetch_all(&self.pool)
            .await
            .context("listing discrepancies")?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get_discrepancy(&self, id: i64) -> Result<Option<StoredDiscrepancy>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM discrepancies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("reading discrepancy {id}"))?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks a finding acknowledged with a note; later runs keep that status.
    pub async fn acknowledge(&self, id: i64, note: &str) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE discrepancies SET status = 'acknowledged', note = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(note)
        .execute(&self.pool)
        .await
        .with_context(|| format!("acknowledging discrepancy {id}"))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::UnknownDiscrepancy(id).into());
        }
        Ok(())
    }
}

/// Upserts the run's findings and resolves the open ones of its complete days (and of its
/// `stores`, when not empty) that it did not find.
pub(super) async fn upsert_and_resolve(
    tx: &mut Transaction<'static, Any>,
    report: &RunReport,
    stores: &[String],
) -> Result<ChangeSummary> {
    let run_id = report.run_id;
    let seen_at = report.finished_at;
    let mut changes = ChangeSummary::default();
    let mut fingerprints = HashSet::new();
    for d in &report.discrepancies {
        let fingerprint = d.fingerprint();
        if !fingerprints.insert(fingerprint.clone()) {
            bail!(
                "run {run_id} holds finding {fingerprint} ({} {} on {}) twice",
                d.category,
                d.reference,
                d.business_date
            );
        }
        let row = upsert(tx, d, &fingerprint, run_id, &ts(seen_at)).await?;
        let first_seen_run: i64 = row.try_get("first_seen_run")?;
        let status: String = row.try_get("status")?;
        if first_seen_run == run_id {
            changes.new.push(fingerprint);
        } else if status == FindingStatus::Open.as_str() {
            let first_seen: String = row.try_get("first_seen_at")?;
            let age = (seen_at - parse_ts(&first_seen, "discrepancies.first_seen_at")?).num_days();
            changes.still_open.push((fingerprint, age));
        }
    }

    let candidates = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM discrepancies WHERE status = 'open' AND business_date >= $1 \
         AND business_date <= $2 AND last_seen_run <> $3 ORDER BY id"
    ))
    .bind(report.range.from.to_string())
    .bind(report.range.to.to_string())
    .bind(run_id)
    .fetch_all(&mut **tx)
    .await
    .context("reading the open findings of the run's days")?;
    for row in &candidates {
        let mut stored = from_row(row)?;
        let d = &stored.discrepancy;
        let store = d.ledger_store.as_ref().or(d.flexiti_store.as_ref());
        let out_of_scope = !stores.is_empty() && !store.is_some_and(|s| stores.contains(s));
        if out_of_scope || report.incomplete_days.contains(&d.business_date) {
            continue;
        }
        sqlx::query(
            "UPDATE discrepancies SET status = 'resolved', resolved_run = $2 WHERE id = $1",
        )
        .bind(stored.id)
        .bind(run_id)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("resolving discrepancy {}", stored.id))?;
        stored.status = FindingStatus::Resolved;
        stored.resolved_run = Some(run_id);
        changes.resolved.push(stored);
    }
    Ok(changes)
}

async fn upsert(
    tx: &mut Transaction<'static, Any>,
    d: &Discrepancy,
    fingerprint: &str,
    run_id: i64,
    seen_at: &str,
) -> Result<AnyRow> {
    sqlx::query(
        "INSERT INTO discrepancies (fingerprint, business_date, category, severity, reference, \
         kind, flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass, \
         flexiti_id, authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register, \
         ledger_at, ledger_file, ledger_line, ledger_id, explanation, status, first_seen_run, \
         last_seen_run, first_seen_at, last_seen_at, suggested_reference, suggested_id, \
         suggestion) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, 'open', $23, $23, $24, $24, $25, $26, $27) \
         ON CONFLICT (fingerprint) DO UPDATE SET \
         severity = excluded.severity, flexiti_amount_cents = excluded.flexiti_amount_cents, \
         ledger_amount_cents = excluded.ledger_amount_cents, delta_cents = excluded.delta_cents, \
         day_delta = excluded.day_delta, pass = excluded.pass, \
         authorization_id = excluded.authorization_id, flexiti_store = excluded.flexiti_store, \
         flexiti_at = excluded.flexiti_at, ledger_store = excluded.ledger_store, \
         ledger_register = excluded.ledger_register, ledger_at = excluded.ledger_at, \
         ledger_file = excluded.ledger_file, ledger_line = excluded.ledger_line, \
         explanation = excluded.explanation, \
         suggested_reference = excluded.suggested_reference, \
         suggested_id = excluded.suggested_id, suggestion = excluded.suggestion, \
         last_seen_run = excluded.last_seen_run, last_seen_at = excluded.last_seen_at, \
         status = CASE WHEN discrepancies.status = 'resolved' THEN 'open' \
                  ELSE discrepancies.status END, \
         resolved_run = CASE WHEN discrepancies.status = 'resolved' THEN NULL \
                        ELSE discrepancies.resolved_run END \
         RETURNING first_seen_run, first_seen_at, status",
    )
    .bind(fingerprint)
    .bind(d.business_date.to_string())
    .bind(d.category.as_str())
    .bind(d.severity.as_str())
    .bind(&d.reference)
    .bind(d.kind.as_str())
    .bind(d.flexiti_amount.map(Amount::cents))
    .bind(d.ledger_amount.map(Amount::cents))
    .bind(d.delta.cents())
    .bind(d.day_delta)
    .bind(d.pass.as_str())
    .bind(d.flexiti_id.as_deref())
    .bind(
        d.authorization_id
            .map(|a| to_i64(a, "authorization id"))
            .transpose()?,
    )
    .bind(d.flexiti_store.as_deref())
    .bind(d.flexiti_at.map(ts))
    .bind(d.ledger_store.as_deref())
    .bind(d.ledger_register.as_deref())
    .bind(d.ledger_at.map(ts))
    .bind(d.ledger_file.as_deref())
    .bind(
        d.ledger_line
            .map(|l| to_i64(l, "ledger line"))
            .transpose()?,
    )
    .bind(d.ledger_id.as_deref())
    .bind(&d.explanation)
    .bind(run_id)
    .bind(seen_at)
    .bind(d.suggestion.as_ref().map(|s| s.reference.as_str()))
    .bind(d.suggestion.as_ref().map(|s| s.id.as_str()))
    .bind(d.suggestion.as_ref().map(|s| s.why.as_str()))
    .fetch_one(&mut **tx)
    .await
    .with_context(|| {
        format!(
            "storing finding {fingerprint} ({} {})",
            d.category, d.reference
        )
    })
}

fn from_row(row: &AnyRow) -> Result<StoredDiscrepancy> {
    let col = |c: &str| format!("discrepancies.{c}");
    let text = |c: &str| -> Result<String> { row.try_get(c).with_context(|| col(c)) };
    let opt_text = |c: &str| -> Result<Option<String>> { row.try_get(c).with_context(|| col(c)) };
    let int = |c: &str| -> Result<i64> { row.try_get(c).with_context(|| col(c)) };
    let opt_int = |c: &str| -> Result<Option<i64>> { row.try_get(c).with_context(|| col(c)) };
    let opt_ts = |c: &str| -> Result<Option<chrono::DateTime<Utc>>> {
        opt_text(c)?.map(|t| parse_ts(&t, &col(c))).transpose()
    };
    let opt_u64 =
        |c: &str| -> Result<Option<u64>> { opt_int(c)?.map(|v| to_u64(v, &col(c))).transpose() };
    let category = text("category")?;
    let kind = text("kind")?;
    let discrepancy = Discrepancy {
        business_date: parse_date(&text("business_date")?, &col("business_date"))?,
        category: Category::parse(&category)
            .with_context(|| format!("{}: unknown category '{category}'", col("category")))?,
        severity: parse_severity(&text("severity")?)?,
        reference: text("reference")?,
        kind: Kind::parse(&kind)
            .with_context(|| format!("{}: unknown kind '{kind}'", col("kind")))?,
        flexiti_amount: opt_int("flexiti_amount_cents")?.map(Amount::from_cents),
        ledger_amount: opt_int("ledger_amount_cents")?.map(Amount::from_cents),
        delta: Amount::from_cents(int("delta_cents")?),
        day_delta: opt_int("day_delta")?,
        pass: parse_pass(&text("pass")?)?,
        flexiti_id: opt_text("flexiti_id")?,
        authorization_id: opt_u64("authorization_id")?,
        flexiti_store: opt_text("flexiti_store")?,
        flexiti_at: opt_ts("flexiti_at")?,
        ledger_store: opt_text("ledger_store")?,
        ledger_register: opt_text("ledger_register")?,
        ledger_at: opt_ts("ledger_at")?,
        ledger_file: opt_text("ledger_file")?,
        ledger_line: opt_u64("ledger_line")?,
        ledger_id: opt_text("ledger_id")?,
        explanation: text("explanation")?,
        suggestion: match (
            opt_text("suggested_reference")?,
            opt_text("suggested_id")?,
            opt_text("suggestion")?,
        ) {
            (Some(reference), Some(id), Some(why)) => Some(Suggestion { reference, id, why }),
            _ => None,
        },
    };
    Ok(StoredDiscrepancy {
        id: int("id")?,
        fingerprint: text("fingerprint")?,
        discrepancy,
        status: parse_finding_status(&text("status")?)?,
        first_seen_run: int("first_seen_run")?,
        last_seen_run: int("last_seen_run")?,
        first_seen_at: parse_ts(&text("first_seen_at")?, &col("first_seen_at"))?,
        last_seen_at: parse_ts(&text("last_seen_at")?, &col("last_seen_at"))?,
        resolved_run: opt_int("resolved_run")?,
        note: opt_text("note")?,
    })
}

fn parse_severity(text: &str) -> Result<Severity> {
    [Severity::Error, Severity::Warning]
        .into_iter()
        .find(|s| s.as_str() == text)
        .with_context(|| format!("discrepancies.severity: unknown severity '{text}'"))
}

fn parse_pass(text: &str) -> Result<Pass> {
    [Pass::Exact, Pass::Amount, Pass::Leftover]
        .into_iter()
        .find(|p| p.as_str() == text)
        .with_context(|| format!("discrepancies.pass: unknown pass '{text}'"))
}

fn parse_finding_status(text: &str) -> Result<FindingStatus> {
    [
        FindingStatus::Open,
        FindingStatus::Resolved,
        FindingStatus::Acknowledged,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
    .with_context(|| format!("discrepancies.status: unknown status '{text}'"))
}
