//! `demo`: the whole job on embedded defaults. It unpacks the sample data set and the demo
//! config into a data folder, starts the sandbox Flexiti API on a loopback port, runs the job
//! for the sample business day with a SQLite file and the file email transport, and prints
//! where everything went. Running it again reruns the same day: the same findings, no new rows.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use flexiti_sandbox::{self as sandbox, Faults, SandboxOptions};

use crate::config::Config;
use crate::domain::DayRange;
use crate::exit::{AppError, Exit};
use crate::job::{RunRequest, run_job};

const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");
const FILES: [(&str, &str); 3] = [
    (
        "samples/flexiti/authorizations.json",
        include_str!("../../samples/flexiti/authorizations.json"),
    ),
    (
        "samples/flexiti/captures.json",
        include_str!("../../samples/flexiti/captures.json"),
    ),
    (
        "samples/ledger/ledger.csv",
        include_str!("../../samples/ledger/ledger.csv"),
    ),
];
const DEMO_CLIENT_ID: &str = "demo";
const DEMO_SECRET: &str = "demo-secret-not-for-production";

/// The sample business day.
pub fn demo_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
}

fn unpack(data_dir: &Path) -> anyhow::Result<PathBuf> {
    for (name, text) in FILES {
        let path = data_dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let config = data_dir.join("demo.toml");
    std::fs::write(&config, DEMO_CONFIG)
        .with_context(|| format!("{}: cannot write", config.display()))?;
    Ok(config)
}

pub async fn run(data_dir: &Path) -> Result<Exit, AppError> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("demo data folder {}: cannot create", data_dir.display()))
        .map_err(AppError::fatal)?;
    let data_dir = data_dir
        .canonicalize()
        .with_context(|| format!("demo data folder {}", data_dir.display()))
        .map_err(AppError::fatal)?;
    let config_path = unpack(&data_dir).map_err(AppError::fatal)?;
    let server = sandbox::spawn(SandboxOptions {
        port: 0,
        data_dir: data_dir.join("samples"),
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: DEMO_SECRET.into(),
        faults: Faults::default(),
    })
    .await
    .map_err(AppError::fatal)?;
    println!("sandbox Flexiti API listening on {}", server.base_url());

    let mut config = Config::load(&config_path).map_err(AppError::usage)?;
    super::files::protect(&config);
    config.flexiti.environment = server.base_url();
    config.flexiti.client_secret = secrecy::SecretString::from(DEMO_SECRET);
    let request = RunRequest {
        range: Some(DayRange::single(demo_day())),
        trigger: "demo".into(),
        ..RunRequest::default()
    };
    let outcome = run_job(&config, &request).await;
    server.shutdown().await;
    let outcome = outcome?;
    println!("{}", outcome.summary());
    println!("{}", next_steps(&config, &config_path, &data_dir).await);
    Ok(outcome.exit)
}

/// The commands worth trying once the demo ran, with this demo's paths filled in: the export,
/// the largest finding in detail, the email written, and a rerun.
async fn next_steps(config: &Config, config_path: &Path, data_dir: &Path) -> String {
    let day = demo_day();
    let config_arg = shell_word(&config_path.display().to_string());
    let largest =
        match crate::store::Store::connect(&config.database_url, &config.file.merchant).await {
            Ok(store) => {
                let filter = crate::store::DiscrepancyFilter {
                    from: Some(day),
                    to: Some(day),
                    ..Default::default()
                };
                let found = store.list_discrepancies(&filter).await.unwrap_or_default();
                store.close().await;
                found
                    .iter()
                    .max_by_key(|d| (d.discrepancy.delta.abs(), -d.id))
                    .map(|d| d.id)
            }
            Err(_) => None,
        };
    let mut out = String::from("What to try next:\n");
    out.push_str(&format!(
        "  export the findings, totals, rejected rows and failed calls as CSV:\n    \
         flexiti-recon export --config {config_arg} --from {day} --to {day} --out {}\n",
        shell_word(&data_dir.join("export").display().to_string())
    ));
    match largest {
        Some(id) => out.push_str(&format!(
            "  the largest finding, with its explanation and history:\n    \
             flexiti-recon discrepancies show {id} --config {config_arg}\n"
        )),
        None => out.push_str(&format!(
            "  the stored findings:\n    flexiti-recon discrepancies list --config {config_arg}\n"
        )),
    }
    out.push_str(&format!(
        "  the email it wrote (open the .eml in a mail client):\n    {}\n",
        shell_word(&data_dir.join("outbox").display().to_string())
    ));
    out.push_str(&format!(
        "  rerun the day (the same findings come back as still open, none duplicated):\n    \
         flexiti-recon demo --data-dir {}",
        shell_word(&data_dir.display().to_string())
    ));
    out
}

/// A path as one shell word: quoted when it holds anything a shell would split or expand.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
