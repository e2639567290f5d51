//! What a person or a script reads in the terminal, through the binary: the demo's "what to try
//! next" (whose commands work as printed), `--format json` of the listings, and an error said
//! once.

mod common;

use std::path::Path;
use std::process::Output;

use common::{BIN, stderr, stdout};

fn cli(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("FLEXITI_RECON_CONFIG")
        .env_remove("FLEXITI_LOG_FORMAT")
        .current_dir(dir)
        .output()
        .expect("run the binary")
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// The demo in a fresh folder; its stdout.
fn demo(dir: &Path) -> String {
    let data = dir.join("demo");
    let out = cli(dir, &["demo", "--data-dir", data.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

/// The command lines of the demo's "what to try next", as words.
fn suggested(printed: &str) -> Vec<Vec<String>> {
    let next = printed
        .find("What to try next:")
        .unwrap_or_else(|| panic!("no next steps in:\n{printed}"));
    printed[next..]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("flexiti-recon "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
        .collect()
}

#[test]
fn the_demo_says_what_to_try_next_and_each_command_works_as_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = demo(dir.path());
    let commands = suggested(&printed);
    assert_eq!(commands.len(), 3, "export, show, rerun:\n{printed}");
    assert_eq!(commands[0][0], "export");
    assert_eq!(commands[1][..2], ["discrepancies", "show"]);
    assert_eq!(commands[2][0], "demo");
    assert!(printed.contains("outbox"), "{printed}");
    assert!(
        printed.contains(":\n    flexiti-recon export --config "),
        "each command on its own line, indented:\n{printed}"
    );

    let export = cli(
        dir.path(),
        &commands[0].iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let out_dir = dir.path().join("demo/export");
    for file in [
        "discrepancies.csv",
        "summary.csv",
        "rejected_rows.csv",
        "failed_calls.csv",
        "manifest.json",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} exported");
    }

    let show = cli(
        dir.path(),
        &commands[1].iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let id: i64 = commands[1][2].parse().expect("an id");
    assert!(stdout(&show).trim_start().starts_with(&id.to_string()));

    // The largest finding: no other stored finding has a larger |delta|.
    let config = commands[1][4].as_str();
    let all = json(&cli(
        dir.path(),
        &[
            "discrepancies",
            "list",
            "--config",
            config,
            "--format",
            "json",
        ],
    ));
    let cents = |v: &serde_json::Value| -> i64 {
        let text = v["discrepancy"]["delta"].as_str().expect("delta as text");
        text.replace(['.', '-'], "").parse::<i64>().expect("cents")
    };
    let shown = all
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["id"] == id)
        .expect("the shown finding is listed");
    assert!(
        all.as_array()
            .expect("array")
            .iter()
            .all(|d| cents(d) <= cents(shown))
    );

    let rerun = cli(
        dir.path(),
        &commands[2].iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let again = json(&cli(
        dir.path(),
        &[
            "discrepancies",
            "list",
            "--config",
            config,
            "--format",
            "json",
        ],
    ));
    assert_eq!(again.as_array().map(Vec::len), all.as_array().map(Vec::len));
}

#[test]
fn listings_print_json_for_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = demo(dir.path());
    let config = dir.path().join("demo/demo.toml");
    let config = config.to_str().expect("path");

    let runs = json(&cli(
        dir.path(),
        &["runs", "list", "--config", config, "--format", "json"],
    ));
    let runs = runs.as_array().expect("an array of runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], 1);
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["from"], "2026-11-23");
    assert!(
        runs[0]["flexiti"]["sales"].is_string(),
        "exact decimal text"
    );
    assert!(
        printed.contains(&format!("{} Flexiti records", runs[0]["flexiti_records"])),
        "{printed}"
    );

    let run = json(&cli(
        dir.path(),
        &["runs", "show", "1", "--config", config, "--format", "json"],
    ));
    assert_eq!(run["id"], 1);
    assert!(
        run["failed_calls"].is_array() && run["rejected_rows"].is_array(),
        "{run}"
    );

    let list = json(&cli(
        dir.path(),
        &[
            "discrepancies",
            "list",
            "--config",
            config,
            "--format",
            "json",
        ],
    ));
    let list = list.as_array().expect("an array of findings");
    assert!(!list.is_empty());
    let first = &list[0];
    let id = first["id"].as_i64().expect("id");
    let one = json(&cli(
        dir.path(),
        &[
            "discrepancies",
            "show",
            &id.to_string(),
            "--config",
            config,
            "--format",
            "json",
        ],
    ));
    assert_eq!(&one, first, "show and list agree");
    let delta = one["discrepancy"]["delta"].as_str().expect("delta as text");
    assert!(
        delta
            .split_once('.')
            .is_some_and(|(_, cents)| cents.len() == 2),
        "{delta}"
    );
    assert_eq!(one["status"], "open");
}

#[test]
fn an_error_is_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    demo(dir.path());
    let config = dir.path().join("demo/demo.toml");
    let out = cli(
        dir.path(),
        &[
            "runs",
            "show",
            "4242",
            "--config",
            config.to_str().expect("path"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("4242").count(), 1, "once:\n{err}");
    assert_eq!(err.matches("error").count(), 1, "once:\n{err}");
    assert!(err.contains("error: "), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_wrong_category_or_status_is_a_usage_error_listing_the_valid_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = cli(
        dir.path(),
        &["discrepancies", "list", "--category", "amount"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "[possible values: amount_mismatch, date_mismatch, store_mismatch, \
             duplicate_in_flexiti, duplicate_in_ledger, missing_in_ledger, missing_in_flexiti, \
             not_captured, unverified]"
        ),
        "{}",
        stderr(&out)
    );
    let out = cli(dir.path(), &["export", "--out", "x", "--status", "closed"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[possible values: open, resolved, acknowledged]"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("data").exists(),
        "refused before anything is opened"
    );
}
