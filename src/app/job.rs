//! One run of the job: plan, lock, fetch, ingest, reconcile, store, notify, exit code.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};

use super::progress::Stages;
use super::replay_check::ReplayCheck;
use super::{audit, metrics};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::domain::{Category, DayRange, FlexitiSide, LedgerSide};
use crate::exit::{AppError, Exit};
use crate::export::{self, ExportFormat, ExportRow};
use crate::flexiti;
use crate::ledger;
use crate::notify::{self, Mailer, RenderOptions};
use crate::reconcile::{self, ReconcileParams};
use crate::report::{ChangeSummary, FailedCall, RunReport, RunStatus};
use crate::store::Store;

/// What the caller asked for.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub range: Option<DayRange>,
    pub store: Option<String>,
    pub dry_run: bool,
    pub no_email: bool,
    pub flexiti_dir: Option<PathBuf>,
    /// Ledger files that replace the configured ones.
    pub ledger: Vec<PathBuf>,
    pub replay: Option<i64>,
    pub fail_on_discrepancy: bool,
    pub csv: Option<PathBuf>,
    pub trigger: String,
    pub wait: bool,
    /// Show a spinner with the current stage (a terminal with human logs).
    pub progress: bool,
}

impl RunRequest {
    pub fn from_args(args: &RunArgs) -> Self {
        let range = match (args.date, args.from, args.to) {
            (Some(d), _, _) => Some(DayRange::single(d)),
            (None, Some(from), Some(to)) => Some(DayRange::new(from, to)),
            _ => None,
        };
        RunRequest {
            range,
            store: args.store.clone(),
            dry_run: args.dry_run,
            no_email: args.no_email,
            flexiti_dir: args.flexiti_dir.clone(),
            ledger: args.ledger.clone(),
            replay: args.replay,
            fail_on_discrepancy: args.fail_on_discrepancy,
            csv: args.csv.clone(),
            trigger: args.trigger.clone(),
            wait: args.wait,
            progress: false,
        }
    }
}

/// What a finished run leaves behind.
#[derive(Debug)]
pub struct JobOutcome {
    pub report: RunReport,
    pub exit: Exit,
    pub database: Option<String>,
    pub email: Option<String>,
    pub email_error: Option<String>,
    pub csv: Option<PathBuf>,
    pub audit_dir: Option<PathBuf>,
    /// Runs whose audit bundles this run deleted (older than `audit.keep_days`).
    pub pruned: Vec<i64>,
    /// Ledger files named twice (or identical copies), each read once.
    pub ledger_warnings: Vec<String>,
    /// For `--replay N`: whether the replay reproduces run N's findings (`None` when run N's
    /// bundle predates recorded findings).
    pub replay_check: Option<ReplayCheck>,
    /// For `--replay N`: run N's id, when its bundle holds no findings to compare with.
    pub replay_uncompared: Option<i64>,
}

