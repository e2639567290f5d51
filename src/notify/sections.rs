//! The sections of a run's email, each built once from the report and rendered by
//! [`super::layout`] as both HTML and text: overview, control totals, categories, changes since
//! the previous run, the largest findings, failed calls and rejected rows. Long lists are capped
//! and end with "and N more"; the attachment always has everything.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::layout::{Block, Headline, Level, Section, Table, human_money};
use super::options::RenderOptions;
use crate::domain::{
    Amount, Category, Discrepancy, Severity, Total, mask_account_parameter, scrub_accounts,
};
use crate::report::{RunReport, RunStatus};

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn opt_money(amount: Option<Amount>) -> String {
    amount.map(human_money).unwrap_or_default()
}

fn more(shown: usize, total: usize, where_: &str) -> Option<Block> {
    (total > shown).then(|| Block::Para(format!("and {} more{where_}", total - shown)))
}

/// A file's name without its folders: the email names `ledger.csv:17`, the export and the
/// store keep the path as read.
pub(super) fn base_name(path: &str) -> &str {
    std::path::Path::new(path)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or(path)
}

/// A finding's explanation with its ledger file's path shortened to the file's name.
fn short_explanation(d: &Discrepancy) -> String {
    match d.ledger_file.as_deref() {
        Some(path) if !path.is_empty() && base_name(path) != path => {
            d.explanation.replace(path, base_name(path))
        }
        _ => d.explanation.clone(),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The line a finance lead reads first: the run's status, the net difference between the two
/// sides over the whole range, the errors and the failed calls, with a level shown by colour
/// and in words.
pub(super) fn headline(report: &RunReport) -> Headline {
    let errors = report
        .discrepancies
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let net = report.totals.iter().fold(Total::ZERO, |sum, t| {
        sum + (t.ledger.net() - t.flexiti.net())
    });
    let level = if matches!(report.status, RunStatus::Failed | RunStatus::Abandoned) || errors > 0 {
        Level::Error
    } else if report.status != RunStatus::Succeeded
        || !report.discrepancies.is_empty()
        || !report.failed_calls.is_empty()
        || !report.rejects.is_empty()
        || !report.incomplete_days.is_empty()
    {
        Level::Warning
    } else {
        Level::Ok
    };
    let sign = if net.is_negative() || net == Total::ZERO {
        ""
    } else {
        "+"
    };
    Headline {
        level,
        text: format!(
            "{} run: net difference {sign}{} CAD (ledger minus Flexiti), {}, {}.",
            capitalised(report.status.as_str()),
            human_money(net),
            plural(errors, "error", "errors"),
            plural(
                report.failed_calls.len(),
                "failed API call",
                "failed API calls"
            ),
        ),
    }
}

pub(super) fn overview(report: &RunReport, opts: &RenderOptions) -> Section {
    let errors = report
        .discrepancies
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut section = Section::new("Summary")
        .push(Block::Para(format!(
            "{} ({}, {}), {} CAD at stake; {}.",
            plural(report.discrepancies.len(), "discrepancy", "discrepancies"),
            plural(errors, "error", "errors"),
            plural(report.discrepancies.len() - errors, "warning", "warnings"),
            human_money(report.money_at_stake()),
            plural(report.failed_calls.len(), "failed API call", "failed API calls"),
        )))
        .push(Block::Para(format!(
            "Checked {} Flexiti records against {} ledger rows: {} matched pairs; {} of other tenders ignored, {} rejected.",
            report.flexiti_records,
            report.ledger_rows,
            report.matched_pairs,
            plural(usize::try_from(report.ignored_other_tender).unwrap_or(usize::MAX), "row", "rows"),
            plural(report.rejects.len(), "row", "rows"),
        )))
        .push(Block::Para(format!(
            "Run {} ({}, {}) from {} to {}, status {}.",
            report.run_id,
            report.trigger,
            report.range,
            local(report.started_at, opts.zone),
            local(report.finished_at, opts.zone),
            report.status.as_str(),
        )));
    if !report.incomplete_days.is_empty() {
        let days: Vec<String> = report
            .incomplete_days
            .iter()
            .map(ToString::to_string)
            .collect();
        section = section.push(Block::Warning(format!(
            "Not fully fetched: {}. Missing-at-Flexiti rows there are reported as unverified.",
            days.join(", ")
        )));
    }
    section
}

pub(super) fn totals(report: &RunReport) -> Section {
    let section = Section::new("Totals per day and store");
    if report.totals.is_empty() {
        return section.push(Block::Para("No transactions on either side.".into()));
    }
    let rows = report
        .totals
        .iter()
        .map(|t| {
            vec![
                t.business_date.to_string(),
                t.store.clone(),
                t.flexiti.count.to_string(),
                human_money(t.flexiti.sales),
                human_money(t.flexiti.returns),
                human_money(t.flexiti.net()),
                t.ledger.count.to_string(),
                human_money(t.ledger.sales),
                human_money(t.ledger.returns),
                human_money(t.ledger.net()),
                human_money(t.ledger.net() - t.flexiti.net()),
            ]
        })
        .collect();
    section.push(Block::Table(Table {
        headers: vec![
            "Day",
            "Store",
            "Flexiti #",
            "Flexiti sales",
            "Flexiti returns",
            "Flexiti net",
            "Ledger #",
            "Ledger sales",
            "Ledger returns",
            "Ledger net",
            "Difference",
        ],
        numeric: vec![
            false, false, true, true, true, true, true, true, true, true, true,
        ],
        rows,
    }))
}

pub(super) fn by_category(report: &RunReport) -> Section {
    let section = Section::new("Discrepancies by category");
    let mut groups: BTreeMap<Category, (usize, Total, Total)> = BTreeMap::new();
    for d in &report.discrepancies {
        let entry = groups.entry(d.category).or_default();
        entry.0 += 1;
        entry.1 += d.delta.abs();
        entry.2 += d.delta;
    }
    if groups.is_empty() {
        return section.push(Block::Para("No discrepancies.".into()));
    }
    let rows = groups
        .iter()
        .map(|(category, (n, at_stake, net))| {
            vec![
                category.as_str().to_string(),
                category.severity().as_str().to_string(),
                n.to_string(),
                human_money(*at_stake),
                human_money(*net),
            ]
        })
        .collect();
    section.push(Block::Table(Table {
        headers: vec![
            "Category",
            "Severity",
            "Count",
            "Amount (|delta|)",
            "Net delta",
        ],
        numeric: vec![false, false, true, true, true],
        rows,
    }))
}

pub(super) fn changes(report: &RunReport, opts: &RenderOptions) -> Section {
    let changes = &report.changes;
    let mut section = Section::new("Since the previous run").push(Block::Para(format!(
        "{} new, {} still open, {} resolved.",
        changes.new.len(),
        changes.still_open.len(),
        changes.resolved_count
    )));
    // Fingerprints hashed once, not once per still-open finding: a rerun can find 100k again.
    let mut by_fingerprint: HashMap<String, &Discrepancy> = HashMap::new();
    if !changes.still_open.is_empty() {
        for d in &report.discrepancies {
            by_fingerprint.entry(d.fingerprint()).or_insert(d);
        }
    }
    let mut still_open: Vec<(&Discrepancy, i64)> = changes
        .still_open
        .iter()
        .filter_map(|(fp, age)| by_fingerprint.get(fp).map(|d| (*d, *age)))
        .collect();
    still_open.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.delta.abs().cmp(&a.0.delta.abs())));
    if !still_open.is_empty() {
        let shown = still_open.len().min(opts.list_cap);
        let rows = still_open[..shown]
            .iter()
            .map(|(d, age)| {
                vec![
                    d.business_date.to_string(),
                    d.category.as_str().to_string(),
                    d.reference.clone(),
                    human_money(d.delta),
                    plural(usize::try_from(*age).unwrap_or(0), "day", "days"),
                ]
            })
            .collect();
        section = section
            .push(Block::Para("Still open, oldest first:".into()))
            .push(Block::Table(Table {
                headers: vec!["Day", "Category", "Reference", "Delta", "Open for"],
                numeric: vec![false, false, false, true, true],
                rows,
            }));
        if let Some(block) = more(shown, still_open.len(), "") {
            section = section.push(block);
        }
    }
    if !changes.resolved.is_empty() {
        let shown = changes.resolved.len().min(opts.list_cap);
        let items = changes.resolved[..shown]
            .iter()
            .map(|s| {
                let d = &s.discrepancy;
                format!(
                    "{} {} {} ({})",
                    d.business_date,
                    d.category,
                    d.reference,
                    human_money(d.delta)
                )
            })
            .collect();
        section = section
            .push(Block::Para(
                "Resolved (no longer found), largest first:".into(),
            ))
            .push(Block::List(items));
        if let Some(block) = more(shown, changes.resolved_count.max(shown), "") {
            section = section.push(block);
        }
    }
    section
}

