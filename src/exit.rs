//! Exit codes, mapped in one place. Each code has one meaning; `--help` and the README list them.

/// What the process tells cron.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done. Discrepancies are findings, not failures.
    Done = 0,
    /// A fatal error: nothing was judged (the database is left as it was).
    Fatal = 1,
    /// Bad usage or configuration.
    Usage = 2,
    /// Results stored, but some Flexiti calls, the email or the run's CSV failed.
    Partial = 3,
    /// Discrepancies found and `--fail-on-discrepancy` was given.
    Discrepancies = 4,
    /// Another run holds the lock (EX_TEMPFAIL).
    Locked = 75,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that knows its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{source:#}")]
pub struct AppError {
    pub exit: Exit,
    pub source: anyhow::Error,
}

impl AppError {
    pub fn usage(source: anyhow::Error) -> Self {
        AppError {
            exit: Exit::Usage,
            source,
        }
    }
    pub fn fatal(source: anyhow::Error) -> Self {
        AppError {
            exit: Exit::Fatal,
            source,
        }
    }
    pub fn locked(source: anyhow::Error) -> Self {
        AppError {
            exit: Exit::Locked,
            source,
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(source: anyhow::Error) -> Self {
        AppError::fatal(source)
    }
}

pub const EXIT_CODES_HELP: &str = "Exit codes:
  0   done (discrepancies are findings, not failures)
  1   fatal error (nothing judged; the database is left as it was)
  2   bad usage or configuration
  3   partial: results stored, but some Flexiti calls, the email or the CSV failed
  4   discrepancies found with --fail-on-discrepancy
  75  another run holds the lock";
