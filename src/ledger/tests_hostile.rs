//! Hostile ledger files: absurd amounts, rows of the wrong shape, one file named twice, line
//! ends and byte order marks that must not move a row's line, and arbitrary bytes.

use std::io::Write;

use proptest::prelude::*;

use super::*;
use crate::domain::Amount;

fn cal() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::America::Toronto)
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = File::create(&path).expect("create test file");
    f.write_all(bytes).expect("write test file");
    path
}

const HEADER: &str = "sold_at,store_id,register_id,order_id,txn_type,tender,amount,currency\n";

fn row(order: &str, amount: &str) -> String {
    format!("2026-11-23 10:00:00,S1,R1,{order},SALE,FLEXITI,{amount},CAD\n")
}

fn reasons(side: &LedgerSide) -> Vec<(u64, String)> {
    side.rejects
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect()
}

#[test]
fn amounts_above_max_amount_are_rejected_rows_and_the_ceiling_is_configurable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = "92233720368547758.07";
    let body = format!(
        "{HEADER}{}{}{}{}{}",
        row("ORD-1", huge),
        row("ORD-2", huge),
        row("ORD-3", "1000000.01"),
        row("ORD-4", "1000000.00"),
        "2026-11-23 10:00:00,S1,R1,ORD-5,RETURN,FLEXITI,-1000000.01,CAD\n",
    );
    let path = write(&dir, "l.csv", body.as_bytes());
    let side = read_files(
        std::slice::from_ref(&path),
        &LedgerSettings::default(),
        cal(),
    )
    .expect("read");
    let got = reasons(&side);
    assert_eq!(
        got.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [2, 3, 4, 6],
        "{got:?}"
    );
    assert_eq!(
        got[0].1,
        format!("implausible amount '{huge}': more than ledger.max_amount (1000000.00)")
    );
    assert_eq!(side.rows.len(), 1);
    assert_eq!(side.rows[0].amount, Amount::from_cents(100_000_000));

    let settings = LedgerSettings {
        max_amount: huge.into(),
        ..LedgerSettings::default()
    };
    let side = read_files(&[path], &settings, cal()).expect("read");
    assert!(side.rejects.is_empty(), "{:?}", side.rejects);
    assert_eq!(side.rows.len(), 5);
    for bad in ["0", "-5", "ten", "1.001", ""] {
        let settings = LedgerSettings {
            max_amount: bad.into(),
            ..LedgerSettings::default()
        };
        let err = settings.validate().expect_err(bad);
        assert!(err.to_string().starts_with("ledger.max_amount"), "{err}");
    }
}

#[test]
fn an_amount_beyond_64_bit_cents_is_a_bad_amount_not_a_wrapped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}{}{}",
        row("ORD-1", "92233720368547758.08"),
        row("ORD-2", "-92233720368547758.08"),
    );
    let path = write(&dir, "l.csv", body.as_bytes());
    let settings = LedgerSettings {
        max_amount: "92233720368547758.07".into(),
        ..LedgerSettings::default()
    };
    let side = read_files(&[path], &settings, cal()).expect("read");
    let got = reasons(&side);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|(_, r)| r.contains("out of range")),
        "{got:?}"
    );
}

#[test]
fn rows_with_fewer_or_more_cells_than_the_header_are_rejected_whatever_their_tender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}2026-11-23 10:00:00,S1\n\
         {}\
         2026-11-23 10:00:00,S1,R1,ORD-3,SALE,VISA,10.00,CAD,extra\n\
         2026-11-23 10:00:00,S1,R1,ORD-4,SALE,FLEXITI,10.00\n\
         lonely\n\
         2026-11-23 10:00:00,S1,R1,ORD-6,SALE,VISA,10.00,CAD\n",
        row("ORD-2", "10.00"),
    );
    let path = write(&dir, "l.csv", body.as_bytes());
    let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
    assert_eq!(
        reasons(&side),
        vec![
            (2, "2 cells, the header has 8".to_string()),
            (4, "9 cells, the header has 8".to_string()),
            (5, "7 cells, the header has 8".to_string()),
            (6, "1 cell, the header has 8".to_string()),
        ]
    );
    assert!(side.rejects[0].file.ends_with("l.csv"));
    assert_eq!(side.rows.len(), 1);
    assert_eq!(
        side.ignored_other_tender, 1,
        "only the well-shaped VISA row"
    );
}

