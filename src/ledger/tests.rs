use std::io::Write;

use super::*;
use crate::domain::{Amount, Kind};

fn cal() -> BusinessCalendar {
    BusinessCalendar::new(chrono_tz::America::Toronto)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = File::create(&path).expect("create test file");
    f.write_all(text.as_bytes()).expect("write test file");
    path
}

const HEADER: &str = "sold_at,store_id,register_id,order_id,txn_type,tender,amount,currency\n";

#[test]
fn valid_rows_are_read_with_file_line_local_time_and_positive_amounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}2026-11-23 14:05:11,00-12345,R03,ORD-1,SALE,FLEXITI,1299.99,CAD\n\
         2026-11-23 23:59:59,00-12345,R03,ORD-2,RETURN,flexiti,-200.00,CAD\n\
         2026-11-23T18:00:00-05:00,00-12345,R01,ORD-3,SALE,FLEXITI,5,CAD\n\
         2026-11-23T18:00:00.250,00-12345,R01,ORD-4,SALE,FLEXITI,5,CAD\n\
         2026-11-23 23:00:00Z,00-12345,R01,ORD-5,SALE,FLEXITI,5,CAD\n"
    );
    let path = write(&dir, "l.csv", &body);
    let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
    assert!(side.rejects.is_empty(), "{:?}", side.rejects);
    assert_eq!(side.rows.len(), 5);
    let r = &side.rows[1];
    assert_eq!(
        (r.line, r.kind, r.amount),
        (3, Kind::Return, Amount::from_cents(20_000))
    );
    assert_eq!(r.at.to_rfc3339(), "2026-11-24T04:59:59+00:00");
    assert_eq!(side.rows[2].at.to_rfc3339(), "2026-11-23T23:00:00+00:00");
    assert_eq!(
        side.rows[3].at.to_rfc3339(),
        "2026-11-23T23:00:00.250+00:00"
    );
    assert_eq!(side.rows[4].at.to_rfc3339(), "2026-11-23T23:00:00+00:00");
    assert_eq!(side.rows[0].store.as_deref(), Some("00-12345"));
}

#[test]
fn whitespace_around_cells_and_header_names_is_not_part_of_the_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain =
        format!("{HEADER}2026-11-23 14:05:11,00-12345,R03,ORD-1,SALE,FLEXITI,1299.99,CAD\n");
    let spaced = " sold_at , store_id,register_id\t,order_id,txn_type,tender,amount,currency\n\
         \t2026-11-23 14:05:11 , 00-12345 ,R03\t, ORD-1 ,SALE , FLEXITI,  1299.99 ,CAD \n\
         2026-11-23 14:05:12,00-12345,R03,\" ORD-2\u{1}\",SALE,FLEXITI,1.00,CAD\n";
    let plain = read_files(
        &[write(&dir, "p.csv", &plain)],
        &LedgerSettings::default(),
        cal(),
    )
    .expect("read");
    let spaced = read_files(
        &[write(&dir, "s.csv", spaced)],
        &LedgerSettings::default(),
        cal(),
    )
    .expect("read");
    assert_eq!(spaced.rows.len(), 1);
    let (a, b) = (&plain.rows[0], &spaced.rows[0]);
    assert_eq!(
        (&a.reference, a.store, a.register, a.amount, a.at, a.kind),
        (&b.reference, b.store, b.register, b.amount, b.at, b.kind)
    );
    assert_eq!(b.reference, "ORD-1");
    // A rejected row keeps its cells as read: trimmed, rejoined.
    assert_eq!(spaced.rejects.len(), 1);
    assert!(
        spaced.rejects[0]
            .raw
            .starts_with("2026-11-23 14:05:12,00-12345,R03,"),
        "{}",
        spaced.rejects[0].raw
    );
}

#[test]
fn malformed_rows_are_rejected_with_line_and_reason_and_the_rest_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!(
        "{HEADER}2026-13-45 10:00:00,S1,R1,ORD-1,SALE,FLEXITI,10.00,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-2,SALE,FLEXITI,ten,CAD\n\
         2026-11-23 10:00:00,S1,R1,,SALE,FLEXITI,10.00,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-4,VOID,FLEXITI,10.00,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-5,SALE,FLEXITI,10.00,USD\n\
         2026-11-23 10:00:00,S1,R1,ORD-6,SALE,FLEXITI,10.001,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-7,SALE,FLEXITI,-10.00,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-8,SALE,VISA,oops,CAD\n\
         2026-11-23 10:00:00,S1,R1,ORD-9,SALE,FLEXITI,10.00,CAD\n"
    );
    let path = write(&dir, "l.csv", &body);
    let side = read_files(&[path], &LedgerSettings::default(), cal()).expect("read");
    let reasons: Vec<(u64, &str)> = side
        .rejects
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect();
    let starts = [
        "bad date",
        "bad amount",
        "missing order id",
        "unknown type",
        "other currency",
        "bad amount",
        "bad amount",
    ];
    assert_eq!(reasons.len(), starts.len(), "{reasons:?}");
    for (i, ((line, reason), start)) in reasons.iter().zip(starts).enumerate() {
        assert_eq!(*line, i as u64 + 2);
        assert!(reason.starts_with(start), "line {line}: {reason}");
    }
    assert!(side.rejects[0].file.ends_with("l.csv"));
    assert_eq!(side.ignored_other_tender, 1);
    assert_eq!(side.rows.len(), 1);
    assert_eq!(side.rows[0].line, 10);
}

