//! The fault matrix: one row per fault, each run through the real binary against the real
//! sandbox over TCP, a real SQLite file or PostgreSQL database, and a real SMTP server (Python's
//! aiosmtpd, as in `tests/notify.rs`). `docs/FAULTS.md` lists the same rows; a test keeps the
//! two in step.
//!
//! Every row runs the sample night (2026-11-23, `samples/`) once with its fault and checks:
//! - the exit code, and words of stderr;
//! - the status of the latest stored run, and words of `runs show` for it;
//! - the stored findings against a clean baseline run of the same night (itself checked against
//!   `samples/expected.csv`), fingerprints included: all of them, none, or only what an
//!   incomplete day may show (nothing invented, no `missing_in_flexiti`/`not_captured` on it);
//! - how many emails the SMTP server received for the row, and words in them;
//! - that the sandbox really injected the fault (`fired`), and no output or email holds the
//!   client secret;
//!
//! then runs the night again without the fault (a clean sandbox, the sample ledger, a working
//! database and SMTP server) and checks that nothing was lost or duplicated: the open findings
//! are exactly the clean night's, one row each, anything else is a resolved `unverified`, no run
//! is left `running`, and the faulty run ended with the status the row expects (`abandoned`
//! after a kill -9).
//!
//! Adding a row is one entry in [`cases`] (and one line in `docs/FAULTS.md`); a new kind of
//! fault is one variant of [`Fault`] and its set-up in [`Row::prepare`] or [`Row::during`].
//! `FAULT_MATRIX_ROWS=name,name` runs only the named rows.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use flexiti_recon::store::{DiscrepancyFilter, Store};
use flexiti_sandbox::{self as sandbox, Faults, SandboxHandle, fault};
use sqlx::{Connection, Executor};

use common::{BIN, PgDatabase, expected_row, samples, sandbox_options};

const SECRET: &str = "fault-matrix-secret";
const WRONG_SECRET: &str = "wrong-client-secret-42";
const DAY: &str = "2026-11-23";
/// Rows run at once: most of a row's time is spent waiting (latency, timeouts, locks).
const PARALLEL_ROWS: usize = 6;
/// Longest a single run of the binary may take before the row fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// O_NONBLOCK on Linux: opening a FIFO for writing fails (ENXIO) until a reader has it open.
const O_NONBLOCK: i32 = 0o4000;

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// What goes wrong in a row.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Nothing: the clean night.
    None,
    /// The sandbox with this fault spec (`sandbox serve --faults` syntax).
    Sandbox(&'static str),
    /// Nothing listens where the Flexiti API should be (the token endpoint included).
    ApiDown,
    /// The client secret the binary is given is not the one the sandbox knows.
    WrongSecret,
    Ledger(LedgerFault),
    Db(DbFault),
    Smtp(SmtpFault),
    DiskFull(Disk),
    /// kill -9 while the run is in this stage.
    Kill(Stage),
    /// A second run starts while the first holds the lock; `wait` passes `--wait`.
    TwoRuns {
        wait: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum LedgerFault {
    /// The configured file does not exist.
    Missing,
    /// The configured pattern matches no file.
    NoMatch,
    /// The configured path is a folder, not a file.
    Folder,
    /// The file's whole content.
    Content(&'static str),
    /// Rows appended to the sample ledger (its line 54 onwards).
    Append(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum DbFault {
    /// The clean night on PostgreSQL.
    Postgres,
    /// The SQLite file's folder cannot be created (a file is in the way).
    SqliteNoFolder,
    /// Nothing listens where PostgreSQL should be.
    PostgresDown,
    /// Another session holds SQLite's write lock from the fetch until the run has exited.
    SqliteLockedAtCommit,
    /// The SQLite file (with its WAL) is deleted during the fetch.
    SqliteDeletedDuringFetch,
    /// The backend running the results' transaction is killed with `pg_terminate_backend`.
    PostgresTerminatedAtCommit,
    /// The database is dropped (`WITH (FORCE)`) during the fetch.
    PostgresDroppedDuringFetch,
    /// Every backend of the run is killed after the commit, while the email is failing.
    PostgresTerminatedAfterCommit,
    /// Another session takes SQLite's write lock after the commit, while the email is failing.
    SqliteLockedAfterCommit,
}

#[derive(Debug, Clone, Copy)]
enum SmtpFault {
    /// Nothing listens on the SMTP port.
    Refused,
    /// The server accepts the connection and never greets.
    Silent,
    /// The server greets with 554 and hangs up.
    Rejects,
}

#[derive(Debug, Clone, Copy)]
enum Disk {
    /// The bundle's `run.json` is a link to `/dev/full` (every write: ENOSPC).
    DevFull,
    /// `data/runs` is a 4 KiB tmpfs (needs mount rights: skipped without them).
    TinyTmpfs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading the ledger (the ledger file is a FIFO nobody writes to).
    Ledger,
    /// Fetching (the sandbox answers after 3 s).
    Fetch,
    /// After reconciling, writing the audit bundle (its `run.json` is a FIFO nobody reads).
    Bundle,
    /// Storing the results on SQLite (another session holds the write lock).
    Store,
    /// Storing the results on PostgreSQL (another session holds a table lock).
    StorePostgres,
    /// Sending the email (the SMTP server never greets).
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Exactly the clean night's findings, all open.
    Baseline,
    /// No finding at all.
    Nothing,
    /// Some days incomplete: every finding is the clean night's or `unverified`, at least one
    /// is `unverified`, none is `missing_in_flexiti` or `not_captured`.
    Incomplete,
    /// The database cannot be read after the run (unreachable or dropped).
    Unreadable,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    fault: Fault,
    /// An edit of the config file (e.g. fewer attempts).
    tweak: Option<fn(String) -> String>,
    /// Exit code of the faulty run (of the second run for `TwoRuns`); `None` when killed.
    exit: Option<i32>,
    /// Status of the latest stored run; `None`: no run row.
    status: Option<&'static str>,
    stored: Stored,
    /// Emails the SMTP server received for the row, and words one of them holds.
    mails: usize,
    mail: &'static [&'static str],
    /// Words of `runs show` for the latest run.
    show: &'static [&'static str],
    stderr: &'static [&'static str],
    /// Status of the faulty run once the clean run has followed (default: `status`).
    after: Option<&'static str>,
    /// Sandbox fault kinds that must have been injected.
    fired: &'static [&'static str],
}

fn case(name: &'static str, fault: Fault) -> Case {
    Case {
        name,
        fault,
        tweak: None,
        exit: Some(0),
        status: Some("succeeded"),
        stored: Stored::Baseline,
        mails: 1,
        mail: &[],
        show: &[],
        stderr: &[],
        after: None,
        fired: &[],
    }
}

impl Case {
    fn exit(mut self, code: Option<i32>) -> Self {
        self.exit = code;
        self
    }
    fn status(mut self, status: Option<&'static str>) -> Self {
        self.status = status;
        self
    }
    fn stored(mut self, stored: Stored) -> Self {
        self.stored = stored;
        self
    }
    fn mails(mut self, count: usize, words: &'static [&'static str]) -> Self {
        self.mails = count;
        self.mail = words;
        self
    }
    fn show(mut self, words: &'static [&'static str]) -> Self {
        self.show = words;
        self
    }
    fn stderr(mut self, words: &'static [&'static str]) -> Self {
        self.stderr = words;
        self
    }
    fn after(mut self, status: &'static str) -> Self {
        self.after = Some(status);
        self
    }
    fn fired(mut self, kinds: &'static [&'static str]) -> Self {
        self.fired = kinds;
        self
    }
    fn tweak(mut self, edit: fn(String) -> String) -> Self {
        self.tweak = Some(edit);
        self
    }

    /// A run that stops before anything is judged: exit 1, run `failed`, nothing stored, an
    /// alert emailed.
    fn failed(self, stderr: &'static [&'static str]) -> Self {
        self.exit(Some(1))
            .status(Some("failed"))
            .stored(Stored::Nothing)
            .mails(1, &["FAILED 2026-11-23: run failed"])
            .stderr(stderr)
    }

    /// Killed with -9 in a stage before the results were committed: the run stays `running`
    /// until the next run marks it `abandoned`; nothing stored, nothing emailed.
    fn killed(self) -> Self {
        self.exit(None)
            .status(Some("running"))
            .stored(Stored::Nothing)
            .mails(0, &[])
            .show(&["running for 2026-11-23"])
            .after("abandoned")
    }

    /// Results stored but some Flexiti calls failed: exit 3, `partial`.
    fn partial(self) -> Self {
        self.exit(Some(3))
            .status(Some("partial"))
            .stored(Stored::Incomplete)
    }

    /// Results stored but the email failed: exit 3, `partial`, no email.
    fn email_failed(self, stdout_words: &'static [&'static str]) -> Self {
        self.exit(Some(3))
            .status(Some("partial"))
            .mails(0, &[])
            .show(stdout_words)
    }
}

