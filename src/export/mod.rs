//! CSV exports for accountants: the one place that owns the export format.
//!
//! Every CSV the program writes (the `export` command, the email attachment, the audit bundle)
//! goes through [`ExportFormat`], so the column set, the money format and the spreadsheet
//! safety rules cannot drift apart. Invariants: money is written from exact cents
//! ([`Amount`](crate::domain::Amount), sums as [`Total`]: never a float), with two decimals;
//! free-text cells that a spreadsheet would evaluate as a formula are prefixed with `'`, while
//! the amount and count columns stay plain numbers so that a negative delta still sums. The
//! column set is documented in `docs/EXPORTS.md`.
//!
//! Discrepancy columns, in this order:
//!
//! | column | content |
//! |---|---|
//! | business_date | `YYYY-MM-DD`, the ledger row's day, else the Flexiti record's |
//! | category | `amount_mismatch`, `missing_in_ledger`, … |
//! | reference | the merchant's order id |
//! | kind | `sale` / `return` |
//! | flexiti_amount, ledger_amount | positive magnitudes, empty when that side is absent |
//! | delta | `ledger - flexiti`, an absent side counted as 0 |
//! | severity | `error` / `warning` |
//! | pass | `exact`, `amount`, `leftover` |
//! | flexiti_id | `capture:ID` / `return:ID` |
//! | authorization_id | Flexiti authorization id |
//! | flexiti_store, ledger_store, ledger_register | stores and till |
//! | flexiti_at, ledger_at | UTC instants, RFC 3339 with `Z` |
//! | day_delta | ledger day minus Flexiti day |
//! | ledger_file, ledger_line | where the ledger row is |
//! | explanation | why, in words |
//! | status | `open`, `resolved`, `acknowledged` |
//! | first_seen_run, last_seen_run | run ids |
//! | fingerprint | the finding's stable identity |
//! | suggested_reference, suggested_id | the likely counterpart of an unmatched record (advice) |
//! | suggestion | why that counterpart, in words |

mod bundle;
mod writers;

pub use bundle::{Manifest, ManifestFile, export_bundle, export_bundle_with_facts, write_run_file};
pub use writers::{write_discrepancies, write_failed_calls, write_rejected_rows, write_summary};

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::{Discrepancy, StoredDiscrepancy, Total};
use crate::report::RunReport;

pub const DISCREPANCY_COLUMNS: [&str; 27] = [
    "business_date",
    "category",
    "reference",
    "kind",
    "flexiti_amount",
    "ledger_amount",
    "delta",
    "severity",
    "pass",
    "flexiti_id",
    "authorization_id",
    "flexiti_store",
    "ledger_store",
    "ledger_register",
    "flexiti_at",
    "ledger_at",
    "day_delta",
    "ledger_file",
    "ledger_line",
    "explanation",
    "status",
    "first_seen_run",
    "last_seen_run",
    "fingerprint",
    "suggested_reference",
    "suggested_id",
    "suggestion",
];

pub const SUMMARY_COLUMNS: [&str; 11] = [
    "business_date",
    "store",
    "flexiti_count",
    "flexiti_sales",
    "flexiti_returns",
    "flexiti_net",
    "ledger_count",
    "ledger_sales",
    "ledger_returns",
    "ledger_net",
    "net_difference",
];

pub const REJECTED_ROW_COLUMNS: [&str; 5] = ["run_id", "file", "line", "reason", "raw_row"];

pub const FAILED_CALL_COLUMNS: [&str; 9] = [
    "run_id",
    "endpoint",
    "parameters",
    "http_status",
    "error_code",
    "message",
    "attempts",
    "utc_date",
    "x_reference_id",
];

/// A combination of options that would produce an ambiguous file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("delimiter '{0}' is not supported: use ',' or ';'")]
    Delimiter(char),
    #[error("a decimal comma needs the ';' delimiter: with ',' every amount would split in two")]
    DecimalCommaWithComma,
}

