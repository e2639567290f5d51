//! Offline Flexiti input: the Flexiti side read from contract-shaped JSON files instead of the
//! API (`run --flexiti-dir DIR`, replays of an audit bundle, the reconcile benchmark).
//!
//! Every `authorizations*.json` and `captures*.json` in the folder is one list page, bare or
//! wrapped. Files are parsed in parallel straight into typed rows (no JSON DOM), then merged
//! with the same de-duplication as a live fetch. Offline input is complete by definition: no
//! day is ever marked incomplete.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::domain::FlexitiSide;

use super::map::Collected;
use super::wire::{Page, WireAuthorization, WireCapture};

/// The Flexiti side read from a folder, and the files it came from (for the audit bundle).
#[derive(Debug, Default)]
pub struct OfflineInput {
    pub side: FlexitiSide,
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileKind {
    Authorizations,
    Captures,
}

fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    if !name.ends_with(".json") {
        return None;
    }
    if name.starts_with("authorizations") {
        Some(FileKind::Authorizations)
    } else if name.starts_with("captures") {
        Some(FileKind::Captures)
    } else {
        None
    }
}

fn parse_file(path: &Path, kind: FileKind) -> anyhow::Result<Collected> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut collected = Collected::default();
    match kind {
        FileKind::Authorizations => {
            let page: Page<WireAuthorization> = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not an authorizations page", path.display()))?;
            collected.add_authorizations(page.items);
        }
        FileKind::Captures => {
            let page: Page<WireCapture> = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a captures page", path.display()))?;
            collected.add_captures(page.items);
        }
    }
    Ok(collected)
}

/// Reads every `authorizations*.json` and `captures*.json` in `dir`.
pub fn load_dir(dir: &Path) -> anyhow::Result<OfflineInput> {
    let mut files: Vec<(PathBuf, FileKind)> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read the flexiti folder", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: cannot list the flexiti folder", dir.display()))?
        .into_iter()
        .filter_map(|p| kind_of(&p).map(|k| (p, k)))
        .collect();
    files.sort();
    if !files.iter().any(|(_, k)| *k == FileKind::Captures) {
        bail!(
            "{}: no captures*.json file (expected flexiti list pages)",
            dir.display()
        );
    }

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let chunks: Vec<Vec<(PathBuf, FileKind)>> = (0..workers)
        .map(|w| files.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let parts: Vec<anyhow::Result<Collected>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let mut acc = Collected::default();
                    for (path, kind) in chunk {
                        acc.merge(parse_file(path, *kind)?);
                    }
                    Ok(acc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a flexiti file reader panicked")))
            })
            .collect()
    });

    let mut all = Collected::default();
    for part in parts {
        all.merge(part?);
    }
    tracing::info!(
        files = files.len(),
        captures = all.captures.len(),
        authorizations = all.listed.len(),
        "read flexiti files from {}",
        dir.display()
    );
    Ok(OfflineInput {
        side: all.into_side(),
        files: files.into_iter().map(|(p, _)| p).collect(),
    })
}
