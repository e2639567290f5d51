//! Command-line definitions (clap). Parsing only: `main` hands the parsed command to the app.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::Category;
use crate::exit::EXIT_CODES_HELP;
use crate::report::FindingStatus;

#[derive(Debug, Parser)]
#[command(name = "flexiti-recon", version, about = "Reconciles Flexiti POS financing transactions against the merchant's sales ledger", after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Log format: human (readable) or json (one object per line).
    #[arg(long, global = true, default_value = "human", env = "FLEXITI_LOG_FORMAT", value_parser = log_format)]
    pub log_format: LogFormat,
    /// More detail in the log (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// What a listing prints: aligned text for people, or JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// `--category`: a finding category under its stored name (`amount_mismatch`, ...). Clap refuses
/// any other value and lists the valid ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryArg(pub Category);

static CATEGORY_ARGS: [CategoryArg; Category::ALL.len()] = {
    let mut args = [CategoryArg(Category::ALL[0]); Category::ALL.len()];
    let mut i = 1;
    while i < args.len() {
        args[i] = CategoryArg(Category::ALL[i]);
        i += 1;
    }
    args
};

impl ValueEnum for CategoryArg {
    fn value_variants<'a>() -> &'a [Self] {
        &CATEGORY_ARGS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// `--status`: open, resolved or acknowledged. Clap refuses any other value and lists these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusArg(pub FindingStatus);

static STATUS_ARGS: [StatusArg; 3] = [
    StatusArg(FindingStatus::Open),
    StatusArg(FindingStatus::Resolved),
    StatusArg(FindingStatus::Acknowledged),
];

impl ValueEnum for StatusArg {
    fn value_variants<'a>() -> &'a [Self] {
        &STATUS_ARGS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.0.as_str()))
    }
}

/// A bad value names the variable too: it may come from the environment, where clap's own
/// message would only name `--log-format`.
fn log_format(value: &str) -> Result<LogFormat, String> {
    LogFormat::from_str(value, true)
        .map_err(|_| "expected human or json (from --log-format or FLEXITI_LOG_FORMAT)".to_string())
}

