//! The four CSV files, each with its documented columns: the findings, the control totals of
//! each day and store, the rejected ledger rows and the failed Flexiti calls.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;

use super::{
    DISCREPANCY_COLUMNS, ExportFormat, ExportRow, ExportStats, FAILED_CALL_COLUMNS,
    REJECTED_ROW_COLUMNS, SUMMARY_COLUMNS, instant, opt_num, opt_text, text,
};
use crate::domain::{
    DayStoreTotals, FailedCall, LedgerReject, Total, mask_account_parameter, scrub_accounts,
};

/// Writes the header, then one record per item with the money it adds to the file's total.
fn write_records<'a, W: Write, T: 'a, const N: usize>(
    w: W,
    columns: [&str; N],
    items: impl IntoIterator<Item = &'a T>,
    fmt: &ExportFormat,
    record: impl Fn(&'a T) -> ([Cow<'a, str>; N], Total),
) -> Result<ExportStats> {
    let mut out = fmt.writer(w)?;
    out.write_record(columns)?;
    let mut stats = ExportStats::default();
    for item in items {
        let (cells, money) = record(item);
        out.write_record(cells.iter().map(|c| c.as_bytes()))?;
        stats.rows += 1;
        stats.total += money;
    }
    out.flush()?;
    Ok(stats)
}

/// A free-text cell computed from the data (scrubbed): owned, and neutralised like any text.
fn owned_text(value: String) -> Cow<'static, str> {
    Cow::Owned(text(&value).into_owned())
}

/// Writes discrepancies with the documented columns; `total` is the sum of `delta`.
pub fn write_discrepancies<W: Write>(
    w: W,
    rows: &[ExportRow<'_>],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    write_records(w, DISCREPANCY_COLUMNS, rows, fmt, |row| {
        let d = row.d;
        let cells: [Cow<'_, str>; 27] = [
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
        (cells, Total::from(d.delta))
    })
}

/// Writes the per-day/store control totals; `total` is the sum of `net_difference`.
pub fn write_summary<W: Write>(
    w: W,
    totals: &[DayStoreTotals],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    write_records(w, SUMMARY_COLUMNS, totals, fmt, |t| {
        let difference = t.ledger.net() - t.flexiti.net();
        let cells: [Cow<'_, str>; 11] = [
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
        (cells, difference)
    })
}

/// Writes the rejected ledger rows, each with the run that recorded it. Free text is scrubbed
/// of account-like numbers, as in the email.
pub fn write_rejected_rows<W: Write>(
    w: W,
    rejects: &[(i64, LedgerReject)],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    write_records(w, REJECTED_ROW_COLUMNS, rejects, fmt, |(run_id, r)| {
        let cells: [Cow<'_, str>; 5] = [
            run_id.to_string().into(),
            text(&r.file),
            r.line.to_string().into(),
            owned_text(scrub_accounts(&r.reason)),
            owned_text(scrub_accounts(&r.raw)),
        ];
        (cells, Total::default())
    })
}

/// Writes the API calls that still failed after their retries, each with its run. An
/// `account_number` parameter and account-like numbers in messages are masked.
pub fn write_failed_calls<W: Write>(
    w: W,
    calls: &[(i64, FailedCall)],
    fmt: &ExportFormat,
) -> Result<ExportStats> {
    write_records(w, FAILED_CALL_COLUMNS, calls, fmt, |(run_id, c)| {
        let cells: [Cow<'_, str>; 9] = [
            run_id.to_string().into(),
            text(&c.endpoint),
            owned_text(mask_account_parameter(&c.parameters)),
            opt_num(c.http_status).into(),
            opt_text(c.error_code.as_deref()),
            owned_text(scrub_accounts(&c.message)),
            c.attempts.to_string().into(),
            opt_num(c.utc_date).into(),
            text(&c.x_reference_id),
        ];
        (cells, Total::default())
    })
}