/// A NUL or another control character in a value rejects its row (PostgreSQL cannot store a
/// NUL, so letting it through would fail the whole run when the findings are stored), and the
/// kept raw text holds no NUL.
#[test]
fn control_characters_in_a_value_reject_the_row_and_the_raw_text_holds_no_nul() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}{}{}2026-11-23 10:00:00,S\u{7}1,R1,ORD-3,SALE,FLEXITI,10.00,CAD\n{}{}{}{}\
         2026-11-23 10:00:00,Sé,R1,ORD-9,SALE,FLEXITI,10.00,CAD\n",
        row("ORD-\0X", "10.00"),
        row("ORD-2", "10.00"),
        row("ORD-4", "1\u{1b}0.00"),
        // The ends of the printable ASCII range, and a control character outside ASCII.
        row("ORD-5\u{7f}", "10.00"),
        row("ORD-6\u{85}", "10.00"),
        row("ORD- ~", "10.00"),
    );
    let path = write(&dir, "l.csv", body.as_bytes());
    let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
    assert_eq!(
        reasons(&side),
        vec![
            (2, "order_id: control character U+0000".to_string()),
            (4, "store_id: control character U+0007".to_string()),
            (5, "amount: control character U+001B".to_string()),
            (6, "order_id: control character U+007F".to_string()),
            (7, "order_id: control character U+0085".to_string()),
        ]
    );
    assert_eq!(side.rows.len(), 3);
    assert!(
        side.rejects[0].raw.contains("ORD-\u{FFFD}X"),
        "{:?}",
        side.rejects[0].raw
    );
    assert!(side.rejects.iter().all(|r| !r.raw.contains('\0')));
}

/// Every combination of line end, byte order mark and a quoted cell holding line breaks: each
/// row, rejected or read, points at the physical line where it starts.
#[test]
fn file_line_is_the_physical_line_where_each_record_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eol in ["\n", "\r\n"] {
        for bom in [false, true] {
            for quoted in [false, true] {
                let mut lines: Vec<String> = vec![HEADER.trim_end().to_string()];
                let mut expect_rows = Vec::new();
                let mut expect_rejects = Vec::new();
                let push = |lines: &mut Vec<String>, text: String| {
                    let at = lines.len() as u64 + 1;
                    let breaks = text.matches('\n').count();
                    lines.push(text);
                    // A cell with line breaks spans several physical lines.
                    for _ in 0..breaks {
                        lines.push(String::new());
                    }
                    at
                };
                expect_rows.push(push(&mut lines, row("ORD-1", "1.00").trim_end().into()));
                expect_rejects.push(push(&mut lines, row("ORD-2", "ten").trim_end().into()));
                if quoted {
                    let cell = format!("\"Store{eol}with{eol}breaks\"");
                    let text = format!("2026-11-23 10:00:00,{cell},R1,ORD-3,SALE,FLEXITI,3.00,CAD");
                    expect_rows.push(push(&mut lines, text));
                    let text = format!("2026-11-23 10:00:00,{cell},R1,ORD-4,SALE,FLEXITI,x,CAD");
                    expect_rejects.push(push(&mut lines, text));
                }
                // A blank line is skipped but still counts.
                lines.push(String::new());
                expect_rows.push(push(&mut lines, row("ORD-5", "5.00").trim_end().into()));
                expect_rejects.push(push(&mut lines, "short,row".into()));
                expect_rows.push(push(&mut lines, row("ORD-7", "7.00").trim_end().into()));

                // Joined line by line: the quoted cell's own breaks use the same line end.
                let mut text = String::new();
                let mut skip = 0;
                for line in &lines {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    skip = line.matches('\n').count();
                    text.push_str(line);
                    text.push_str(eol);
                }
                let mut bytes = Vec::new();
                if bom {
                    bytes.extend_from_slice(b"\xEF\xBB\xBF");
                }
                bytes.extend_from_slice(text.as_bytes());
                let name = format!("l-{}-{bom}-{quoted}.csv", eol.len());
                let path = write(&dir, &name, &bytes);
                let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
                let case = format!("eol {eol:?} bom {bom} quoted {quoted}");
                let mut rows: Vec<u64> = side.rows.iter().map(|r| u64::from(r.line)).collect();
                rows.sort_unstable();
                assert_eq!(rows, expect_rows, "rows, {case}");
                let rejects: Vec<u64> = side.rejects.iter().map(|r| r.line).collect();
                assert_eq!(
                    rejects, expect_rejects,
                    "rejects, {case}: {:?}",
                    side.rejects
                );
            }
        }
    }
}

