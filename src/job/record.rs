//! The record stage: the audit bundle (`src/audit/`), then the database, in one transaction per
//! run (`src/store/`). A dry run records nothing.

use std::path::PathBuf;

use super::Plan;
use super::progress::Stages;
use super::report::Reported;
use super::session::Session;
use crate::audit;
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
    let audit_dir = if plan.dry_run {
        None
    } else {
        stages.begin("writing the audit bundle");
        let dir = audit::write_bundle(
            plan.config,
            &report,
            &inputs.ledger,
            &inputs.pages,
            &inputs.flexiti,
            &inputs.flexiti_files,
        )?;
        stages.done("bundle");
        Some(dir)
    };
    let changes = match &session.db {
        Some(db) => {
            stages.begin("storing the results");
            let changes = match &plan.request.store {
                Some(store) => {
                    db.finish_run_for_stores(&report, std::slice::from_ref(store))
                        .await?
                }
                None => db.finish_run(&report).await?,
            };
            stages.done("store");
            changes
        }
        None => ChangeSummary::default(),
    };
    Ok(Recorded {
        report: RunReport { changes, ..report },
        audit_dir,
        ledger_warnings: inputs.ledger.warnings,
    })
}
