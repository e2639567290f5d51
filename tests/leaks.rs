//! Nothing the product writes leaks a secret, a token or a full account number.
//!
//! A run against the sandbox with marker values (the client secret, the SMTP password, the
//! database password on PostgreSQL, every token the sandbox issues, every account number it
//! serves) under faults that put response bodies into error texts: token replies that do not
//! parse but carry the tokens, a 200 page cut half way, a 409 whose body echoes an account
//! number, a dead date. Then a replay, `export`, `runs show`, `runs list` and
//! `discrepancies list`, logs at `-vv` both human and JSON. Every byte written is searched: the
//! data folder (database file, bundles, outbox, lock), the exports, the metrics file, a
//! `pg_dump` of the PostgreSQL database, and each command's stdout and stderr. Also checked: the
//! modes of what was created, the masked pages and the replay, and the pruning of old bundles.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use flexiti_sandbox::{Faults, SandboxHandle, fault};

use common::{PgDatabase, Work, day, samples, start_sandbox, text};

const SECRET: &str = "leak-marker-client-secret-5f3a9c";
const SMTP_PASSWORD: &str = "leak-marker-smtp-password-7d21e0";
/// With an `@`, as an operator might write it in a URL (and `redact_url` once split wrongly).
const DB_PASSWORD: &str = "leak-marker@db-password-42c8";

/// Every `account_number` the sandbox serves.
fn account_numbers() -> Vec<String> {
    let text = std::fs::read_to_string(samples().join("flexiti/authorizations.json"))
        .expect("sample authorizations");
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
    let numbers: Vec<String> = items
        .iter()
        .filter_map(|a| a.get("account_number"))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect();
    assert!(numbers.len() > 10, "the samples serve account numbers");
    numbers
}

fn leaky_faults() -> Faults {
    Faults {
        // max_attempts is 2: the first run never gets a token, and its failed call holds the
        // excerpt of a token reply.
        bad_token_replies: 2,
        cut_dates: vec![day("2026-11-22")],
        conflict_dates: vec![day("2026-11-24")],
        failing_dates: vec![day("2026-11-25")],
        ..Faults::default()
    }
}

/// The shared work folder with this file's config; everything every command printed.
struct Harness {
    work: Work,
    printed: Vec<u8>,
}

impl std::ops::Deref for Harness {
    type Target = Work;

    fn deref(&self) -> &Work {
        &self.work
    }
}

impl Harness {
    async fn start(database_url: Option<&str>) -> Harness {
        let mut work = Work::new(SECRET);
        let sandbox = start_sandbox(samples(), SECRET, leaky_faults()).await;
        let database = database_url
            .map(|url| format!("[database]\nurl = \"{url}\"\n"))
            .unwrap_or_default();
        work.write_config(&format!(
            "merchant = \"Leak Test\"\ndata_dir = \"data\"\n{database}\
             [flexiti]\nenvironment = \"{}\"\nclient_id = \"acme\"\npage_size = 5\n\
             max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n\
             [ledger]\nfiles = [\"ledger/*.csv\"]\n\
             [email]\ntransport = \"file\"\nto = [\"finance@example.com\"]\n\
             username = \"recon\"\n\
             [metrics]\ntextfile = \"metrics/flexiti_recon.prom\"\n",
            sandbox.base_url()
        ));
        work.sandbox = Some(sandbox);
        Harness {
            work,
            printed: Vec::new(),
        }
    }

    fn sandbox(&self) -> &SandboxHandle {
        self.work.sandbox.as_ref().expect("the sandbox runs")
    }

    async fn cli(&mut self, args: &[&str]) -> Output {
        let out = self
            .work
            .command(args)
            .env("FLEXITI_SMTP_PASSWORD", SMTP_PASSWORD)
            .env_remove("RUST_LOG")
            .output()
            .await
            .expect("run the binary");
        self.printed.extend_from_slice(&out.stdout);
        self.printed.extend_from_slice(&out.stderr);
        out
    }

