//! The SHA-256 of an input file as it is read: the audit bundle records the hash of the very
//! bytes the run reconciled, not of the file as it is on disk once the run is over (a ledger
//! export rewritten meanwhile would otherwise be recorded with content the run never saw, and a
//! replay would check it against the wrong bytes).

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// A reader that hashes every byte it hands on, or, made with [`Hashed::unhashed`], only
/// passes them on (a run that writes no bundle needs no hash: hashing a gigabyte of JSON costs
/// a few tenths of a second).
pub struct Hashed<R> {
    inner: R,
    hasher: Option<Sha256>,
}

impl<R: Read> Hashed<R> {
    pub fn new(inner: R) -> Self {
        Hashed {
            inner,
            hasher: Some(Sha256::new()),
        }
    }

    pub fn unhashed(inner: R) -> Self {
        Hashed {
            inner,
            hasher: None,
        }
    }

    /// Reads what is left (a reader may stop at the end of what it parses, before trailing
    /// whitespace), then gives the hash of everything read, as lowercase hex; `None` unhashed.
    pub fn finish(mut self) -> io::Result<Option<String>> {
        if self.hasher.is_none() {
            return Ok(None);
        }
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.hasher.map(|h| hex::encode(h.finalize())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_of_every_byte_read_even_those_left_unread_by_the_parser() {
        let text = b"[{\"a\": 1}]\n\n   ";
        let mut hashed = Hashed::new(&text[..]);
        let mut first = [0u8; 4];
        hashed.read_exact(&mut first).expect("read");
        let hex = hashed.finish().expect("read");
        assert_eq!(hex, Some(hex::encode(Sha256::digest(text))));
    }

    #[test]
    fn two_contents_give_two_hashes_and_unhashed_gives_none() {
        let a = Hashed::new(&b"2026-11-30,10.00"[..])
            .finish()
            .expect("read");
        let b = Hashed::new(&b"2026-11-30,10.01"[..])
            .finish()
            .expect("read");
        assert!(a.is_some() && b.is_some());
        assert_ne!(a, b);
        let mut unhashed = Hashed::unhashed(&b"2026-11-30,10.00"[..]);
        let mut read = String::new();
        unhashed.read_to_string(&mut read).expect("read");
        assert_eq!(read, "2026-11-30,10.00");
        assert_eq!(unhashed.finish().expect("read"), None);
    }
}
