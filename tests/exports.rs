//! Every fact of a run as a file, through the binary: `export` writes the rejected ledger rows
//! (with the row itself) and the failed API calls of the latest run covering each day, beside
//! the discrepancies and the totals, all listed in the manifest.

mod common;

use std::path::Path;

use flexiti_sandbox::Faults;

use common::{FILE_EMAIL, Work, day, stderr};

const SECRET: &str = "exports-test-secret";

/// The sample ledger plus three bad rows: an amount that is not one, an unknown kind with an
/// account number and a formula in the row, and an accented store.
const BAD_ROWS: &str = "2026-11-23 10:00:00,00-12345,R01,ORD-BAD-1,SALE,FLEXITI,12.3O,CAD\n\
    2026-11-23 10:05:00,00-12345,R01,=HYPERLINK(\"x\"),REFUND 20076677,FLEXITI,10.00,CAD\n\
    2026-11-23 10:10:00,Montréal-Est,R01,ORD-BAD-3,SALE,FLEXITI,,CAD\n";

/// The shared work folder with the file email transport and three bad rows in its ledger; the
/// sandbox fails every call for UTC 2026-11-24.
async fn start() -> Work {
    let faults = Faults {
        failing_dates: vec![day(24)],
        ..Faults::default()
    };
    let work = Work::start(SECRET, faults, FILE_EMAIL).await;
    let ledger = work.path("ledger/ledger.csv");
    let mut text = std::fs::read_to_string(&ledger).expect("sample ledger");
    text.push_str(BAD_ROWS);
    std::fs::write(ledger, text).expect("ledger");
    work
}

fn read_csv(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn export_writes_the_rejected_rows_and_failed_calls_of_the_latest_run_of_each_day() {
    let h = start().await;
    for _ in 0..2 {
        let out = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
        assert_eq!(out.status.code(), Some(3), "partial: {}", stderr(&out));
    }
    let out_dir = h.dir.path().join("export");
    let out = h
        .cli(&[
            "export",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
            "--out",
            out_dir.to_str().expect("path"),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("rejected_rows.csv  3 rows"), "{printed}");

    let rejects = read_csv(&out_dir.join("rejected_rows.csv"), b',');
    assert_eq!(
        rejects[0],
        ["run_id", "file", "line", "reason", "raw_row"],
        "header"
    );
    assert_eq!(
        rejects.len(),
        4,
        "three rows, once: only the latest run of the day"
    );
    assert!(rejects[1..].iter().all(|r| r[0] == "2"), "{rejects:?}");
    assert!(rejects[1][1].ends_with("ledger.csv"), "{rejects:?}");
    assert_eq!(rejects[1][2], "54", "line in the file, header is line 1");
    assert!(rejects[1][3].contains("12.3O"), "{rejects:?}");
    assert_eq!(
        rejects[1][4],
        "2026-11-23 10:00:00,00-12345,R01,ORD-BAD-1,SALE,FLEXITI,12.3O,CAD"
    );
    let formula = &rejects[2][4];
    assert!(
        formula.contains("\"=HYPERLINK(\"\"x\"\")\"") && formula.contains("REFUND ****6677"),
        "the row is kept as CSV text, its account number masked: {formula}"
    );
    assert!(!formula.contains("20076677"));
    assert!(rejects[3][4].contains("Montréal-Est"), "{rejects:?}");

    let calls = read_csv(&out_dir.join("failed_calls.csv"), b',');
    assert_eq!(
        calls[0],
        [
            "run_id",
            "endpoint",
            "parameters",
            "http_status",
            "error_code",
            "message",
            "attempts",
            "utc_date",
            "x_reference_id"
        ]
    );
    assert!(calls.len() > 1, "the failing day's calls are there");
    for call in &calls[1..] {
        assert_eq!(call[0], "2", "{call:?}");
        assert!(call[1].starts_with("GET /"), "{call:?}");
        assert!(call[2].contains("2026-11-24"), "{call:?}");
        assert_eq!(call[3], "500");
        assert_eq!(call[6], "2", "attempts");
        assert_eq!(call[7], "2026-11-24");
        assert!(!call[8].is_empty(), "x-reference-id");
    }

    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let files = manifest["files"].as_array().expect("files");
    let entry = |name: &str| {
        files
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {manifest}"))
            .clone()
    };
    assert_eq!(entry("rejected_rows.csv")["rows"], 3);
    assert_eq!(entry("failed_calls.csv")["rows"], calls.len() - 1);
    assert!(entry("failed_calls.csv").get("total").is_none());
    assert_eq!(entry("summary.csv")["total_column"], "net_difference");
    let bytes = std::fs::read(out_dir.join("rejected_rows.csv")).expect("bytes");
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes));
    assert_eq!(entry("rejected_rows.csv")["sha256"], hex::encode(digest));
}

#[tokio::test]
async fn semicolon_decimal_comma_exports_keep_the_same_facts_and_an_empty_range_has_headers_only() {
    let h = start().await;
    let out = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert_eq!(out.status.code(), Some(3), "partial: {}", stderr(&out));
    let out_dir = h.dir.path().join("export-fr");
    let out = h
        .cli(&[
            "export",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-23",
            "--decimal-comma",
            "--excel",
            "--out",
            out_dir.to_str().expect("path"),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bytes = std::fs::read(out_dir.join("rejected_rows.csv")).expect("csv");
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "excel BOM");
    let text = String::from_utf8_lossy(&bytes[3..]).into_owned();
    assert!(
        text.starts_with("run_id;file;line;reason;raw_row\r\n"),
        "{text}"
    );
    let rejects = read_csv(&out_dir.join("rejected_rows.csv"), b';');
    assert_eq!(rejects.len(), 4);

    // Days no run covered: the files are there, with their header only.
    let empty_dir = h.dir.path().join("export-empty");
    let out = h
        .cli(&[
            "export",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "--out",
            empty_dir.to_str().expect("path"),
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        read_csv(&empty_dir.join("rejected_rows.csv"), b',').len(),
        1
    );
    assert_eq!(read_csv(&empty_dir.join("failed_calls.csv"), b',').len(), 1);
}
