//! The commands other than `run` and `demo`: exports, listings, acknowledgement, migrations,
//! checks, the monitoring status and the sandbox.

use anyhow::Context;
use chrono::Utc;

use super::json_out;
use crate::cli::{DiscrepancyAction, ExportArgs, OutputFormat, RunsAction, SandboxAction};
use crate::config::Config;
use crate::domain::Category;
use crate::exit::{AppError, Exit};
use crate::export::{self, ExportFormat, ExportRow};
use crate::flexiti;
use crate::notify::Mailer;
use crate::report::{FindingStatus, StoredDiscrepancy};
use crate::sandbox;
use crate::store::{DiscrepancyFilter, Store, StoreError};

async fn open(config: &Config) -> Result<Store, AppError> {
    Store::connect(&config.database_url, &config.file.merchant)
        .await
        .map_err(AppError::fatal)
}

fn check_category(category: &Option<String>) -> Result<Option<Category>, AppError> {
    match category {
        None => Ok(None),
        Some(c) => Category::parse(c).map(Some).ok_or_else(|| {
            let known: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            AppError::usage(anyhow::anyhow!(
                "--category {c}: unknown; one of {}",
                known.join(", ")
            ))
        }),
    }
}

fn check_status(status: &Option<String>) -> Result<Option<FindingStatus>, AppError> {
    match status.as_deref() {
        None => Ok(None),
        Some("open") => Ok(Some(FindingStatus::Open)),
        Some("resolved") => Ok(Some(FindingStatus::Resolved)),
        Some("acknowledged") => Ok(Some(FindingStatus::Acknowledged)),
        Some(other) => Err(AppError::usage(anyhow::anyhow!(
            "--status {other}: one of open, resolved, acknowledged"
        ))),
    }
}

pub async fn export(config: &Config, args: &ExportArgs) -> Result<Exit, AppError> {
    let category = check_category(&args.category)?;
    let status = check_status(&args.status)?;
    let delimiter = if args.semicolon || args.decimal_comma {
        b';'
    } else {
        b','
    };
    let format = ExportFormat::new(args.excel, delimiter, args.decimal_comma)
        .map_err(|e| AppError::usage(e.into()))?;
    let store = open(config).await?;
    let filter = DiscrepancyFilter {
        from: args.from,
        to: args.to,
        category,
        status,
        store: args.store.clone(),
        reference: None,
        limit: None,
    };
    let found = store
        .list_discrepancies(&filter)
        .await
        .map_err(AppError::fatal)?;
    let (from, to) = match (args.from, args.to) {
        (Some(f), Some(t)) => (f, t),
        _ => {
            let days: Vec<_> = found.iter().map(|d| d.discrepancy.business_date).collect();
            let today = config.calendar.day_of(Utc::now());
            (
                args.from.or(days.iter().min().copied()).unwrap_or(today),
                args.to.or(days.iter().max().copied()).unwrap_or(today),
            )
        }
    };
    let mut totals = store.day_totals(from, to).await.map_err(AppError::fatal)?;
    if let Some(s) = &args.store {
        totals.retain(|t| &t.store == s);
    }
    let facts = store.run_facts(from, to).await.map_err(AppError::fatal)?;
    let rows: Vec<ExportRow<'_>> = found.iter().map(ExportRow::from).collect();
    let manifest =
        export::export_bundle_with_facts(&args.out, &rows, &totals, &facts, &format, args.split)
            .map_err(AppError::fatal)?;
    for file in &manifest.files {
        if file.total_column.is_empty() {
            println!("{}  {} rows  sha256 {}", file.name, file.rows, file.sha256);
        } else {
            println!(
                "{}  {} rows  total {}  sha256 {}",
                file.name, file.rows, file.total, file.sha256
            );
        }
    }
    println!("exported to {}", args.out.display());
    Ok(Exit::Done)
}

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
                category: check_category(&category)?,
                status: check_status(&status)?,
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

pub async fn migrate(config: &Config) -> Result<Exit, AppError> {
    let store = open(config).await?;
    store.migrate().await.map_err(AppError::fatal)?;
    println!("database schema is up to date ({})", store.backend_name());
    Ok(Exit::Done)
}

