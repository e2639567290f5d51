//! `check`: each dependency of a run tried in turn (config, ledger files, database, Flexiti
//! token and one page, SMTP), all of them reported; exit 1 if any failed.

use crate::config::Config;
use crate::exit::{AppError, Exit};
use crate::flexiti;
use crate::notify::Mailer;
use crate::store::Store;

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
                crate::redact::url(&config.database_url),
                store.backend_name()
            );
            store.close().await;
        }
        Err(e) => {
            ok = false;
            println!("database: FAILED: {e:#}");
        }
    }
    if !config.flexiti.has_client_secret() {
        ok = false;
        println!(
            "flexiti: FAILED: FLEXITI_CLIENT_SECRET is not set (nor FLEXITI_CLIENT_SECRET_FILE)"
        );
    } else {
        let x_reference_id = uuid::Uuid::new_v4().simple().to_string();
        match flexiti::check(&config.flexiti, &x_reference_id).await {
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
