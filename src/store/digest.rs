//! A digest of the values a run gives a finding, stored with them (`discrepancies.value_digest`)
//! to tell a finding found again unchanged from one whose values moved.
//!
//! A finding found again unchanged needs only its `last_seen_*` (and a resolved one its status)
//! written, which on PostgreSQL costs a fraction of the upsert that rewrites every value from
//! the unnested arrays (docs/DATA.md, "How a run's results are written"). The store writes the
//! digest with the values, in the same statement, and reads it back before the next run writes:
//! reading a stored column costs a tenth of digesting the stored values in SQL. A digest that
//! differs, or none (a row from before migration 0008), only sends the finding through the
//! upsert, which writes the digest again: it can cost time, never a value.
//!
//! The text digested is, for each value in order, `<characters>:<text> ` for a text, `<n> ` for
//! an integer and `- ` for none: a text carries its own length, so no value can run into the
//! next. The digest is the first 128 bits of the SHA-256 of that text, in hex (32 characters):
//! enough that two different value lists never meet in practice, half the width of the whole.

use std::io::Write;

use sha2::{Digest, Sha256};

/// The digest of one finding's values, fed in the order of the findings' `VALUE_COLUMNS`.
#[derive(Default)]
pub(super) struct ValuesDigest {
    hasher: Sha256,
    scratch: Vec<u8>,
}

impl ValuesDigest {
    pub fn text(&mut self, value: Option<&str>) {
        match value {
            Some(text) => {
                self.scratch.clear();
                // Writing into a Vec cannot fail.
                let _ = write!(self.scratch, "{}:", text.chars().count());
                self.hasher.update(&self.scratch);
                self.hasher.update(text.as_bytes());
                self.hasher.update(b" ");
            }
            None => self.hasher.update(b"- "),
        }
    }

    pub fn int(&mut self, value: Option<i64>) {
        match value {
            Some(n) => {
                self.scratch.clear();
                let _ = write!(self.scratch, "{n} ");
                self.hasher.update(&self.scratch);
            }
            None => self.hasher.update(b"- "),
        }
    }

    pub fn finish(self) -> String {
        hex::encode(&self.hasher.finalize()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(values: &[(Option<&str>, Option<i64>)]) -> String {
        let mut d = ValuesDigest::default();
        for (text, int) in values {
            d.text(*text);
            d.int(*int);
        }
        d.finish()
    }

    #[test]
    fn no_two_different_value_lists_read_the_same() {
        let cases = [
            digest(&[(Some("a b"), Some(1)), (Some("c"), None)]),
            digest(&[(Some("a"), Some(1)), (Some("b c"), None)]),
            digest(&[(Some("a b"), None), (Some("c"), Some(1))]),
            digest(&[(Some(""), Some(1)), (Some("c"), None)]),
            digest(&[(None, Some(1)), (Some("c"), None)]),
            digest(&[(Some("-"), Some(1)), (Some("c"), None)]),
            digest(&[(Some("a b"), Some(-1)), (Some("c"), None)]),
            digest(&[(Some("1:a"), Some(1)), (Some("c"), None)]),
        ];
        for (i, a) in cases.iter().enumerate() {
            for b in &cases[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            cases[0],
            digest(&[(Some("a b"), Some(1)), (Some("c"), None)])
        );
    }

    #[test]
    fn a_digest_is_the_first_half_of_the_sha256_of_the_text_in_hex() {
        let mut d = ValuesDigest::default();
        d.text(Some("é b"));
        d.int(Some(-42));
        d.text(None);
        let whole = hex::encode(Sha256::digest("3:é b -42 - ".as_bytes()));
        assert_eq!(d.finish(), whole[..32]);
    }
}
