//! The SHA-256 of an input file as it is read: the audit bundle records the hash of the very
//! bytes the run reconciled, not of the file as it is on disk once the run is over (a ledger
//! export rewritten meanwhile would otherwise be recorded with content the run never saw, and a
//! replay would check it against the wrong bytes).

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// A reader that hashes every byte it hands on.
pub struct Hashed<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Hashed<R> {
    pub fn new(inner: R) -> Self {
        Hashed {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Reads what is left (a reader may stop at the end of what it parses, before trailing
    /// whitespace), then gives the hash of everything read, as lowercase hex, and its length.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes))
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
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
        hashed.read_exact(&mut first).unwrap();
        let (hex, bytes) = hashed.finish().unwrap();
        assert_eq!(bytes, text.len() as u64);
        assert_eq!(hex, hex::encode(Sha256::digest(text)));
    }

    #[test]
    fn two_contents_give_two_hashes() {
        let a = Hashed::new(&b"2026-11-30,10.00"[..]).finish().unwrap();
        let b = Hashed::new(&b"2026-11-30,10.01"[..]).finish().unwrap();
        assert_ne!(a.0, b.0);
    }
}