pub(super) fn largest(report: &RunReport, opts: &RenderOptions) -> Section {
    let mut sorted: Vec<&Discrepancy> = report.discrepancies.iter().collect();
    sorted.sort_by(|a, b| {
        b.delta
            .abs()
            .cmp(&a.delta.abs())
            .then(a.business_date.cmp(&b.business_date))
            .then(a.reference.cmp(&b.reference))
    });
    let shown = sorted.len().min(opts.largest);
    let section = Section::new(format!("Largest discrepancies (top {shown})"));
    if shown == 0 {
        return section.push(Block::Para("None.".into()));
    }
    let rows = sorted[..shown]
        .iter()
        .map(|d| {
            vec![
                d.business_date.to_string(),
                d.severity.as_str().to_string(),
                d.category.as_str().to_string(),
                d.reference.clone(),
                d.kind.as_str().to_string(),
                opt_money(d.flexiti_amount),
                opt_money(d.ledger_amount),
                human_money(d.delta),
                d.ledger_store
                    .clone()
                    .or_else(|| d.flexiti_store.clone())
                    .unwrap_or_default(),
                short_explanation(d),
            ]
        })
        .collect();
    let mut section = section.push(Block::Table(Table {
        headers: vec![
            "Day",
            "Severity",
            "Category",
            "Reference",
            "Kind",
            "Flexiti",
            "Ledger",
            "Delta",
            "Store",
            "Why",
        ],
        numeric: vec![
            false, false, false, false, false, true, true, true, false, false,
        ],
        rows,
    }));
    if let Some(block) = more(shown, sorted.len(), " in the attached CSV") {
        section = section.push(block);
    }
    section
}

