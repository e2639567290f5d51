//! The plan stage: everything a run will do, decided and checked from the config and the request
//! before any IO (no database, no network, no file written).

use std::path::PathBuf;

use chrono::{Days, Utc};

use super::RunRequest;
use crate::audit::Replay;
use crate::config::Config;
use crate::domain::DayRange;
use crate::exit::AppError;
use crate::ledger;
use crate::notify::{self, EmailSettings, Mailer, RenderOptions};

/// A checked run: the days, where the inputs come from, where the results go.
pub struct Plan<'a> {
    pub config: &'a Config,
    pub request: &'a RunRequest,
    pub range: DayRange,
    /// Nothing is written to the database, the audit folder or the nightly metrics, and the
    /// email goes to files: a `--dry-run`, and every `--replay`.
    pub dry_run: bool,
    /// `--replay N`: run N's bundle, read and checked.
    pub replay: Option<Replay>,
    pub ledger_files: Vec<PathBuf>,
    /// The config's email settings, with the file transport on a dry run.
    pub email: EmailSettings,
    /// `None`: no email at all (`--no-email`, or no recipients).
    pub mailer: Option<Mailer>,
    /// Sent with every Flexiti call of the run and stored with it.
    pub x_reference_id: String,
}

impl<'a> Plan<'a> {
    /// The plan of `request`, or a usage error (exit 2) naming what is wrong.
    pub fn make(config: &'a Config, request: &'a RunRequest) -> Result<Plan<'a>, AppError> {
        let replay = match request.replay {
            Some(id) => Some(Replay::load(config, id).map_err(AppError::usage)?),
            None => None,
        };
        let range = replay
            .as_ref()
            .map(|r| r.range)
            .or(request.range)
            .unwrap_or_else(|| default_range(config));
        if range.is_empty() {
            return Err(AppError::usage(anyhow::anyhow!(
                "--from {} is after --to {}",
                range.from,
                range.to
            )));
        }
        let dry_run = request.dry_run || replay.is_some();
        let mut email = config.email.clone();
        if dry_run {
            email.transport = notify::TransportKind::File;
        }
        let mailer = if request.no_email || email.to.is_empty() {
            None
        } else {
            Some(Mailer::from_settings(&email).map_err(|e| AppError::usage(e.into()))?)
        };
        let ledger_files = if request.ledger.is_empty() {
            ledger::resolve_files(&config.file.ledger.files, &config.base_dir)
                .map_err(AppError::fatal)?
        } else {
            request.ledger.clone()
        };
        Ok(Plan {
            config,
            request,
            range,
            dry_run,
            replay,
            ledger_files,
            email,
            mailer,
            x_reference_id: uuid::Uuid::new_v4().simple().to_string(),
        })
    }

    /// How the email names the merchant and shows times.
    pub fn render_options(&self) -> RenderOptions {
        RenderOptions {
            merchant_name: self.config.file.merchant.clone(),
            zone: self.config.calendar.zone,
            ..RenderOptions::default()
        }
    }
}

/// Yesterday in the merchant's zone.
fn default_range(config: &Config) -> DayRange {
    let today = config.calendar.day_of(Utc::now());
    DayRange::single(today.checked_sub_days(Days::new(1)).unwrap_or(today))
}
