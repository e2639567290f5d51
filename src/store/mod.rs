//! The database layer: runs, discrepancies with their history, failed API calls, rejected
//! ledger rows and per-day control totals, on SQLite (a file, the embedded default) or
//! PostgreSQL (production), with the same behaviour on both.
//!
//! Many merchants may share one database: a [`Store`] is opened for one merchant (the config's
//! `merchant`) and every query it runs is scoped to that merchant's rows (`runs.merchant`,
//! `discrepancies.merchant`; the per-run details through their run).
//!
//! One set of queries serves both backends through `sqlx::Any`, so the schema uses only
//! integer and text columns (`sql/sqlite/` and `sql/postgres/` hold the same tables and columns;
//! `INTEGER` versus `BIGINT`/`BIGSERIAL`, and on PostgreSQL `CHECK`s for the analysts' views and
//! the storage settings of `0007_finding_write_speed.sql`), and every query binds its values as
//! `$1, $2, …`; only a run's findings are written differently on each (`findings.rs`; on
//! PostgreSQL many new ones are copied in through a staging table, `findings/stage.rs`, on a
//! native connection of their own, since `sqlx::Any` has no `COPY`):
//!
//! - `runs`: one row per run; its `merchant`, its window (`range_from`, `range_to`),
//!   `triggered_by`, `status` (`running`, `succeeded`, `partial`, `failed`, `abandoned`), `started_at`, `finished_at`,
//!   `duration_ms`, `x_reference_id`, `version`, `error`, the counts, `incomplete_days`
//!   (comma-separated dates), the totals of both sides (`flexiti_*`, `ledger_*`) and `email`,
//!   the summary email's state (`pending` from the run's start until `sent`; `failed`; `unsent`
//!   once a later run found it still pending; `NULL` when none is due).
//! - `discrepancies`: one row per finding identity (`merchant`, `fingerprint`, unique), every
//!   field of a [`Discrepancy`](crate::domain::Discrepancy), `status` (`open`, `resolved`,
//!   `acknowledged`), `first_seen_run`/`_at`, `last_seen_run`/`_at`, `resolved_run`, `note`,
//!   and `value_digest`, the digest of its values as last written (`digest.rs`).
//! - `api_failures` (every field of a [`FailedCall`](crate::report::FailedCall)),
//!   `ledger_rejects` (file, line, reason), `day_totals` (per run, day and store) and
//!   `run_stores` (the stores a `run --store` run was restricted to), keyed by `run_id`.
//! - views for analysts, which the job never reads: `open_discrepancies`, `latest_day_totals`,
//!   `failed_calls_per_night` (native types on PostgreSQL; docs/DATA.md).
//!
//! Invariants: money is integer cents (`*_cents`, never a float); business dates are
//! `YYYY-MM-DD` text and instants RFC 3339 UTC text with nanoseconds, both fixed width, so text
//! order is time order on both backends. A run's results are written in one transaction
//! ([`Store::finish_run`]): a failure leaves the previous state and the run `running`, which the
//! next [`Store::begin_run`] of the same merchant marks `abandoned`. Runs of one merchant never
//! overlap: a run opens its store with [`Store::open_for_run`], which takes the merchant's
//! [`LockGuard`] before migrating or touching any row, and commits its results only while that
//! lock is still its own (docs/LOCKS.md).

mod batch;
mod claim;
mod details;
mod digest;
mod email_state;
mod finding_rows;
mod findings;
mod lock;
mod pg_array;
mod resilience;
mod run_facts;
mod runs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

pub use findings::DiscrepancyFilter;
pub use lock::LockGuard;
pub use run_facts::RunFacts;
pub use runs::StoredRun;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("sql/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("sql/postgres");

/// How often a run waiting for the lock (`run --wait`) tries again.
const LOCK_POLL: Duration = Duration::from_secs(5);

/// Errors a caller may want to branch on (e.g. to exit with a usage error).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("discrepancy {0} not found")]
    UnknownDiscrepancy(i64),
    #[error("run {0} not found")]
    UnknownRun(i64),
}

#[derive(Clone)]
enum Backend {
    /// `path` is `None` for an in-memory database (tests), which has no lock file.
    Sqlite { path: Option<PathBuf> },
    /// The URL is kept to open the dedicated connection that holds an advisory lock.
    Postgres { url: String },
}

