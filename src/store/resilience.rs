//! What keeps the store honest when the database misbehaves under a run: a SQLite file deleted
//! or replaced while the run holds it open, a write lock held by another session past the busy
//! timeout, and a PostgreSQL server that does not answer.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a status update (`fail_run`, `mark_partial`) keeps retrying a locked database.
pub(super) const LOCKED_RETRY_FOR: Duration = Duration::from_secs(30);
/// How long connecting to PostgreSQL may take before the run gives up.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The device and inode of a database file, to notice it was deleted or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    /// The identity of `path` now; `None` when it cannot be read (no such file) or off Unix.
    pub(super) fn of(path: &Path) -> Option<FileIdentity> {
        Self::of_metadata(std::fs::metadata(path).ok()?)
    }

    /// The identity of an open file (which may no longer have a name).
    pub(super) fn of_file(file: &std::fs::File) -> Option<FileIdentity> {
        Self::of_metadata(file.metadata().ok()?)
    }

    fn of_metadata(m: std::fs::Metadata) -> Option<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileIdentity {
                dev: m.dev(),
                ino: m.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = m;
            None
        }
    }
}

/// Fails when the database file at `path` is no longer the one opened (`opened`): the writes of
/// this connection would land in a deleted file, or in one nobody reads.
pub(super) fn ensure_same_file(path: &Path, opened: Option<FileIdentity>) -> Result<()> {
    let Some(opened) = opened else { return Ok(()) };
    match FileIdentity::of(path) {
        Some(now) if now == opened => Ok(()),
        Some(_) => bail!(
            "the sqlite database file {} was replaced during the run: it is no longer the file \
             the run opened",
            path.display()
        ),
        None => bail!(
            "the sqlite database file {} was deleted during the run",
            path.display()
        ),
    }
}

/// Whether `error` is SQLite's "database is locked" / "database table is locked" (busy).
pub(super) fn is_locked(error: &sqlx::Error) -> bool {
    match error.as_database_error() {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        Some(db) => {
            let code = db.code();
            let primary = code
                .as_deref()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            matches!(primary, Some(5 | 6)) || db.message().contains("database is locked")
        }
        None => false,
    }
}

/// Runs `op` again while the database is locked, for up to [`LOCKED_RETRY_FOR`] (each attempt
/// itself waits the connection's busy timeout), logging each wait with `what`.
pub(super) async fn retry_while_locked<T, F, Fut>(what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, sqlx::Error>>,
{
    let deadline = Instant::now() + LOCKED_RETRY_FOR;
    loop {
        match op().await {
            Ok(done) => return Ok(done),
            Err(e) if is_locked(&e) && Instant::now() < deadline => {
                tracing::warn!("{what}: the database is locked; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) if is_locked(&e) => {
                return Err(e).with_context(|| {
                    format!(
                        "{what}: still locked after {} s",
                        LOCKED_RETRY_FOR.as_secs()
                    )
                });
            }
            Err(e) => return Err(e).context(what.to_string()),
        }
    }
}

/// `host:port` of a PostgreSQL URL (never its password), for error messages.
pub(super) fn postgres_address(url: &str) -> String {
    use std::str::FromStr;
    match sqlx::postgres::PgConnectOptions::from_str(url) {
        Ok(options) => format!("{}:{}", options.get_host(), options.get_port()),
        Err(_) => "the configured address".to_string(),
    }
}

/// One connection to PostgreSQL within [`CONNECT_TIMEOUT`], so an unreachable server fails the
/// run at once with its address and the cause (the pool would only say it timed out).
pub(super) async fn probe_postgres(url: &str) -> Result<()> {
    use sqlx::Connection;
    let address = postgres_address(url);
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect(url)).await;
    match connected {
        Ok(Ok(conn)) => {
            // Closing is a courtesy to the server; the probe has done its work.
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow::Error::new(e))
            .with_context(|| format!("connecting to the postgres database at {address}")),
        Err(_) => bail!(
            "connecting to the postgres database at {address}: no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_postgres_url_has_no_password() {
        let address = postgres_address("postgres://app:s3cret@db.example:6543/recon");
        assert_eq!(address, "db.example:6543");
    }

    #[test]
    fn a_file_replaced_under_the_run_is_noticed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.db");
        std::fs::write(&path, "one").expect("write");
        let opened = FileIdentity::of(&path);
        assert!(opened.is_some());
        ensure_same_file(&path, opened).expect("same file");
        let other = dir.path().join("y.db");
        std::fs::write(&other, "two").expect("write");
        std::fs::rename(&other, &path).expect("replace");
        let err = ensure_same_file(&path, opened).expect_err("replaced");
        assert!(format!("{err}").contains("was replaced"), "{err}");
        std::fs::remove_file(&path).expect("delete");
        let err = ensure_same_file(&path, opened).expect_err("deleted");
        assert!(format!("{err}").contains("x.db was deleted"), "{err}");
    }
}
