//! CSV exports for accountants: the one place that owns the export format.
//!
//! Every CSV the program writes (the `export` command, the email attachment, the audit bundle)
//! goes through [`ExportFormat`], so the column set, the money format and the spreadsheet
//! safety rules cannot drift apart. Invariants: money is written from exact cents
//! ([`Amount`](crate::domain::Amount), sums as [`Total`]: never a float), with two decimals;
//! free-text cells that a spreadsheet would evaluate as a formula are prefixed with `'`, while
//! the amount and count columns stay plain numbers so that a negative delta still sums. The column set is documented in `docs/EXPORTS.md`.
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

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{Category, Discrepancy, LedgerReject, Total};
use crate::report::{DayStoreTotals, FailedCall, RunReport, StoredDiscrepancy};

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

/// Writes discrepancies with the documented columns; `total` is the sum of `delta`.
pub fn write_discrepancies<W: Write>(
    w: W,
    rows: &[ExportRow<'_>],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    let mut out = fmt.writer(w)?;
    out.write_record(DISCREPANCY_COLUMNS)?;
    let mut stats = ExportStats::default();
    for row in rows {
        let d = row.d;
        let record: [Cow<'_, str>; 27] = [
            d.business_date.to_string().into(),
            d.category.as_str().into(),
            text(&d.reference),
            d.kind.as_str().into(),
            d.flexiti_amount
                .map(|a| fmt.money(a))
                .unwrap_or_default()
                .into(),
            d.ledger_amount
                .map(|a| fmt.money(a))
                .unwrap_or_default()
                .into(),
            fmt.money(d.delta).into(),
            d.severity.as_str().into(),
            d.pass.as_str().into(),
            opt_text(d.flexiti_id.as_deref()),
            opt_num(d.authorization_id).into(),
            opt_text(d.flexiti_store.as_deref()),
            opt_text(d.ledger_store.as_deref()),
            opt_text(d.ledger_register.as_deref()),
            instant(d.flexiti_at).into(),
            instant(d.ledger_at).into(),
            opt_num(d.day_delta).into(),
            opt_text(d.ledger_file.as_deref()),
            opt_num(d.ledger_line).into(),
            text(&d.explanation),
            text(row.status),
            opt_num(row.first_seen_run).into(),
            opt_num(row.last_seen_run).into(),
            text(&row.fingerprint),
            opt_text(d.suggestion.as_ref().map(|s| s.reference.as_str())),
            opt_text(d.suggestion.as_ref().map(|s| s.id.as_str())),
            opt_text(d.suggestion.as_ref().map(|s| s.why.as_str())),
        ];
        out.write_record(record.iter().map(|c| c.as_bytes()))?;
        stats.rows += 1;
        stats.total += d.delta;
    }
    out.flush()?;
    Ok(stats)
}

/// Writes the per-day/store control totals; `total` is the sum of `net_difference`.
pub fn write_summary<W: Write>(
    w: W,
    totals: &[DayStoreTotals],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    let mut out = fmt.writer(w)?;
    out.write_record(SUMMARY_COLUMNS)?;
    let mut stats = ExportStats::default();
    for t in totals {
        let difference = t.ledger.net() - t.flexiti.net();
        let record: [Cow<'_, str>; 11] = [
            t.business_date.to_string().into(),
            text(&t.store),
            t.flexiti.count.to_string().into(),
            fmt.money(t.flexiti.sales).into(),
            fmt.money(t.flexiti.returns).into(),
            fmt.money(t.flexiti.net()).into(),
            t.ledger.count.to_string().into(),
            fmt.money(t.ledger.sales).into(),
            fmt.money(t.ledger.returns).into(),
            fmt.money(t.ledger.net()).into(),
            fmt.money(difference).into(),
        ];
        out.write_record(record.iter().map(|c| c.as_bytes()))?;
        stats.rows += 1;
        stats.total += difference;
    }
    out.flush()?;
    Ok(stats)
}

/// Writes the rejected ledger rows, each with the run that recorded it. Free text is scrubbed
/// of account-like numbers, as in the email.
pub fn write_rejected_rows<W: Write>(
    w: W,
    rejects: &[(i64, LedgerReject)],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    let mut out = fmt.writer(w)?;
    out.write_record(REJECTED_ROW_COLUMNS)?;
    let mut stats = ExportStats::default();
    for (run_id, r) in rejects {
        let reason = crate::notify::scrub_accounts(&r.reason);
        let raw = crate::notify::scrub_accounts(&r.raw);
        let record: [Cow<'_, str>; 5] = [
            run_id.to_string().into(),
            text(&r.file),
            r.line.to_string().into(),
            text(&reason),
            text(&raw),
        ];
        out.write_record(record.iter().map(|c| c.as_bytes()))?;
        stats.rows += 1;
    }
    out.flush()?;
    Ok(stats)
}

/// Writes the API calls that still failed after their retries, each with its run. An
/// `account_number` parameter and account-like numbers in messages are masked.
pub fn write_failed_calls<W: Write>(
    w: W,
    calls: &[(i64, FailedCall)],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    let mut out = fmt.writer(w)?;
    out.write_record(FAILED_CALL_COLUMNS)?;
    let mut stats = ExportStats::default();
    for (run_id, c) in calls {
        let parameters = crate::notify::mask_account_parameter(&c.parameters);
        let message = crate::notify::scrub_accounts(&c.message);
        let record: [Cow<'_, str>; 9] = [
            run_id.to_string().into(),
            text(&c.endpoint),
            text(&parameters),
            opt_num(c.http_status).into(),
            opt_text(c.error_code.as_deref()),
            text(&message),
            c.attempts.to_string().into(),
            opt_num(c.utc_date).into(),
            text(&c.x_reference_id),
        ];
        out.write_record(record.iter().map(|c| c.as_bytes()))?;
        stats.rows += 1;
    }
    out.flush()?;
    Ok(stats)
}

/// One file of an export bundle, as listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub name: String,
    pub rows: u64,
    /// The column that `total` sums: `delta` or `net_difference`; left out of the manifest
    /// for files without a money column.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub total_column: &'static str,
    /// Exact decimal text with a `.`, whatever the file's own format.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub total: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub format: ExportFormat,
    pub files: Vec<ManifestFile>,
}

