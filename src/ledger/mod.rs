//! Ledger ingest: the merchant's sales ledger, one or more CSV files, read through a column and
//! value mapping (every POS exports differently) into validated [`LedgerRow`]s.
//!
//! A malformed row is rejected with file, line and reason and the rest of the file is read; a
//! row of another tender is counted and skipped. A file that is missing, unreadable, empty or
//! lacks a mapped column fails the whole ingest with a message naming the file and the column.

mod files;
mod lines;
mod mapping;
mod raw;
mod row;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use anyhow::{Context, bail};

use crate::domain::{BusinessCalendar, LedgerReject, LedgerRow, LedgerSide};
use crate::hashed::Hashed;
pub use mapping::{AmountSign, ColumnNames, LedgerSettings};
pub use raw::RAW_ROW_MAX_CHARS;
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

/// Rows sent from a file reader to the merge at a time.
const BATCH_ROWS: usize = 1 << 16;

/// Bytes of CSV per ledger row, at least: sizes the row vector up front (room never written
/// costs address space, not memory).
const MIN_BYTES_PER_ROW: u64 = 24;

/// Where a reader sends its rows, and where it finds emptied batches to fill.
struct Out<'a> {
    rows: &'a mpsc::SyncSender<Message>,
    spare: &'a Spare,
}

type Spare = Mutex<Vec<Vec<LedgerRow>>>;

/// What a file reader sends: a batch of rows, or the end of a file with its rejects and counts.
enum Message {
    Rows(Vec<LedgerRow>),
    Done(usize, anyhow::Result<LedgerSide>),
}

/// Reads every file once (a file named twice, or an identical copy, is left out with a
/// warning); rows keep their file index (in the order given) and 1-based line number.
///
/// Files are read in parallel and their rows gathered into one vector as they come, in no
/// particular order: the engine orders rows by file and line wherever order matters, and
/// gathering in order would hold a second copy of every file but the first. Rejects and the
/// first error come out in file order, as a sequential read would give them.
pub fn read_files(
    given: &[PathBuf],
    settings: &LedgerSettings,
    calendar: BusinessCalendar,
) -> anyhow::Result<LedgerSide> {
    let (distinct, warnings) = files::distinct(given)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let files = distinct.as_slice();
    let mut side = LedgerSide {
        files: distinct.clone(),
        warnings,
        ..LedgerSide::default()
    };
    let store_map: HashMap<&str, &str> = settings
        .store_map
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bytes: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    side.rows
        .reserve(usize::try_from(bytes / MIN_BYTES_PER_ROW).unwrap_or(usize::MAX));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, files.len().max(1));
    let mut by_file: Vec<Option<anyhow::Result<LedgerSide>>> =
        (0..files.len()).map(|_| None).collect();
    let (sender, messages) = mpsc::sync_channel::<Message>(2 * workers);
    // Batches emptied by the merge, for the readers to fill again: a batch allocated afresh
    // each time was memory touched for the first time (the read frees what it can hand back
    // to the system, `src/job/inputs.rs`), as many page faults as the rows themselves.
    let spare: Spare = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (sender, store_map, spare) = (sender.clone(), &store_map, &spare);
            scope.spawn(move || {
                for (index, path) in files.iter().enumerate().skip(w).step_by(workers) {
                    let mut part = LedgerSide::default();
                    let out = Out {
                        rows: &sender,
                        spare,
                    };
                    let read =
                        read_one(index, path, settings, calendar, store_map, &mut part, &out);
                    let failed = read.is_err();
                    if sender
                        .send(Message::Done(index, read.map(|()| part)))
                        .is_err()
                        || failed
                    {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for message in messages {
            match message {
                Message::Rows(mut rows) => {
                    side.rows.append(&mut rows);
                    if let Ok(mut spare) = spare.lock() {
                        spare.push(rows);
                    }
                }
                Message::Done(index, part) => {
                    if let Some(slot) = by_file.get_mut(index) {
                        *slot = Some(part);
                    }
                }
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
        side.rejects.extend(part.rejects);
        side.as_read.extend(part.as_read);
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
    out: &Out<'_>,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("ledger file {name}: cannot open"))?;
    let file = Hashed::open(file).with_context(|| format!("ledger file {name}: cannot stat"))?;
    let delimiter = settings.delimiter_byte()?;
    let (tracked, lines) = lines::track(std::io::BufReader::with_capacity(1 << 20, file));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        // Cells are trimmed where they are read (`row.rs`): trimming every record whole built
        // a copy of each row, read cells and others alike.
        .trim(csv::Trim::Headers)
        .from_reader(tracked);
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
    let file_index = u32::try_from(index)
        .with_context(|| format!("ledger file {name}: more than 4 billion files"))?;
    let mut record = csv::ByteRecord::new();
    let mut line: u64 = 1;
    let cells = header.len();
    let mut batch: Vec<LedgerRow> = Vec::with_capacity(BATCH_ROWS);
    let flush = |batch: &mut Vec<LedgerRow>| -> anyhow::Result<()> {
        let empty = out.spare.lock().ok().and_then(|mut spare| spare.pop());
        let full = std::mem::replace(
            batch,
            empty.unwrap_or_else(|| Vec::with_capacity(BATCH_ROWS)),
        );
        out.rows
            .send(Message::Rows(full))
            .map_err(|_| anyhow::anyhow!("ledger file {name}: the merge stopped"))
    };
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line = record
                    .position()
                    .map_or(line + 1, |p| lines.line_at(p.byte()));
                let checked = if record.len() == cells {
                    validator.validate(&record, &positions, file_index, line)
                } else {
                    Err(RowError(row::shape(record.len(), cells)))
                };
                match checked {
                    Ok(Some(row)) => {
                        batch.push(row);
                        if batch.len() == BATCH_ROWS {
                            flush(&mut batch)?;
                        }
                    }
                    Ok(None) => side.ignored_other_tender += 1,
                    Err(RowError(reason)) => {
                        tracing::debug!(file = %name, line, %reason, "rejected ledger row");
                        side.rejects.push(LedgerReject {
                            file: name.clone(),
                            line,
                            reason,
                            raw: raw::raw_row(&record, delimiter),
                        });
                    }
                }
            }
            Err(e) => {
                let at = e.position().map_or(line + 1, |p| lines.line_at(p.byte()));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(e)
                        .with_context(|| format!("ledger file {name}: read failed at line {at}"));
                }
                side.rejects.push(LedgerReject {
                    file: name.clone(),
                    line: at,
                    reason: format!("unreadable row: {e}"),
                    raw: String::new(),
                });
                line = at;
            }
        }
    }
    if !batch.is_empty() {
        flush(&mut batch)?;
    }
    let as_read = reader
        .into_inner()
        .into_inner()
        .into_inner()
        .finish()
        .with_context(|| format!("ledger file {name}: read failed at its end"))?;
    side.as_read.push(as_read);
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;