/// How CSV files are written. `excel` adds a UTF-8 byte order mark and CRLF line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportFormat {
    pub excel: bool,
    #[serde(serialize_with = "delimiter_as_text")]
    pub delimiter: u8,
    pub decimal_comma: bool,
}

fn delimiter_as_text<S: serde::Serializer>(d: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&char::from(*d))
}

impl Default for ExportFormat {
    fn default() -> Self {
        ExportFormat {
            excel: false,
            delimiter: b',',
            decimal_comma: false,
        }
    }
}

impl ExportFormat {
    /// Builds a checked format; the only place where the options meet.
    pub fn new(excel: bool, delimiter: u8, decimal_comma: bool) -> Result<Self, FormatError> {
        let format = ExportFormat {
            excel,
            delimiter,
            decimal_comma,
        };
        format.validate()?;
        Ok(format)
    }

    pub fn validate(&self) -> Result<(), FormatError> {
        match (self.delimiter, self.decimal_comma) {
            (b',', true) => Err(FormatError::DecimalCommaWithComma),
            (b',' | b';', _) => Ok(()),
            (other, _) => Err(FormatError::Delimiter(char::from(other))),
        }
    }

    fn money(&self, amount: impl Into<Total>) -> String {
        let amount: Total = amount.into();
        if self.decimal_comma {
            amount.to_string_with_comma()
        } else {
            amount.to_string()
        }
    }

    fn writer<W: Write>(&self, mut w: W) -> Result<csv::Writer<W>> {
        self.validate()?;
        if self.excel {
            w.write_all(b"\xEF\xBB\xBF")
                .context("writing the byte order mark")?;
        }
        let terminator = if self.excel {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        };
        Ok(csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .terminator(terminator)
            .from_writer(w))
    }
}

/// One discrepancy as exported: a fresh finding of a run or a stored one with its history.
#[derive(Debug, Clone)]
pub struct ExportRow<'a> {
    pub d: &'a Discrepancy,
    pub status: &'a str,
    pub first_seen_run: Option<i64>,
    pub last_seen_run: Option<i64>,
    pub fingerprint: Cow<'a, str>,
}

impl<'a> From<&'a Discrepancy> for ExportRow<'a> {
    fn from(d: &'a Discrepancy) -> Self {
        ExportRow {
            d,
            status: "open",
            first_seen_run: None,
            last_seen_run: None,
            fingerprint: Cow::Owned(d.fingerprint()),
        }
    }
}

impl<'a> From<&'a StoredDiscrepancy> for ExportRow<'a> {
    fn from(s: &'a StoredDiscrepancy) -> Self {
        ExportRow {
            d: &s.discrepancy,
            status: s.status.as_str(),
            first_seen_run: Some(s.first_seen_run),
            last_seen_run: Some(s.last_seen_run),
            fingerprint: Cow::Borrowed(&s.fingerprint),
        }
    }
}

impl<'a> ExportRow<'a> {
    /// The findings of a run: all open, last seen by this run, first seen by it when new.
    pub fn from_report(report: &'a RunReport) -> Vec<ExportRow<'a>> {
        // A set, not a scan per row: a run can hold 100k new findings.
        let new: HashSet<&str> = report.changes.new.iter().map(String::as_str).collect();
        report
            .discrepancies
            .iter()
            .map(|d| {
                let mut row = ExportRow::from(d);
                row.last_seen_run = Some(report.run_id);
                if new.contains(row.fingerprint.as_ref()) {
                    row.first_seen_run = Some(report.run_id);
                }
                row
            })
            .collect()
    }
}

/// What a writer wrote: the data rows (header excluded) and the exact total of the money column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportStats {
    pub rows: u64,
    /// Exact in 128 bits, whatever the number of rows.
    pub total: Total,
}

/// A free-text cell: neutralised when a spreadsheet would run it as a formula.
fn text(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

fn opt_text(value: Option<&str>) -> Cow<'_, str> {
    value.map(text).unwrap_or(Cow::Borrowed(""))
}

fn opt_num<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn instant(value: Option<DateTime<Utc>>) -> String {
    value
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
