//! The run's emails: the summary after a recorded run (when the policy says it is due), and the
//! alert after a run that failed before its results were stored.

use super::Plan;
use super::progress::Stages;
use super::session::Session;
use crate::notify;
use crate::report::RunReport;

/// What became of the summary email.
#[derive(Debug, Default)]
pub struct EmailResult {
    /// The recipients it went to.
    pub sent_to: Option<String>,
    /// Why it could not be sent.
    pub error: Option<String>,
}

/// Sends the summary of `report` if it is due, with `notes` on what failed after the results
/// were stored, and records in the database what became of it.
pub async fn send_summary(
    plan: &Plan<'_>,
    session: &Session,
    report: &RunReport,
    notes: &[String],
    stages: &Stages,
) -> EmailResult {
    let Some(mailer) = &plan.mailer else {
        return EmailResult::default();
    };
    let run_id = report.run_id;
    if !notify::should_send(plan.email.policy, report) {
        if let Some(db) = &session.db
            && let Err(e) = db.mark_email_not_due(run_id).await
        {
            tracing::error!("could not record that run {run_id} sends no email: {e:#}");
        }
        return EmailResult::default();
    }
    stages.begin("emailing the summary");
    let sent = async {
        let rendered = notify::render_with_notes(report, notes, &plan.render_options())?;
        anyhow::Ok(mailer.send(&rendered, &plan.email).await?)
    };
    let result = match sent.await {
        Ok(to) => {
            tracing::info!(to = %to, "emailed the summary");
            if let Some(db) = &session.db
                && let Err(e) = db.mark_email_sent(run_id).await
            {
                tracing::error!("could not record run {run_id}'s email as sent: {e:#}");
            }
            EmailResult {
                sent_to: Some(to.to_string()),
                error: None,
            }
        }
        Err(e) => {
            let message = format!("email failed: {e:#}");
            tracing::error!("{message}");
            EmailResult {
                sent_to: None,
                error: Some(message),
            }
        }
    };
    stages.done("email");
    result
}

/// Alerts the recipients that the run failed and stored nothing.
pub async fn alert_failure(plan: &Plan<'_>, error: &str) {
    let Some(mailer) = &plan.mailer else { return };
    let error = crate::redact::text(error);
    let email = notify::render_failure(
        plan.range,
        &error,
        &plan.x_reference_id,
        &plan.render_options(),
    );
    match mailer.send(&email, &plan.email).await {
        Ok(to) => tracing::info!(to = %to, "sent the failure alert"),
        Err(e) => tracing::error!("could not send the failure alert: {e:#}"),
    }
}
