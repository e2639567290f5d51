//! Hostile ledgers and settings through the binary: amounts at the 64-bit limit, one file named
//! twice, Windows line ends with a byte order mark, and a bad environment override. The Flexiti
//! side comes from the sample JSON files (`--flexiti-dir`), the database is a SQLite file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, samples};

const HEADER: &str = "sold_at,store_id,register_id,order_id,txn_type,tender,amount,currency\n";
const MAX: &str = "92233720368547758.07";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// Runs the binary in `dir` on the sample Flexiti files, without a config unless one is given.
async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = bin(dir);
    command.args(args).env_remove("FLEXITI_RECON_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().await.expect("run the binary")
}

async fn reconcile(dir: &Path, ledgers: &[&Path], extra: &[&str]) -> Output {
    let flexiti = samples().join("flexiti");
    let mut args: Vec<String> = vec!["run".into(), "--date".into(), "2026-11-23".into()];
    args.extend(["--flexiti-dir".into(), flexiti.display().to_string()]);
    for ledger in ledgers {
        args.extend(["--ledger".into(), ledger.display().to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(dir, &args, &[]).await
}

fn huge_ledger(dir: &Path) -> PathBuf {
    let mut body = HEADER.to_string();
    for n in 1..=3 {
        body.push_str(&format!(
            "2026-11-23 10:00:0{n},00-12345,R01,ORD-HUGE-{n},SALE,FLEXITI,{MAX},CAD\n"
        ));
    }
    body.push_str("2026-11-23 11:00:00,00-12345,R01,ORD-SMALL,SALE,FLEXITI,12.34,CAD\n");
    let path = dir.join("huge.csv");
    std::fs::write(&path, body).expect("write ledger");
    path
}

#[tokio::test]
async fn three_rows_at_the_64_bit_limit_are_rejected_rows_and_never_summed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = huge_ledger(dir.path());
    let out = reconcile(dir.path(), &[&ledger], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("rejected ledger rows: 3"),
        "{}",
        text(&out.stdout)
    );
    let show = run(dir.path(), &["runs", "show", "1"], &[]).await;
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    assert!(
        shown.contains("ledger 1 rows (sales 12.34, returns 0.00)"),
        "{shown}"
    );
    assert!(
        !shown.contains("92233720368547758.05"),
        "no wrapped sum: {shown}"
    );
    assert!(shown.contains("rejected rows 3"), "{shown}");
    assert!(
        shown.contains(":2 implausible amount '92233720368547758.07'"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_ceiling_raised_to_the_limit_fails_the_run_instead_of_wrapping_its_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = huge_ledger(dir.path());
    std::fs::write(
        dir.path().join("config.toml"),
        format!("data_dir = \"data\"\n[ledger]\nmax_amount = \"{MAX}\"\n"),
    )
    .expect("write config");
    let out = reconcile(dir.path(), &[&ledger], &["--config", "config.toml"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "ledger totals of 2026-11-23 store 00-12345: a sum passes 92233720368547758.07"
        ),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn the_same_ledger_file_given_twice_is_read_once_with_a_warning_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("ledger.csv");
    std::fs::copy(samples().join("ledger/ledger.csv"), &ledger).expect("copy ledger");
    let copy = dir.path().join("ledger (1).csv");
    std::fs::copy(&ledger, &copy).expect("copy ledger");
    let spelled_otherwise = dir.path().join(".").join("ledger.csv");
    let out = reconcile(
        dir.path(),
        &[&ledger, &spelled_otherwise, &copy],
        &["--csv", "found.csv"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for warning in [
        format!(
            "warning: ledger file {} is the same file as {}: read once",
            spelled_otherwise.display(),
            ledger.display()
        ),
        format!(
            "warning: ledger file {} has the same content as {}: read once",
            copy.display(),
            ledger.display()
        ),
    ] {
        assert!(stdout.contains(&warning), "{warning}\n{stdout}");
        assert!(text(&out.stderr).contains(&warning[9..]), "logged too");
    }
    let found = std::fs::read_to_string(dir.path().join("found.csv")).expect("csv");
    assert_eq!(
        found.lines().count(),
        9,
        "the findings of one ledger: {found}"
    );
    // The sample's own duplicate, and not one row more.
    assert_eq!(found.matches("duplicate_in_ledger").count(), 1, "{found}");
}

/// `ledger_file:line` of every finding, from the discrepancy CSV.
fn ledger_lines(csv: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(csv).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    let at = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (reference, line) = (at("reference"), at("ledger_line"));
    let mut out: Vec<String> = reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            format!("{} {}", &r[reference], &r[line])
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_windows_export_with_a_byte_order_mark_points_at_the_same_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unix = std::fs::read_to_string(samples().join("ledger/ledger.csv")).expect("ledger");
    let windows = dir.path().join("windows.csv");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(unix.replace('\n', "\r\n").into_bytes());
    std::fs::write(&windows, bytes).expect("write");
    let unix_path = samples().join("ledger/ledger.csv");
    let out = reconcile(
        dir.path(),
        &[&unix_path],
        &["--csv", "unix.csv", "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = reconcile(
        dir.path(),
        &[&windows],
        &["--csv", "windows.csv.out", "--dry-run"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let unix_lines = ledger_lines(&dir.path().join("unix.csv"));
    assert!(
        unix_lines.iter().any(|l| !l.ends_with(' ')),
        "{unix_lines:?}"
    );
    // Each line is the row's own: the sample's order ids are on the lines the CSV names.
    for entry in &unix_lines {
        let (reference, line) = entry.split_once(' ').expect("pair");
        if let Ok(line) = line.parse::<usize>() {
            let row = unix.lines().nth(line - 1).expect("line in file");
            assert!(
                row.contains(reference),
                "line {line} is {row}, not {reference}"
            );
        }
    }
    assert_eq!(
        ledger_lines(&dir.path().join("windows.csv.out")),
        unix_lines
    );
}

#[tokio::test]
async fn a_bad_environment_override_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        "data_dir = \"data\"\n[email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n",
    )
    .expect("write config");
    let with_config: &[&str] = &["runs", "list", "--config", "config.toml"];
    for (name, value, args) in [
        ("FLEXITI_SMTP_PORT", "abc", with_config),
        ("FLEXITI_DATABASE_URL", "mysql://db/recon", with_config),
        ("FLEXITI_EMAIL_TO", "nobody", with_config),
        ("FLEXITI_LOG_FORMAT", "xml", with_config),
        ("FLEXITI_RECON_CONFIG", "missing.toml", &["runs", "list"]),
    ] {
        let out = run(dir.path(), args, &[(name, value)]).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains(name), "{}", text(&out.stderr));
    }
}