/// Checks each dependency in turn and reports all of them; exits 1 if any failed.
pub async fn check(config: &Config) -> Result<Exit, AppError> {
    let mut ok = true;
    println!(
        "config {}: ok (zone {}, window {} day(s))",
        config.path.display(),
        config.calendar.zone,
        config.file.match_window_days
    );
    match ledger_check(config) {
        Ok(n) => println!("ledger: ok ({n} file(s) found)"),
        Err(e) => {
            ok = false;
            println!("ledger: FAILED: {e:#}");
        }
    }
    match Store::connect(&config.database_url, &config.file.merchant).await {
        Ok(store) => {
            println!(
                "database {}: ok ({})",
                super::job::redact_url(&config.database_url),
                store.backend_name()
            );
            store.close().await;
        }
        Err(e) => {
            ok = false;
            println!("database: FAILED: {e:#}");
        }
    }
    let mut settings = config.flexiti.clone();
    match &config.client_secret {
        Some(secret) => {
            settings.client_secret = secret.clone();
            let x_reference_id = uuid::Uuid::new_v4().simple().to_string();
            match flexiti::check(&settings, &x_reference_id).await {
                Ok(report) => {
                    ok &= report.is_ok();
                    println!(
                        "flexiti {}: token {}",
                        report.base_url,
                        match &report.token {
                            Ok(_) => "ok".to_string(),
                            Err(e) => format!("FAILED: {e}"),
                        }
                    );
                    println!(
                        "flexiti: one page of authorizations for {}: {}",
                        report.probe_date,
                        match &report.page {
                            Ok(n) => format!("ok ({n} listed)"),
                            Err(e) => format!("FAILED: {e}"),
                        }
                    );
                }
                Err(e) => {
                    ok = false;
                    println!("flexiti: FAILED: {e:#}");
                }
            }
        }
        None => {
            ok = false;
            println!(
                "flexiti: FAILED: FLEXITI_CLIENT_SECRET is not set (nor FLEXITI_CLIENT_SECRET_FILE)"
            );
        }
    }
    if config.email.to.is_empty() {
        println!("email: not configured (no [email] section or no recipients)");
        return Ok(if ok { Exit::Done } else { Exit::Fatal });
    }
    match Mailer::from_settings(&config.email) {
        Ok(mailer) => {
            // The transport's own timeout bounds each step; this bounds the whole probe.
            let limit = std::time::Duration::from_secs(config.email.timeout_secs.max(1) * 2);
            match tokio::time::timeout(limit, mailer.probe()).await {
                Ok(Ok(what)) => println!("email: ok ({what})"),
                Ok(Err(e)) => {
                    ok = false;
                    println!("email: FAILED: {e}");
                }
                Err(_) => {
                    ok = false;
                    println!(
                        "email: FAILED: smtp {}: no answer within {} s",
                        config.email.server(),
                        limit.as_secs()
                    );
                }
            }
        }
        Err(e) => {
            ok = false;
            println!("email: FAILED: {e}");
        }
    }
    Ok(if ok { Exit::Done } else { Exit::Fatal })
}

fn ledger_check(config: &Config) -> anyhow::Result<usize> {
    Ok(crate::ledger::resolve_files(&config.file.ledger.files, &config.base_dir)?.len())
}

/// A dead-man's switch for cron: exit 1 when the last succeeded run is too old.
pub async fn status(config: &Config, max_age_hours: i64) -> Result<Exit, AppError> {
    let store = open(config).await?;
    let last = store
        .last_successful_run_finished_at()
        .await
        .map_err(AppError::fatal)?;
    match last {
        Some(at) => {
            let age = Utc::now() - at;
            if age > chrono::Duration::hours(max_age_hours) {
                println!(
                    "STALE: last successful run finished {at} ({} h ago; threshold {max_age_hours} h)",
                    age.num_hours()
                );
                Ok(Exit::Fatal)
            } else {
                println!(
                    "OK: last successful run finished {at} ({} h ago)",
                    age.num_hours()
                );
                Ok(Exit::Done)
            }
        }
        None => {
            println!("STALE: no successful run recorded");
            Ok(Exit::Fatal)
        }
    }
}

pub async fn sandbox(action: SandboxAction) -> Result<Exit, AppError> {
    match action {
        SandboxAction::Serve {
            data,
            port,
            client_id,
            faults,
        } => {
            let faults = sandbox::Faults::from_spec(&faults).map_err(AppError::usage)?;
            let secret = crate::config::secret_from_env("FLEXITI_CLIENT_SECRET")
                .map_err(AppError::usage)?
                .map(|s| secrecy::ExposeSecret::expose_secret(&s).to_string())
                .unwrap_or_else(|| "sandbox-secret".to_string());
            let opts = sandbox::SandboxOptions {
                port,
                data_dir: data,
                client_id,
                client_secret: secret,
                faults,
            };
            sandbox::serve_forever(opts)
                .await
                .map_err(AppError::fatal)?;
            Ok(Exit::Done)
        }
        SandboxAction::Generate {
            out,
            seed,
            orders,
            from,
            days,
            discrepancy_per_mille,
            typo_per_mille,
            flexiti_files,
            ledger_files,
            stores,
            pretty,
        } => {
            let mut opts = sandbox::GenerateOptions::new(out, from, days, orders);
            opts.seed = seed;
            opts.discrepancy_per_mille = discrepancy_per_mille;
            opts.typo_per_mille = typo_per_mille;
            opts.flexiti_files = flexiti_files;
            opts.ledger_files = ledger_files;
            opts.stores = stores;
            opts.pretty = pretty;
            let summary = sandbox::generate(&opts)
                .context("sandbox generate")
                .map_err(AppError::fatal)?;
            println!(
                "wrote {} ledger rows ({} other tender), {} authorizations, {} captures, {} returns into {}",
                summary.ledger_rows,
                summary.other_tender_rows,
                summary.authorizations,
                summary.captures,
                summary.returns,
                opts.out_dir.display()
            );
            for (category, n) in &summary.findings {
                println!("  injected {n} {category}");
            }
            if summary.typos > 0 {
                println!("  injected {} typos (see typos.csv)", summary.typos);
            }
            Ok(Exit::Done)
        }
    }
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