pub(super) fn failed_calls(report: &RunReport, opts: &RenderOptions) -> Section {
    let calls = &report.failed_calls;
    let section = Section::new(format!("Failed API calls ({})", calls.len()));
    if calls.is_empty() {
        return section.push(Block::Para(
            "None: every page and lookup was fetched.".into(),
        ));
    }
    let shown = calls.len().min(opts.list_cap);
    let rows = calls[..shown]
        .iter()
        .map(|c| {
            vec![
                c.endpoint.clone(),
                mask_account_parameter(&c.parameters),
                c.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                c.error_code.clone().unwrap_or_else(|| "-".into()),
                scrub_accounts(&c.message),
                c.attempts.to_string(),
                c.x_reference_id.clone(),
            ]
        })
        .collect();
    let mut section = section.push(Block::Table(Table {
        headers: vec![
            "Endpoint",
            "Parameters",
            "Status",
            "Code",
            "Message",
            "Attempts",
            "x-reference-id",
        ],
        numeric: vec![false, false, true, false, false, true, false],
        rows,
    }));
    if let Some(block) = more(shown, calls.len(), "") {
        section = section.push(block);
    }
    section
}

pub(super) fn rejects(report: &RunReport, opts: &RenderOptions) -> Section {
    let rejects = &report.rejects;
    let section = Section::new(format!("Rejected ledger rows ({})", rejects.len()));
    if rejects.is_empty() {
        return section.push(Block::Para("None.".into()));
    }
    let shown = rejects.len().min(opts.list_cap);
    let items = rejects[..shown]
        .iter()
        .map(|r| {
            format!(
                "{}:{}: {}",
                base_name(&r.file),
                r.line,
                scrub_accounts(&r.reason)
            )
        })
        .collect();
    let mut section = section.push(Block::List(items));
    if let Some(block) = more(shown, rejects.len(), "") {
        section = section.push(block);
    }
    section
}
