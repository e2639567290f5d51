//! The commands other than `run` and `demo`: exports, migrations, the monitoring status and the
//! sandbox (the listings are in `listings.rs`, the checks in `check.rs`).

use anyhow::Context;
use chrono::Utc;
use flexiti_sandbox as sandbox;

use crate::cli::{ExportArgs, SandboxAction};
use crate::config::Config;
use crate::exit::{AppError, Exit};
use crate::export::{self, ExportFormat, ExportRow};
use crate::store::{DiscrepancyFilter, Store};

pub(super) async fn open(config: &Config) -> Result<Store, AppError> {
    Store::connect(&config.database_url, &config.file.merchant)
        .await
        .map_err(AppError::fatal)
}

pub async fn export(config: &Config, args: &ExportArgs) -> Result<Exit, AppError> {
    let category = args.category.map(|c| c.0);
    let status = args.status.map(|s| s.0);
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

pub async fn migrate(config: &Config) -> Result<Exit, AppError> {
    let store = open(config).await?;
    store.migrate().await.map_err(AppError::fatal)?;
    println!("database schema is up to date ({})", store.backend_name());
    Ok(Exit::Done)
}

/// A dead-man's switch for cron: exit 1 when the last succeeded run is too old, or when the
/// latest finished run's summary email did not go out (the accountants did not get it).
pub async fn status(config: &Config, max_age_hours: i64) -> Result<Exit, AppError> {
    let store = open(config).await?;
    let last = store
        .last_successful_run_finished_at()
        .await
        .map_err(AppError::fatal)?;
    let age = last_success(last, max_age_hours);
    let email = store
        .latest_email_not_sent()
        .await
        .map_err(AppError::fatal)?;
    if let Some((id, state)) = &email {
        let why = match state.as_str() {
            "failed" => "sending it failed",
            "pending" => "the run stopped while sending it (or is sending it now)",
            _ => "the run stopped while sending it",
        };
        println!("EMAIL NOT SENT: run {id}'s summary email did not go out: {why} (runs show {id})");
    }
    Ok(match (age, email) {
        (Exit::Done, None) => Exit::Done,
        _ => Exit::Fatal,
    })
}

/// Says how old the last succeeded run is: `Done` when within `max_age_hours`, else `Fatal`.
fn last_success(last: Option<chrono::DateTime<Utc>>, max_age_hours: i64) -> Exit {
    match last {
        Some(at) => {
            let age = Utc::now() - at;
            if age > chrono::Duration::hours(max_age_hours) {
                println!(
                    "STALE: last successful run finished {at} ({} h ago; threshold {max_age_hours} h)",
                    age.num_hours()
                );
                Exit::Fatal
            } else {
                println!(
                    "OK: last successful run finished {at} ({} h ago)",
                    age.num_hours()
                );
                Exit::Done
            }
        }
        None => {
            println!("STALE: no successful run recorded");
            Exit::Fatal
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