fn write_file(
    dir: &Path,
    name: String,
    total_column: &'static str,
    write: impl FnOnce(&mut Vec<u8>) -> Result<ExportStats>,
) -> Result<ManifestFile> {
    let path = dir.join(&name);
    let mut bytes = Vec::new();
    let stats = write(&mut bytes).with_context(|| format!("{}: writing csv", path.display()))?;
    std::fs::write(&path, &bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(ManifestFile {
        name,
        rows: stats.rows,
        total_column,
        total: if total_column.is_empty() {
            String::new()
        } else {
            stats.total.to_string()
        },
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

/// Writes `discrepancies.csv` (or `discrepancies-<category>.csv` per category present, when
/// split), `summary.csv` and `manifest.json` into `dir`, creating it if needed.
pub fn export_bundle(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    write_bundle(dir, rows, totals, None, fmt, split_by_category)
}

/// [`export_bundle`], plus `rejected_rows.csv` and `failed_calls.csv` from `facts`.
pub fn export_bundle_with_facts(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    facts: &crate::store::RunFacts,
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    write_bundle(dir, rows, totals, Some(facts), fmt, split_by_category)
}

fn write_bundle(
    dir: &Path,
    rows: &[ExportRow<'_>],
    totals: &[DayStoreTotals],
    facts: Option<&crate::store::RunFacts>,
    fmt: &ExportFormat,
    split_by_category: bool,
) -> Result<Manifest> {
    fmt.validate()?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut files = Vec::new();
    if split_by_category {
        for category in Category::ALL {
            let subset: Vec<ExportRow<'_>> = rows
                .iter()
                .filter(|r| r.d.category == category)
                .cloned()
                .collect();
            if subset.is_empty() {
                continue;
            }
            let name = format!("discrepancies-{category}.csv");
            files.push(write_file(dir, name, "delta", |b| {
                write_discrepancies(b, &subset, fmt)
            })?);
        }
    } else {
        let name = "discrepancies.csv".to_string();
        files.push(write_file(dir, name, "delta", |b| {
            write_discrepancies(b, rows, fmt)
        })?);
    }
    let name = "summary.csv".to_string();
    files.push(write_file(dir, name, "net_difference", |b| {
        write_summary(b, totals, fmt)
    })?);
    if let Some(facts) = facts {
        let name = "rejected_rows.csv".to_string();
        files.push(write_file(dir, name, "", |b| {
            write_rejected_rows(b, &facts.rejects, fmt)
        })?);
        let name = "failed_calls.csv".to_string();
        files.push(write_file(dir, name, "", |b| {
            write_failed_calls(b, &facts.failed_calls, fmt)
        })?);
    }
    let manifest = Manifest {
        format: *fmt,
        files,
    };
    let path = dir.join("manifest.json");
    let json = serde_json::to_vec_pretty(&manifest)?;
    std::fs::write(&path, json).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;
    use crate::domain::{Amount, Kind, Pass, Severity};
    use crate::report::SideTotals;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    }

    fn finding(
        category: Category,
        reference: &str,
        flexiti: Option<i64>,
        ledger: Option<i64>,
    ) -> Discrepancy {
        let cents = |c: Option<i64>| c.map(Amount::from_cents);
        let delta = Amount::from_cents(ledger.unwrap_or(0) - flexiti.unwrap_or(0));
        Discrepancy {
            business_date: day(),
            category,
            severity: category.severity(),
            reference: reference.to_string(),
            kind: Kind::Sale,
            flexiti_amount: cents(flexiti),
            ledger_amount: cents(ledger),
            delta,
            day_delta: Some(-1),
            pass: Pass::Amount,
            flexiti_id: Some("capture:346123".into()),
            authorization_id: Some(4_821_907_733_105_521),
            flexiti_store: Some("00-12345".into()),
            flexiti_at: Utc.with_ymd_and_hms(2026, 11, 23, 18, 42, 9).single(),
            ledger_store: Some("00-12345".into()),
            ledger_register: Some("R03".into()),
            ledger_at: Utc.with_ymd_and_hms(2026, 11, 23, 19, 5, 11).single(),
            ledger_file: Some("ledger.csv".into()),
            ledger_line: Some(17),
            ledger_id: Some("l1".into()),
            explanation: "ledger 1287.99, flexiti 1299.99: delta -12.00".into(),
            suggestion: None,
        }
    }

    fn write(rows: &[Discrepancy], fmt: &ExportFormat) -> (String, ExportStats) {
        let rows: Vec<ExportRow<'_>> = rows.iter().map(ExportRow::from).collect();
        let mut buf = Vec::new();
        let stats = write_discrepancies(&mut buf, &rows, fmt).expect("write");
        (String::from_utf8(buf).expect("utf-8"), stats)
    }

    #[test]
    fn discrepancy_columns_come_in_the_documented_order() {
        let (csv, _) = write(&[], &ExportFormat::default());
        assert_eq!(
            csv.lines().next(),
            Some(
                "business_date,category,reference,kind,flexiti_amount,ledger_amount,delta,\
                 severity,pass,flexiti_id,authorization_id,flexiti_store,ledger_store,\
                 ledger_register,flexiti_at,ledger_at,day_delta,ledger_file,ledger_line,\
                 explanation,status,first_seen_run,last_seen_run,fingerprint,\
                 suggested_reference,suggested_id,suggestion"
            )
        );
    }

    #[test]
    fn money_is_exact_with_two_decimals_and_absent_sides_are_empty() {
        let rows = [
            finding(
                Category::AmountMismatch,
                "ORD-1",
                Some(129_999),
                Some(128_799),
            ),
            finding(Category::MissingInLedger, "ORD-2", Some(5), None),
            finding(
                Category::MissingInFlexiti,
                "ORD-3",
                None,
                Some(1_000_000_001),
            ),
        ];
        let (csv, stats) = write(&rows, &ExportFormat::default());
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[1].starts_with(
                "2026-11-23,amount_mismatch,ORD-1,sale,1299.99,1287.99,-12.00,error,amount,"
            ),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("2026-11-23,missing_in_ledger,ORD-2,sale,0.05,,-0.05,"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3]
                .starts_with("2026-11-23,missing_in_flexiti,ORD-3,sale,,10000000.01,10000000.01,"),
            "{}",
            lines[3]
        );
        assert!(lines[1].contains(",4821907733105521,00-12345,00-12345,R03,2026-11-23T18:42:09Z,2026-11-23T19:05:11Z,-1,ledger.csv,17,"));
        assert!(lines[1].contains(",open,,,"));
        assert_eq!(
            stats,
            ExportStats {
                rows: 3,
                total: Total::from(Amount::from_cents(1_000_000_001 - 1200 - 5))
            }
        );
    }

    #[test]
    fn formula_like_text_is_neutralised_but_negative_amounts_stay_numbers() {
        let mut d = finding(
            Category::AmountMismatch,
            "=HYPERLINK(\"http://x\")",
            Some(1500),
            Some(300),
        );
        d.ledger_register = Some("+R1".into());
        d.ledger_file = Some("@sum.csv".into());
        d.explanation = "-2+3".into();
        d.flexiti_store = Some("\tcmd".into());
        let (csv, _) = write(&[d], &ExportFormat::default());
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let record = reader.records().next().expect("row").expect("csv");
        assert_eq!(&record[2], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&record[6], "-12.00");
        assert_eq!(&record[11], "'\tcmd");
        assert_eq!(&record[13], "'+R1");
        assert_eq!(&record[16], "-1");
        assert_eq!(&record[17], "'@sum.csv");
        assert_eq!(&record[19], "'-2+3");
    }

    #[test]
    fn a_suggestion_fills_the_last_three_columns_and_none_leaves_them_empty() {
        let mut with = finding(Category::MissingInFlexiti, "ORD-1O", None, Some(1500));
        with.suggestion = Some(crate::domain::Suggestion {
            reference: "-ORD-10".into(),
            id: "capture:346001".into(),
            why: "probably Flexiti capture:346001 (-ORD-10): one character differs".into(),
        });
        let without = finding(Category::MissingInFlexiti, "ORD-2", None, Some(1500));
        let (csv, _) = write(&[with, without], &ExportFormat::default());
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("csv")).collect();
        assert_eq!(records[0].len(), DISCREPANCY_COLUMNS.len());
        assert_eq!(
            records[0][23].len(),
            32,
            "the fingerprint stays before them"
        );
        assert_eq!(&records[0][24], "'-ORD-10");
        assert_eq!(&records[0][25], "capture:346001");
        assert_eq!(
            &records[0][26],
            "probably Flexiti capture:346001 (-ORD-10): one character differs"
        );
        assert_eq!(
            (&records[1][24], &records[1][25], &records[1][26]),
            ("", "", "")
        );
    }

    #[test]
    fn excel_files_start_with_a_bom_and_end_lines_with_crlf() {
        let fmt = ExportFormat::new(true, b',', false).expect("format");
        let (csv, _) = write(
            &[finding(Category::NotCaptured, "ORD-1", None, Some(100))],
            &fmt,
        );
        assert!(csv.starts_with('\u{feff}'));
        assert_eq!(csv.matches("\r\n").count(), 2);
        assert_eq!(csv.matches('\n').count(), 2);
    }

    #[test]
    fn a_decimal_comma_needs_the_semicolon_delimiter() {
        assert_eq!(
            ExportFormat::new(false, b',', true),
            Err(FormatError::DecimalCommaWithComma)
        );
        assert_eq!(
            ExportFormat::new(false, b'|', false),
            Err(FormatError::Delimiter('|'))
        );
        let bad = ExportFormat {
            excel: false,
            delimiter: b',',
            decimal_comma: true,
        };
        assert!(write_discrepancies(Vec::new(), &[], &bad).is_err());
        let fmt = ExportFormat::new(true, b';', true).expect("format");
        let (csv, _) = write(
            &[finding(
                Category::AmountMismatch,
                "ORD-1",
                Some(129_999),
                Some(128_799),
            )],
            &fmt,
        );
        let row = csv.lines().nth(1).expect("row");
        assert!(
            row.starts_with("2026-11-23;amount_mismatch;ORD-1;sale;1299,99;1287,99;-12,00;error;"),
            "{row}"
        );
    }

    #[test]
    fn stored_findings_carry_their_status_and_history() {
        let d = finding(Category::DateMismatch, "ORD-9", Some(100), Some(100));
        let stored = StoredDiscrepancy {
            id: 1,
            fingerprint: d.fingerprint(),
            discrepancy: d.clone(),
            status: crate::report::FindingStatus::Acknowledged,
            first_seen_run: 3,
            last_seen_run: 7,
            first_seen_at: Utc::now(),
            last_seen_at: Utc::now(),
            resolved_run: None,
            note: None,
        };
        let mut buf = Vec::new();
        write_discrepancies(
            &mut buf,
            &[ExportRow::from(&stored)],
            &ExportFormat::default(),
        )
        .expect("write");
        let csv = String::from_utf8(buf).expect("utf-8");
        assert!(
            csv.contains(&format!(",acknowledged,3,7,{},,,\n", d.fingerprint())),
            "{csv}"
        );
        assert_eq!(Severity::Warning, d.severity);
    }

    fn totals() -> Vec<DayStoreTotals> {
        let side = |count, sales, returns| SideTotals {
            count,
            sales: Amount::from_cents(sales),
            returns: Amount::from_cents(returns),
        };
        vec![DayStoreTotals {
            business_date: day(),
            store: "00-12345".into(),
            flexiti: side(3, 250_000, 20_000),
            ledger: side(4, 251_000, 20_000),
        }]
    }

    #[test]
    fn the_summary_has_both_sides_and_their_net_difference() {
        let mut buf = Vec::new();
        let stats = write_summary(&mut buf, &totals(), &ExportFormat::default()).expect("write");
        let csv = String::from_utf8(buf).expect("utf-8");
        assert_eq!(
            csv,
            "business_date,store,flexiti_count,flexiti_sales,flexiti_returns,flexiti_net,\
             ledger_count,ledger_sales,ledger_returns,ledger_net,net_difference\n\
             2026-11-23,00-12345,3,2500.00,200.00,2300.00,4,2510.00,200.00,2310.00,10.00\n"
        );
        assert_eq!(stats.total, Total::from(Amount::from_cents(1000)));
    }

    #[test]
    fn a_split_bundle_has_one_file_per_category_and_a_verifiable_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let found = [
            finding(
                Category::AmountMismatch,
                "ORD-1",
                Some(129_999),
                Some(128_799),
            ),
            finding(Category::AmountMismatch, "ORD-2", Some(100), Some(150)),
            finding(Category::MissingInFlexiti, "ORD-3", None, Some(999)),
        ];
        let rows: Vec<ExportRow<'_>> = found.iter().map(ExportRow::from).collect();
        let manifest = export_bundle(dir.path(), &rows, &totals(), &ExportFormat::default(), true)
            .expect("bundle");
        let names: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "discrepancies-amount_mismatch.csv",
                "discrepancies-missing_in_flexiti.csv",
                "summary.csv"
            ]
        );
        assert_eq!(
            (manifest.files[0].rows, manifest.files[0].total.as_str()),
            (2, "-11.50")
        );
        assert_eq!(
            (manifest.files[1].rows, manifest.files[1].total.as_str()),
            (1, "9.99")
        );
        for file in &manifest.files {
            let bytes = std::fs::read(dir.path().join(&file.name)).expect("read");
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                file.sha256,
                "{}",
                file.name
            );
        }
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("manifest.json")).expect("manifest"),
        )
        .expect("json");
        assert_eq!(json["files"][2]["total"], "10.00");
        assert_eq!(json["format"]["delimiter"], ",");
    }

    #[test]
    fn a_bundle_error_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("summary.csv")).expect("blocker");
        let err = export_bundle(dir.path(), &[], &[], &ExportFormat::default(), false)
            .expect_err("a directory in the way");
        assert!(format!("{err:#}").contains("summary.csv"), "{err:#}");
    }
}
