//! The report stage: the run's report, made once from its session, its inputs and the engine's
//! outcome. Its status says whether every Flexiti call succeeded; what changed since the
//! previous run of those days is the database's answer, which the record stage adds.

use chrono::Utc;

use super::Plan;
use super::inputs::Inputs;
use super::outcome::Judged;
use super::session::Session;
use crate::domain::{ChangeSummary, RunStatus};
use crate::report::RunReport;

/// The report, with the inputs the audit bundle keeps.
pub struct Reported {
    pub report: RunReport,
    pub inputs: Inputs,
}

pub fn build(plan: &Plan<'_>, session: &Session, judged: Judged) -> Reported {
    let Judged { outcome, inputs } = judged;
    let status = if inputs.failed_calls.is_empty() {
        RunStatus::Succeeded
    } else {
        RunStatus::Partial
    };
    let report = RunReport {
        run_id: session.run_id,
        range: plan.range,
        trigger: plan.request.trigger.clone(),
        started_at: session.started_at,
        finished_at: Utc::now(),
        x_reference_id: plan.x_reference_id.clone(),
        status,
        discrepancies: outcome.discrepancies,
        totals: outcome.totals,
        failed_calls: inputs.failed_calls.clone(),
        rejects: inputs.ledger.rejects.clone(),
        ignored_other_tender: inputs.ledger.ignored_other_tender,
        incomplete_days: outcome.incomplete_days,
        flexiti_records: outcome.flexiti_records,
        ledger_rows: outcome.ledger_rows,
        matched_pairs: outcome.matched_pairs,
        changes: ChangeSummary::default(),
    };
    Reported { report, inputs }
}