/// A connection pool to the reconciliation database, scoped to one merchant.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The tenant: every row this store reads or writes is this merchant's.
    merchant: String,
    /// The run lock this store commits under ([`Store::open_for_run`]): on PostgreSQL the
    /// results are written through the lock's own connection, so they commit only while the
    /// lock is held.
    holder: Option<lock::Holder>,
    /// The SQLite lock file this store commits under and its identity.
    lock_file: Option<(PathBuf, resilience::FileIdentity)>,
    /// The SQLite file as opened, to refuse committing into a file deleted or replaced since.
    opened: Option<resilience::FileIdentity>,
}

impl std::fmt::Debug for Store {
    // The PostgreSQL URL may carry a password: only the backend is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Sqlite { path } => format!("sqlite {path:?}"),
            Backend::Postgres { .. } => "postgres".to_string(),
        };
        f.debug_struct("Store")
            .field("backend", &backend)
            .field("merchant", &self.merchant)
            .finish()
    }
}

impl Store {
    /// Connects to `sqlite://path/to/file.db` (creating the file and its folder, in WAL mode) or
    /// `postgres://…` as `merchant`, and applies the pending migrations.
    pub async fn connect(url: &str, merchant: &str) -> Result<Store> {
        let store = Store::open(url, merchant).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the store for a run of `merchant`: takes the merchant's run lock first (waiting up
    /// to `wait` for another run to finish), then migrates. `None` when the lock is still held
    /// by another run. The store commits the run's results only while the lock is its own.
    pub async fn open_for_run(
        url: &str,
        merchant: &str,
        wait: Option<Duration>,
    ) -> Result<Option<(Store, LockGuard)>> {
        let mut store = Store::open(url, merchant).await?;
        let deadline = wait.map(|w| Instant::now() + w);
        let guard = loop {
            if let Some(guard) = store.try_lock(merchant).await? {
                break guard;
            }
            match deadline {
                Some(deadline) if Instant::now() < deadline => {
                    tracing::info!("another run holds the lock; waiting");
                    tokio::time::sleep(LOCK_POLL.min(deadline - Instant::now())).await;
                }
                _ => {
                    store.close().await;
                    return Ok(None);
                }
            }
        };
        store.holder = guard.holder();
        store.lock_file = guard.lock_file();
        store.migrate().await?;
        Ok(Some((store, guard)))
    }

    /// Connects without migrating.
    async fn open(url: &str, merchant: &str) -> Result<Store> {
        if merchant.trim().is_empty() {
            bail!("the merchant is empty: set `merchant` in the config, it names the tenant");
        }
        sqlx::any::install_default_drivers();
        let (backend, connect_url) = if url.starts_with("sqlite:") {
            let (path, connect_url) = sqlite_target(url)?;
            (Backend::Sqlite { path }, connect_url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let backend = Backend::Postgres {
                url: url.to_string(),
            };
            resilience::probe_postgres(url).await?;
            (backend, url.to_string())
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            bail!("database url scheme '{scheme}' is not supported: use sqlite:// or postgres://");
        };
        let pool = AnyPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(resilience::CONNECT_TIMEOUT)
            .connect(&connect_url)
            .await
            .with_context(|| format!("connecting to the {} database", backend.name()))?;
        if let Backend::Sqlite { path: Some(_) } = backend {
            // WAL lets `runs`/`discrepancies` readers work while a run writes; it is a property
            // of the file, so setting it once per connect is enough.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .context("switching the sqlite database to WAL mode")?;
        }
        let opened = match &backend {
            Backend::Sqlite { path: Some(path) } => resilience::FileIdentity::of(path),
            _ => None,
        };
        Ok(Store {
            pool,
            backend,
            merchant: merchant.to_string(),
            holder: None,
            lock_file: None,
            opened,
        })
    }

    /// Applies the pending migrations of this backend (idempotent; one process at a time), then
    /// gives this merchant the rows stored before the database had merchants, if any.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Backend::Postgres { .. } => &POSTGRES_MIGRATIONS,
        };
        // PostgreSQL: the migrator takes its own advisory lock. SQLite: a lock file.
        let guard = match &self.backend {
            Backend::Sqlite { path: Some(db) } => Some(lock::migration_lock(db).await?),
            _ => None,
        };
        migrator
            .run(&self.pool)
            .await
            .with_context(|| format!("migrating the {} database", self.backend.name()))?;
        drop(guard);
        claim::claim_unowned_rows(self).await
    }

