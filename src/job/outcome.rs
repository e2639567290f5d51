//! The outcome stage: the engine (`src/reconcile/`) judges the two sides. It is CPU-bound, so it
//! runs on a blocking thread, off the async workers.

use anyhow::Context;

use super::Plan;
use super::inputs::Inputs;
use super::progress::Stages;
use crate::reconcile::{self, Outcome, ReconcileParams};

/// The engine's outcome, with the inputs it judged (the report and the bundle read them).
pub struct Judged {
    pub outcome: Outcome,
    pub inputs: Inputs,
}

pub async fn judge(plan: &Plan<'_>, inputs: Inputs, stages: &Stages) -> anyhow::Result<Judged> {
    stages.begin("reconciling");
    let config = plan.config;
    let params = ReconcileParams {
        range: plan.range,
        window_days: config.file.match_window_days,
        tolerance: config.tolerance,
        calendar: config.calendar,
        store: plan.request.store.clone(),
    };
    let (outcome, inputs) = tokio::task::spawn_blocking(move || {
        let outcome = reconcile::reconcile(&inputs.flexiti, &inputs.ledger, &params);
        (outcome, inputs)
    })
    .await
    .context("the reconcile stage stopped unexpectedly")?;
    let outcome = outcome?;
    stages.done("reconcile");
    Ok(Judged { outcome, inputs })
}
