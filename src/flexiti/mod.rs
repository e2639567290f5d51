//! The Flexiti POS API adapter: everything this project assumes about Flexiti lives here.
//!
//! Layers, each in its own file: `wire` (serde types for the contract's bodies, tolerant of
//! numbers-or-strings), `map` (wire rows to the domain's [`FlexitiSide`], de-duplicated, rows
//! that break the contract set apart as invalid records), `invalid` (those reported as failed
//! calls), `client` (token, retries, one HTTP exchange), `mask` (account numbers masked in every
//! body), `fetch` (the UTC dates, lookups and completeness), `paging` (the pages of one
//! date query), `offline` (the same side read from JSON files), `check` (the reachability
//! probe); `token` checks token replies, `http` refuses redirects, plain http and oversized
//! bodies, `pace` shares a rate-limit pause between calls. The engine sees only
//! [`FlexitiSide`] and [`crate::domain::FailedCall`]; it never sees HTTP or a wire type.
//!
//! [`FlexitiSide`]: crate::domain::FlexitiSide

mod check;
mod client;
mod error;
mod fetch;
#[cfg(test)]
mod fuzz;
mod http;
mod invalid;
#[cfg(test)]
mod invalid_tests;
mod map;
mod mask;
mod offline;
mod outcome;
mod pace;
mod paging;
mod settings;
pub mod token;
pub mod wire;

pub use check::{CheckReport, check};
pub use client::{CallErr, CallOk, CallSpec, FlexitiClient};
pub use error::FlexitiError;
pub use fetch::{FetchProgress, fetch, fetch_with_progress};
pub use invalid::with_invalid_records;
pub use offline::{OfflineInput, load_dir};
pub use outcome::{FetchOutcome, FetchStats, RawPage};
pub use settings::{FlexitiSettings, MERCHANT_INTEGRATION_URL, PRODUCTION_URL, TRAINING_URL};
