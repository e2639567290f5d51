//! Reading a stored finding back: a `discrepancies` row to a [`StoredDiscrepancy`].

use anyhow::{Context, Result};
use chrono::Utc;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{parse_date, parse_ts, to_u64};
use crate::domain::{Amount, Category, Discrepancy, Kind, Pass, Severity, Suggestion};
use crate::report::{FindingStatus, StoredDiscrepancy};

pub(super) fn from_row(row: &AnyRow) -> Result<StoredDiscrepancy> {
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
