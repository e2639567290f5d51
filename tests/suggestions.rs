//! Likely counterparts of unmatched records, end to end: measured against the typos the
//! generator injected (precision and recall), and seen by a user in the CSV, the database,
//! `discrepancies show` and the email.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use flexiti_recon::domain::{Category, DayRange, Discrepancy, Suggestion};
use flexiti_recon::store::{DiscrepancyFilter, Store};

use flexiti_sandbox::GenerateOptions;

use common::{bin, day, expected_row, expected_rows, generated, reconcile_dir, stderr, stdout};

/// `typos.csv` as (Flexiti reference, ledger reference) pairs.
fn typos(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("typos.csv")).expect("typos.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("business_date,kind,amount,flexiti_reference,ledger_reference,typo")
    );
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[3].to_string(), cells[4].to_string())
        })
        .collect()
}

/// (suggestions made, suggestions right, suggestions the truth calls for).
fn score(findings: &[Discrepancy], truth: &[(String, String)]) -> (usize, usize, usize) {
    let mut wanted: BTreeMap<(Category, &str), &str> = BTreeMap::new();
    for (flexiti, ledger) in truth {
        wanted.insert((Category::MissingInLedger, flexiti), ledger);
        wanted.insert((Category::MissingInFlexiti, ledger), flexiti);
    }
    let made: Vec<(&Discrepancy, &Suggestion)> = findings
        .iter()
        .filter_map(|d| d.suggestion.as_ref().map(|s| (d, s)))
        .collect();
    let right = made
        .iter()
        .filter(|(d, s)| {
            wanted.get(&(d.category, d.reference.as_str())) == Some(&s.reference.as_str())
        })
        .count();
    (made.len(), right, wanted.len())
}

