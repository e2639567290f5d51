//! flexiti-recon: reconciles a merchant's Flexiti point-of-sale financing transactions
//! against its own sales ledger, records every mismatch and reports it.

pub mod domain;
pub mod export;
pub mod notify;
pub mod report;
