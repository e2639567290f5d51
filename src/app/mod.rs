//! The application: turns a parsed command into work on the library's stages and an exit code.
//! A run's stages are called from `src/job/` and nowhere else, so its order reads top to bottom
//! in [`run_job`].

mod check;
mod commands;
mod demo;
mod files;
mod json_out;
mod listings;

use crate::cli::{Command, ConfigArg};
use crate::config::Config;
use crate::exit::{AppError, Exit};

pub use crate::job::{JobOutcome, RunRequest, run_job};

/// Runs one command. `interactive`: a person watches stderr (a terminal, human logs).
pub async fn dispatch(command: Command, interactive: bool) -> Result<Exit, AppError> {
    match command {
        Command::Run(args) => {
            let config = load_config(&args.config)?;
            let mut request = RunRequest::from_args(&args);
            request.progress = interactive;
            let outcome = run_job(&config, &request).await?;
            println!("{}", outcome.summary());
            Ok(outcome.exit)
        }
        Command::Export(args) => commands::export(&load_config(&args.config)?, &args).await,
        Command::Runs { config, action } => listings::runs(&load_config(&config)?, action).await,
        Command::Discrepancies { config, action } => {
            listings::discrepancies(&load_config(&config)?, action).await
        }
        Command::Migrate(config) => commands::migrate(&load_config(&config)?).await,
        Command::Check(config) => check::check(&load_config(&config)?).await,
        Command::Status {
            config,
            max_age_hours,
        } => commands::status(&load_config(&config)?, max_age_hours).await,
        Command::Sandbox { action } => commands::sandbox(action).await,
        Command::Demo { data_dir } => demo::run(&data_dir).await,
    }
}

/// Loads and checks the config; every problem is a usage error (exit 2). Without `--config`
/// (nor `FLEXITI_RECON_CONFIG`) every default applies, with paths relative to the current folder.
pub fn load_config(arg: &ConfigArg) -> Result<Config, AppError> {
    let config = match &arg.config {
        Some(path) => Config::load(path).map_err(|e| {
            // The path may come from the environment: say so, or the operator looks for a flag.
            let from_env = std::env::var_os("FLEXITI_RECON_CONFIG").is_some_and(|v| path == &v);
            AppError::usage(if from_env {
                e.context("FLEXITI_RECON_CONFIG")
            } else {
                e
            })
        })?,
        None => {
            tracing::info!("no --config given: using the defaults (data folder ./data)");
            Config::defaults().map_err(AppError::usage)?
        }
    };
    files::protect(&config);
    Ok(config)
}
