//! Domain types shared by every stage: exact money, record kinds, the two sides of the
//! reconciliation and the findings it produces.
//!
//! Values are validated where they enter (the Flexiti adapter, the ledger reader), so every stage
//! after that works only with valid values: an [`Amount`] is a whole number of cents, a business
//! day is a local calendar date in the merchant's zone, and a [`Discrepancy`] always carries the
//! explanation an accountant needs.

mod accounts;
mod amount;
mod finding;
mod history;
mod invalid;
mod label;
mod records;
mod run;
mod time;

pub use accounts::{mask_account_parameter, scrub_accounts};
pub use amount::{Amount, AmountError, Total};
pub use finding::{Category, Discrepancy, Pass, Severity, Suggestion};
pub use history::{ChangeSummary, FindingStatus, StoredDiscrepancy};
pub use invalid::{Breach, INVALID_RECORD_CODE, InvalidRecord};
pub use label::{Label, Labels};
pub use records::{
    AsRead, AuthorizationInfo, FileStamp, FlexitiRecord, FlexitiSide, Kind, LedgerReject,
    LedgerRow, LedgerSide, Text, mask_account,
};
pub use run::{DayStoreTotals, FailedCall, RunStatus, SideTotals};
pub use time::{BusinessCalendar, DayRange, RememberingCalendar, plain_date_time};
