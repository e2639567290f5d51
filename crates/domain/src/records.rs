//! The two sides of a reconciliation, as the engine sees them: Flexiti records (captures and
//! their returns) and ledger rows, both already validated.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Amount, InvalidRecord, Label};

/// Short text held inline (references are well under 24 bytes): a large run holds millions of
/// them, and one heap allocation each cost more than the parsing.
pub type Text = compact_str::CompactString;

/// Direction of money: a sale (capture) or a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sale,
    Return,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sale => "sale",
            Kind::Return => "return",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "sale" => Some(Kind::Sale),
            "return" => Some(Kind::Return),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Flexiti money movement: a capture (a sale) or one of its returns. `amount` is a positive
/// magnitude; [`FlexitiRecord::kind`] gives the direction.
///
/// A large run holds tens of millions of records, so the kind is not a field of its own: a
/// record is a return exactly when it has a return id, and one word holds the id or says there
/// is none (72 bytes a record instead of 88).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexitiRecord {
    pub reference: Text,
    pub amount: Amount,
    /// When the capture or the return happened (UTC instant).
    pub at: DateTime<Utc>,
    pub capture_id: u64,
    /// The return's id, or [`NOT_A_RETURN`] for a sale.
    return_id: u64,
    pub authorization_id: u64,
    /// The authorization's `external_location_id`, else the capture's.
    pub store: Option<Label>,
}

/// The return id a sale carries. Ids have at most 16 digits (the Flexiti reader takes no
/// more), so no return has it.
const NOT_A_RETURN: u64 = u64::MAX;

impl FlexitiRecord {
    /// A capture (`return_id` `None`) or the return `return_id` of capture `capture_id`.
    ///
    /// # Panics
    ///
    /// When `return_id` is `Some(u64::MAX)`, the value that marks a sale. The Flexiti reader
    /// takes ids of at most 16 digits, so only a bug in the caller can pass it.
    pub fn new(
        capture_id: u64,
        return_id: Option<u64>,
        authorization_id: u64,
        reference: Text,
        amount: Amount,
        at: DateTime<Utc>,
        store: Option<Label>,
    ) -> Self {
        assert_ne!(
            return_id,
            Some(NOT_A_RETURN),
            "a return id of 16 digits or fewer"
        );
        FlexitiRecord {
            reference,
            amount,
            at,
            capture_id,
            return_id: return_id.unwrap_or(NOT_A_RETURN),
            authorization_id,
            store,
        }
    }

    /// A sale, or a return.
    pub fn kind(&self) -> Kind {
        if self.return_id == NOT_A_RETURN {
            Kind::Sale
        } else {
            Kind::Return
        }
    }

    /// Set for returns only.
    pub fn return_id(&self) -> Option<u64> {
        (self.return_id != NOT_A_RETURN).then_some(self.return_id)
    }

    /// The id used to order ties and to identify the record: the return id for a return,
    /// the capture id for a sale.
    pub fn record_id(&self) -> u64 {
        self.return_id().unwrap_or(self.capture_id)
    }

    /// A stable, human-readable identity such as `capture:346123` or `return:9000000000123456`.
    pub fn identity(&self) -> String {
        match self.return_id() {
            Some(id) => format!("return:{id}"),
            None => format!("capture:{}", self.capture_id),
        }
    }
}

/// An authorization listed by Flexiti that no fetched capture refers to: what the
/// `not_captured` check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationInfo {
    pub authorization_id: u64,
    pub reference: Text,
    pub created_at: DateTime<Utc>,
    pub amount: Amount,
    pub store: Option<Text>,
}

/// Everything the fetch stage learned from Flexiti for a window.
#[derive(Debug, Clone, Default)]
pub struct FlexitiSide {
    /// Every capture and return fetched (de-duplicated), before any window filter.
    pub records: Vec<FlexitiRecord>,
    /// Authorizations listed on a fetched date that no fetched capture refers to (captured
    /// ones are only counted: the rules never look at them).
    pub authorizations: Vec<AuthorizationInfo>,
    /// Every authorization listed on a fetched date, captured or not.
    pub listed_authorizations: u64,
    /// Business days for which some page or lookup failed.
    pub incomplete_days: BTreeSet<NaiveDate>,
    /// Records that break the contract: in none of the vectors above; their references are
    /// not judged.
    pub invalid: Vec<InvalidRecord>,
}