    /// Every file under the work folder but the inputs the test wrote (config and ledger).
    fn written_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).expect("list").flatten() {
                let path = entry.path();
                if path == self.config_path || path == self.dir.path().join("ledger") {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database's content as text, by `pg_dump` (schema and data).
async fn pg_dump(url: &str) -> Vec<u8> {
    let out = tokio::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(url)
        .output()
        .await
        .expect("pg_dump (package postgresql-client) must be installed");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(contains(&out.stdout, "api_failures"), "a real dump");
    out.stdout
}

/// The whole scenario; on PostgreSQL, `dump_url` names the database to dump with `pg_dump`
/// (its file is not in the work folder).
async fn scenario(database_url: Option<String>, dump_url: Option<String>) {
    let database_url = database_url.as_deref();
    let mut h = Harness::start(database_url).await;

    let first = h.cli(&["-vv", "run", "--date", "2026-11-23"]).await;
    assert_eq!(first.status.code(), Some(3), "{}", text(&first));
    let second = h
        .cli(&["-vv", "--log-format", "json", "run", "--date", "2026-11-23"])
        .await;
    assert_eq!(second.status.code(), Some(3), "{}", text(&second));
    let replay = h.cli(&["-vv", "run", "--replay", "2", "--no-email"]).await;
    assert_eq!(replay.status.code(), Some(3), "{}", text(&replay));
    for args in [
        &["-vv", "export", "--out", "exports"][..],
        &["-vv", "runs", "show", "1"][..],
        &["-vv", "--log-format", "json", "runs", "show", "2"][..],
        &["runs", "list"][..],
        &["-vv", "discrepancies", "list"][..],
    ] {
        let out = h.cli(args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }

    // The faults did put bodies into error texts: every one fired and was reported.
    let stats = h.sandbox().stats();
    for kind in [
        fault::BAD_TOKEN_REPLY,
        fault::CUT_PAGE,
        fault::CONFLICT,
        fault::FAILING_DATE,
    ] {
        assert!(stats.faults_of(kind) > 0, "fault {kind} never fired");
    }
    let show_first = text(&h.cli(&["runs", "show", "1"]).await);
    assert!(
        show_first.contains("unparseable body") && show_first.contains("access_token"),
        "the token reply's excerpt is stored: {show_first}"
    );
    let show_second = text(&h.cli(&["runs", "show", "2"]).await);
    assert!(
        show_second.contains("unparseable body") && show_second.contains("****"),
        "the cut page's excerpt is stored, its account numbers masked: {show_second}"
    );
    assert!(
        show_second.contains("409 wrong_inputs") && show_second.contains("account closed"),
        "the 409's body is stored: {show_second}"
    );

    // The bundle keeps masked pages, and the replay of run 2 found what run 2 found.
    let pages = h.dir.path().join("data/runs/2/flexiti");
    let page_text: String = std::fs::read_dir(&pages)
        .expect("bundle pages")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("page"))
        .collect();
    assert!(
        page_text.contains("\"account_number\":\"****"),
        "{page_text}"
    );
    let findings = |o: &Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("  ") && l.ends_with(" CAD"))
            .map(str::to_string)
            .collect()
    };
    assert!(!findings(&second).is_empty(), "{}", text(&second));
    assert_eq!(findings(&replay), findings(&second));
    let manifest =
        std::fs::read_to_string(h.dir.path().join("data/runs/2/manifest.json")).expect("manifest");
    assert!(
        manifest.contains("masked to its last four digits"),
        "{manifest}"
    );
    let config_copy =
        std::fs::read_to_string(h.dir.path().join("data/runs/2/config.toml")).expect("config copy");
    assert!(
        config_copy.contains("client_id = \"acme\""),
        "{config_copy}"
    );

    // Markers: nothing may hold any of them.
    let mut markers: Vec<String> = vec![SECRET.into(), SMTP_PASSWORD.into()];
    if database_url.is_some_and(|u| u.contains(DB_PASSWORD)) {
        markers.push(DB_PASSWORD.into());
    }
    let tokens = h.sandbox().issued_tokens();
    assert!(
        tokens.len() >= 6,
        "two bad replies and a good one: {tokens:?}"
    );
    markers.extend(tokens);
    markers.extend(account_numbers());

    let mut sources: Vec<(String, Vec<u8>)> = h
        .written_files()
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read a written file");
            (p.display().to_string(), bytes)
        })
        .collect();
    let names: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        ".eml",
        "exports/manifest.json",
        "flexiti_recon.prom",
        "run.json",
    ] {
        assert!(
            names.iter().any(|n| n.contains(expected)),
            "nothing like {expected} was written: {names:?}"
        );
    }
    sources.push(("the terminal".into(), h.printed.clone()));
    if let Some(url) = &dump_url {
        sources.push(("the database dump".into(), pg_dump(url).await));
    }
    let mut hits = Vec::new();
    for (name, bytes) in &sources {
        for marker in &markers {
            if contains(bytes, marker) {
                hits.push(format!("{name}: {marker}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "{} leaks:\n{}",
        hits.len(),
        hits.join("\n")
    );

    check_modes(&h);
}

/// Files 0600 and folders 0700 for everything the product keeps; the metrics file is public.
fn check_modes(h: &Harness) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let root = h.dir.path();
    for dir in ["data", "data/runs", "data/runs/2", "data/outbox", "exports"] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir}");
    }
    for file in h.written_files() {
        let expected = if file.ends_with("metrics/flexiti_recon.prom") {
            0o644
        } else {
            0o600
        };
        assert_eq!(mode(&file), expected, "{}", file.display());
    }
}

