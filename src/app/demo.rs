//! `demo`: the whole job on embedded defaults. It unpacks the sample data set and the demo
//! config into a data folder, starts the sandbox Flexiti API on a loopback port, runs the job
//! for the sample business day with a SQLite file and the file email transport, and prints
//! where everything went. Running it again reruns the same day: the same findings, no new rows.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;

use super::job::{RunRequest, run_job};
use crate::config::Config;
use crate::domain::DayRange;
use crate::exit::{AppError, Exit};
use crate::sandbox::{self, Faults, SandboxOptions};

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
    config.client_secret = Some(config.flexiti.client_secret.clone());
    let request = RunRequest {
        range: Some(DayRange::single(demo_day())),
        trigger: "demo".into(),
        ..RunRequest::default()
    };
    let outcome = run_job(&config, &request).await;
    server.shutdown().await;
    let outcome = outcome?;
    println!("{}", outcome.summary());
    Ok(outcome.exit)
}
