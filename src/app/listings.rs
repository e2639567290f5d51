//! The listings: `runs list|show` and `discrepancies list|show|ack`, as aligned text or as JSON
//! (`--format json`, see `json_out.rs`).

use super::commands::open;
use super::json_out;
use crate::cli::{DiscrepancyAction, OutputFormat, RunsAction};
use crate::config::Config;
use crate::exit::{AppError, Exit};
use crate::report::StoredDiscrepancy;
use crate::store::{DiscrepancyFilter, StoreError};

pub async fn runs(config: &Config, action: RunsAction) -> Result<Exit, AppError> {
    let store = open(config).await?;
    match action {
        RunsAction::List { limit, format } => {
            let limit = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
            let runs = store.list_runs(limit).await.map_err(AppError::fatal)?;
            if format == OutputFormat::Json {
                return json_out::print(&json_out::runs(&runs));
            }
            println!(
                "{:>5}  {:<23}  {:<9}  {:<10}  {:>6}  {:>6}  {:>5}  started",
                "id", "days", "trigger", "status", "finds", "failed", "rej"
            );
            for r in runs {
                println!(
                    "{:>5}  {:<23}  {:<9}  {:<10}  {:>6}  {:>6}  {:>5}  {}",
                    r.id,
                    r.range.to_string(),
                    r.trigger,
                    r.status.as_str(),
                    r.discrepancies,
                    r.failed_calls,
                    r.rejected_rows,
                    r.started_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        RunsAction::Show { id, format } => {
            let run = store
                .get_run(id)
                .await
                .map_err(AppError::fatal)?
                .ok_or_else(|| AppError::usage(StoreError::UnknownRun(id).into()))?;
            if format == OutputFormat::Json {
                let calls = store.failed_calls(id).await.map_err(AppError::fatal)?;
                let rejects = store.rejects(id).await.map_err(AppError::fatal)?;
                return json_out::print(&json_out::run_details(&run, &calls, &rejects));
            }
            println!(
                "run {}: {} for {} (trigger {})",
                run.id,
                run.status.as_str(),
                run.range,
                run.trigger
            );
            println!(
                "  started {}  duration {} ms  version {}",
                run.started_at,
                run.duration_ms.unwrap_or(0),
                run.version
            );
            println!("  x-reference-id {}", run.x_reference_id);
            println!(
                "  Flexiti {} records (sales {}, returns {})  ledger {} rows (sales {}, returns {})  pairs {}",
                run.flexiti_records,
                run.flexiti.sales,
                run.flexiti.returns,
                run.ledger_rows,
                run.ledger.sales,
                run.ledger.returns,
                run.matched_pairs
            );
            println!(
                "  discrepancies {}  failed calls {}  rejected rows {}  other tender {}",
                run.discrepancies, run.failed_calls, run.rejected_rows, run.ignored_rows
            );
            if !run.incomplete_days.is_empty() {
                let days: Vec<String> = run
                    .incomplete_days
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("  not fully fetched: {}", days.join(", "));
            }
            if let Some(e) = &run.error {
                println!("  error: {}", crate::redact::text(e));
            }
            if let Some(state) = store.email_state(id).await.map_err(AppError::fatal)? {
                println!("  email: {}", email_state_text(&state));
            }
            for c in store.failed_calls(id).await.map_err(AppError::fatal)? {
                println!(
                    "  failed call: {} {} -> {} {} {} ({} attempts)",
                    c.endpoint,
                    c.parameters,
                    c.http_status.map_or("-".to_string(), |s| s.to_string()),
                    c.error_code.as_deref().unwrap_or("-"),
                    crate::redact::text(&c.message),
                    c.attempts
                );
            }
            for r in store.rejects(id).await.map_err(AppError::fatal)? {
                println!("  rejected: {}:{} {}", r.file, r.line, r.reason);
            }
        }
    }
    Ok(Exit::Done)
}

fn print_row(d: &StoredDiscrepancy) {
    let x = &d.discrepancy;
    println!(
        "{:>6}  {}  {:<20}  {:<24}  {:<6}  {:>10}  {:>10}  {:>10}  {}",
        d.id,
        x.business_date,
        x.category.as_str(),
        x.reference,
        x.kind.as_str(),
        x.flexiti_amount.map(|a| a.to_string()).unwrap_or_default(),
        x.ledger_amount.map(|a| a.to_string()).unwrap_or_default(),
        x.delta.to_string(),
        d.status.as_str()
    );
}

pub async fn discrepancies(config: &Config, action: DiscrepancyAction) -> Result<Exit, AppError> {
    let store = open(config).await?;
    match action {
        DiscrepancyAction::List {
            from,
            to,
            category,
            status,
            limit,
            format,
        } => {
            let filter = DiscrepancyFilter {
                from,
                to,
                category: category.map(|c| c.0),
                status: status.map(|s| s.0),
                store: None,
                reference: None,
                limit: Some(u32::try_from(limit.max(1)).unwrap_or(u32::MAX)),
            };
            let found = store
                .list_discrepancies(&filter)
                .await
                .map_err(AppError::fatal)?;
            if format == OutputFormat::Json {
                return json_out::print(&found);
            }
            println!(
                "{:>6}  {:<10}  {:<20}  {:<24}  {:<6}  {:>10}  {:>10}  {:>10}  status",
                "id", "day", "category", "reference", "kind", "flexiti", "ledger", "delta"
            );
            for d in found {
                print_row(&d);
            }
        }
        DiscrepancyAction::Show { id, format } => {
            let d = store
                .get_discrepancy(id)
                .await
                .map_err(AppError::fatal)?
                .ok_or_else(|| AppError::usage(StoreError::UnknownDiscrepancy(id).into()))?;
            if format == OutputFormat::Json {
                return json_out::print(&d);
            }
            print_row(&d);
            let x = &d.discrepancy;
            println!("  {}", x.explanation);
            println!(
                "  severity {}  pass {}  flexiti {}  authorization {}",
                x.severity.as_str(),
                x.pass.as_str(),
                x.flexiti_id.as_deref().unwrap_or("-"),
                x.authorization_id.map_or("-".into(), |a| a.to_string())
            );
            println!(
                "  ledger {}:{}  stores ledger {} / Flexiti {}",
                x.ledger_file.as_deref().unwrap_or("-"),
                x.ledger_line.map_or("-".into(), |l| l.to_string()),
                x.ledger_store.as_deref().unwrap_or("-"),
                x.flexiti_store.as_deref().unwrap_or("-")
            );
            println!(
                "  first seen run {} ({})  last seen run {} ({})",
                d.first_seen_run, d.first_seen_at, d.last_seen_run, d.last_seen_at
            );
            if let Some(s) = &x.suggestion {
                println!("  likely {} ({}): {}", s.reference, s.id, s.why);
            }
            if let Some(note) = &d.note {
                println!("  note: {note}");
            }
        }
        DiscrepancyAction::Ack { id, note } => {
            store.acknowledge(id, &note).await.map_err(|e| {
                match e.downcast_ref::<StoreError>() {
                    Some(StoreError::UnknownDiscrepancy(_)) => AppError::usage(e),
                    _ => AppError::fatal(e),
                }
            })?;
            println!("discrepancy {id} acknowledged");
        }
    }
    Ok(Exit::Done)
}

/// A run's email state as `runs show` prints it.
fn email_state_text(state: &str) -> &str {
    match state {
        "pending" => "pending: not sent (the run is sending it, or stopped while sending)",
        "unsent" => "never sent: the run stopped while sending it",
        "sent" => "sent",
        "failed" => "failed",
        other => other,
    }
}