/// One validated row of the merchant's sales ledger, in the configured tender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// Index into [`LedgerSide::files`].
    pub file_index: u32,
    /// 1-based line number in the file (the header is line 1). A `u32` keeps the row at 64
    /// bytes (a large run holds tens of millions); a row past line 4,294,967,295 is rejected.
    pub line: u32,
    pub at: DateTime<Utc>,
    /// Store after the store map (Flexiti's `external_location_id` when mapped).
    pub store: Option<Label>,
    pub register: Option<Label>,
    pub reference: Text,
    pub kind: Kind,
    /// Positive magnitude.
    pub amount: Amount,
}

/// A ledger row that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerReject {
    pub file: String,
    pub line: u64,
    pub reason: String,
    /// The row's fields as read, rejoined with the file's delimiter, account-like numbers
    /// masked, bounded in length; empty when the row could not be split into fields.
    pub raw: String,
}

/// What the run knows of an input file's bytes as it read them, for the audit bundle's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsRead {
    /// The SHA-256 (hex) of the bytes, taken as they were read: a pipe or anything else that
    /// cannot be read twice.
    Sha256(String),
    /// A regular file as it was when opened: hashed once the run is over, if it is still the
    /// same file with the same size and times.
    Stamp(FileStamp),
}

/// A regular file's identity and last change, from `fstat` of the open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub device: u64,
    pub inode: u64,
    pub len: u64,
    /// Last modification and last status change, in nanoseconds since 1970 (a write moves
    /// both; setting the modification time back moves the status change).
    pub modified_ns: i128,
    pub changed_ns: i128,
}

/// Everything the ingest stage read from the ledger files.
#[derive(Debug, Clone, Default)]
pub struct LedgerSide {
    pub files: Vec<PathBuf>,
    /// Each file's bytes as the run read them, in the order of `files`.
    pub as_read: Vec<AsRead>,
    pub rows: Vec<LedgerRow>,
    pub rejects: Vec<LedgerReject>,
    /// Rows of other tenders: counted, not reconciled, not rejected.
    pub ignored_other_tender: u64,
    /// Files given more than once (or identical copies), each read once: one warning each.
    pub warnings: Vec<String>,
}

impl LedgerSide {
    pub fn file_name(&self, index: u32) -> String {
        self.files
            .get(index as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// Masks an account number to its last four characters: `20076677` → `****6677`.
pub fn mask_account(account: &str) -> String {
    let chars: Vec<char> = account.trim().chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let last4: String = chars[chars.len() - 4..].iter().collect();
    format!("****{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_row_fits_in_64_bytes() {
        // A large run holds tens of millions of rows: every 8 bytes is 80 MB at 10M rows.
        assert!(std::mem::size_of::<LedgerRow>() <= 64);
    }

    #[test]
    fn a_flexiti_record_fits_in_72_bytes_and_knows_its_kind_from_its_return_id() {
        assert!(std::mem::size_of::<FlexitiRecord>() <= 72);
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let sale = FlexitiRecord::new(7, None, 3, "A".into(), Amount::ZERO, at, None);
        assert_eq!(
            (sale.kind(), sale.return_id(), sale.record_id()),
            (Kind::Sale, None, 7)
        );
        let ret = FlexitiRecord::new(7, Some(0), 3, "A".into(), Amount::ZERO, at, None);
        assert_eq!(
            (ret.kind(), ret.return_id(), ret.record_id()),
            (Kind::Return, Some(0), 0)
        );
        let largest = 9_999_999_999_999_999;
        let ret = FlexitiRecord::new(7, Some(largest), 3, "A".into(), Amount::ZERO, at, None);
        assert_eq!(
            (ret.kind(), ret.identity()),
            (Kind::Return, format!("return:{largest}"))
        );
    }

    #[test]
    fn masks_all_but_the_last_four_digits() {
        assert_eq!(mask_account("20076677"), "****6677");
        assert_eq!(mask_account("12345678901234"), "****1234");
        assert_eq!(mask_account("123"), "***");
    }
}