const PARTIAL_MAIL: &[&str] = &["[flexiti-recon] PARTIAL 2026-11-23", "Failed API calls"];

fn more_attempts(text: String) -> String {
    text.replace("max_attempts = 2", "max_attempts = 8")
}

/// A row dated 2026-11-23 for an order of its own; `{}`-free so it can be a literal.
macro_rules! row {
    ($sold_at:literal, $order:literal, $kind:literal, $amount:literal, $currency:literal) => {
        concat!(
            $sold_at,
            ",00-12345,R01,",
            $order,
            ",",
            $kind,
            ",FLEXITI,",
            $amount,
            ",",
            $currency,
            "\n"
        )
    };
}

fn cases() -> Vec<Case> {
    use Fault::*;
    vec![
        // The clean night: the baseline every other row is compared with.
        case("clean_night", None).mails(
            1,
            &["[flexiti-recon] 2026-11-23: 8 discrepancies (11,383.34 CAD), 0 failed API calls"],
        ),
        case("clean_night_postgres", Db(DbFault::Postgres))
            .mails(1, &["2026-11-23: 8 discrepancies"]),
        // ---- Flexiti API faults the client absorbs: the night is complete ----
        case("api_latency", Sandbox("latency_ms=40")).fired(&[fault::LATENCY]),
        case(
            "api_server_errors",
            Sandbox("seed=3,server_error_per_mille=250"),
        )
        .tweak(more_attempts)
        .fired(&[fault::SERVER_ERROR]),
        case(
            "api_rate_limited",
            Sandbox("seed=1,rate_limit_per_mille=150,retry_after_secs=1"),
        )
        .tweak(|t| more_attempts(t).replace("backoff_cap_ms = 50", "backoff_cap_ms = 2000"))
        .fired(&[fault::RATE_LIMIT]),
        case(
            "api_token_expires_early",
            Sandbox("token_ttl_secs=1,latency_ms=150"),
        )
        .tweak(|t| t + "concurrency = 1\n")
        .fired(&[fault::EXPIRED_TOKEN]),
        case(
            "api_malformed_json",
            Sandbox("seed=4,malformed_json_per_mille=250"),
        )
        .tweak(more_attempts)
        .fired(&[fault::MALFORMED_JSON]),
        case(
            "api_dropped_connections",
            Sandbox("seed=5,drop_connection_per_mille=250"),
        )
        .tweak(more_attempts)
        .fired(&[fault::DROP_CONNECTION]),
        case(
            "api_fails_first_two_calls",
            Sandbox("fail_first_n_per_call=2"),
        )
        .tweak(|t| t.replace("max_attempts = 2", "max_attempts = 3"))
        .fired(&[fault::FAIL_FIRST_N]),
        case("api_wrapped_pages", Sandbox("wrapped_pages")),
        // ---- Flexiti API faults it cannot absorb: the night is partial ----
        case("api_failing_date", Sandbox("failing_dates=2026-11-24"))
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&[
                "not fully fetched: 2026-11-23",
                "failed call: GET /v2.5.1/client-id/{client_id}/captures",
                "creation_date_from=2026-11-24",
            ])
            .fired(&[fault::FAILING_DATE]),
        case(
            "api_fails_every_attempt",
            Sandbox("fail_first_n_per_call=5"),
        )
        .partial()
        .mails(1, PARTIAL_MAIL)
        .show(&["not fully fetched: 2026-11-23", "503"])
        .fired(&[fault::FAIL_FIRST_N]),
        case("api_maintenance", Sandbox("maintenance"))
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&[
                "not fully fetched: 2026-11-23",
                "failed call: POST /v2.5/oauth/token",
            ])
            .fired(&[fault::MAINTENANCE]),
        case("api_slower_than_timeout", Sandbox("latency_ms=2500"))
            .tweak(|t| t.replace("timeout_secs = 5", "timeout_secs = 1"))
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&[
                "not fully fetched: 2026-11-23",
                "failed call: POST /v2.5/oauth/token",
            ]),
        case("api_unreachable", ApiDown)
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&["failed call: POST /v2.5/oauth/token"]),
        case("api_wrong_client_secret", WrongSecret)
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&["failed call: POST /v2.5/oauth/token", "400 invalid_client"]),
        // ---- hostile Flexiti replies: refused, reported, never a panic or a silent gap ----
        case(
            "api_token_expires_in_beyond_u64",
            Sandbox("token_expires_in=18446744073709551615"),
        )
        .partial()
        .mails(1, PARTIAL_MAIL)
        .show(&[
            "failed call: POST /v2.5/oauth/token",
            "expires_in 18446744073709551615",
        ])
        .fired(&[fault::TOKEN_EXPIRES_IN]),
        case(
            "api_token_redirected_elsewhere",
            Sandbox("redirect_token_to=http://127.0.0.1:9/pos-api"),
        )
        .partial()
        .mails(1, PARTIAL_MAIL)
        .show(&[
            "failed call: POST /v2.5/oauth/token",
            "the token call is never redirected",
        ])
        .fired(&[fault::REDIRECT]),
        case("api_endless_list_body", Sandbox("endless_list_body"))
            .tweak(|t| t + "max_body_bytes = 1048576\n")
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&["not fully fetched: 2026-11-23", "body over 1048576 bytes"])
            .fired(&[fault::ENDLESS_BODY]),
        case(
            "api_rate_limits_every_ninth_request",
            Sandbox("rate_limit_every=9,retry_after_secs=1"),
        )
        .fired(&[fault::RATE_LIMIT]),
        case("api_caps_page_size_silently", Sandbox("page_size_cap=3"))
            .partial()
            .mails(1, PARTIAL_MAIL)
            .show(&["not fully fetched: 2026-11-23", "page_size"])
            .fired(&[fault::PAGE_SIZE_CAP]),
        // ---- ledger files ----
        case("ledger_missing", Ledger(LedgerFault::Missing))
            .failed(&["ledger/ledger.csv: cannot open: No such file or directory"]),
        case(
            "ledger_pattern_matches_nothing",
            Ledger(LedgerFault::NoMatch),
        )
        .exit(Some(1))
        .status(Option::None)
        .stored(Stored::Nothing)
        .mails(0, &[])
        .stderr(&["ledger pattern ledger/*.txt: no file matches"]),
        case("ledger_unreadable", Ledger(LedgerFault::Folder))
            .failed(&["ledger/ledger.csv: cannot read the header: Is a directory"]),
        case(
            "ledger_header_without_amount",
            Ledger(LedgerFault::Content(
                "sold_at,store_id,register_id,order_id,txn_type,tender,total,currency\n\
                 2026-11-23 10:00:00,00-12345,R01,ORD-20261123-000001,SALE,FLEXITI,4705.16,CAD\n",
            )),
        )
        .failed(&["ledger/ledger.csv", "amount"]),
        case("ledger_empty", Ledger(LedgerFault::Content(""))).failed(&["ledger/ledger.csv"]),
        case(
            "ledger_bad_amount",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "ORD-20261123-900001",
                "SALE",
                "12.3.4",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54 bad amount"]),
        case(
            "ledger_bad_date",
            Ledger(LedgerFault::Append(row!(
                "2026-13-45 15:00:00",
                "ORD-20261123-900002",
                "SALE",
                "100.00",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54"]),
        case(
            "ledger_unknown_type",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "ORD-20261123-900003",
                "VOID",
                "100.00",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54 unknown type 'VOID'"]),
        case(
            "ledger_other_currency",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "ORD-20261123-900004",
                "SALE",
                "100.00",
                "USD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54", "USD"]),
        case(
            "ledger_negative_sale",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "ORD-20261123-900005",
                "SALE",
                "-100.00",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&[
            "rejected rows 1",
            "ledger.csv:54 bad amount '-100.00': a SALE must not be negative",
        ]),
        case(
            "ledger_missing_order_id",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "",
                "SALE",
                "100.00",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54"]),
        case(
            "ledger_short_row",
            Ledger(LedgerFault::Append("2026-11-23 15:00:00,00-12345\n")),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&[
            "rejected rows 1",
            "ledger.csv:54",
            "2 cells, the header has 8",
        ]),
        case(
            "ledger_long_row",
            Ledger(LedgerFault::Append(
                "2026-11-23 15:00:00,00-12345,R01,ORD-20261123-900006,SALE,FLEXITI,100.00,CAD,x\n",
            )),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&[
            "rejected rows 1",
            "ledger.csv:54",
            "9 cells, the header has 8",
        ]),
        case(
            "ledger_implausible_amount",
            Ledger(LedgerFault::Append(row!(
                "2026-11-23 15:00:00",
                "ORD-20261123-900007",
                "SALE",
                "92233720368547758.07",
                "CAD"
            ))),
        )
        .mails(1, &["Rejected ledger rows (1)"])
        .show(&["rejected rows 1", "ledger.csv:54", "ledger.max_amount"]),
        // ---- the database ----
        case("sqlite_folder_blocked", Db(DbFault::SqliteNoFolder))
            .exit(Some(1))
            .status(Option::None)
            .stored(Stored::Unreadable)
            .mails(0, &[])
            .stderr(&["creating the database folder"]),
        case("postgres_unreachable", Db(DbFault::PostgresDown))
            .exit(Some(1))
            .status(Option::None)
            .stored(Stored::Unreadable)
            .mails(0, &[])
            // Refused at once, within the 10 s connect timeout, naming the server (no password).
            .stderr(&[
                "connecting to the postgres database at 127.0.0.1:",
                "Connection refused",
            ]),
        case("sqlite_locked_at_commit", Db(DbFault::SqliteLockedAtCommit))
            // The results' transaction gives up after sqlx's 5 s busy timeout; marking the run
            // failed meets the same lock and retries until the other session lets go. Nothing
            // is half-written.
            .failed(&[
                "database is locked",
                "marking run 1 failed: the database is locked; retrying",
            ])
            .mails(1, &["FAILED 2026-11-23: run failed", "database is locked"])
            .show(&["failed for 2026-11-23", "database is locked"]),
        case(
            "postgres_terminated_at_commit",
            Db(DbFault::PostgresTerminatedAtCommit),
        )
        .failed(&["terminating connection due to administrator command"])
        .show(&["error:"]),
        case(
            "postgres_dropped_during_fetch",
            Db(DbFault::PostgresDroppedDuringFetch),
        )
        .exit(Some(1))
        .status(Option::None)
        .stored(Stored::Unreadable)
        .mails(1, &["FAILED 2026-11-23: run failed"])
        .stderr(&["error:"]),
        case(
            "sqlite_deleted_during_fetch",
            Db(DbFault::SqliteDeletedDuringFetch),
        )
        // The store notices before committing that the file it opened is gone: the run fails
        // and says so, nothing claims to be stored; the clean run afterwards stores them.
        .exit(Some(1))
        .status(Option::None)
        .stored(Stored::Nothing)
        .mails(
            1,
            &[
                "FAILED 2026-11-23: run failed",
                "flexiti-recon.db was deleted during the run",
            ],
        )
        .stderr(&[
            "the results of run 1 are not stored",
            "the sqlite database file",
            "flexiti-recon.db was deleted during the run",
        ]),
        case(
            "postgres_terminated_after_commit",
            Db(DbFault::PostgresTerminatedAfterCommit),
        )
        .email_failed(&["error: email failed: smtp 127.0.0.1:"]),
        case(
            "sqlite_locked_after_commit",
            Db(DbFault::SqliteLockedAfterCommit),
        )
        // Marking the run partial meets the lock and retries until the other session lets go.
        .email_failed(&["error: email failed: smtp 127.0.0.1:"])
        .stderr(&[
            "email failed: smtp 127.0.0.1:",
            "marking run 1 partial: the database is locked; retrying",
        ]),
        // ---- SMTP ----
        case("smtp_refused", Smtp(SmtpFault::Refused))
            .email_failed(&["error: email failed: smtp 127.0.0.1:"]),
        // The whole send is bounded by 4 x the SMTP timeout (1 s here).
        case("smtp_never_greets", Smtp(SmtpFault::Silent)).email_failed(&[
            "error: email failed: smtp 127.0.0.1:",
            "no answer within 4 s",
        ]),
        case("smtp_rejects_with_554", Smtp(SmtpFault::Rejects))
            .email_failed(&["error: email failed: smtp 127.0.0.1:"]),
        // ---- the disk under the audit bundle ----
        case("bundle_disk_full", DiskFull(Disk::DevFull))
            .failed(&["run.json: cannot write", "No space left on device"]),
        case("bundle_tmpfs_full", DiskFull(Disk::TinyTmpfs))
            .failed(&["cannot write", "No space left on device"]),
        // ---- kill -9 in each stage ----
        case("kill_while_reading_ledger", Kill(Stage::Ledger)).killed(),
        case("kill_while_fetching", Kill(Stage::Fetch)).killed(),
        case("kill_while_writing_bundle", Kill(Stage::Bundle)).killed(),
        case("kill_while_storing_sqlite", Kill(Stage::Store)).killed(),
        case("kill_while_storing_postgres", Kill(Stage::StorePostgres)).killed(),
        case("kill_while_emailing", Kill(Stage::Email))
            // The results were committed before the email, marked as still to send: the run
            // says `succeeded` and that its email is pending; the next run reports it unsent.
            .exit(Option::None)
            .mails(0, &[])
            .show(&["succeeded for 2026-11-23", "email: pending: not sent"]),
        // ---- two runs at once ----
        case("second_run_exits_75", TwoRuns { wait: false })
            .exit(Some(75))
            .stderr(&["another run for merchant 'Test Merchant' is in progress"])
            .show(&["run 1: succeeded"]),
        case("second_run_waits", TwoRuns { wait: true })
            .mails(2, &["2026-11-23: 8 discrepancies"])
            .show(&["run 2: succeeded"]),
    ]
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[test]
fn docs_faults_md_lists_exactly_the_rows_of_the_matrix() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FAULTS.md");
    let text = std::fs::read_to_string(&path).expect("docs/FAULTS.md");
    let documented: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(name, _)| name.to_string()))
        .collect();
    let tested: Vec<String> = cases().iter().map(|c| c.name.to_string()).collect();
    let unique: BTreeSet<&String> = tested.iter().collect();
    assert_eq!(unique.len(), tested.len(), "a row name is used twice");
    let documented_set: BTreeSet<&String> = documented.iter().collect();
    assert_eq!(
        documented_set.len(),
        documented.len(),
        "a row is listed twice"
    );
    let missing: Vec<_> = unique.difference(&documented_set).collect();
    let extra: Vec<_> = documented_set.difference(&unique).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/FAULTS.md lacks {missing:?}; lists rows the tests do not have: {extra:?}"
    );
    assert!(tested.len() >= 30, "{} rows", tested.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_fault_matrix_ends_as_documented() {
    let only: Option<BTreeSet<String>> = std::env::var("FAULT_MATRIX_ROWS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let smtp = Arc::new(Aiosmtpd::start().await);
    let baseline = Arc::new(
        Baseline::run(&smtp)
            .await
            .expect("the clean baseline night"),
    );
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL_ROWS));
    let mut rows = tokio::task::JoinSet::new();
    let started = Instant::now();
    for case in cases() {
        if only.as_ref().is_some_and(|o| !o.contains(case.name)) {
            continue;
        }
        let (smtp, gate, baseline) = (smtp.clone(), gate.clone(), baseline.clone());
        rows.spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            let t = Instant::now();
            let result = Row::run(case, &smtp, &baseline).await;
            (case.name, t.elapsed(), result)
        });
    }
    let mut failures = Vec::new();
    let mut report = Vec::new();
    while let Some(done) = rows.join_next().await {
        let (name, took, result) = done.expect("a row panicked");
        match result {
            Ok(note) => report.push(format!("ok    {name} ({:.1} s){note}", took.as_secs_f64())),
            Err(e) => {
                report.push(format!("FAIL  {name} ({:.1} s)", took.as_secs_f64()));
                failures.push(format!("{name}: {e:#}"));
            }
        }
    }
    report.sort_by(|a, b| a[6..].cmp(&b[6..]));
    eprintln!(
        "fault matrix, {} rows in {:.1} s:\n{}",
        report.len(),
        started.elapsed().as_secs_f64(),
        report.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} rows failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// One row
// ---------------------------------------------------------------------------------------------

/// A finding with its fingerprint (its identity: day, category, reference, kind and both
/// records' ids), so that a finding paired with other records does not pass for the same.
fn full_key_of(s: &flexiti_recon::report::StoredDiscrepancy) -> String {
    format!("{} {}", expected_row(&s.discrepancy), s.fingerprint)
}

/// The clean night, as a clean run of the same scenario stored it.
struct Baseline {
    /// [`expected_row`] of each finding, sorted.
    keys: Vec<String>,
    /// [`full_key_of`] each finding, sorted.
    full: Vec<String>,
}

impl Baseline {
    /// Runs the clean night once and checks it against the findings the sample data set was
    /// made with (`samples/expected.csv`).
    async fn run(smtp: &Aiosmtpd) -> Result<Baseline> {
        let text = std::fs::read_to_string(samples().join("expected.csv"))?;
        let mut expected: Vec<String> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        expected.sort();
        let mut row = Row::prepare(case("baseline", Fault::None), smtp, None).await?;
        let ran = row.faulty_run().await?;
        ensure!(ran.code == Some(0), "the baseline run: {}", ran.stderr);
        let store = row.store().await?;
        let stored = store
            .list_discrepancies(&DiscrepancyFilter::default())
            .await?;
        store.close().await;
        if let Some(sandbox) = row.sandbox.take() {
            sandbox.shutdown().await;
        }
        let mut keys: Vec<String> = stored
            .iter()
            .map(|s| expected_row(&s.discrepancy))
            .collect();
        keys.sort();
        ensure!(keys == expected, "the clean night stored {keys:#?}");
        let mut full: Vec<String> = stored.iter().map(full_key_of).collect();
        full.sort();
        Ok(Baseline { keys, full })
    }
}

/// A run of the binary as it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A tmpfs mounted for a row, unmounted when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

struct Row<'a> {
    case: Case,
    smtp: &'a Aiosmtpd,
    /// `None` while the baseline itself runs.
    baseline: Option<&'a Baseline>,
    dir: tempfile::TempDir,
    config: PathBuf,
    sandbox: Option<SandboxHandle>,
    api_url: String,
    smtp_port: u16,
    /// Accepted connections of this row's own misbehaving SMTP server.
    smtp_accepted: Arc<AtomicUsize>,
    db_url: String,
    pg: Option<PgDatabase>,
    mount: Option<Mount>,
    runs: usize,
}

