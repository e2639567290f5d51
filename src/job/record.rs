//! The record stage: the audit bundle (`src/audit/`) and the database, in one transaction per
//! run (`src/store/`). The bundle is written on a blocking thread while the results are stored,
//! and the results are committed only once the bundle is written: a run is never stored without
//! its bundle. A dry run records nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::Plan;
use super::inputs::Inputs;
use super::progress::Stages;
use super::report::Reported;
use super::session::Session;
use crate::audit::{self, BundleTarget};
use crate::domain::ChangeSummary;
use crate::report::RunReport;

/// A recorded run: its report with what changed since the previous run of those days.
pub struct Recorded {
    pub report: RunReport,
    pub audit_dir: Option<PathBuf>,
    /// Ledger files named twice (or identical copies), each read once.
    pub ledger_warnings: Vec<String>,
}

pub async fn record(
    plan: &Plan<'_>,
    session: &Session,
    reported: Reported,
    stages: &Stages,
) -> anyhow::Result<Recorded> {
    let Reported { report, inputs } = reported;
    let report = Arc::new(report);
    let target = if plan.dry_run {
        None
    } else {
        Some(BundleTarget::of(plan.config, report.run_id)?)
    };
    let bundle = bundle(target, Arc::clone(&report), inputs);
    let (changes, (mut inputs, audit_dir)) = match &session.db {
        Some(db) => {
            stages.begin("storing the results and writing the audit bundle");
            let stores = plan.request.store.as_slice();
            let stored = db.finish_run_when(&report, stores, bundle).await?;
            stages.done("store");
            stored
        }
        None => (ChangeSummary::default(), bundle.await?),
    };
    let report = Arc::try_unwrap(report).unwrap_or_else(|shared| (*shared).clone());
    let ledger_warnings = std::mem::take(&mut inputs.ledger.warnings);
    free_in_background(inputs);
    Ok(Recorded {
        report: RunReport { changes, ..report },
        audit_dir,
        ledger_warnings,
    })
}

/// Drops `inputs` on a thread of its own: tens of millions of records and rows, each with its
/// texts, take a noticeable time to free, which the exports and the email need not wait for.
/// Should no thread start, they are dropped here.
fn free_in_background(inputs: Inputs) {
    let spawned = std::thread::Builder::new()
        .name("free-inputs".into())
        .spawn(move || drop(inputs));
    if let Err(e) = spawned {
        tracing::debug!("freeing the inputs in place: {e}");
    }
}

/// Starts writing the bundle to `target` (none without one) on a blocking thread at once; the
/// future hands the inputs back with the bundle's folder.
fn bundle(
    target: Option<BundleTarget>,
    report: Arc<RunReport>,
    inputs: Inputs,
) -> impl Future<Output = anyhow::Result<(Inputs, Option<PathBuf>)>> {
    // Err: no bundle to write, the inputs as they are.
    let task = match target {
        None => Err(inputs),
        Some(target) => Ok(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let dir = audit::write_bundle(
                target,
                &report,
                &inputs.ledger,
                &inputs.pages,
                &inputs.flexiti,
                &inputs.flexiti_files,
            )?;
            Stages::took("bundle", started.elapsed());
            Ok((inputs, Some(dir)))
        })),
    };
    async move {
        match task {
            Ok(task) => task.await.context("writing the audit bundle")?,
            Err(inputs) => Ok((inputs, None)),
        }
    }
}