#[test]
fn the_same_file_named_twice_or_copied_is_read_once_with_a_warning_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!("{HEADER}{}{}", row("ORD-1", "1.00"), row("ORD-2", "2.00"));
    let a = write(&dir, "a.csv", body.as_bytes());
    let copy = write(&dir, "copy-of-a.csv", body.as_bytes());
    // Same size, other content: a different file.
    let b = write(&dir, "b.csv", body.replace("ORD-2", "ORD-3").as_bytes());
    let a_again = dir.path().join(".").join("a.csv");
    let side = read_files(
        &[a.clone(), a_again.clone(), copy.clone(), b.clone()],
        &LedgerSettings::default(),
        cal(),
    )
    .expect("read");
    assert_eq!(side.files, vec![a.clone(), b.clone()]);
    assert_eq!(side.rows.len(), 4, "a once, b once");
    assert_eq!(
        side.warnings,
        vec![
            format!(
                "ledger file {} is the same file as {}: read once",
                a_again.display(),
                a.display()
            ),
            format!(
                "ledger file {} has the same content as {}: read once",
                copy.display(),
                a.display()
            ),
        ]
    );
    // The same row in two different files is kept twice: the engine calls it a duplicate.
    let mut refs: Vec<&str> = side.rows.iter().map(|r| r.reference.as_str()).collect();
    refs.sort_unstable();
    assert_eq!(refs, ["ORD-1", "ORD-1", "ORD-2", "ORD-3"]);
    let mut files: Vec<u32> = side.rows.iter().map(|r| r.file_index).collect();
    files.sort_unstable();
    assert_eq!(files, [0, 0, 1, 1]);
}

fn read_bytes(bytes: &[u8]) -> anyhow::Result<LedgerSide> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "fuzz.csv", bytes);
    read_files(&[path], &LedgerSettings::default(), cal())
}

/// Bytes that look like a ledger: the header's cells, separators, quotes, line ends, a BOM,
/// amounts near the limits, and any other byte.
fn ledgerish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"2026-11-23 10:00:00".to_vec()),
        Just(b"SALE".to_vec()),
        Just(b"RETURN".to_vec()),
        Just(b"FLEXITI".to_vec()),
        Just(b"CAD".to_vec()),
        Just(b"ORD-1".to_vec()),
        Just(b"92233720368547758.07".to_vec()),
        Just(b"-92233720368547758.08".to_vec()),
        Just(b"999999999999999.99".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
        prop::collection::vec(prop::sample::select(b"0123456789.+-".to_vec()), 1..24),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|pieces| {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend(pieces.concat());
        bytes
    })
}

proptest! {
    #[test]
    fn fuzz_ledger_reader_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        let _ = read_bytes(&bytes);
    }

    #[test]
    fn fuzz_ledger_reader_accounts_for_every_record_of_ledger_like_files(bytes in ledgerish()) {
        let side = read_bytes(&bytes).expect("a file with a header reads");
        // Every row and reject points inside the file, past the header.
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        for line in side.rows.iter().map(|r| u64::from(r.line)).chain(side.rejects.iter().map(|r| r.line)) {
            prop_assert!((2..=lines).contains(&line), "line {line} of {lines}");
        }
        for r in &side.rows {
            prop_assert!(r.amount.abs() <= Amount::from_cents(100_000_000));
        }
    }
}

#[test]
fn invalid_utf8_rejects_a_row_only_in_a_cell_it_reads_even_when_the_row_reads_as_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = "sold_at,store_id,register_id,order_id,txn_type,tender,amount,currency,note\n";
    let mut body = header.as_bytes().to_vec();
    // Line 2: an invalid byte in the order id.
    body.extend_from_slice(b"2026-11-23 10:00:00,S1,R1,ORD-\xff1,SALE,FLEXITI,1.00,CAD,x\n");
    // Line 3: the two bytes of one character split over the register and the order id: the
    // row's bytes read as UTF-8, each of the two cells does not.
    body.extend_from_slice(b"2026-11-23 10:00:00,S1,R1\xc3,\xa9ORD-2,SALE,FLEXITI,1.00,CAD,x\n");
    // Line 4: an invalid byte in a column the ledger mapping does not read: the row is read.
    body.extend_from_slice(b"2026-11-23 10:00:00,S1,R1,ORD-3,SALE,FLEXITI,1.00,CAD,\xff\n");
    // Line 5: a character in a cell read (the store), valid: read as it is.
    body.extend_from_slice("2026-11-23 10:00:00,Sé,R1,ORD-4,SALE,FLEXITI,1.00,CAD,x\n".as_bytes());
    let path = write(&dir, "utf8.csv", &body);
    let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
    assert_eq!(
        reasons(&side),
        vec![
            (2, "order_id: not valid UTF-8".to_string()),
            (3, "order_id: not valid UTF-8".to_string()),
        ]
    );
    let read: Vec<(&str, Option<&str>)> = side
        .rows
        .iter()
        .map(|r| (r.reference.as_str(), r.store.as_deref()))
        .collect();
    assert_eq!(read, [("ORD-3", Some("S1")), ("ORD-4", Some("Sé"))]);
}
