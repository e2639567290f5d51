//! The run lock: two runs of the same merchant never overlap; runs of different merchants do.
//!
//! On PostgreSQL it is a session advisory lock on a hash of the merchant, held by a dedicated
//! connection outside the pool, so it lives exactly as long as the guard and its session. That
//! session asks the server to probe the client with TCP keepalives (every [`KEEPALIVE_INTERVAL_S`]
//! seconds after [`KEEPALIVE_IDLE_S`] idle, [`KEEPALIVE_COUNT`] probes): a killed process closes
//! its socket and the lock goes at once; a host that died or dropped off the network is
//! noticed within about two minutes, the session ends and the lock with it. The run's results
//! are committed through that same connection ([`Holder`]), after checking the lock is still
//! held by it: a run whose session was lost cannot commit. See docs/LOCKS.md.
//!
//! On SQLite it is an exclusive lock on a file beside the database (`<db>.<name>.lock`), which
//! the operating system releases when the guard's file is closed, also on a crash. The file
//! itself stays: only its lock matters.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Connection, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::resilience::FileIdentity;
use super::{Backend, Store, lock_file_of};

/// Seconds of silence before the server probes the lock's client, between probes, and how
/// many unanswered probes end the session: a dead client loses the lock after at most
/// 60 + 6 × 10 = 120 s.
const KEEPALIVE_IDLE_S: u32 = 60;
const KEEPALIVE_INTERVAL_S: u32 = 10;
const KEEPALIVE_COUNT: u32 = 6;

/// How long a process waits for another to finish migrating a SQLite file.
const MIGRATION_WAIT: Duration = Duration::from_secs(120);

/// Holds the run lock until dropped or [`released`](LockGuard::release).
#[derive(Debug)]
pub struct LockGuard {
    held: Held,
}

/// The PostgreSQL connection holding a run lock, shared by the guard and the store that
/// commits under it; `None` once released.
#[derive(Debug, Clone)]
pub(super) struct Holder {
    conn: Arc<Mutex<Option<AnyConnection>>>,
    key: i64,
}

#[derive(Debug)]
enum Held {
    File {
        file: File,
        path: PathBuf,
    },
    Postgres(Holder),
    /// An in-memory SQLite database is private to its process: there is nothing to exclude.
    Nothing,
}

impl Store {
    /// Takes the lock `name` (e.g. the merchant's id) without waiting: `None` when another run
    /// holds it.
    pub async fn try_lock(&self, name: &str) -> Result<Option<LockGuard>> {
        let held = match &self.backend {
            Backend::Sqlite { path: None } => Held::Nothing,
            Backend::Sqlite { path: Some(db) } => {
                let path = lock_file_of(db, name);
                match try_lock_file(&path)? {
                    Some(file) => Held::File { file, path },
                    None => return Ok(None),
                }
            }
            Backend::Postgres { url } => {
                let key = lock_key(name);
                let mut conn = AnyConnection::connect(url)
                    .await
                    .context("opening the postgres connection that holds the run lock")?;
                // Unix-socket sessions ignore these (no TCP); the process's death still closes
                // the socket.
                for setting in [
                    format!("SET tcp_keepalives_idle = {KEEPALIVE_IDLE_S}"),
                    format!("SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL_S}"),
                    format!("SET tcp_keepalives_count = {KEEPALIVE_COUNT}"),
                    "SET application_name = 'flexiti-recon run lock'".to_string(),
                ] {
                    sqlx::query(&setting)
                        .execute(&mut conn)
                        .await
                        .with_context(|| format!("configuring the lock connection: {setting}"))?;
                }
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await
                    .with_context(|| format!("taking the advisory lock '{name}'"))?;
                if !taken {
                    conn.close().await.ok();
                    return Ok(None);
                }
                Held::Postgres(Holder {
                    conn: Arc::new(Mutex::new(Some(conn))),
                    key,
                })
            }
        };
        Ok(Some(LockGuard { held }))
    }
}

impl LockGuard {
    /// Releases the lock now and reports a failure, where dropping the guard releases it
    /// silently (on PostgreSQL, as soon as the server sees the connection close).
    pub async fn release(self) -> Result<()> {
        match self.held {
            Held::File { file, .. } => file.unlock().context("unlocking the lock file"),
            Held::Postgres(holder) => {
                let Some(mut conn) = holder.conn.lock().await.take() else {
                    return Ok(());
                };
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(holder.key)
                    .execute(&mut conn)
                    .await
                    .context("releasing the advisory lock")?;
                conn.close().await.context("closing the lock connection")
            }
            Held::Nothing => Ok(()),
        }
    }

    /// The connection a store commits through while this guard holds the lock.
    pub(super) fn holder(&self) -> Option<Holder> {
        match &self.held {
            Held::Postgres(holder) => Some(holder.clone()),
            _ => None,
        }
    }

    /// The lock file held and its identity, to check before committing that it was not
    /// deleted or replaced (another run could then have locked a new file of the same name).
    pub(super) fn lock_file(&self) -> Option<(PathBuf, FileIdentity)> {
        match &self.held {
            Held::File { file, path } => Some((path.clone(), FileIdentity::of_file(file)?)),
            _ => None,
        }
    }
}

impl Holder {
    /// The lock's connection (`None` once released), to run the commit's transaction on.
    pub(super) async fn connection(&self) -> MutexGuard<'_, Option<AnyConnection>> {
        self.conn.lock().await
    }

    /// Fails unless the session of `tx` (the lock's connection) still holds the lock.
    pub(super) async fn ensure_held(&self, tx: &mut Transaction<'_, Any>) -> Result<()> {
        let held: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
             AND pid = pg_backend_pid() AND granted AND objsubid = 1 \
             AND ((classid::bigint << 32) | objid::bigint) = $1)",
        )
        .bind(self.key)
        .fetch_one(&mut **tx)
        .await
        .context("checking the run lock")?;
        if !held {
            bail!("the run lock is no longer held by this run");
        }
        Ok(())
    }
}

/// Fails unless the lock file at `path` is still the one locked (`held`).
pub(super) fn ensure_same_lock_file(path: &Path, held: FileIdentity) -> Result<()> {
    if FileIdentity::of(path) != Some(held) {
        bail!(
            "the lock file {} was deleted or replaced during the run: another run may hold it",
            path.display()
        );
    }
    Ok(())
}

/// Takes the lock file at `path` without waiting: `None` when another process holds it.
fn try_lock_file(path: &Path) -> Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking the lock file {}", path.display()))
        }
    }
}

/// Serialises the migrations of a SQLite file across processes (every merchant's run migrates
/// under its own lock): the lock file `<db>.migrations.lock`, held until the file is dropped.
pub(super) async fn migration_lock(db: &Path) -> Result<File> {
    let path = lock_file_of(db, "migrations");
    let deadline = Instant::now() + MIGRATION_WAIT;
    loop {
        if let Some(file) = try_lock_file(&path)? {
            return Ok(file);
        }
        if Instant::now() > deadline {
            bail!(
                "another process has been migrating {} for {} s",
                db.display(),
                MIGRATION_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stable 64-bit key for `pg_advisory_lock`: the same name gives the same key in every
/// process and build.
fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("flexiti-recon:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_differ_per_name() {
        assert_eq!(lock_key("m1"), lock_key("m1"));
        assert_ne!(lock_key("m1"), lock_key("m2"));
    }
}