impl JobOutcome {
    /// A short human summary: counts and money per category, and where everything went.
    pub fn summary(&self) -> String {
        let r = &self.report;
        let mut out = format!(
            "run {} for {}: {} ({} Flexiti records, {} ledger rows, {} pairs)\n",
            r.run_id,
            r.range,
            r.status.as_str(),
            r.flexiti_records,
            r.ledger_rows,
            r.matched_pairs
        );
        for warning in &self.ledger_warnings {
            out.push_str(&format!("  warning: {warning}\n"));
        }
        if r.discrepancies.is_empty() {
            out.push_str("  no discrepancies\n");
        }
        for category in Category::ALL {
            let found: Vec<_> = r
                .discrepancies
                .iter()
                .filter(|d| d.category == category)
                .collect();
            if !found.is_empty() {
                let money: crate::domain::Total = found.iter().map(|d| d.delta.abs()).sum();
                out.push_str(&format!(
                    "  {:<22} {:>5}  {:>14} CAD\n",
                    category.as_str(),
                    found.len(),
                    money.to_string()
                ));
            }
        }
        if !r.failed_calls.is_empty() {
            out.push_str(&format!("  failed API calls: {}\n", r.failed_calls.len()));
        }
        let invalid = r
            .failed_calls
            .iter()
            .filter(|c| c.error_code.as_deref() == Some(crate::domain::INVALID_RECORD_CODE))
            .count();
        if invalid > 0 {
            out.push_str(&format!(
                "  invalid Flexiti records: {invalid} (among the failed calls; their references not judged)\n"
            ));
        }
        if !r.incomplete_days.is_empty() {
            let days: Vec<String> = r.incomplete_days.iter().map(NaiveDate::to_string).collect();
            out.push_str(&format!("  not fully fetched: {}\n", days.join(", ")));
        }
        if !r.rejects.is_empty() {
            out.push_str(&format!("  rejected ledger rows: {}\n", r.rejects.len()));
        }
        let changes = &r.changes;
        if !changes.new.is_empty() || !changes.still_open.is_empty() || !changes.resolved.is_empty()
        {
            out.push_str(&format!(
                "  since the last run: {} new, {} still open, {} resolved\n",
                changes.new.len(),
                changes.still_open.len(),
                changes.resolved.len()
            ));
        }
        if let Some(db) = &self.database {
            out.push_str(&format!("  database: {db}\n"));
        }
        match (&self.email, &self.email_error) {
            (Some(e), _) => out.push_str(&format!("  email: {e}\n")),
            (None, Some(err)) => {
                out.push_str(&format!("  email FAILED: {}\n", crate::redact::text(err)))
            }
            _ => {}
        }
        if let Some(csv) = &self.csv {
            out.push_str(&format!("  csv: {}\n", csv.display()));
        }
        if let Some(dir) = &self.audit_dir {
            out.push_str(&format!("  audit bundle: {}\n", dir.display()));
        }
        if let Some(check) = &self.replay_check {
            out.push_str(&check.summary());
        }
        if let Some(n) = self.replay_uncompared {
            out.push_str(&format!(
                "  replay of run {n}: not compared (its bundle holds no findings.json; it was \
                 written by an older version)\n"
            ));
        }
        if !self.pruned.is_empty() {
            let ids: Vec<String> = self.pruned.iter().map(i64::to_string).collect();
            out.push_str(&format!(
                "  pruned audit bundles (older than audit.keep_days): runs {}\n",
                ids.join(", ")
            ));
        }
        out.trim_end().to_string()
    }
}

/// Yesterday in the merchant's zone.
pub fn default_range(config: &Config) -> DayRange {
    let today = config.calendar.day_of(Utc::now());
    DayRange::single(today.checked_sub_days(Days::new(1)).unwrap_or(today))
}

fn render_options(config: &Config) -> RenderOptions {
    RenderOptions {
        merchant_name: config.file.merchant.clone(),
        zone: config.calendar.zone,
        ..RenderOptions::default()
    }
}

