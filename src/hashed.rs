//! The SHA-256 of an input file as the run read it, for the audit bundle: the bundle must record
//! the hash of the very bytes the run reconciled, not of whatever the file holds once the run
//! is over (a ledger export rewritten meanwhile, a file streamed through a pipe).
//!
//! A regular file is stamped when opened (device, inode, size, modification and status-change
//! times, from `fstat` of the open file) and hashed after the reconciliation, on the bundle's
//! thread while the results are stored; it is stamped again before and after hashing, and a
//! stamp that differs fails the bundle, so the run stores nothing ([`sha256_of_read`]). A file
//! changed while the run read it may have been read torn: the run must not be stored anyway.
//! Anything else (a pipe, `/dev/fd/N` of a process substitution) can be read only once and is
//! hashed as it is read ([`Hashed`]).

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::domain::{AsRead, FileStamp};

/// A reader that hashes every byte it hands on when its file cannot be read again, and only
/// passes them on when it is a regular file (stamped instead).
pub struct Hashed<R> {
    inner: R,
    hasher: Option<Sha256>,
    stamp: Option<FileStamp>,
}

impl Hashed<File> {
    /// `file` as just opened: stamped if it is a regular file, else hashed as read.
    pub fn open(file: File) -> io::Result<Self> {
        let meta = file.metadata()?;
        Ok(if meta.is_file() {
            Hashed::stamped(file, stamp_of(&meta))
        } else {
            Hashed::new(file)
        })
    }
}

impl<R: Read> Hashed<R> {
    /// Hashes every byte read.
    pub fn new(inner: R) -> Self {
        Hashed {
            inner,
            hasher: Some(Sha256::new()),
            stamp: None,
        }
    }

    fn stamped(inner: R, stamp: FileStamp) -> Self {
        Hashed {
            inner,
            hasher: None,
            stamp: Some(stamp),
        }
    }

    /// What the bundle needs of the bytes read: their hash, once what is left is read (a
    /// parser may stop before trailing whitespace), or the file's stamp.
    pub fn finish(mut self) -> io::Result<AsRead> {
        if let Some(stamp) = self.stamp {
            return Ok(AsRead::Stamp(stamp));
        }
        io::copy(&mut self, &mut io::sink())?;
        let hasher = self.hasher.unwrap_or_default();
        Ok(AsRead::Sha256(hex::encode(hasher.finalize())))
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

fn stamp_of(meta: &Metadata) -> FileStamp {
    let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    FileStamp {
        device: meta.dev(),
        inode: meta.ino(),
        len: meta.len(),
        modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
        changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
    }
}

/// The SHA-256 (hex) of the bytes the run read from `path` (`what` names it in errors, e.g.
/// "ledger file"). A stamped file is hashed now and must carry its stamp before and after.
pub fn sha256_of_read(path: &Path, as_read: &AsRead, what: &str) -> anyhow::Result<String> {
    let stamp = match as_read {
        AsRead::Sha256(hex) => return Ok(hex.clone()),
        AsRead::Stamp(stamp) => stamp,
    };
    let name = path.display();
    let changed = || {
        format!(
            "{what} {name} changed while the run read it (its size or times differ): the run \
             may have read it half-written and stores nothing; run again once the file is \
             complete"
        )
    };
    let file = File::open(path).with_context(changed)?;
    let same = |file: &File| -> anyhow::Result<()> {
        let now = file.metadata().with_context(changed)?;
        if stamp_of(&now) != *stamp {
            bail!(changed());
        }
        Ok(())
    };
    same(&file)?;
    let hex = sha256_hex(&file).with_context(|| format!("{what} {name}: cannot read"))?;
    same(&file)?;
    Ok(hex)
}

/// The SHA-256 (lowercase hex) of everything `reader` holds.
pub fn sha256_hex(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut reader, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn bytes_hashed_as_read_include_those_the_parser_left_unread() {
        let text = b"[{\"a\": 1}]\n\n   ";
        let mut hashed = Hashed::new(&text[..]);
        let mut first = [0u8; 4];
        hashed.read_exact(&mut first).expect("read");
        let as_read = hashed.finish().expect("read");
        assert_eq!(as_read, AsRead::Sha256(sha(text)));
    }

    #[test]
    fn a_regular_file_is_stamped_then_hashed_after_the_read_while_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger.csv");
        std::fs::write(&path, "date,amount\n2026-11-30,10.00\n").expect("write");
        let mut hashed = Hashed::open(File::open(&path).expect("open")).expect("stat");
        let mut read = String::new();
        hashed.read_to_string(&mut read).expect("read");
        let as_read = hashed.finish().expect("finish");
        assert!(matches!(as_read, AsRead::Stamp(_)), "{as_read:?}");
        assert_eq!(
            sha256_of_read(&path, &as_read, "ledger file").expect("unchanged"),
            sha(read.as_bytes())
        );

        // Rewritten with other bytes of the same length: the status-change time moves even if
        // the modification time is set back.
        let modified = std::fs::metadata(&path)
            .expect("stat")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "date,amount\n2026-11-30,10.01\n").expect("write");
        File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(modified)
            .expect("set mtime");
        let err = sha256_of_read(&path, &as_read, "ledger file").expect_err("changed");
        let text = format!("{err:#}");
        assert!(
            text.contains("ledger file") && text.contains("changed while the run read it"),
            "{text}"
        );

        // Gone is named the same way.
        std::fs::remove_file(&path).expect("remove");
        let err = sha256_of_read(&path, &as_read, "ledger file").expect_err("gone");
        assert!(format!("{err:#}").contains("ledger.csv"), "{err:#}");
    }
}