impl<'a> Row<'a> {
    async fn run(case: Case, smtp: &'a Aiosmtpd, baseline: &'a Baseline) -> Result<String> {
        let mut row = Row::prepare(case, smtp, Some(baseline)).await?;
        let result = row.check().await;
        if let Some(pg) = &row.pg {
            pg.drop_database().await.ok();
        }
        drop(row.mount.take());
        if let Some(sandbox) = row.sandbox.take() {
            sandbox.shutdown().await;
        }
        result
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn recipient(&self) -> String {
        format!("{}@example.com", self.case.name)
    }

    fn is_postgres(&self) -> bool {
        matches!(
            self.case.fault,
            Fault::Db(
                DbFault::Postgres
                    | DbFault::PostgresTerminatedAtCommit
                    | DbFault::PostgresDroppedDuringFetch
                    | DbFault::PostgresTerminatedAfterCommit
            ) | Fault::Kill(Stage::StorePostgres)
        )
    }

    /// The faults the row's sandbox injects; `None`: no sandbox at all.
    fn sandbox_faults(&self) -> Result<Option<Faults>> {
        Ok(match self.case.fault {
            Fault::ApiDown => None,
            Fault::Sandbox(spec) => Some(Faults::from_spec(spec)?),
            // Long enough to act while the run waits on the API.
            Fault::Kill(Stage::Fetch) => Some(Faults::from_spec("latency_ms=3000")?),
            Fault::TwoRuns { .. }
            | Fault::Kill(Stage::Store | Stage::StorePostgres)
            | Fault::Db(
                DbFault::SqliteLockedAtCommit
                | DbFault::SqliteDeletedDuringFetch
                | DbFault::PostgresTerminatedAtCommit
                | DbFault::PostgresDroppedDuringFetch,
            ) => Some(Faults::from_spec("latency_ms=250")?),
            _ => Some(Faults::default()),
        })
    }

    async fn prepare(
        case: Case,
        smtp: &'a Aiosmtpd,
        baseline: Option<&'a Baseline>,
    ) -> Result<Row<'a>> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("ledger"))?;
        std::fs::copy(
            samples().join("ledger/ledger.csv"),
            dir.path().join("ledger/ledger.csv"),
        )?;
        let mut row = Row {
            case,
            smtp,
            baseline,
            config: dir.path().join("config.toml"),
            dir,
            sandbox: None,
            api_url: "http://127.0.0.1:9/flexiti/pos-api".into(),
            smtp_port: smtp.port,
            smtp_accepted: Arc::new(AtomicUsize::new(0)),
            db_url: String::new(),
            pg: None,
            mount: None,
            runs: 0,
        };
        row.db_url = format!(
            "sqlite://{}",
            row.path("data/flexiti-recon.db").to_string_lossy()
        );
        if row.is_postgres() {
            let pg = PgDatabase::try_create("flexiti_matrix").await?;
            row.db_url = pg.url().to_string();
            row.pg = Some(pg);
        }
        if let Some(faults) = row.sandbox_faults()? {
            let sandbox = spawn_sandbox(faults).await?;
            row.api_url = sandbox.base_url();
            row.sandbox = Some(sandbox);
        }
        let mut smtp_timeout = 3;
        match case.fault {
            Fault::Smtp(SmtpFault::Refused) => row.smtp_port = free_port()?,
            Fault::Smtp(SmtpFault::Silent)
            | Fault::Db(
                DbFault::PostgresTerminatedAfterCommit | DbFault::SqliteLockedAfterCommit,
            ) => {
                row.smtp_port = bad_smtp(None, row.smtp_accepted.clone()).await?;
                smtp_timeout = 1;
            }
            Fault::Smtp(SmtpFault::Rejects) => {
                row.smtp_port = bad_smtp(
                    Some("554 5.3.2 no mail today\r\n"),
                    row.smtp_accepted.clone(),
                )
                .await?;
            }
            Fault::Kill(Stage::Email) => {
                row.smtp_port = bad_smtp(None, row.smtp_accepted.clone()).await?;
                smtp_timeout = 60;
            }
            Fault::Db(DbFault::SqliteNoFolder) => {
                std::fs::write(row.path("blocker"), "a file, not a folder")?;
                row.db_url = format!(
                    "sqlite://{}",
                    row.path("blocker/flexiti-recon.db").to_string_lossy()
                );
            }
            Fault::Db(DbFault::PostgresDown) => {
                row.db_url = format!("postgres://postgres@127.0.0.1:{}/none", free_port()?);
            }
            _ => {}
        }
        let ledger_files = match case.fault {
            Fault::Ledger(LedgerFault::NoMatch) => "ledger/*.txt",
            _ => "ledger/ledger.csv",
        };
        row.write_config(ledger_files, smtp_timeout)?;
        if let Some(edit) = case.tweak {
            let text = std::fs::read_to_string(&row.config)?;
            std::fs::write(&row.config, edit(text))?;
        }
        let ledger = row.path("ledger/ledger.csv");
        match case.fault {
            Fault::Ledger(LedgerFault::Missing) => std::fs::remove_file(&ledger)?,
            Fault::Ledger(LedgerFault::Folder) => {
                std::fs::remove_file(&ledger)?;
                std::fs::create_dir(&ledger)?;
            }
            Fault::Ledger(LedgerFault::Content(text)) => std::fs::write(&ledger, text)?,
            Fault::Ledger(LedgerFault::Append(text)) => {
                let mut all = std::fs::read_to_string(&ledger)?;
                all.push_str(text);
                std::fs::write(&ledger, all)?;
            }
            Fault::Kill(Stage::Ledger) => {
                std::fs::remove_file(&ledger)?;
                mkfifo(&ledger)?;
            }
            Fault::Kill(Stage::Bundle) => {
                std::fs::create_dir_all(row.path("data/runs/1"))?;
                mkfifo(&row.path("data/runs/1/run.json"))?;
            }
            Fault::DiskFull(Disk::DevFull) => {
                std::fs::create_dir_all(row.path("data/runs/1"))?;
                std::os::unix::fs::symlink("/dev/full", row.path("data/runs/1/run.json"))?;
            }
            Fault::DiskFull(Disk::TinyTmpfs) => {
                let runs = row.path("data/runs");
                std::fs::create_dir_all(&runs)?;
                let mounted = std::process::Command::new("mount")
                    .args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"])
                    .arg(&runs)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if mounted {
                    row.mount = Some(Mount(runs));
                }
            }
            _ => {}
        }
        Ok(row)
    }

