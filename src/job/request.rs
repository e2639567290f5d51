//! What the caller asked of a run: the command line's `run` flags, or a test's request.

use std::path::PathBuf;

use crate::cli::RunArgs;
use crate::domain::DayRange;

/// What the caller asked for.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub range: Option<DayRange>,
    /// Only this store (a shop), when given.
    pub store: Option<String>,
    pub dry_run: bool,
    pub no_email: bool,
    pub flexiti_dir: Option<PathBuf>,
    /// Ledger files that replace the configured ones.
    pub ledger: Vec<PathBuf>,
    pub replay: Option<i64>,
    pub fail_on_discrepancy: bool,
    pub csv: Option<PathBuf>,
    pub trigger: String,
    pub wait: bool,
    /// Show a spinner with the current stage (a terminal with human logs).
    pub progress: bool,
}

impl RunRequest {
    pub fn from_args(args: &RunArgs) -> Self {
        let range = match (args.date, args.from, args.to) {
            (Some(d), _, _) => Some(DayRange::single(d)),
            (None, Some(from), Some(to)) => Some(DayRange::new(from, to)),
            _ => None,
        };
        RunRequest {
            range,
            store: args.store.clone(),
            dry_run: args.dry_run,
            no_email: args.no_email,
            flexiti_dir: args.flexiti_dir.clone(),
            ledger: args.ledger.clone(),
            replay: args.replay,
            fail_on_discrepancy: args.fail_on_discrepancy,
            csv: args.csv.clone(),
            trigger: args.trigger.clone(),
            wait: args.wait,
            progress: false,
        }
    }
}
