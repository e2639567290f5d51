//! `run --replay N` says whether it reproduces run N's findings, or lists the differences; a
//! run whose Flexiti side came from `--flexiti-dir` replays from the files it read, after
//! checking their SHA-256. Through the binary, with the sandbox over real TCP and SQLite.

mod common;

use std::path::PathBuf;

use flexiti_sandbox::Faults;

use common::{Work, samples, text};

const SECRET: &str = "replay-test-secret";

/// The shared work folder, its sandbox serving the samples.
async fn start() -> Work {
    Work::start(SECRET, Faults::default(), "").await
}

/// The sample Flexiti files copied into `<work>/name`, for a `--flexiti-dir` run.
fn copy_flexiti(h: &Work, name: &str) -> PathBuf {
    let target = h.path(name);
    std::fs::create_dir_all(&target).expect("mkdir");
    for file in ["authorizations.json", "captures.json"] {
        std::fs::copy(samples().join("flexiti").join(file), target.join(file)).expect("copy");
    }
    target
}

/// Replaces `from` by `to` in every captures page of run `run`'s bundle; returns the edits made.
fn edit_bundle_captures(h: &Work, run: i64, from: &str, to: &str) -> usize {
    let pages = h.dir.path().join(format!("data/runs/{run}/flexiti"));
    let mut edits = 0;
    for entry in std::fs::read_dir(&pages).expect("pages").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("captures") {
            continue;
        }
        let body = std::fs::read_to_string(entry.path()).expect("page");
        if body.contains(from) {
            edits += body.matches(from).count();
            std::fs::write(entry.path(), body.replace(from, to)).expect("write page");
        }
    }
    edits
}

#[tokio::test]
async fn an_exact_replay_says_so_and_an_edited_bundle_lists_its_differences() {
    let h = start().await;
    let run = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        h.dir.path().join("data/runs/1/findings.json").is_file(),
        "the bundle keeps the run's findings"
    );

    let exact = h
        .cli(&[
            "run",
            "--replay",
            "1",
            "--no-email",
            "--fail-on-discrepancy",
        ])
        .await;
    assert!(
        text(&exact).contains("replay of run 1: reproduces its 8 findings exactly"),
        "{}",
        text(&exact)
    );
    // Run 1's own findings are expected: only a difference fails the replay.
    assert_eq!(exact.status.code(), Some(0), "{}", text(&exact));

    // The amount mismatch disappears (the Flexiti amount now equals the ledger's) and the
    // record missing in the ledger keeps its identity with another amount.
    assert_eq!(edit_bundle_captures(&h, 1, "4702.19", "4705.16"), 1);
    assert_eq!(edit_bundle_captures(&h, 1, "631.59", "631.00"), 1);
    let differs = h
        .cli(&[
            "run",
            "--replay",
            "1",
            "--no-email",
            "--fail-on-discrepancy",
        ])
        .await;
    let out = text(&differs);
    assert!(
        out.contains("replay of run 1 differs: 0 new, 1 gone, 1 changed"),
        "{out}"
    );
    let gone = out
        .lines()
        .find(|l| l.contains("gone:"))
        .unwrap_or_default();
    assert!(
        gone.contains("amount_mismatch ORD-20261123-000001") && gone.contains("4702.19"),
        "{out}"
    );
    let changed = out
        .lines()
        .skip_while(|l| !l.contains("changed: "))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        changed.contains("missing_in_ledger ORD-20261123-000023")
            && changed.contains("flexiti 631.59")
            && changed.contains("flexiti 631.00"),
        "{out}"
    );
    assert_eq!(differs.status.code(), Some(4), "{out}");

    // Without --fail-on-discrepancy the difference is reported, not an error.
    let plain = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert!(text(&plain).contains("replay of run 1 differs"));
}

#[tokio::test]
async fn a_flexiti_dir_run_replays_from_its_checked_files_and_a_modified_file_is_named() {
    let h = start().await;
    let dir = copy_flexiti(&h, "exports");
    let run = h
        .cli(&[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            "exports",
            "--no-email",
        ])
        .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let facts = std::fs::read_to_string(h.dir.path().join("data/runs/1/run.json")).expect("run");
    assert!(
        facts.contains("flexiti_files") && facts.contains("captures.json"),
        "{facts}"
    );

    let replay = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay));
    assert!(
        text(&replay).contains("replay of run 1: reproduces its 8 findings exactly"),
        "{}",
        text(&replay)
    );

    // One byte changed in the folder the run read: the replay refuses, naming the file.
    let captures = dir.join("captures.json");
    let body = std::fs::read_to_string(&captures).expect("captures");
    std::fs::write(&captures, body.replace("4702.19", "4702.18")).expect("edit");
    let refused = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{out}");
    assert!(
        out.contains("captures.json") && out.contains("changed since run 1"),
        "{out}"
    );
    assert!(out.contains("restore the file"), "{out}");

    // Gone is named the same way.
    std::fs::remove_file(&captures).expect("remove");
    let gone = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    let out = text(&gone);
    assert_eq!(gone.status.code(), Some(2), "{out}");
    assert!(
        out.contains("captures.json") && out.contains("is gone"),
        "{out}"
    );
}

