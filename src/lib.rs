//! flexiti-recon: reconciles a merchant's Flexiti point-of-sale financing transactions
//! against its own sales ledger, records every mismatch and reports it.

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod exit;
pub mod export;
pub mod flexiti;
pub mod hashed;
pub mod job;
pub mod ledger;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod prefetch;
pub mod reconcile;
pub mod redact;
pub mod report;
pub mod sorting;
pub mod store;
pub mod telemetry;

/// The types every stage shares live in their own crate (crates/domain), which imports no other
/// part of the project; they keep their `domain::` paths.
pub use flexiti_recon_domain as domain;
