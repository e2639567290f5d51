//! flexiti-recon: reconciles a merchant's Flexiti point-of-sale financing transactions
//! against its own sales ledger, records every mismatch and reports it.

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod domain;
pub mod exit;
pub mod export;
pub mod flexiti;
pub mod job;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod reconcile;
pub mod redact;
pub mod report;
pub mod sandbox;
pub mod store;
pub mod telemetry;