#[tokio::test]
async fn a_file_added_to_the_folder_since_the_run_stops_the_replay() {
    let h = start().await;
    let dir = copy_flexiti(&h, "exports");
    let run = h
        .cli(&[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            "exports",
            "--no-email",
        ])
        .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    std::fs::write(dir.join("captures-late.json"), "[]").expect("add");
    let refused = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    let out = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{out}");
    assert!(
        out.contains("captures-late.json") && out.contains("was added since run 1"),
        "{out}"
    );
}

/// `path` made a named pipe that hands out `body` once, to the first reader.
fn pipe_once(path: &std::path::Path, body: Vec<u8>) {
    let _ = std::fs::remove_file(path);
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
    let path = path.to_path_buf();
    // Opening a pipe to write waits for its reader; a thread left waiting ends with the test.
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = pipe.write_all(&body);
        }
    });
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A ledger streamed through a pipe (`--ledger <(gunzip -c day.csv.gz)`) and a Flexiti file
/// likewise can be read only once: the bundle records the SHA-256 of the bytes the run read
/// (a file's hash taken after the run could differ from what was reconciled, or, on a pipe,
/// never come).
#[tokio::test]
async fn the_bundle_records_the_hash_of_the_bytes_the_run_read_even_through_a_pipe() {
    let h = start().await;
    let dir = copy_flexiti(&h, "exports");
    let captures = std::fs::read(dir.join("captures.json")).expect("captures");
    let ledger = std::fs::read(samples().join("ledger/ledger.csv")).expect("ledger");
    pipe_once(&dir.join("captures.json"), captures.clone());
    std::fs::create_dir_all(h.path("pipes")).expect("mkdir");
    pipe_once(&h.path("pipes/ledger.csv"), ledger.clone());

    let run = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        h.command(&[
            "run",
            "--date",
            "2026-11-23",
            "--flexiti-dir",
            "exports",
            "--ledger",
            "pipes/ledger.csv",
            "--no-email",
        ])
        .kill_on_drop(true)
        .output(),
    )
    .await
    .expect("the run ends: nothing reads a pipe twice")
    .expect("run the binary");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("since the last run: 8 new"),
        "{}",
        text(&run)
    );

    let facts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(h.path("data/runs/1/run.json")).expect("run.json"),
    )
    .expect("json");
    let ledger_files = facts["ledger"].as_array().expect("ledger files");
    assert_eq!(ledger_files.len(), 1, "{facts}");
    assert!(
        ledger_files[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("pipes/ledger.csv")),
        "{facts}"
    );
    assert_eq!(ledger_files[0]["sha256"], sha256_hex(&ledger), "{facts}");
    let recorded = |name: &str| {
        facts["flexiti_files"]
            .as_array()
            .expect("flexiti files")
            .iter()
            .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|f| f["sha256"].clone())
            .unwrap_or_else(|| panic!("{name} not recorded: {facts}"))
    };
    assert_eq!(recorded("captures.json"), sha256_hex(&captures));
    let on_disk = std::fs::read(dir.join("authorizations.json")).expect("authorizations");
    assert_eq!(recorded("authorizations.json"), sha256_hex(&on_disk));
}

/// A ledger file rewritten after the run read it (an export landing late, over the file): the
/// run may have read it half-written, so the bundle refuses to vouch for it and the run stores
/// nothing, naming the file.
#[tokio::test]
async fn a_ledger_file_changed_while_the_run_reads_it_fails_the_run_and_stores_nothing() {
    use tokio::io::AsyncBufReadExt;
    // Slow answers from the API keep the run busy after it read the ledger.
    let faults = Faults {
        latency_ms: 300,
        ..Faults::default()
    };
    let h = Work::start(SECRET, faults, "").await;
    let mut child = h
        .command(&["run", "--date", "2026-11-23", "--no-email"])
        .env("RUST_LOG", "flexiti_recon=info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stderr") {
            let done = line.contains("read the ledger");
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await
    .expect("the run reads the ledger");
    assert!(read, "{}", seen.join("\n"));
    let ledger = h.path("ledger/ledger.csv");
    let body = std::fs::read_to_string(&ledger).expect("ledger");
    std::fs::write(&ledger, body.replace("4705.16", "4705.17")).expect("rewrite");
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.expect("stderr") {
        rest.push(line);
    }
    let status = child.wait().await.expect("wait");
    let out = rest.join("\n");
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("ledger file") && out.contains("changed while the run read it"),
        "{out}"
    );
    let store = h.store().await;
    assert!(
        common::stored_findings(&store).await.is_empty(),
        "nothing is stored"
    );
}
