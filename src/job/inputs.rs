//! The inputs stage: the ledger files read, and the Flexiti side of the match window, from the
//! API, from JSON files (`--flexiti-dir`) or from a bundle (`--replay`).

use std::path::PathBuf;

use super::Plan;
use super::progress::Stages;
use crate::audit::Replay;
use crate::domain::{AsRead, FailedCall, FlexitiSide, LedgerSide};
use crate::flexiti::{self, RawPage};
use crate::ledger;

/// Both sides of the run, and what the audit bundle keeps of where they came from.
pub struct Inputs {
    pub ledger: LedgerSide,
    pub flexiti: FlexitiSide,
    /// The calls that failed, the Flexiti side's invalid records among them.
    pub failed_calls: Vec<FailedCall>,
    /// The pages as fetched (empty unless read from the API).
    pub pages: Vec<RawPage>,
    /// The JSON files read with `--flexiti-dir`, each with what the bundle needs to hash the
    /// bytes read (`src/hashed.rs`).
    pub flexiti_files: Vec<(PathBuf, AsRead)>,
}

/// Reads the ledger and the Flexiti side. From files (`--flexiti-dir`, `--replay`) both are
/// read at once, on their own threads: the two reads each leave a core idle part of the time.
/// From the API the ledger is read first, so that a ledger that cannot be read fails the run
/// before any call to Flexiti.
pub async fn gather(plan: &Plan<'_>, stages: &Stages) -> anyhow::Result<Inputs> {
    // Reading frees as much as it keeps (pages, parts, the authorizations and sort keys once
    // the side is built): handed back as it goes, so the engine starts from what the inputs
    // hold (`src/memory.rs`).
    let _hand_back = crate::memory::hand_back_freed();
    let config = plan.config;
    let read_ledger =
        || ledger::read_files(&plan.ledger_files, &config.file.ledger, config.calendar);
    let (ledger, side, fetched) = match (&plan.replay, &plan.request.flexiti_dir) {
        (None, None) => {
            stages.begin("reading the ledger");
            let ledger = read_ledger()?;
            stages.done("ledger");
            stages.begin("fetching the Flexiti side");
            (ledger, from_api(plan, stages).await?, true)
        }
        (Some(replay), _) => {
            let (ledger, side) = both_at_once(stages, read_ledger, || from_replay(replay))?;
            (ledger, side, false)
        }
        (None, Some(dir)) => {
            let (ledger, side) = both_at_once(stages, read_ledger, || from_files(dir))?;
            (ledger, side, false)
        }
    };
    let failed_calls =
        flexiti::with_invalid_records(side.failed_calls, &side.flexiti, &plan.x_reference_id);
    if fetched {
        stages.done("flexiti");
    }
    Ok(Inputs {
        ledger,
        flexiti: side.flexiti,
        failed_calls,
        pages: side.pages,
        flexiti_files: side.files,
    })
}

/// The ledger and the Flexiti side from files, read at once; each stage logged with its own
/// time. A ledger that cannot be read is the error, as when it is read first.
fn both_at_once(
    stages: &Stages,
    read_ledger: impl FnOnce() -> anyhow::Result<LedgerSide> + Send,
    read_side: impl FnOnce() -> anyhow::Result<Side>,
) -> anyhow::Result<(LedgerSide, Side)> {
    stages.begin("reading the ledger and the Flexiti files");
    let (ledger, side) = std::thread::scope(|scope| {
        let ledger = scope.spawn(|| timed("ledger", read_ledger));
        let side = timed("flexiti", read_side);
        let ledger = ledger
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the ledger reader stopped unexpectedly")));
        (ledger, side)
    });
    Ok((ledger?, side?))
}

/// `read()`, its stage logged with how long it took (`stage done`).
fn timed<T>(stage: &str, read: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let started = std::time::Instant::now();
    let read = read()?;
    Stages::took(stage, started.elapsed());
    Ok(read)
}

/// The Flexiti side as one source gave it.
#[derive(Default)]
struct Side {
    flexiti: FlexitiSide,
    failed_calls: Vec<FailedCall>,
    pages: Vec<RawPage>,
    files: Vec<(PathBuf, AsRead)>,
}

fn from_replay(replay: &Replay) -> anyhow::Result<Side> {
    let mut input = flexiti::load_dir(&replay.flexiti_dir)?;
    if !replay.flexiti_files.is_empty() {
        // The recorded files were checked on loading; a file added since would change the
        // input without changing any recorded hash.
        for file in &input.files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !replay.flexiti_files.contains(&name) {
                anyhow::bail!(
                    "--replay {}: Flexiti file {} was added since run {} read the folder; \
                     move it away to replay, or rerun the night with run --flexiti-dir",
                    replay.run_id,
                    file.display(),
                    replay.run_id
                );
            }
        }
    }
    input.side.incomplete_days = replay.incomplete_days.clone();
    Ok(Side {
        flexiti: input.side,
        failed_calls: replay.failed_calls.clone(),
        ..Side::default()
    })
}

fn from_files(dir: &std::path::Path) -> anyhow::Result<Side> {
    let input = flexiti::load_dir(dir)?;
    tracing::info!(
        records = input.side.records.len(),
        files = input.files.len(),
        "read the Flexiti side from files"
    );
    Ok(Side {
        flexiti: input.side,
        files: input.files.into_iter().zip(input.as_read).collect(),
        ..Side::default()
    })
}

async fn from_api(plan: &Plan<'_>, stages: &Stages) -> anyhow::Result<Side> {
    let config = plan.config;
    if config.flexiti.client_id.is_empty() {
        anyhow::bail!(
            "config flexiti.client_id: required to fetch from the Flexiti API (or pass --flexiti-dir)"
        );
    }
    if !config.flexiti.has_client_secret() {
        anyhow::bail!(
            "FLEXITI_CLIENT_SECRET: not set (nor FLEXITI_CLIENT_SECRET_FILE); the Flexiti client secret comes from the environment"
        );
    }
    let window = plan.range.widen(config.file.match_window_days);
    let report = |p: flexiti::FetchProgress| stages.fetch(p);
    let outcome = flexiti::fetch_with_progress(
        &config.flexiti,
        config.calendar,
        window,
        &plan.x_reference_id,
        &report,
    )
    .await;
    tracing::info!(
        records = outcome.side.records.len(),
        pages = outcome.stats.pages,
        failed = outcome.failed_calls.len(),
        "fetched from Flexiti"
    );
    Ok(Side {
        flexiti: outcome.side,
        failed_calls: outcome.failed_calls,
        pages: outcome.pages,
        files: Vec::new(),
    })
}