/// The whole nightly job.
pub async fn run_job(config: &Config, request: &RunRequest) -> Result<JobOutcome, AppError> {
    let replay = match request.replay {
        Some(id) => Some(audit::Replay::load(config, id).map_err(AppError::usage)?),
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
    let mut email_settings = config.email.clone();
    if dry_run {
        email_settings.transport = notify::TransportKind::File;
    }
    let mailer = if request.no_email || email_settings.to.is_empty() {
        None
    } else {
        Some(Mailer::from_settings(&email_settings).map_err(|e| AppError::usage(e.into()))?)
    };
    let ledger_files = if request.ledger.is_empty() {
        ledger::resolve_files(&config.file.ledger.files, &config.base_dir)
            .map_err(AppError::fatal)?
    } else {
        request.ledger.clone()
    };
    let x_reference_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::info!(%range, x_reference_id, dry_run, "starting the run");

    let (store, lock) = if dry_run {
        (None, None)
    } else {
        let (store, lock) = open_locked(config, request.wait).await?;
        (Some(store), Some(lock))
    };
    let started_at = Utc::now();
    let run_id = match &store {
        Some(store) => store
            .begin_run(
                range,
                &request.trigger,
                &x_reference_id,
                env!("CARGO_PKG_VERSION"),
            )
            .await
            .map_err(AppError::fatal)?,
        None => 0,
    };
    if let Some(store) = &store {
        report_unsent_emails(store).await;
        if mailer.is_some() {
            // Until the email is sent (or found not due), the stored run says it is pending.
            store
                .mark_email_pending(run_id)
                .await
                .map_err(AppError::fatal)?;
        }
    }

    let stages = Stages::new(request.progress && range.len() > 1);
    let body = async {
        stages.begin("reading the ledger");
        let ledger = ledger::read_files(&ledger_files, &config.file.ledger, config.calendar)?;
        stages.done("ledger");
        let window = range.widen(config.file.match_window_days);
        stages.begin("fetching the Flexiti side");
        let (flexiti, failed_calls, pages, flexiti_files) = fetch_side(
            config,
            request,
            replay.as_ref(),
            window,
            &x_reference_id,
            &stages,
        )
        .await?;
        let failed_calls = flexiti::with_invalid_records(failed_calls, &flexiti, &x_reference_id);
        stages.done("flexiti");
        stages.begin("reconciling");
        let params = ReconcileParams {
            range,
            window_days: config.file.match_window_days,
            tolerance: config.tolerance,
            calendar: config.calendar,
            store: request.store.clone(),
        };
        // The engine is CPU-bound: it runs on a blocking thread, off the async workers.
        let (outcome, flexiti, ledger) = tokio::task::spawn_blocking(move || {
            let outcome = reconcile::reconcile(&flexiti, &ledger, &params);
            (outcome, flexiti, ledger)
        })
        .await
        .context("the reconcile stage stopped unexpectedly")?;
        let outcome = outcome?;
        stages.done("reconcile");
        let mut report = build_report(
            run_id,
            range,
            request,
            started_at,
            &x_reference_id,
            outcome,
            &ledger,
            failed_calls,
        );
        let audit_dir = if dry_run {
            None
        } else {
            stages.begin("writing the audit bundle");
            let dir =
                audit::write_bundle(config, &report, &ledger, &pages, &flexiti, &flexiti_files)?;
            stages.done("bundle");
            Some(dir)
        };
        if let Some(store) = &store {
            stages.begin("storing the results");
            report.changes = match &request.store {
                Some(s) => {
                    store
                        .finish_run_for_stores(&report, std::slice::from_ref(s))
                        .await?
                }
                None => store.finish_run(&report).await?,
            };
            stages.done("store");
        }
        anyhow::Ok((report, audit_dir, ledger.warnings))
    };
    let (report, audit_dir, ledger_warnings) = match body.await {
        Ok(done) => done,
        Err(error) => {
            let message = format!("{error:#}");
            if let Some(store) = &store
                && let Err(e) = store.fail_run(run_id, &message).await
            {
                tracing::error!(
                    "could not mark run {run_id} failed: {e:#}; it stays running until the next run marks it abandoned"
                );
            }
            alert_failure(
                config,
                &email_settings,
                mailer.as_ref(),
                range,
                &message,
                &x_reference_id,
            )
            .await;
            return Err(AppError::fatal(error));
        }
    };
    let mut outcome = finish(
        config,
        request,
        store,
        lock,
        mailer,
        &email_settings,
        report,
        audit_dir,
    )
    .await?;
    outcome.ledger_warnings = ledger_warnings;
    if let Some(replay) = &replay {
        match &replay.recorded {
            Some(recorded) => {
                let check =
                    ReplayCheck::compare(replay.run_id, recorded, &outcome.report.discrepancies);
                // For a replay, --fail-on-discrepancy asks "does it differ from run N?": run N's
                // own findings are expected, not a failure.
                if outcome.exit == Exit::Discrepancies && check.reproduces() {
                    outcome.exit = Exit::Done;
                }
                if outcome.exit == Exit::Done && request.fail_on_discrepancy && !check.reproduces()
                {
                    outcome.exit = Exit::Discrepancies;
                }
                outcome.replay_check = Some(check);
            }
            None => outcome.replay_uncompared = Some(replay.run_id),
        }
    }
    Ok(outcome)
}

/// Warns of the runs whose summary email was never sent (the process died while sending).
async fn report_unsent_emails(store: &Store) {
    match store.take_unsent_emails().await {
        Ok(ids) => {
            for id in ids {
                tracing::warn!(
                    "run {id}'s summary email was never sent: the run stopped while sending it (see runs show {id})"
                );
            }
        }
        Err(e) => tracing::warn!("reading unsent emails: {e:#}"),
    }
}

/// Opens the store with the merchant's run lock held (taken before migrating or touching any
/// row), waiting up to an hour with `--wait`.
async fn open_locked(
    config: &Config,
    wait: bool,
) -> Result<(Store, crate::store::LockGuard), AppError> {
    let merchant = &config.file.merchant;
    let wait = wait.then_some(Duration::from_secs(3600));
    match Store::open_for_run(&config.database_url, merchant, wait).await {
        Ok(Some(opened)) => Ok(opened),
        Ok(None) => Err(AppError::locked(anyhow::anyhow!(
            "another run for merchant '{merchant}' is in progress (lock held); try again later or pass --wait"
        ))),
        Err(e) => Err(AppError::fatal(e)),
    }
}

async fn fetch_side(
    config: &Config,
    request: &RunRequest,
    replay: Option<&audit::Replay>,
    window: DayRange,
    x_reference_id: &str,
    stages: &Stages,
) -> anyhow::Result<(
    FlexitiSide,
    Vec<FailedCall>,
    Vec<flexiti::RawPage>,
    Vec<PathBuf>,
)> {
    if let Some(replay) = replay {
        let mut input = flexiti::load_dir(&replay.flexiti_dir)?;
        if !replay.flexiti_files.is_empty() {
            // The recorded files were checked on loading; a file added since would change
            // the input without changing any recorded hash.
            for file in &input.files {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !replay.flexiti_files.contains(&name) {
                    anyhow::bail!(
                        "--replay {}: Flexiti file {} was added since run {} read the folder; \
                         move it away to replay, or rerun the night with run --flexiti-dir",
                        replay.run_id,
                        file.display(),
                        replay.run_id
                    );
                }
            }
        }
        input.side.incomplete_days = replay.incomplete_days.clone();
        return Ok((
            input.side,
            replay.failed_calls.clone(),
            Vec::new(),
            Vec::new(),
        ));
    }
    if let Some(dir) = &request.flexiti_dir {
        let input = flexiti::load_dir(dir)?;
        tracing::info!(
            records = input.side.records.len(),
            files = input.files.len(),
            "read the Flexiti side from files"
        );
        return Ok((input.side, Vec::new(), Vec::new(), input.files));
    }
    if config.flexiti.client_id.is_empty() {
        anyhow::bail!(
            "config flexiti.client_id: required to fetch from the Flexiti API (or pass --flexiti-dir)"
        );
    }
    let mut settings = config.flexiti.clone();
    settings.client_secret = config
        .client_secret
        .clone()
        .context("FLEXITI_CLIENT_SECRET: not set (nor FLEXITI_CLIENT_SECRET_FILE); the Flexiti client secret comes from the environment")?;
    let report = |p: flexiti::FetchProgress| stages.fetch(p);
    let outcome =
        flexiti::fetch_with_progress(&settings, config.calendar, window, x_reference_id, &report)
            .await;
    tracing::info!(
        records = outcome.side.records.len(),
        pages = outcome.stats.pages,
        failed = outcome.failed_calls.len(),
        "fetched from Flexiti"
    );
    Ok((
        outcome.side,
        outcome.failed_calls,
        outcome.pages,
        Vec::new(),
    ))
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    run_id: i64,
    range: DayRange,
    request: &RunRequest,
    started_at: chrono::DateTime<Utc>,
    x_reference_id: &str,
    outcome: reconcile::Outcome,
    ledger: &LedgerSide,
    failed_calls: Vec<FailedCall>,
) -> RunReport {
    let status = if failed_calls.is_empty() {
        RunStatus::Succeeded
    } else {
        RunStatus::Partial
    };
    RunReport {
        run_id,
        range,
        trigger: request.trigger.clone(),
        started_at,
        finished_at: Utc::now(),
        x_reference_id: x_reference_id.to_string(),
        status,
        discrepancies: outcome.discrepancies,
        totals: outcome.totals,
        failed_calls,
        rejects: ledger.rejects.clone(),
        ignored_other_tender: ledger.ignored_other_tender,
        incomplete_days: outcome.incomplete_days,
        flexiti_records: outcome.flexiti_records,
        ledger_rows: outcome.ledger_rows,
        matched_pairs: outcome.matched_pairs,
        changes: ChangeSummary::default(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    config: &Config,
    request: &RunRequest,
    store: Option<Store>,
    lock: Option<crate::store::LockGuard>,
    mailer: Option<Mailer>,
    email_settings: &notify::EmailSettings,
    mut report: RunReport,
    audit_dir: Option<PathBuf>,
) -> Result<JobOutcome, AppError> {
    let stages = Stages::new(false);
    stages.begin("writing the CSV");
    let csv = write_csv(request, &report, audit_dir.as_deref()).map_err(AppError::fatal)?;
    stages.done("csv");
    let (mut email, mut email_error) = (None, None);
    if let Some(store) = &store
        && mailer.is_some()
        && !notify::should_send(email_settings.policy, &report)
        && let Err(e) = store.mark_email_not_due(report.run_id).await
    {
        tracing::error!(
            "could not record that run {} sends no email: {e:#}",
            report.run_id
        );
    }
    if let Some(mailer) = &mailer
        && notify::should_send(email_settings.policy, &report)
    {
        stages.begin("emailing the summary");
        let sent = async {
            let rendered = notify::render(&report, &render_options(config))?;
            anyhow::Ok(mailer.send(&rendered, email_settings).await?)
        };
        match sent.await {
            Ok(to) => {
                tracing::info!(to = %to, "emailed the summary");
                if let Some(store) = &store
                    && let Err(e) = store.mark_email_sent(report.run_id).await
                {
                    tracing::error!(
                        "could not record run {}'s email as sent: {e:#}",
                        report.run_id
                    );
                }
                email = Some(to.to_string());
            }
            Err(e) => {
                let message = format!("email failed: {e:#}");
                tracing::error!("{message}");
                if let Some(store) = &store
                    && let Err(e) = store.mark_partial(report.run_id, &message).await
                {
                    tracing::error!(
                        "could not mark run {} partial: {e:#}; the stored run wrongly says {}",
                        report.run_id,
                        report.status.as_str()
                    );
                }
                report.status = RunStatus::Partial;
                email_error = Some(message);
            }
        }
        stages.done("email");
    }
    // Under the lock, so two runs never prune the same folder.
    let pruned = match &audit_dir {
        Some(_) => {
            audit::prune(config, config.file.audit.keep_days, report.run_id).unwrap_or_else(|e| {
                tracing::warn!("pruning old audit bundles: {e:#}");
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        tracing::warn!("releasing the run lock: {e:#}");
    }
    if !request.dry_run
        && let Some(path) = &config.file.metrics.textfile
    {
        let last_success = match &store {
            Some(store) => store.last_successful_run_finished_at().await.ok().flatten(),
            None => None,
        };
        if let Err(e) = metrics::write(path, &report, last_success) {
            tracing::warn!("metrics textfile {}: {e:#}", path.display());
        }
    }
    let exit = if report.status == RunStatus::Partial {
        Exit::Partial
    } else if request.fail_on_discrepancy && !report.discrepancies.is_empty() {
        Exit::Discrepancies
    } else {
        Exit::Done
    };
    tracing::info!(
        run_id = report.run_id,
        discrepancies = report.discrepancies.len(),
        status = report.status.as_str(),
        "run finished"
    );
    Ok(JobOutcome {
        report,
        exit,
        database: store.map(|_| redact_url(&config.database_url)),
        email,
        email_error,
        csv,
        audit_dir,
        pruned,
        ledger_warnings: Vec::new(),
        replay_check: None,
        replay_uncompared: None,
    })
}

fn write_csv(
    request: &RunRequest,
    report: &RunReport,
    audit_dir: Option<&std::path::Path>,
) -> anyhow::Result<Option<PathBuf>> {
    let target = match (&request.csv, audit_dir) {
        (Some(path), _) => path.clone(),
        (None, Some(dir)) => dir.join("discrepancies.csv"),
        (None, None) => return Ok(None),
    };
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let file = std::fs::File::create(&target)
        .with_context(|| format!("{}: cannot create", target.display()))?;
    let rows = ExportRow::from_report(report);
    export::write_discrepancies(
        std::io::BufWriter::new(file),
        &rows,
        &ExportFormat::default(),
    )
    .with_context(|| format!("{}: cannot write", target.display()))?;
    Ok(Some(target))
}

async fn alert_failure(
    config: &Config,
    settings: &notify::EmailSettings,
    mailer: Option<&Mailer>,
    range: DayRange,
    error: &str,
    x_reference_id: &str,
) {
    let Some(mailer) = mailer else { return };
    let error = crate::redact::text(error);
    let email = notify::render_failure(range, &error, x_reference_id, &render_options(config));
    match mailer.send(&email, settings).await {
        Ok(to) => tracing::info!(to = %to, "sent the failure alert"),
        Err(e) => tracing::error!("could not send the failure alert: {e:#}"),
    }
}

/// A database URL without its password, for people to read.
pub fn redact_url(url: &str) -> String {
    crate::redact::url(url)
}
