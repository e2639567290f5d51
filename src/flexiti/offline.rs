//! Offline Flexiti input: the Flexiti side read from contract-shaped JSON files instead of the
//! API (`run --flexiti-dir DIR`, replays of an audit bundle, the reconcile benchmark).
//!
//! Every `authorizations*.json` and `captures*.json` in the folder is one list page, bare or
//! wrapped. Files are parsed in parallel straight into typed rows (no JSON DOM), each row
//! turned into records as it is read, then merged with the same de-duplication as a live fetch. Offline input is complete by definition: no
//! day is ever marked incomplete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Context, bail};

use crate::domain::{AsRead, FlexitiSide};
use crate::hashed::Hashed;

use super::map::{Collected, Source};
use super::wire::{WireAuthorization, WireCapture, for_each_row_from};

/// The Flexiti side read from a folder, and the files it came from (for the audit bundle).
#[derive(Debug, Default)]
pub struct OfflineInput {
    pub side: FlexitiSide,
    pub files: Vec<PathBuf>,
    /// Each file's bytes as they were read, in the order of `files` (`src/hashed.rs`).
    pub as_read: Vec<AsRead>,
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

/// One file's rows, read a chunk at a time into `buf` (kept between files) and turned into
/// records as they are parsed, and what the bundle needs to hash the bytes read.
fn parse_file(
    path: &Path,
    kind: FileKind,
    buf: &mut Vec<u8>,
) -> anyhow::Result<(Collected, AsRead)> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut part = Collected::default();
    // Room for the most rows the file can hold, so the part never grows by copying (room
    // never written costs address space, not memory).
    let most = file.metadata().map_or(0, |m| m.len()) / MIN_CAPTURE_BYTES_PER_RECORD;
    let most = usize::try_from(most).unwrap_or(0);
    let mut file =
        Hashed::open(file).with_context(|| format!("{}: cannot stat", path.display()))?;
    let source = Source::file(path);
    match kind {
        FileKind::Authorizations => {
            part.reserve_authorizations(most);
            for_each_row_from::<WireAuthorization>(&mut file, buf, |a| {
                part.add_authorizations(&source, [a])
            })
            .with_context(|| format!("{}: not an authorizations page", path.display()))?;
        }
        FileKind::Captures => {
            part.reserve_records(most);
            for_each_row_from::<WireCapture>(&mut file, buf, |c| part.add_captures(&source, [c]))
                .with_context(|| format!("{}: not a captures page", path.display()))?;
        }
    }
    let as_read = file
        .finish()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok((part, as_read))
}

/// Bytes of JSON per record or authorization row, at least: sizes the vectors up front.
const MIN_CAPTURE_BYTES_PER_RECORD: u64 = 64;

/// Reads every `authorizations*.json` and `captures*.json` in `dir`.
///
/// Files are parsed in parallel, each into its own part, and the parts are merged in file-name
/// order, so the first listing of a capture read twice is always the same one.
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

    let sizes: Vec<u64> = files
        .iter()
        .map(|(p, _)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let bytes_of = |kind: FileKind| -> u64 {
        files
            .iter()
            .zip(&sizes)
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    };
    let capture_bytes = bytes_of(FileKind::Captures);
    let auth_bytes = bytes_of(FileKind::Authorizations);
    // Rows per byte of the first authorizations file, to size the authorization table.
    let mut auths_estimated = false;
    let mut all = Collected::default();
    let mut as_read = Vec::with_capacity(files.len());
    all.reserve_records(
        usize::try_from(capture_bytes / MIN_CAPTURE_BYTES_PER_RECORD).unwrap_or(usize::MAX),
    );

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len());
    let next = AtomicUsize::new(0);
    // Parts wait in the channel only briefly: each holds a file's rows.
    let (sender, parts) = mpsc::sync_channel::<(usize, anyhow::Result<(Collected, AsRead)>)>(1);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..workers {
            let (sender, files, next) = (sender.clone(), &files, &next);
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, kind)) = files.get(i) else {
                        break;
                    };
                    let part = parse_file(path, *kind, &mut buf);
                    let failed = part.is_err();
                    // The receiver is gone only when the merge stopped on an error.
                    if sender.send((i, part)).is_err() || failed {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut waiting: BTreeMap<usize, (Collected, AsRead)> = BTreeMap::new();
        let mut turn = 0;
        for (i, part) in parts {
            waiting.insert(i, part?);
            while let Some((part, read)) = waiting.remove(&turn) {
                as_read.push(read);
                let (kind, size) = (files[turn].1, sizes[turn].max(1));
                if kind == FileKind::Authorizations && !auths_estimated {
                    auths_estimated = true;
                    let rows = u64::try_from(part.authorizations_read()).unwrap_or(u64::MAX);
                    let estimate = rows.saturating_mul(auth_bytes) / size * 21 / 20;
                    all.reserve_authorizations(usize::try_from(estimate).unwrap_or(0));
                }
                all.merge(part);
                turn += 1;
            }
        }
        if turn < files.len() {
            bail!(
                "{}: a flexiti file reader stopped unexpectedly",
                dir.display()
            );
        }
        Ok(())
    })?;

    tracing::info!(
        files = files.len(),
        captures = all.captures_read(),
        records = all.records_read(),
        authorizations = all.authorizations_read(),
        "read flexiti files from {}",
        dir.display()
    );
    Ok(OfflineInput {
        side: all.into_side(),
        files: files.into_iter().map(|(p, _)| p).collect(),
        as_read,
    })
}
