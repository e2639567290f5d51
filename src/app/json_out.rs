//! `--format json` of the listings, for scripts: one JSON document on stdout. Amounts are exact
//! decimal strings (`"-12.00"`), days `YYYY-MM-DD`, instants RFC 3339 UTC. Account numbers in
//! failed calls are masked as in the email and the exports.

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::{FailedCall, LedgerReject};
use crate::exit::{AppError, Exit};
use crate::store::StoredRun;

pub fn print<T: Serialize + ?Sized>(value: &T) -> Result<Exit, AppError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| AppError::fatal(e.into()))?;
    println!("{text}");
    Ok(Exit::Done)
}

pub fn run(r: &StoredRun) -> Value {
    let side = |s: &crate::domain::SideTotals| json!({ "count": s.count, "sales": s.sales, "returns": s.returns, "net": s.net() });
    json!({
        "id": r.id,
        "from": r.range.from,
        "to": r.range.to,
        "trigger": r.trigger,
        "status": r.status,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "duration_ms": r.duration_ms,
        "x_reference_id": r.x_reference_id,
        "version": r.version,
        "error": r.error,
        "flexiti_records": r.flexiti_records,
        "ledger_rows": r.ledger_rows,
        "matched_pairs": r.matched_pairs,
        "discrepancies": r.discrepancies,
        "failed_calls": r.failed_calls,
        "rejected_rows": r.rejected_rows,
        "ignored_rows": r.ignored_rows,
        "incomplete_days": r.incomplete_days,
        "flexiti": side(&r.flexiti),
        "ledger": side(&r.ledger),
    })
}

pub fn runs(runs: &[StoredRun]) -> Value {
    Value::Array(runs.iter().map(run).collect())
}

/// A run with its failed calls and rejected rows in full (the counts become lists).
pub fn run_details(r: &StoredRun, calls: &[FailedCall], rejects: &[LedgerReject]) -> Value {
    let mut value = run(r);
    let calls: Vec<FailedCall> = calls
        .iter()
        .map(|c| FailedCall {
            parameters: crate::domain::mask_account_parameter(&c.parameters),
            message: crate::domain::scrub_accounts(&c.message),
            ..c.clone()
        })
        .collect();
    if let Value::Object(map) = &mut value {
        map.insert("failed_calls".into(), json!(calls));
        map.insert("rejected_rows".into(), json!(rejects));
    }
    value
}