#[test]
fn a_mapped_export_with_semicolons_decimal_commas_and_codes_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "pos.csv",
        "Date;Shop;Till;Order;Type;Pay;Total;Cur\n2026-11-23 10:00:00;12345;T1;ORD-1;S;FX;1.299,99;CAD\n\
         2026-11-23 11:00:00;12345;T1;ORD-1;R;FX;-20,00;CAD\n",
    );
    let mut s = LedgerSettings {
        delimiter: ";".into(),
        decimal_comma: true,
        tenders: vec!["FX".into()],
        sale_values: vec!["S".into()],
        return_values: vec!["R".into()],
        amount_sign: AmountSign::NegativeReturns,
        ..LedgerSettings::default()
    };
    s.columns = ColumnNames {
        sold_at: "Date".into(),
        store_id: "Shop".into(),
        register_id: "Till".into(),
        order_id: "Order".into(),
        txn_type: "Type".into(),
        tender: "Pay".into(),
        amount: "Total".into(),
        currency: "Cur".into(),
    };
    s.store_map.insert("12345".into(), "00-12345".into());
    let side = read_files(&[path], &s, cal()).expect("read");
    // "1.299,99" has a thousands separator: refused rather than guessed.
    assert_eq!(side.rejects.len(), 1, "{:?}", side.rejects);
    assert_eq!(side.rows.len(), 1);
    assert_eq!(side.rows[0].amount, Amount::from_cents(2000));
    assert_eq!(side.rows[0].store.as_deref(), Some("00-12345"));
}

#[test]
fn a_missing_file_an_empty_file_and_a_missing_column_fail_naming_the_file_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.csv");
    let err = read_files(&[missing], &LedgerSettings::default(), cal()).expect_err("missing");
    assert!(format!("{err:#}").contains("nope.csv"), "{err:#}");
    let empty = write(&dir, "empty.csv", "");
    let err = read_files(&[empty], &LedgerSettings::default(), cal()).expect_err("empty");
    assert!(
        format!("{err:#}").contains("empty.csv: the file is empty"),
        "{err:#}"
    );
    let no_amount = write(
        &dir,
        "cols.csv",
        "sold_at,store_id,register_id,order_id,txn_type,tender,currency\n",
    );
    let err = read_files(&[no_amount], &LedgerSettings::default(), cal()).expect_err("column");
    assert!(
        format!("{err:#}").contains("cols.csv: no column 'amount'"),
        "{err:#}"
    );
}

#[test]
fn patterns_expand_in_name_order_and_several_files_keep_their_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir,
        "b.csv",
        &format!("{HEADER}2026-11-23 10:00:00,S,R,ORD-2,SALE,FLEXITI,2.00,CAD\n"),
    );
    write(
        &dir,
        "a.csv",
        &format!("{HEADER}2026-11-23 10:00:00,S,R,ORD-1,SALE,FLEXITI,1.00,CAD\n"),
    );
    let files = resolve_files(&["*.csv".to_string()], dir.path()).expect("resolve");
    let side = read_files(&files, &LedgerSettings::default(), cal()).expect("read");
    // Rows come in no particular order across files; each keeps its file and line.
    let mut rows: Vec<(u32, u32, &str)> = side
        .rows
        .iter()
        .map(|r| (r.file_index, r.line, r.reference.as_str()))
        .collect();
    rows.sort_unstable();
    assert_eq!(rows, vec![(0, 2, "ORD-1"), (1, 2, "ORD-2")]);
    assert!(resolve_files(&["*.tsv".to_string()], dir.path()).is_err());
}

#[test]
fn a_row_past_the_last_line_a_row_can_name_is_rejected_and_the_last_one_is_read() {
    let settings = LedgerSettings::default();
    let header = csv::ByteRecord::from(HEADER.trim_end().split(',').collect::<Vec<_>>());
    let positions = Positions::find(&header, &settings.columns).expect("columns");
    let store_map = HashMap::new();
    let validator = row::Validator::new(&settings, cal(), &store_map).expect("validator");
    let record = csv::ByteRecord::from(vec![
        "2026-11-23 14:05:11",
        "00-12345",
        "R03",
        "ORD-1",
        "SALE",
        "FLEXITI",
        "12.00",
        "CAD",
    ]);
    let last = u64::from(u32::MAX);
    let row = validator
        .validate(&record, &positions, 0, last)
        .map_err(|e| e.0)
        .expect("the last line a row can name is read")
        .expect("a Flexiti row");
    assert_eq!(row.line, u32::MAX);
    let past = validator
        .validate(&record, &positions, 0, last + 1)
        .map(|_| ())
        .expect_err("one line further is rejected");
    assert_eq!(
        past.0,
        "line 4294967296: past the 4294967295 lines a ledger file may hold"
    );
}
