//! The metrics stage: Prometheus textfile metrics for node_exporter's textfile collector,
//! written atomically (a temporary file renamed into place) so the collector never reads half a
//! file. Entry point: [`write`], after a nightly run (never after a dry run or a replay).
//!
//! Every sample carries a `merchant` label (the config's `merchant`), so several merchants on one
//! host, each with its own textfile, give distinct series instead of a collision node_exporter
//! refuses.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::{Category, Total};
use crate::report::RunReport;

/// A label value in the text exposition format: backslash, double quote and line feed escaped.
fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The gauges of one textfile, every sample labelled with the merchant.
struct Gauges {
    out: String,
    merchant: String,
}

impl Gauges {
    /// Appends one gauge with its help text and samples (extra labels, value).
    fn gauge(&mut self, name: &str, help: &str, samples: &[(String, String)]) {
        let _ = writeln!(self.out, "# HELP flexiti_recon_{name} {help}");
        let _ = writeln!(self.out, "# TYPE flexiti_recon_{name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(
                self.out,
                "flexiti_recon_{name}{{merchant=\"{}\"{labels}}} {value}",
                self.merchant
            );
        }
    }
}

/// The metrics of a finished run for `merchant`, in the text exposition format.
pub fn render(report: &RunReport, merchant: &str, last_success: Option<DateTime<Utc>>) -> String {
    let one = |v: String| vec![(String::new(), v)];
    let mut g = Gauges {
        out: String::new(),
        merchant: label_value(merchant),
    };
    g.gauge(
        "last_run_timestamp_seconds",
        "End of the last run.",
        &one(report.finished_at.timestamp().to_string()),
    );
    if let Some(t) = last_success {
        g.gauge(
            "last_success_timestamp_seconds",
            "End of the last succeeded run.",
            &one(t.timestamp().to_string()),
        );
    }
    let per_category = |value: &dyn Fn(Category) -> String| -> Vec<(String, String)> {
        Category::ALL
            .iter()
            .map(|c| (format!(",category=\"{c}\""), value(*c)))
            .collect()
    };
    let of = |c: Category| report.discrepancies.iter().filter(move |d| d.category == c);
    g.gauge(
        "discrepancies",
        "Findings of the last run by category.",
        &per_category(&|c| of(c).count().to_string()),
    );
    g.gauge(
        "discrepancy_amount_cad",
        "Sum of |delta| of the last run's findings by category.",
        &per_category(&|c| of(c).map(|d| d.delta.abs()).sum::<Total>().to_string()),
    );
    g.gauge(
        "failed_calls",
        "Flexiti calls that failed in the last run.",
        &one(report.failed_calls.len().to_string()),
    );
    g.gauge(
        "rejected_rows",
        "Ledger rows rejected in the last run.",
        &one(report.rejects.len().to_string()),
    );
    g.gauge(
        "incomplete_days",
        "Days of the last run not fully fetched.",
        &one(report.incomplete_days.len().to_string()),
    );
    g.out
}

pub fn write(
    path: &Path,
    report: &RunReport,
    merchant: &str,
    last_success: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, render(report, merchant, last_success))
        .with_context(|| format!("{}: cannot write", tmp.display()))?;
    // Read by node_exporter, another user; it holds counts and totals only.
    world_readable(&tmp).with_context(|| format!("{}: cannot make it readable", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

/// Makes a file readable by everyone whatever the umask (the metrics textfile).
#[cfg(unix)]
fn world_readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn world_readable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label_value;

    #[test]
    fn label_values_escape_backslash_quote_and_line_feed() {
        assert_eq!(label_value("Demo Furniture"), "Demo Furniture");
        assert_eq!(label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
