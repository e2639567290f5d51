//! flexiti-recon: reconciles a merchant's Flexiti point-of-sale financing transactions
//! against its own sales ledger, records every mismatch and reports it.

pub mod domain;
pub mod report;
pub mod sandbox;
