//! One run of the nightly job, as a pipeline of stages. Each stage is a module with one entry
//! point, and hands the next a typed output:
//!
//! ```text
//! plan ─► session ─► inputs ─► outcome ─► report ─► recorded ─► delivered ─► JobOutcome
//! ```
//!
//! - `plan`: the days, the sources, the email, checked before any IO ([`plan::Plan`]);
//! - `session`: the database, the merchant's run lock and the run's row (none on a dry run);
//! - `inputs`: the ledger files read, then the Flexiti side (API, files or a replayed bundle);
//! - `outcome`: the engine's judgement of the two sides (`src/reconcile/`);
//! - `report`: the run's report, made once from the above;
//! - `record`: the audit bundle (`src/audit/`) written beside the database's transaction
//!   (`src/store/`), which commits once the bundle is written;
//! - `deliver`: the run's CSV (`src/export/`), the summary email (`src/notify/`), old bundles
//!   pruned, the lock released, the metrics textfile (`src/metrics.rs`).
//!
//! A failure before the results are stored marks the run failed, sends the failure alert and
//! exits 1; after that, a failure leaves the results stored and ends the run partial. A SIGTERM
//! or Ctrl-C while the inputs are read or judged (a scheduler's deadline, an operator) is such a
//! failure: the run is marked failed, the alert sent and the lock released, instead of leaving
//! the run `running` until the next run finds it abandoned. From the commit on, a signal is not
//! watched: storing and delivering finish (each is bounded).

mod deliver;
mod email;
mod inputs;
mod outcome;
mod plan;
mod progress;
mod record;
mod replay_check;
mod report;
mod request;
mod session;
mod summary;

pub use request::RunRequest;
pub use summary::JobOutcome;

use plan::Plan;
use progress::Stages;
use record::Recorded;
use replay_check::ReplayCheck;
use session::Session;

use crate::config::Config;
use crate::exit::{AppError, Exit};
use crate::report::RunStatus;

/// The whole nightly job.
pub async fn run_job(config: &Config, request: &RunRequest) -> Result<JobOutcome, AppError> {
    let plan = Plan::make(config, request)?;
    tracing::info!(range = %plan.range, x_reference_id = %plan.x_reference_id, dry_run = plan.dry_run, "starting the run");
    let mut session = Session::open(&plan).await?;
    let stages = Stages::new(request.progress && plan.range.len() > 1);
    let recorded = match judge_and_record(&plan, &session, &stages).await {
        Ok(recorded) => recorded,
        Err(error) => {
            let message = format!("{error:#}");
            session.fail(&message).await;
            email::alert_failure(&plan, &message).await;
            return Err(AppError::fatal(error));
        }
    };
    let delivered = deliver::deliver(&plan, &mut session, recorded).await;
    Ok(finish(&plan, &session, delivered))
}

/// Everything up to the stored results: a failure here stores nothing.
async fn judge_and_record(
    plan: &Plan<'_>,
    session: &Session,
    stages: &Stages,
) -> anyhow::Result<Recorded> {
    let judged = until_stopped(async {
        let inputs = inputs::gather(plan, stages).await?;
        outcome::judge(plan, inputs, stages).await
    })
    .await?;
    let reported = report::build(plan, session, judged);
    record::record(plan, session, reported, stages).await
}

/// `work`, or an error when a SIGTERM or Ctrl-C comes first (the work is dropped: nothing of it
/// was stored).
async fn until_stopped<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        done = work => done,
        signal = stop_signal() => Err(anyhow::anyhow!(
            "stopped by {signal} before the results were stored; nothing of this run was kept, \
             rerun its days"
        )),
    }
}

/// The name of the first stop signal received; never returns when none can be watched.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// The exit code, and for a replay whether it reproduces its run.
fn finish(plan: &Plan<'_>, session: &Session, delivered: deliver::Delivered) -> JobOutcome {
    let report = delivered.report;
    let fail_on_discrepancy = plan.request.fail_on_discrepancy;
    let mut exit = if report.status == RunStatus::Partial {
        Exit::Partial
    } else if fail_on_discrepancy && !report.discrepancies.is_empty() {
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
    let (mut replay_check, mut replay_uncompared) = (None, None);
    if let Some(replay) = &plan.replay {
        match &replay.recorded {
            Some(recorded) => {
                let check = ReplayCheck::compare(replay.run_id, recorded, &report.discrepancies);
                // For a replay, --fail-on-discrepancy asks "does it differ from run N?": run N's
                // own findings are expected, not a failure.
                if exit == Exit::Discrepancies && check.reproduces() {
                    exit = Exit::Done;
                }
                if exit == Exit::Done && fail_on_discrepancy && !check.reproduces() {
                    exit = Exit::Discrepancies;
                }
                replay_check = Some(check);
            }
            None => replay_uncompared = Some(replay.run_id),
        }
    }
    JobOutcome {
        report,
        exit,
        database: session
            .db
            .as_ref()
            .map(|_| crate::redact::url(&plan.config.database_url)),
        email: delivered.email.sent_to,
        email_error: delivered.email.error,
        csv: delivered.csv,
        csv_error: delivered.csv_error,
        audit_dir: delivered.audit_dir,
        pruned: delivered.pruned,
        ledger_warnings: delivered.ledger_warnings,
        replay_check,
        replay_uncompared,
    }
}