    fn write_config(&self, ledger_files: &str, smtp_timeout: u64) -> Result<()> {
        let text = format!(
            "merchant = \"Test Merchant\"\ndata_dir = \"data\"\n\
             [database]\nurl = \"{db}\"\n\
             [ledger]\nfiles = [\"{ledger_files}\"]\n\
             [email]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
             tls = \"none\"\ntimeout_secs = {smtp_timeout}\nto = [\"{to}\"]\n\
             [flexiti]\nenvironment = \"{api}\"\nclient_id = \"acme\"\npage_size = 5\n\
             max_attempts = 2\nbackoff_base_ms = 10\nbackoff_cap_ms = 50\ntimeout_secs = 5\n",
            db = self.db_url,
            port = self.smtp_port,
            to = self.recipient(),
            api = self.api_url,
        );
        std::fs::write(&self.config, text)?;
        Ok(())
    }

    /// Starts `run --date DAY`, its output going to files (so a row can watch its log).
    fn spawn_run(&mut self, extra: &[&str]) -> Result<(tokio::process::Child, PathBuf, PathBuf)> {
        self.runs += 1;
        let out = self.path(&format!("stdout-{}.txt", self.runs));
        let err = self.path(&format!("stderr-{}.txt", self.runs));
        let secret = match self.case.fault {
            Fault::WrongSecret => WRONG_SECRET,
            _ => SECRET,
        };
        let child = tokio::process::Command::new(BIN)
            .args(["run", "--date", DAY, "--trigger", "matrix"])
            .args(extra)
            .arg("--config")
            .arg(&self.config)
            .env("FLEXITI_CLIENT_SECRET", secret)
            .env_remove("FLEXITI_DATABASE_URL")
            .env_remove("FLEXITI_CLIENT_SECRET_FILE")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting the binary")?;
        Ok((child, out, err))
    }