#[tokio::test]
async fn nothing_leaks_anywhere_the_product_writes_on_sqlite() {
    scenario(None, None).await;
}

#[tokio::test]
async fn nothing_leaks_anywhere_the_product_writes_on_postgres() {
    let db = PgDatabase::create("flexiti_leaks").await;
    let (scheme, rest) = db.url().split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').expect("a user in the URL");
    let (host, name) = host.split_once('/').expect("a database in the URL");
    // Trust authentication ignores a password: the marker one travels only in our own URL.
    let url = if userinfo.contains(':') {
        format!("{scheme}://{userinfo}@{host}/{name}")
    } else {
        format!("{scheme}://{userinfo}:{DB_PASSWORD}@{host}/{name}")
    };
    let dump_url = format!("{scheme}://{userinfo}@{host}/{name}");
    scenario(Some(url), Some(dump_url)).await;
}

#[tokio::test]
async fn old_audit_bundles_are_pruned_at_the_end_of_a_run_and_the_run_says_so() {
    let mut h = Harness::start(None).await;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&h.config_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"[audit]\nkeep_days = 30\n"))
        .expect("config");
    // The faulty sandbox makes runs partial; that does not matter here.
    let first = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert_eq!(first.status.code(), Some(3), "{}", text(&first));
    let second = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert!(!text(&second).contains("pruned"), "{}", text(&second));
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(31 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(h.dir.path().join("data/runs/1/run.json"))
        .and_then(|f| f.set_modified(old))
        .expect("age run 1");
    let third = h.cli(&["run", "--date", "2026-11-23", "--no-email"]).await;
    assert!(
        String::from_utf8_lossy(&third.stdout)
            .contains("pruned audit bundles (older than audit.keep_days): runs 1"),
        "{}",
        text(&third)
    );
    assert!(!h.dir.path().join("data/runs/1").exists());
    assert!(h.dir.path().join("data/runs/2/run.json").exists());
    assert!(h.dir.path().join("data/runs/3/run.json").exists());
    let replay = h.cli(&["run", "--replay", "1", "--no-email"]).await;
    assert_eq!(replay.status.code(), Some(2), "{}", text(&replay));
}