#[test]
fn suggestions_on_a_generated_scenario_with_typos_meet_the_precision_and_recall_targets() {
    let range = DayRange::new(day("2026-11-23"), day("2026-11-25"));
    let dir = tempfile::tempdir().expect("tmp");
    let mut opts = GenerateOptions::new(dir.path(), range.from, 3, 60_000);
    opts.seed = 19;
    opts.discrepancy_per_mille = 20;
    opts.typo_per_mille = 10;
    let summary = flexiti_sandbox::generate(&opts).expect("generate");
    let truth = typos(dir.path());
    assert_eq!(summary.typos, truth.len() as u64);
    assert!(truth.len() >= 300, "{} typos", truth.len());
    let kinds: BTreeSet<String> = std::fs::read_to_string(dir.path().join("typos.csv"))
        .expect("typos.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.rsplit(',').next().map(str::to_string))
        .collect();
    assert_eq!(
        kinds,
        ["changed", "doubled", "dropped", "swapped"]
            .map(String::from)
            .into()
    );

    let findings = reconcile_dir(dir.path(), range);
    let (made, right, wanted) = score(&findings, &truth);
    let precision = right as f64 / made.max(1) as f64;
    let recall = right as f64 / wanted as f64;
    eprintln!(
        "{made} suggestions, {right} right, {wanted} wanted: precision {precision:.4}, recall {recall:.4}"
    );
    assert!(
        precision >= 0.99,
        "precision {precision:.4} ({right} of {made})"
    );
    assert!(recall >= 0.95, "recall {recall:.4} ({right} of {wanted})");
}

#[test]
fn typos_keep_the_expected_findings_exact_and_suggestions_change_none_of_them() {
    let range = DayRange::single(day("2026-11-23"));
    let dir = generated(3, 1, 3_000, |opts| {
        opts.discrepancy_per_mille = 30;
        opts.typo_per_mille = 20;
    });
    let findings = reconcile_dir(dir.path(), range);
    let mut found: Vec<String> = findings.iter().map(expected_row).collect();
    found.sort();
    assert_eq!(found, expected_rows(dir.path()));

    let truth = typos(dir.path());
    let (made, right, wanted) = score(&findings, &truth);
    assert!(
        made > 0 && right == made && wanted == made,
        "{made} {right} {wanted}"
    );
    // The same finding without its suggestion: same fingerprint, same everything else.
    for d in findings.iter().filter(|d| d.suggestion.is_some()) {
        let mut bare = d.clone();
        bare.suggestion = None;
        assert_eq!(bare.fingerprint(), d.fingerprint());
        assert!(matches!(
            d.category,
            Category::MissingInLedger | Category::MissingInFlexiti
        ));
    }
}

async fn cli(dir: &Path, args: &[&str]) -> Output {
    bin(dir)
        .args(args)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .output()
        .await
        .expect("run the binary")
}

#[tokio::test]
async fn a_likely_typo_reaches_the_csv_the_database_discrepancies_show_and_the_email() {
    let dir = generated(4, 1, 400, |opts| {
        opts.discrepancy_per_mille = 0;
        opts.typo_per_mille = 10;
    });
    let truth = typos(dir.path());
    assert!(!truth.is_empty());
    std::fs::write(
        dir.path().join("config.toml"),
        "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
         [flexiti]\nenvironment = \"http://127.0.0.1:9/unused\"\nclient_id = \"acme\"\n\
         [ledger]\nfiles = [\"ledger/*.csv\"]\n\
         [email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n",
    )
    .expect("config");
    let run = cli(
        dir.path(),
        &[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            "flexiti",
            "--csv",
            "out.csv",
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));

    // The CSV: the three columns at the end, on both findings of each typo.
    let csv_text = std::fs::read_to_string(dir.path().join("out.csv")).expect("csv");
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    let n = headers.len();
    assert_eq!(
        (
            &headers[n - 4],
            &headers[n - 3],
            &headers[n - 2],
            &headers[n - 1]
        ),
        (
            "fingerprint",
            "suggested_reference",
            "suggested_id",
            "suggestion"
        )
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let (flexiti_ref, ledger_ref) = &truth[0];
    let row_of = |reference: &str| {
        rows.iter()
            .find(|r| &r[2] == reference)
            .unwrap_or_else(|| panic!("no row for {reference}"))
    };
    let ledger_row = row_of(ledger_ref);
    assert_eq!(&ledger_row[1], "missing_in_flexiti");
    assert_eq!(&ledger_row[n - 3], flexiti_ref.as_str());
    assert!(ledger_row[n - 2].starts_with("capture:"), "{ledger_row:?}");
    assert!(
        ledger_row[n - 1].starts_with(&format!("probably Flexiti {} ", &ledger_row[n - 2])),
        "{ledger_row:?}"
    );
    let flexiti_row = row_of(flexiti_ref);
    assert_eq!(&flexiti_row[1], "missing_in_ledger");
    assert_eq!(&flexiti_row[n - 3], ledger_ref.as_str());
    assert_eq!(
        &flexiti_row[n - 2],
        format!("{}:{}", &ledger_row[17], &ledger_row[18])
    );

    // The database keeps them, and `discrepancies show` prints them.
    let store = Store::connect(
        &format!(
            "sqlite://{}",
            dir.path().join("data/flexiti-recon.db").display()
        ),
        "Test Merchant",
    )
    .await
    .expect("store");
    let stored = store
        .list_discrepancies(&DiscrepancyFilter {
            reference: Some(ledger_ref.clone()),
            ..DiscrepancyFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(stored.len(), 1);
    let suggestion = stored[0]
        .discrepancy
        .suggestion
        .clone()
        .expect("stored suggestion");
    assert_eq!(suggestion.reference, *flexiti_ref);
    assert_eq!(suggestion.why, ledger_row[n - 1]);
    let show = cli(
        dir.path(),
        &["discrepancies", "show", &stored[0].id.to_string()],
    )
    .await;
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    assert!(
        stdout(&show).contains(&format!(
            "  likely {flexiti_ref} ({}): {}",
            suggestion.id, suggestion.why
        )),
        "{}",
        stdout(&show)
    );

    // The email lists each pair once in its own section.
    let outbox = dir.path().join("data/outbox");
    let eml = std::fs::read_dir(&outbox)
        .expect("outbox")
        .flatten()
        .next()
        .expect("one email");
    let raw = std::fs::read(eml.path()).expect("eml");
    let mail = mailparse::parse_mail(&raw).expect("parse");
    let text = mail
        .subparts
        .iter()
        .flat_map(|p| std::iter::once(p).chain(p.subparts.iter()))
        .filter(|p| p.ctype.mimetype == "text/plain")
        .map(|p| p.get_body().expect("body"))
        .next()
        .expect("a text part");
    assert!(
        text.contains(&format!("Likely typos ({})", truth.len())),
        "{text}"
    );
    for (flexiti_ref, ledger_ref) in &truth {
        let line = text
            .lines()
            .find(|l| l.contains(ledger_ref.as_str()) && l.contains("probably"))
            .unwrap_or_else(|| panic!("no typo line for {ledger_ref}: {text}"));
        assert!(line.contains(flexiti_ref.as_str()), "{line}");
    }
}