    async fn finish(mut child: tokio::process::Child, out: PathBuf, err: PathBuf) -> Result<Ran> {
        let status = match tokio::time::timeout(RUN_LIMIT, child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                child.start_kill().ok();
                bail!("the run did not end within {RUN_LIMIT:?}");
            }
        };
        Ok(Ran {
            code: status.code(),
            stdout: std::fs::read_to_string(out).unwrap_or_default(),
            stderr: std::fs::read_to_string(err).unwrap_or_default(),
        })
    }

    /// The faulty run, with whatever the fault does while it runs.
    async fn faulty_run(&mut self) -> Result<Ran> {
        if let Fault::TwoRuns { wait } = self.case.fault {
            let (first, out1, err1) = self.spawn_run(&[])?;
            self.wait_for_data_request().await?;
            let args: &[&str] = if wait { &["--wait"] } else { &[] };
            let (second, out2, err2) = self.spawn_run(args)?;
            let second = Row::finish(second, out2, err2).await?;
            let first = Row::finish(first, out1, err1).await?;
            ensure!(
                first.code == Some(0),
                "the first run exited {:?}: {}",
                first.code,
                first.stderr
            );
            return Ok(second);
        }
        let (mut child, out, err) = self.spawn_run(&[])?;
        self.during(&mut child, &err).await?;
        Row::finish(child, out, err).await
    }

    /// Waits until the sandbox has received a data request (the run is fetching, under lock).
    async fn wait_for_data_request(&self) -> Result<()> {
        let sandbox = self.sandbox.as_ref().context("no sandbox")?;
        poll("a data request at the sandbox", || {
            let stats = sandbox.stats();
            Ok(stats.total_requests() > stats.requests_to("token"))
        })
        .await
    }

    async fn during(&mut self, child: &mut tokio::process::Child, err: &Path) -> Result<()> {
        let ledger_done = "stage done stage=\"ledger\"";
        match self.case.fault {
            Fault::Kill(Stage::Ledger) => {
                let fifo = self.path("ledger/ledger.csv");
                // The open succeeds once the run has the FIFO open for reading: it is reading
                // the ledger. The writer is kept open (no end of file) until the kill.
                let mut writer = None;
                poll("the run to open the ledger", || {
                    writer = std::fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(O_NONBLOCK)
                        .open(&fifo)
                        .ok();
                    Ok(writer.is_some())
                })
                .await?;
                child.start_kill()?;
                child.wait().await?;
                drop(writer);
            }
            Fault::Kill(Stage::Fetch) => {
                self.wait_for_data_request().await?;
                child.start_kill()?;
            }
            Fault::Kill(Stage::Bundle) => {
                wait_log(err, "stage done stage=\"reconcile\"").await?;
                let pages = self.path("data/runs/1/flexiti");
                poll("the bundle's first page", || {
                    Ok(std::fs::read_dir(&pages).is_ok_and(|mut d| d.next().is_some()))
                })
                .await?;
                child.start_kill()?;
            }
            Fault::Kill(Stage::Store) => {
                wait_log(err, ledger_done).await?;
                let mut lock = self.sqlite_write_lock().await?;
                wait_log(err, "wrote the audit bundle").await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
                child.start_kill()?;
                child.wait().await?;
                lock.execute("ROLLBACK").await?;
            }
            Fault::Db(DbFault::SqliteLockedAtCommit) => {
                wait_log(err, ledger_done).await?;
                let mut lock = self.sqlite_write_lock().await?;
                // Held past the results' busy timeout, until marking the run failed retries.
                wait_log(
                    err,
                    "marking run 1 failed: the database is locked; retrying",
                )
                .await?;
                lock.execute("ROLLBACK").await?;
                tokio::time::timeout(RUN_LIMIT, child.wait()).await??;
            }
            Fault::Kill(Stage::StorePostgres) => {
                wait_log(err, ledger_done).await?;
                let mut lock = self.postgres_table_lock().await?;
                self.wait_for_lock_waiter(&mut lock).await?;
                child.start_kill()?;
                child.wait().await?;
                lock.execute("ROLLBACK").await?;
            }
            Fault::Db(DbFault::PostgresTerminatedAtCommit) => {
                wait_log(err, ledger_done).await?;
                let mut lock = self.postgres_table_lock().await?;
                let pid = self.wait_for_lock_waiter(&mut lock).await?;
                sqlx::query("SELECT pg_terminate_backend($1)")
                    .bind(pid)
                    .execute(&mut lock)
                    .await?;
                tokio::time::timeout(RUN_LIMIT, child.wait()).await??;
                lock.execute("ROLLBACK").await?;
            }
            Fault::Db(DbFault::PostgresDroppedDuringFetch) => {
                wait_log(err, ledger_done).await?;
                self.pg
                    .as_ref()
                    .context("no database")?
                    .drop_database()
                    .await?;
            }
            Fault::Db(DbFault::SqliteDeletedDuringFetch) => {
                wait_log(err, ledger_done).await?;
                for suffix in ["", "-wal", "-shm"] {
                    let file = self.path(&format!("data/flexiti-recon.db{suffix}"));
                    if file.exists() {
                        std::fs::remove_file(file)?;
                    }
                }
            }
            Fault::Db(DbFault::PostgresTerminatedAfterCommit) => {
                self.wait_for_smtp().await?;
                let mut conn = sqlx::PgConnection::connect(&self.db_url).await?;
                let killed: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .fetch_all(&mut conn)
                .await?;
                ensure!(!killed.is_empty(), "the run had no connection to kill");
                tokio::time::timeout(RUN_LIMIT, child.wait()).await??;
            }
            Fault::Db(DbFault::SqliteLockedAfterCommit) => {
                self.wait_for_smtp().await?;
                let mut lock = self.sqlite_write_lock().await?;
                // Held until marking the run partial has met it and retries.
                wait_log(
                    err,
                    "marking run 1 partial: the database is locked; retrying",
                )
                .await?;
                lock.execute("ROLLBACK").await?;
                tokio::time::timeout(RUN_LIMIT, child.wait()).await??;
            }
            Fault::Kill(Stage::Email) => {
                let accepted = self.smtp_accepted.clone();
                poll("the SMTP connection", || {
                    Ok(accepted.load(Ordering::SeqCst) > 0)
                })
                .await?;
                child.start_kill()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Waits until the run has connected to the row's own SMTP server: its results are stored.
    async fn wait_for_smtp(&self) -> Result<()> {
        let accepted = self.smtp_accepted.clone();
        poll("the SMTP connection", || {
            Ok(accepted.load(Ordering::SeqCst) > 0)
        })
        .await
    }

    /// Another session holding SQLite's write lock (`BEGIN IMMEDIATE`).
    async fn sqlite_write_lock(&self) -> Result<sqlx::SqliteConnection> {
        let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await?;
        conn.execute("BEGIN IMMEDIATE").await?;
        Ok(conn)
    }

    /// Another session holding an exclusive lock on the findings table, in a transaction.
    async fn postgres_table_lock(&self) -> Result<sqlx::PgConnection> {
        let mut conn = sqlx::PgConnection::connect(&self.db_url).await?;
        conn.execute("BEGIN").await?;
        conn.execute("LOCK TABLE discrepancies IN ACCESS EXCLUSIVE MODE")
            .await?;
        Ok(conn)
    }

    /// The backend of the run that waits on the table lock: it is inside the results'
    /// transaction.
    async fn wait_for_lock_waiter(&self, conn: &mut sqlx::PgConnection) -> Result<i32> {
        let deadline = Instant::now() + RUN_LIMIT;
        loop {
            let pid: Option<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(pid) = pid {
                return Ok(pid);
            }
            ensure!(
                Instant::now() < deadline,
                "the run never waited on the lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn store(&self) -> Result<Store> {
        Store::connect(&self.db_url, "Test Merchant").await
    }

    /// `runs show ID` through the binary.
    async fn runs_show(&self, id: i64) -> Result<String> {
        let out = tokio::process::Command::new(BIN)
            .args(["runs", "show", &id.to_string(), "--config"])
            .arg(&self.config)
            .env_remove("FLEXITI_DATABASE_URL")
            .current_dir(self.dir.path())
            .output()
            .await?;
        ensure!(
            out.status.success(),
            "runs show {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    async fn check(&mut self) -> Result<String> {
        let case = self.case;
        if matches!(case.fault, Fault::DiskFull(Disk::TinyTmpfs)) && self.mount.is_none() {
            return Ok(" (skipped: mounting a tmpfs is not permitted here)".into());
        }
        let baseline = self.baseline.context("no baseline")?;
        let ran = self.faulty_run().await?;
        let context = format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            ran.code, ran.stdout, ran.stderr
        );
        ensure!(
            ran.code == case.exit,
            "exit code, expected {:?}: {context}",
            case.exit
        );
        for word in case.stderr {
            ensure!(
                ran.stderr.contains(word),
                "stderr lacks '{word}': {context}"
            );
        }
        ensure!(!ran.stderr.contains("panicked"), "a panic: {context}");
        for secret in [SECRET, WRONG_SECRET] {
            ensure!(
                !ran.stdout.contains(secret) && !ran.stderr.contains(secret),
                "a client secret in the output: {context}"
            );
        }

        // What was stored, and what `runs show` says.
        let mut faulty_run = None;
        if case.stored != Stored::Unreadable {
            let store = self.store().await?;
            let runs = store.list_runs(10).await?;
            match case.status {
                Some(status) => {
                    let latest = runs.first().context("no run stored")?;
                    ensure!(
                        latest.status.as_str() == status,
                        "run {} is {}, expected {status}: {context}",
                        latest.id,
                        latest.status.as_str()
                    );
                    let show = self.runs_show(latest.id).await?;
                    ensure!(
                        show.contains(&format!("run {}: {status} for {DAY}", latest.id)),
                        "runs show: {show}"
                    );
                    for word in case.show {
                        ensure!(show.contains(word), "runs show lacks '{word}':\n{show}");
                    }
                    faulty_run = Some(latest.id);
                }
                None => ensure!(runs.is_empty(), "a run was stored: {runs:?}"),
            }
            let stored = store
                .list_discrepancies(&DiscrepancyFilter::default())
                .await?;
            store.close().await;
            let mut keys: Vec<String> = stored
                .iter()
                .map(|s| expected_row(&s.discrepancy))
                .collect();
            keys.sort();
            let mut full: Vec<String> = stored.iter().map(full_key_of).collect();
            full.sort();
            match case.stored {
                Stored::Baseline => {
                    ensure!(
                        full == baseline.full,
                        "stored {full:#?}\nexpected {:#?}",
                        baseline.full
                    );
                    ensure!(stored.iter().all(|s| s.status.as_str() == "open"));
                }
                Stored::Nothing => ensure!(keys.is_empty(), "stored {keys:#?}"),
                Stored::Incomplete => {
                    let unverified = |k: &String| k.contains(",unverified,");
                    ensure!(
                        keys.iter().any(unverified),
                        "no unverified finding: {keys:#?}"
                    );
                    for k in &keys {
                        ensure!(
                            unverified(k) || baseline.keys.contains(k),
                            "a finding the clean night does not have: {k}"
                        );
                        ensure!(
                            !k.contains(",missing_in_flexiti,") && !k.contains(",not_captured,"),
                            "judged missing on an incomplete day: {k}"
                        );
                    }
                }
                Stored::Unreadable => {}
            }
        }

        // The emails the SMTP server received for this row.
        let mails = self.smtp.received_for(&self.recipient())?;
        ensure!(
            mails.len() == case.mails,
            "{} emails, expected {}: {mails:#?}",
            mails.len(),
            case.mails
        );
        for word in case.mail {
            ensure!(
                mails.iter().any(|m| m.contains(word)),
                "no email says '{word}': {mails:#?}"
            );
        }
        ensure!(
            mails
                .iter()
                .all(|m| !m.contains(SECRET) && !m.contains(WRONG_SECRET)),
            "an email holds a client secret"
        );

        if let Some(sandbox) = &self.sandbox {
            let stats = sandbox.stats();
            for kind in case.fired {
                ensure!(
                    stats.faults_of(kind) > 0,
                    "the sandbox never injected {kind}: {stats:?}"
                );
            }
        }

        self.recover(faulty_run).await?;
        Ok(String::new())
    }

    /// The same night again without the fault: nothing lost, nothing duplicated.
    async fn recover(&mut self, faulty_run: Option<i64>) -> Result<()> {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.shutdown().await;
        }
        let sandbox = spawn_sandbox(Faults::default()).await?;
        self.api_url = sandbox.base_url();
        self.sandbox = Some(sandbox);
        self.smtp_port = self.smtp.port;
        self.db_url = match &self.pg {
            Some(pg) => {
                if matches!(
                    self.case.fault,
                    Fault::Db(DbFault::PostgresDroppedDuringFetch)
                ) {
                    pg.recreate().await?;
                }
                pg.url().to_string()
            }
            None => format!(
                "sqlite://{}",
                self.path("data/flexiti-recon.db").to_string_lossy()
            ),
        };
        drop(self.mount.take());
        let ledger = self.path("ledger/ledger.csv");
        if ledger.is_dir() {
            std::fs::remove_dir(&ledger)?;
        } else if std::fs::symlink_metadata(&ledger).is_ok() {
            std::fs::remove_file(&ledger)?;
        }
        std::fs::copy(samples().join("ledger/ledger.csv"), &ledger)?;
        self.write_config("ledger/ledger.csv", 3)?;
        if let Fault::WrongSecret = self.case.fault {
            // The secret is right again.
            self.case.fault = Fault::None;
        }
        let (child, out, err) = self.spawn_run(&[])?;
        let ran = Row::finish(child, out, err).await?;
        ensure!(
            ran.code == Some(0),
            "the clean run after the fault exited {:?}:\n{}\n{}",
            ran.code,
            ran.stdout,
            ran.stderr
        );
        let store = self.store().await?;
        let stored = store
            .list_discrepancies(&DiscrepancyFilter::default())
            .await?;
        let runs = store.list_runs(20).await?;
        store.close().await;
        let mut open: Vec<String> = stored
            .iter()
            .filter(|s| s.status.as_str() == "open")
            .map(full_key_of)
            .collect();
        open.sort();
        let baseline = &self.baseline.context("no baseline")?.full;
        ensure!(
            open == *baseline,
            "after the clean run, open findings {open:#?}\nexpected {baseline:#?}"
        );
        for s in stored.iter().filter(|s| s.status.as_str() != "open") {
            ensure!(
                s.status.as_str() == "resolved"
                    && expected_row(&s.discrepancy).contains(",unverified,"),
                "after the clean run, a finding neither open nor a resolved unverified: {:?}",
                expected_row(&s.discrepancy)
            );
        }
        ensure!(
            runs.iter().all(|r| r.status.as_str() != "running"),
            "a run is left running: {runs:?}"
        );
        if let Some(id) = faulty_run {
            let expected = self.case.after.or(self.case.status).unwrap_or_default();
            let run = runs
                .iter()
                .find(|r| r.id == id)
                .context("the faulty run is gone")?;
            ensure!(
                run.status.as_str() == expected,
                "after the clean run, run {id} is {}, expected {expected}",
                run.status.as_str()
            );
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn spawn_sandbox(faults: Faults) -> Result<SandboxHandle> {
    sandbox::spawn(sandbox_options(samples(), SECRET, faults)).await
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn mkfifo(path: &Path) -> Result<()> {
    let status = std::process::Command::new("mkfifo").arg(path).status()?;
    ensure!(status.success(), "mkfifo {}", path.display());
    Ok(())
}

async fn poll(what: &str, mut ready: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + RUN_LIMIT;
    while !ready()? {
        ensure!(Instant::now() < deadline, "waited too long for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Waits until the run's log (stderr) holds `needle`.
async fn wait_log(log: &Path, needle: &str) -> Result<()> {
    poll(&format!("'{needle}' in the log"), || {
        Ok(std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle)))
    })
    .await
}

/// An SMTP server that misbehaves: it greets with `greeting` and hangs up, or (`None`) accepts
/// and says nothing, holding the connection.
async fn bad_smtp(greeting: Option<&'static str>, accepted: Arc<AtomicUsize>) -> Result<u16> {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            match greeting {
                Some(text) => {
                    let _ = socket.write_all(text.as_bytes()).await;
                    let _ = socket.shutdown().await;
                }
                None => held.push(socket),
            }
        }
    });
    Ok(port)
}

/// aiosmtpd on a loopback port, delivering every message into one maildir; it exits when the
/// test ends (its stdin closes).
struct Aiosmtpd {
    _child: tokio::process::Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Aiosmtpd {
    async fn start() -> Aiosmtpd {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let port = free_port().expect("a free port");
        let script = "import sys\n\
            from aiosmtpd.controller import Controller\n\
            from aiosmtpd.handlers import Mailbox\n\
            c = Controller(Mailbox(sys.argv[2]), hostname='127.0.0.1', port=int(sys.argv[1]))\n\
            c.start()\n\
            sys.stdin.read()\n\
            c.stop()\n";
        let child = tokio::process::Command::new("python3")
            .args(["-c", script, &port.to_string()])
            .arg(&maildir)
            .stdin(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (the matrix needs aiosmtpd: pip install aiosmtpd)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Aiosmtpd {
                    _child: child,
                    port,
                    maildir,
                    _dir: dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on {port}: is it installed? (pip install aiosmtpd)");
    }

    /// Each message delivered to `to`: its subject and every decoded text part.
    fn received_for(&self, to: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Ok(out);
        };
        for entry in entries {
            let raw = std::fs::read(entry?.path())?;
            let mail = mailparse::parse_mail(&raw)?;
            let headers = mail.headers.as_slice();
            let rcpt = mailparse::MailHeaderMap::get_first_value(headers, "To").unwrap_or_default();
            if !rcpt.contains(to) {
                continue;
            }
            let mut text =
                mailparse::MailHeaderMap::get_first_value(headers, "Subject").unwrap_or_default();
            let mut stack = vec![&mail];
            while let Some(part) = stack.pop() {
                if part.subparts.is_empty() {
                    text.push('\n');
                    text.push_str(&part.get_body().unwrap_or_default());
                }
                stack.extend(part.subparts.iter());
            }
            out.push(text);
        }
        Ok(out)
    }
}
