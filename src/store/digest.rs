//! A digest of the values a run gives a finding it finds again, computed the same way by the
//! store (from the run's values) and by PostgreSQL (from the stored ones), to tell a finding
//! found again unchanged from one whose values moved.
//!
//! A finding found again unchanged needs only its `last_seen_*` (and a resolved one its status)
//! written, which on PostgreSQL costs a fraction of the upsert that rewrites every value from 25
//! unnested arrays (docs/DATA.md, "How a run's results are written"). A digest that differs,
//! for whatever reason (another database encoding, say), only sends the finding through the
//! upsert: it can cost time, never a value.
//!
//! The text digested is, for each value in order, `<characters>:<text> ` for a text, `<n> ` for
//! an integer and `- ` for none: a text carries its own length, so no value can run into the
//! next. The digest is the SHA-256 of that text in UTF-8, in hex.

use sha2::{Digest, Sha256};

/// A column's type in the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Int,
}

/// The digest of one finding's values, fed in the order of the columns given to [`sql`].
#[derive(Default)]
pub(super) struct ValuesDigest {
    hasher: Sha256,
}

impl ValuesDigest {
    pub fn text(&mut self, value: Option<&str>) {
        match value {
            Some(text) => {
                self.hasher
                    .update(format!("{}:", text.chars().count()).as_bytes());
                self.hasher.update(text.as_bytes());
                self.hasher.update(b" ");
            }
            None => self.hasher.update(b"- "),
        }
    }

    pub fn int(&mut self, value: Option<i64>) {
        match value {
            Some(n) => self.hasher.update(format!("{n} ").as_bytes()),
            None => self.hasher.update(b"- "),
        }
    }

    pub fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

/// The same digest as a PostgreSQL expression over the stored `columns`.
pub(super) fn sql(columns: &[(&str, Kind)]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|(column, kind)| match kind {
            Kind::Text => {
                format!("coalesce(length({column})::text || ':' || {column}, '-') || ' '")
            }
            Kind::Int => format!("coalesce({column}::text, '-') || ' '"),
        })
        .collect();
    format!(
        "encode(sha256(convert_to({}, 'UTF8')), 'hex')",
        parts.join(" || ")
    )
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
    fn the_sql_digests_each_column_in_order_with_its_length() {
        let sql = sql(&[("explanation", Kind::Text), ("ledger_line", Kind::Int)]);
        assert_eq!(
            sql,
            "encode(sha256(convert_to(coalesce(length(explanation)::text || ':' || \
             explanation, '-') || ' ' || coalesce(ledger_line::text, '-') || ' ', 'UTF8')), \
             'hex')"
        );
    }
}
