//! Who can read what the program writes. The database file, the audit bundles, the outbox, the
//! exports and the lock file hold findings, references and amounts, so by default they are
//! owner-only: the process umask is set from the config's `umask` (default `077`: files 0600,
//! folders 0700) before anything is created, which also covers the files that libraries create
//! (SQLite's database, WAL and journal, lettre's `.eml`). Files made by an earlier version are
//! brought to the same modes when a command starts. The metrics textfile is the exception: it
//! holds only counts and totals and is read by node_exporter, so `src/metrics.rs` makes it
//! world-readable.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// Sets the process umask and tightens what earlier runs left with wider modes.
pub fn protect(config: &Config) {
    set_umask(config.umask);
    for (path, dir) in existing_outputs(config) {
        tighten(&path, dir, config.umask);
    }
}

#[cfg(unix)]
fn set_umask(mask: u32) {
    // SAFETY: umask(2) only swaps an integer of the process and cannot fail; it is called on
    // start-up, before any file is created, and never concurrently with itself.
    #[allow(unsafe_code, clippy::unnecessary_cast)]
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

#[cfg(not(unix))]
fn set_umask(_mask: u32) {}

/// The database file (with its WAL and shared-memory files), the bundles' and the outbox's
/// folders, as (path, is a folder).
fn existing_outputs(config: &Config) -> Vec<(PathBuf, bool)> {
    let mut out = vec![
        (config.data_dir.join("runs"), true),
        (config.email.file_dir.clone(), true),
    ];
    if let Some(db) = sqlite_file(&config.database_url) {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            out.push((PathBuf::from(name), false));
        }
    }
    out
}

fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or_default();
    (!file.is_empty() && file != ":memory:").then(|| PathBuf::from(file))
}

/// Takes the umask's bits away from an existing file or folder; never widens a mode.
#[cfg(unix)]
pub fn tighten(path: &Path, dir: bool, mask: u32) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_dir() != dir {
        return;
    }
    let mode = meta.permissions().mode() & 0o7777;
    let wanted = mode & !mask;
    if wanted != mode
        && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
    {
        tracing::warn!(
            "{}: cannot restrict its mode to {wanted:o}: {e}",
            path.display()
        );
    }
}

#[cfg(not(unix))]
pub fn tighten(_path: &Path, _dir: bool, _mask: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_is_found_in_its_url() {
        assert_eq!(
            sqlite_file("sqlite://data/x.db?mode=rwc"),
            Some(PathBuf::from("data/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/d"), None);
    }

    #[cfg(unix)]
    #[test]
    fn tightening_takes_bits_away_and_never_adds_any() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        tighten(&file, false, 0o077);
        assert_eq!(mode(&file), 0o600);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).expect("chmod");
        tighten(&file, false, 0o027);
        assert_eq!(mode(&file), 0o400);
    }
}