    /// The merchant this store is scoped to.
    pub fn merchant(&self) -> &str {
        &self.merchant
    }

    /// Fails when the SQLite file is no longer the one this store opened (deleted or replaced
    /// under the run): what would be committed now would be lost.
    /// With the run lock, also when the lock file is no longer the one locked.
    fn ensure_same_file(&self) -> Result<()> {
        if let Some((path, held)) = &self.lock_file {
            lock::ensure_same_lock_file(path, *held)?;
        }
        match &self.backend {
            Backend::Sqlite { path: Some(path) } => resilience::ensure_same_file(path, self.opened),
            _ => Ok(()),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Closes the pool, waiting for the connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Backend {
    /// Where a run copies many new findings in from (`findings/stage.rs`): PostgreSQL's URL.
    fn stage_url(&self) -> Option<&str> {
        match self {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { url } => Some(url),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Placeholders and the most values one statement may bind: SQLite's default
    /// `SQLITE_MAX_VARIABLE_NUMBER` (32766 since 3.32; the bundled library keeps it),
    /// PostgreSQL's protocol limit (65535).
    fn dialect(&self) -> batch::Dialect {
        match self {
            Backend::Sqlite { .. } => batch::Dialect {
                numbered: false,
                max_parameters: 32_766,
            },
            Backend::Postgres { .. } => batch::Dialect {
                numbered: true,
                max_parameters: 65_535,
            },
        }
    }
}

/// The database file of a SQLite URL (`None` in memory) and the URL to connect with, which
/// creates the file when missing unless the URL already says how to open it.
fn sqlite_target(url: &str) -> Result<(Option<PathBuf>, String)> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (file, params) = match rest.split_once('?') {
        Some((file, params)) => (file, Some(params)),
        None => (rest, None),
    };
    let in_memory = file.is_empty()
        || file == ":memory:"
        || params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
    if in_memory {
        return Ok((None, url.to_string()));
    }
    let path = PathBuf::from(file);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the database folder {}", parent.display()))?;
    }
    let connect_url = match params {
        Some(p) if p.split('&').any(|kv| kv.starts_with("mode=")) => url.to_string(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    };
    Ok((Some(path), connect_url))
}

/// `<db>.<name>.lock` beside the database, the name reduced to characters safe in a file name.
fn lock_file_of(db: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut file = db.as_os_str().to_owned();
    file.push(format!(".{safe}.lock"));
    PathBuf::from(file)
}

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(text: &str, column: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("column {column}: '{text}' is not an RFC 3339 time"))
}

fn parse_date(text: &str, column: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("column {column}: '{text}' is not a YYYY-MM-DD date"))
}

fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).with_context(|| format!("{what} {value} is too large for the database"))
}

fn to_u64(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value).with_context(|| format!("column {column}: {value} is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_gets_create_mode_and_its_file_path() {
        let (path, url) = sqlite_target("sqlite://data/flexiti.db").expect("valid url");
        assert_eq!(path, Some(PathBuf::from("data/flexiti.db")));
        assert_eq!(url, "sqlite://data/flexiti.db?mode=rwc");
        let (path, url) = sqlite_target("sqlite::memory:").expect("valid url");
        assert_eq!((path, url.as_str()), (None, "sqlite::memory:"));
        let (_, url) = sqlite_target("sqlite:///tmp/x.db?mode=ro").expect("valid url");
        assert_eq!(url, "sqlite:///tmp/x.db?mode=ro");
    }

    #[test]
    fn instants_are_fixed_width_and_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T19:05:11.123Z")
            .expect("valid time")
            .with_timezone(&Utc);
        assert_eq!(ts(at), "2026-11-23T19:05:11.123000000Z");
        assert_eq!(parse_ts(&ts(at), "t").expect("round trip"), at);
    }
}