#[derive(Debug, Args, Clone)]
pub struct ConfigArg {
    /// The config file (TOML); without one, every default applies.
    #[arg(long, short = 'c', env = "FLEXITI_RECON_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile business days (default: yesterday in the merchant's time zone).
    Run(RunArgs),
    /// Export stored discrepancies and day/store totals as CSV for accountants.
    Export(ExportArgs),
    /// List past runs or show one.
    Runs {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        action: RunsAction,
    },
    /// List, show or acknowledge stored discrepancies.
    Discrepancies {
        #[command(flatten)]
        config: ConfigArg,
        #[command(subcommand)]
        action: DiscrepancyAction,
    },
    /// Create or update the database schema.
    Migrate(ConfigArg),
    /// Check config, Flexiti token and one page, database and SMTP reachability.
    Check(ConfigArg),
    /// Exit non-zero when the last successful run is older than a threshold (for monitoring).
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Maximum age of the last successful run, in hours.
        #[arg(long, default_value_t = 26)]
        max_age_hours: i64,
    },
    /// The local fake Flexiti API and the synthetic data generator.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// Run the whole job on embedded defaults: sandbox API, SQLite file, email to a file.
    Demo {
        /// Where the demo keeps its database, email and exports.
        #[arg(long, default_value = "data/demo")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One business day (YYYY-MM-DD).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub date: Option<NaiveDate>,
    /// First business day of a rerun.
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last business day of a rerun.
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Only report findings and totals of this store (Flexiti external_location_id).
    #[arg(long)]
    pub store: Option<String>,
    /// Fetch and reconcile, write the email to the file outbox, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not send the email.
    #[arg(long)]
    pub no_email: bool,
    /// Ledger files to reconcile instead of the configured ones (repeatable).
    #[arg(long = "ledger", value_name = "FILE")]
    pub ledger: Vec<PathBuf>,
    /// Take the Flexiti side from contract-shaped JSON files in DIR instead of the API.
    #[arg(long, conflicts_with = "replay")]
    pub flexiti_dir: Option<PathBuf>,
    /// Replay a past run offline from its audit bundle.
    #[arg(long)]
    pub replay: Option<i64>,
    /// Exit 4 when discrepancies are found.
    #[arg(long)]
    pub fail_on_discrepancy: bool,
    /// Also write the discrepancies CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Recorded with the run: cron, manual, replay.
    #[arg(long, default_value = "manual")]
    pub trigger: String,
    /// Wait for another run to finish instead of exiting 75.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[arg(long)]
    pub from: Option<NaiveDate>,
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Only this category.
    #[arg(long, value_enum)]
    pub category: Option<CategoryArg>,
    /// Only this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    #[arg(long)]
    pub store: Option<String>,
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// One file per category.
    #[arg(long)]
    pub split: bool,
    /// For spreadsheets: UTF-8 BOM and CRLF.
    #[arg(long)]
    pub excel: bool,
    /// Use ';' as the delimiter.
    #[arg(long)]
    pub semicolon: bool,
    /// Decimal comma in amounts (implies --semicolon).
    #[arg(long)]
    pub decimal_comma: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// The most recent runs.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// `json`: one JSON array, amounts as exact decimal strings.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// One run with its failed calls and rejected rows.
    Show {
        id: i64,
        /// `json`: one JSON object, with `failed_calls` and `rejected_rows`.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscrepancyAction {
    /// Stored discrepancies, newest days first.
    List {
        #[arg(long)]
        from: Option<NaiveDate>,
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Only this category.
        #[arg(long, value_enum)]
        category: Option<CategoryArg>,
        /// Only this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// `json`: one JSON array, amounts as exact decimal strings.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// One discrepancy with its explanation and history.
    Show {
        id: i64,
        /// `json`: one JSON object.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Mark a discrepancy as acknowledged, with a note.
    Ack {
        id: i64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Serve the fake Flexiti API until stopped.
    Serve {
        /// Data set folder (with flexiti/*.json).
        #[arg(long = "data-dir", default_value = "samples")]
        data: PathBuf,
        #[arg(long, default_value_t = 8088)]
        port: u16,
        #[arg(long, default_value = "demo")]
        client_id: String,
        /// Faults, e.g. `latency_ms=50,server_error_per_mille=100,failing_dates=2026-11-24`.
        #[arg(long, default_value = "")]
        faults: String,
    },
    /// Write a seeded synthetic data set (Flexiti JSON, ledger CSV, expected findings).
    Generate {
        #[arg(long, short = 'o')]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of ledger rows (about).
        #[arg(long, default_value_t = 1000)]
        orders: u64,
        /// First business day.
        #[arg(long, default_value = "2026-11-23")]
        from: NaiveDate,
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Discrepancies per thousand orders.
        #[arg(long, default_value_t = 20)]
        discrepancy_per_mille: u32,
        /// Orders per thousand whose ledger reference is mistyped (truth in typos.csv).
        #[arg(long, default_value_t = 0)]
        typo_per_mille: u32,
        #[arg(long, default_value_t = 1)]
        flexiti_files: u32,
        #[arg(long, default_value_t = 1)]
        ledger_files: u32,
        /// Store ids, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "00-12345,00-67890")]
        stores: Vec<String>,
        /// Pretty-printed JSON (for small, readable data sets).
        #[arg(long)]
        pretty: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    use super::{CategoryArg, Cli, Command, DiscrepancyAction, StatusArg};
    use crate::domain::Category;
    use crate::report::FindingStatus;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn every_category_and_status_parses_under_its_stored_name() {
        for category in Category::ALL {
            for status in [
                FindingStatus::Open,
                FindingStatus::Resolved,
                FindingStatus::Acknowledged,
            ] {
                let cli = Cli::try_parse_from([
                    "flexiti-recon",
                    "export",
                    "--out",
                    "x",
                    "--category",
                    category.as_str(),
                    "--status",
                    status.as_str(),
                ])
                .expect("parses");
                let Command::Export(args) = cli.command else {
                    panic!("export");
                };
                assert_eq!(args.category, Some(CategoryArg(category)));
                assert_eq!(args.status, Some(StatusArg(status)));
            }
        }
        let cli = Cli::try_parse_from(["flexiti-recon", "discrepancies", "list"]).expect("parses");
        let Command::Discrepancies {
            action: DiscrepancyAction::List {
                category, status, ..
            },
            ..
        } = cli.command
        else {
            panic!("discrepancies list");
        };
        assert_eq!((category, status), (None, None), "both stay optional");
    }

    #[test]
    fn a_wrong_category_or_status_is_refused_listing_the_valid_ones() {
        for (flag, wrong, valid) in [
            (
                "--category",
                "amount_mismatc",
                Category::ALL.map(Category::as_str).to_vec(),
            ),
            (
                "--status",
                "closed",
                vec!["open", "resolved", "acknowledged"],
            ),
        ] {
            for command in [
                &["flexiti-recon", "export", "--out", "x"][..],
                &["flexiti-recon", "discrepancies", "list"][..],
            ] {
                let mut args = command.to_vec();
                args.extend([flag, wrong]);
                let err = Cli::try_parse_from(&args).expect_err("a wrong value");
                assert_eq!(err.kind(), ErrorKind::InvalidValue, "{args:?}");
                let text = err.render().to_string();
                assert!(text.contains(&format!("'{wrong}'")), "{text}");
                let listed = format!("[possible values: {}]", valid.join(", "));
                assert!(text.contains(&listed), "{text}");
            }
        }
    }
}
