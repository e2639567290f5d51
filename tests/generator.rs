//! The generator's data sets on disk: the same seed gives the same bytes, and the committed
//! `samples/` are what the generator makes for their options.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flexiti_sandbox::{self as sandbox, GenerateOptions};

use common::{day, files_under, read, samples};

/// The options the committed `samples/` were generated with (see samples/README.md).
fn sample_options(out_dir: &Path) -> GenerateOptions {
    let mut opts = GenerateOptions::new(out_dir, day("2026-11-23"), 1, 40);
    opts.seed = 20_261_123;
    opts.discrepancy_per_mille = 250;
    opts.pretty = true;
    opts
}

#[test]
fn the_same_seed_generates_the_same_bytes_and_another_seed_does_not() {
    let (a, b, c) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let opts = |dir: &Path, seed| {
        let mut o = GenerateOptions::new(dir, day("2026-11-20"), 3, 3_000);
        o.seed = seed;
        o.typo_per_mille = 10;
        o.flexiti_files = 3;
        o.ledger_files = 2;
        o
    };
    let summary = sandbox::generate(&opts(a.path(), 7)).expect("generate a");
    sandbox::generate(&opts(b.path(), 7)).expect("generate b");
    sandbox::generate(&opts(c.path(), 8)).expect("generate c");
    let names = |dir: &Path| {
        files_under(dir)
            .iter()
            .map(|p| p.strip_prefix(dir).expect("prefix").to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(a.path()), names(b.path()));
    assert!(names(a.path()).contains(&PathBuf::from("flexiti/captures-0003.json")));
    assert!(names(a.path()).contains(&PathBuf::from("ledger/ledger-0002.csv")));
    assert!(names(a.path()).contains(&PathBuf::from("typos.csv")));
    for name in names(a.path()) {
        assert_eq!(
            read(&a.path().join(&name)),
            read(&b.path().join(&name)),
            "{}",
            name.display()
        );
    }
    assert_ne!(
        read(&a.path().join("expected.csv")),
        read(&c.path().join("expected.csv"))
    );
    assert!(summary.ledger_rows >= 3_000, "{summary:?}");
}

#[test]
fn the_committed_samples_are_what_the_generator_makes_for_their_options() {
    if std::env::var_os("REGENERATE_SAMPLES").is_some() {
        sandbox::generate(&sample_options(&samples())).expect("regenerate samples");
    }
    let fresh = tempfile::tempdir().expect("tmp");
    sandbox::generate(&sample_options(fresh.path())).expect("generate");
    for name in [
        "flexiti/authorizations.json",
        "flexiti/captures.json",
        "ledger/ledger.csv",
        "expected.csv",
    ] {
        assert_eq!(
            read(&fresh.path().join(name)),
            read(&samples().join(name)),
            "samples/{name} is stale: rerun with REGENERATE_SAMPLES=1"
        );
    }
}

#[test]
fn the_expected_findings_cover_every_category_on_the_reconciled_day() {
    let expected = read(&samples().join("expected.csv"));
    let mut lines = expected.lines();
    assert_eq!(
        lines.next(),
        Some("business_date,category,reference,kind,flexiti_amount,ledger_amount")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let categories: BTreeSet<&str> = rows.iter().map(|r| r[1]).collect();
    for category in [
        "amount_mismatch",
        "date_mismatch",
        "store_mismatch",
        "duplicate_in_flexiti",
        "duplicate_in_ledger",
        "missing_in_ledger",
        "missing_in_flexiti",
        "not_captured",
    ] {
        assert!(
            categories.contains(category),
            "no {category} in samples/expected.csv"
        );
    }
    assert!(rows.iter().all(|r| r[0] == "2026-11-23" && r.len() == 6));
    let references: BTreeSet<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(
        references.len(),
        rows.len(),
        "findings must not share references"
    );
}
