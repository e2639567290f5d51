//! Email after a run: rendering the report into a subject, an HTML body with a plain-text
//! alternative and a CSV attachment, and delivering it through SMTP or to `.eml` files.
//!
//! Invariants: every piece of data in the HTML is escaped; money is formatted from exact cents;
//! account numbers never appear in full (no record or finding carries one, and free text from the
//! outside world is scrubbed of anything that looks like one, with `crates/domain/src/accounts.rs`); the attachment is written by
//! [`crate::export`], the one owner of the CSV format. A failed send is an error the caller
//! records (the run ends partial); it never loses the run's results.

mod layout;
mod options;
mod render;
mod sections;
mod transport;
mod typos;

pub use options::RenderOptions;
pub use render::{Attachment, RenderedEmail, render, render_failure, render_with_notes};
pub use transport::{
    EmailConfigError, EmailPolicy, EmailSettings, Mailer, SendError, SentTo, TlsMode, TransportKind,
};

use crate::report::{RunReport, RunStatus};

/// Whether a run's report is emailed under `policy`. A failed run always alerts; a run with
/// nothing to say is skipped by `only_when_findings`.
pub fn should_send(policy: EmailPolicy, report: &RunReport) -> bool {
    if report.status == RunStatus::Failed {
        return true;
    }
    match policy {
        EmailPolicy::Always => true,
        EmailPolicy::Never => false,
        EmailPolicy::OnlyWhenFindings => {
            report.status != RunStatus::Succeeded
                || !report.discrepancies.is_empty()
                || !report.failed_calls.is_empty()
                || !report.rejects.is_empty()
                || !report.incomplete_days.is_empty()
                || report.changes.resolved_count > 0
        }
    }
}
