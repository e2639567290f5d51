use chrono::{NaiveDate, TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::*;
use crate::domain::{
    Amount, Category, DayStoreTotals, Discrepancy, FindingStatus, Kind, Pass, Severity, SideTotals,
    StoredDiscrepancy, Total,
};

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
        lines[3].starts_with("2026-11-23,missing_in_flexiti,ORD-3,sale,,10000000.01,10000000.01,"),
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
        status: FindingStatus::Acknowledged,
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
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).expect("manifest"))
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
