//! Turns a run report into the email a finance team reads at 8 a.m.: what was checked, what did
//! not match, what is new, what could not be checked, and the full list as a CSV attachment.

use anyhow::{Context, Result};

use super::layout::{Block, Headline, Level, Page, Section, human_money};
use super::options::RenderOptions;
use super::sections::{
    by_category, changes, failed_calls, headline, largest, overview, plural, rejects, totals,
};
use super::typos::likely_typos;
use crate::domain::{DayRange, scrub_accounts};
use crate::export::{ExportRow, write_discrepancies};
use crate::report::{RunReport, RunStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A rendered message: both alternatives of the body, and the CSV of the findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachment: Option<Attachment>,
}

fn marker(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Partial => "PARTIAL ",
        RunStatus::Failed => "FAILED ",
        RunStatus::Abandoned => "ABANDONED ",
        RunStatus::Running | RunStatus::Succeeded => "",
    }
}

fn heading(opts: &RenderOptions, range: DayRange) -> String {
    match opts.merchant_name.trim() {
        "" => format!("Flexiti reconciliation {range}"),
        name => format!("{name}: Flexiti reconciliation {range}"),
    }
}

pub fn render(report: &RunReport, opts: &RenderOptions) -> Result<RenderedEmail> {
    render_with_notes(report, &[], opts)
}

/// [`render`], with what failed once the results were stored (the run's CSV), as a warning
/// above every other section: the run is partial and the reader is told why.
pub fn render_with_notes(
    report: &RunReport,
    notes: &[String],
    opts: &RenderOptions,
) -> Result<RenderedEmail> {
    let count = report.discrepancies.len();
    let subject = format!(
        "[flexiti-recon] {}{}: {} ({} CAD), {}",
        marker(report.status),
        report.range,
        plural(count, "discrepancy", "discrepancies"),
        human_money(report.money_at_stake()),
        plural(
            report.failed_calls.len(),
            "failed API call",
            "failed API calls"
        ),
    );
    let filename = format!(
        "flexiti-discrepancies-{}.csv",
        report.range.to_string().replace("..", "_")
    );
    let mut csv = Vec::new();
    write_discrepancies(&mut csv, &ExportRow::from_report(report), &opts.csv_format)
        .with_context(|| format!("{filename}: rendering the attachment"))?;

    let mut sections = vec![
        overview(report, opts),
        totals(report),
        by_category(report),
        changes(report, opts),
        largest(report, opts),
        failed_calls(report, opts),
        rejects(report, opts),
    ];
    if let Some(section) = likely_typos(report, opts) {
        // after the largest discrepancies
        sections.insert(5.min(sections.len()), section);
    }
    if !notes.is_empty() {
        let section = notes.iter().fold(
            Section::new("After the results were stored"),
            |section, note| section.push(Block::Warning(scrub_accounts(note))),
        );
        sections.insert(0, section);
    }
    let title = heading(opts, report.range);
    let headline = headline(report);
    let footer = format!(
        "flexiti-recon run {} · x-reference-id {} · {} lists all {} with ids, times and explanations",
        report.run_id,
        report.x_reference_id,
        filename,
        plural(count, "discrepancy", "discrepancies"),
    );
    let page = Page {
        title: &title,
        headline: &headline,
        sections: &sections,
        footer: &footer,
    };
    Ok(RenderedEmail {
        subject,
        text: page.text(),
        html: page.html(),
        attachment: Some(Attachment {
            filename,
            content_type: "text/csv; charset=utf-8",
            bytes: csv,
        }),
    })
}

/// The alert for a run that failed before it could produce a report.
pub fn render_failure(
    range: DayRange,
    error: &str,
    x_reference_id: &str,
    opts: &RenderOptions,
) -> RenderedEmail {
    let subject = format!("[flexiti-recon] FAILED {range}: run failed");
    let rerun = if range.from == range.to {
        format!("flexiti-recon run --date {}", range.from)
    } else {
        format!("flexiti-recon run --from {} --to {}", range.from, range.to)
    };
    let sections = vec![
        Section::new("The run failed")
            .push(Block::Warning(format!(
                "The reconciliation of {range} failed and stored no new results."
            )))
            .push(Block::Para(format!("Error: {}", scrub_accounts(error))))
            .push(Block::Para(format!(
                "Once the cause is fixed, rerun the days with: {rerun}"
            ))),
    ];
    let title = heading(opts, range);
    let headline = Headline {
        level: Level::Error,
        text: format!("Failed run of {range}: no new results were stored."),
    };
    let footer = format!("flexiti-recon · x-reference-id {x_reference_id}");
    let page = Page {
        title: &title,
        headline: &headline,
        sections: &sections,
        footer: &footer,
    };
    RenderedEmail {
        subject,
        text: page.text(),
        html: page.html(),
        attachment: None,
    }
}
