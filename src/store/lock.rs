//! The run lock: two runs over the same merchant never overlap.
//!
//! On PostgreSQL it is a session advisory lock on a hash of the name, held by a dedicated
//! connection outside the pool, so it lives exactly as long as the guard (and dies with the
//! process: the server releases it when the connection drops). On SQLite it is an exclusive
//! lock on a file beside the database (`<db>.<name>.lock`), which the operating system releases
//! when the guard's file is closed, also on a crash. The file itself stays: only its lock
//! matters.

use std::fs::{File, OpenOptions, TryLockError};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection};

use super::{Backend, Store, lock_file_of};

/// Holds the run lock until dropped or [`released`](LockGuard::release).
#[derive(Debug)]
pub struct LockGuard {
    held: Held,
}

#[derive(Debug)]
enum Held {
    File(File),
    Postgres {
        conn: AnyConnection,
        key: i64,
    },
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
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .with_context(|| format!("opening the lock file {}", path.display()))?;
                match file.try_lock() {
                    Ok(()) => Held::File(file),
                    Err(TryLockError::WouldBlock) => return Ok(None),
                    Err(TryLockError::Error(e)) => {
                        return Err(e)
                            .with_context(|| format!("locking the lock file {}", path.display()));
                    }
                }
            }
            Backend::Postgres { url } => {
                let key = lock_key(name);
                let mut conn = AnyConnection::connect(url)
                    .await
                    .context("opening the postgres connection that holds the run lock")?;
                let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await
                    .with_context(|| format!("taking the advisory lock '{name}'"))?;
                if !taken {
                    conn.close().await.ok();
                    return Ok(None);
                }
                Held::Postgres { conn, key }
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
            Held::File(file) => file.unlock().context("unlocking the lock file"),
            Held::Postgres { mut conn, key } => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(key)
                    .execute(&mut conn)
                    .await
                    .context("releasing the advisory lock")?;
                conn.close().await.context("closing the lock connection")
            }
            Held::Nothing => Ok(()),
        }
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
