//! Flexiti records that break the contract: a negative or non-numeric amount, no reference, an
//! unparseable date. They are never paired; each is reported like a failed call (where it was
//! read, its id, the field and the value) and the reference it carries is not judged: the
//! engine turns that reference's ledger rows into `unverified` findings and draws no finding
//! from its other Flexiti records.

use chrono::NaiveDate;

use super::Text;

/// The error code under which an invalid record is reported among the failed calls.
pub const INVALID_RECORD_CODE: &str = "invalid_record";

/// Which contract rule a record breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Breach {
    NegativeAmount,
    /// Not a number of dollars with at most 2 decimals, null, or absent.
    BadAmount,
    /// Not an ISO-8601 timestamp, null, or absent.
    BadDate,
    /// Neither the record, its capture nor its authorization has a reference.
    NoReference,
}

impl Breach {
    /// The contract's name of the field that is wrong.
    pub fn field(self) -> &'static str {
        match self {
            Breach::NegativeAmount | Breach::BadAmount => "amount",
            Breach::BadDate => "date",
            Breach::NoReference => "reference",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Breach::NegativeAmount => "negative amount",
            Breach::BadAmount => "not an amount",
            Breach::BadDate => "unparseable date",
            Breach::NoReference => "no reference",
        }
    }
}

/// One invalid Flexiti record, with where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRecord {
    /// The list call (`GET /v2.5.1/client-id/{client_id}/captures`) or the file it came from.
    pub source: String,
    /// The call's parameters (date, page); empty for a file.
    pub parameters: String,
    /// The UTC date a list page was fetching, if any.
    pub utc_date: Option<NaiveDate>,
    /// `capture:ID`, `return:ID` or `authorization:ID`.
    pub id: String,
    /// The reference it carries (its own, else its capture's, else its authorization's);
    /// empty when it has none.
    pub reference: Text,
    pub breach: Breach,
    /// The field's value as sent (JSON text), `(absent)` when the field was missing.
    pub value: String,
}

impl InvalidRecord {
    /// `capture:346123 amount -10.00 (negative amount)`, for messages and explanations.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.id,
            self.breach.field(),
            self.value,
            self.breach.as_str()
        )
    }
}
