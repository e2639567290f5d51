//! Ledger ingest: the merchant's sales ledger, one or more CSV files, read through a column and
//! value mapping (every POS exports differently) into validated [`LedgerRow`]s.
//!
//! A malformed row is rejected with file, line and reason and the rest of the file is read; a
//! row of another tender is counted and skipped. A file that is missing, unreadable, empty or
//! lacks a mapped column fails the whole ingest with a message naming the file and the column.

mod mapping;
mod row;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::domain::{BusinessCalendar, LedgerReject, LedgerSide};
pub use mapping::{AmountSign, ColumnNames, LedgerSettings};
use row::{Positions, RowError};

/// Expands the configured paths (a `*` or `?` in a file name is a pattern) into files, in the
/// configured order, each pattern's matches sorted by name.
pub fn resolve_files(patterns: &[String], base: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for pattern in patterns {
        let full = base.join(pattern);
        let text = full.to_string_lossy().to_string();
        if text.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(&text)
                .with_context(|| format!("ledger pattern {pattern}: invalid pattern"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                bail!("ledger pattern {pattern}: no file matches (looked for {text})");
            }
            matched.sort();
            files.extend(matched);
        } else {
            files.push(full);
        }
    }
    if files.is_empty() {
        bail!("ledger: no file configured (set ledger.files)");
    }
    Ok(files)
}

/// Reads every file; rows keep their file index (the order given) and 1-based line number.
pub fn read_files(
    files: &[PathBuf],
    settings: &LedgerSettings,
    calendar: BusinessCalendar,
) -> anyhow::Result<LedgerSide> {
    let mut side = LedgerSide {
        files: files.to_vec(),
        ..LedgerSide::default()
    };
    let store_map: HashMap<&str, &str> = settings
        .store_map
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // One thread per file (up to the cores there are); parts are joined in file order, so
    // rows, rejects and counts come out exactly as a sequential read would give them.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, files.len().max(1));
    let mut by_file: Vec<Option<anyhow::Result<LedgerSide>>> =
        (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let store_map = &store_map;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for (index, path) in files.iter().enumerate().skip(w).step_by(workers) {
                        let mut part = LedgerSide::default();
                        let read = read_one(index, path, settings, calendar, store_map, &mut part);
                        let failed = read.is_err();
                        mine.push((index, read.map(|()| part)));
                        if failed {
                            break;
                        }
                    }
                    mine
                })
            })
            .collect();
        for handle in handles {
            for (index, part) in handle.join().unwrap_or_default() {
                by_file[index] = Some(part);
            }
        }
    });
    // A worker stops at its first failing file, so the first failure in file order comes
    // before any file left unread: the error is the one a sequential read would report.
    for (index, part) in by_file.into_iter().enumerate() {
        let part = part.unwrap_or_else(|| {
            Err(anyhow::anyhow!(
                "ledger file {}: the reader stopped unexpectedly",
                files[index].display()
            ))
        })?;
        if side.rows.is_empty() {
            side.rows = part.rows;
        } else {
            side.rows.extend(part.rows);
        }
        side.rejects.extend(part.rejects);
        side.ignored_other_tender += part.ignored_other_tender;
    }
    tracing::info!(
        files = files.len(),
        rows = side.rows.len(),
        rejected = side.rejects.len(),
        other_tender = side.ignored_other_tender,
        "read the ledger"
    );
    Ok(side)
}

fn read_one(
    index: usize,
    path: &Path,
    settings: &LedgerSettings,
    calendar: BusinessCalendar,
    store_map: &HashMap<&str, &str>,
    side: &mut LedgerSide,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("ledger file {name}: cannot open"))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(settings.delimiter_byte()?)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = reader
        .byte_headers()
        .with_context(|| format!("ledger file {name}: cannot read the header"))?
        .clone();
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        bail!("ledger file {name}: the file is empty (no header line)");
    }
    let positions = Positions::find(&header, &settings.columns).map_err(|column| {
        anyhow::anyhow!(
            "ledger file {name}: no column '{column}' in the header (mapped in ledger.columns)"
        )
    })?;
    let validator = row::Validator::new(settings, calendar, store_map)?;
    let mut record = csv::ByteRecord::new();
    let mut line: u64 = 1;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line = record.position().map_or(line + 1, |p| p.line());
                match validator.validate(&record, &positions, index, line) {
                    Ok(Some(row)) => side.rows.push(row),
                    Ok(None) => side.ignored_other_tender += 1,
                    Err(RowError(reason)) => {
                        tracing::debug!(file = %name, line, %reason, "rejected ledger row");
                        side.rejects.push(LedgerReject {
                            file: name.clone(),
                            line,
                            reason,
                        });
                    }
                }
            }
            Err(e) => {
                let at = e.position().map_or(line + 1, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(e)
                        .with_context(|| format!("ledger file {name}: read failed at line {at}"));
                }
                side.rejects.push(LedgerReject {
                    file: name.clone(),
                    line: at,
                    reason: format!("unreadable row: {e}"),
                });
                line = at;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
