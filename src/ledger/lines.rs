//! Physical line numbers of ledger records: the line where a record starts, the header being
//! line 1, whatever the line ends (LF or CRLF), with or without a byte order mark, counting the
//! line breaks inside quoted cells.
//!
//! The CSV reader gives each record the byte offset and line count where it began reading it,
//! which is just past the previous record's terminator: after a CRLF record that is the `\n`
//! still to come, and blank lines are skipped after it too, so its line can name the row
//! before. The file is therefore read through [`Tracked`], which notes every run of line-end
//! bytes as it passes; a record that begins inside such a run begins where the run ends. Only
//! the runs not yet behind the reader are kept: a few kilobytes whatever the file's size.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// A maximal run of `\r` and `\n` bytes, `[start, end)`, and the `\n` count up to its end.
struct Run {
    start: u64,
    end: u64,
    newlines_to_end: u64,
}

#[derive(Default)]
struct Index {
    runs: VecDeque<Run>,
    /// `\n` bytes seen so far.
    newlines: u64,
    /// `\n` bytes before the first kept run.
    dropped_newlines: u64,
}

impl Index {
    fn scan(&mut self, offset: u64, chunk: &[u8]) {
        for at in memchr::memchr2_iter(b'\r', b'\n', chunk) {
            let pos = offset + at as u64;
            if chunk[at] == b'\n' {
                self.newlines += 1;
            }
            match self.runs.back_mut() {
                Some(run) if run.end == pos => {
                    run.end += 1;
                    run.newlines_to_end = self.newlines;
                }
                _ => self.runs.push_back(Run {
                    start: pos,
                    end: pos + 1,
                    newlines_to_end: self.newlines,
                }),
            }
        }
    }

    /// The line of a record whose reading began at byte `from`. Records come in order, so the
    /// runs wholly before `from` are no longer needed.
    fn line_at(&mut self, from: u64) -> u64 {
        while let Some(run) = self.runs.front() {
            if run.end > from {
                break;
            }
            self.dropped_newlines = run.newlines_to_end;
            self.runs.pop_front();
        }
        let before = match self.runs.front() {
            // The reading began on line ends: the record begins after them.
            Some(run) if run.start <= from => run.newlines_to_end,
            _ => self.dropped_newlines,
        };
        before + 1
    }
}

/// A reader that notes where line ends are; [`LineFinder`] answers from those notes.
pub(crate) struct Tracked<R> {
    inner: R,
    offset: u64,
    index: Rc<RefCell<Index>>,
}

/// Tells the physical line where a record starts, from the notes of its [`Tracked`] reader.
pub(crate) struct LineFinder(Rc<RefCell<Index>>);

pub(crate) fn track<R: Read>(inner: R) -> (Tracked<R>, LineFinder) {
    let index = Rc::new(RefCell::new(Index::default()));
    (
        Tracked {
            inner,
            offset: 0,
            index: Rc::clone(&index),
        },
        LineFinder(index),
    )
}

impl<R> Tracked<R> {
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        self.index.borrow_mut().scan(self.offset, chunk);
        self.offset += n as u64;
        Ok(n)
    }
}

impl LineFinder {
    /// The line of the record whose reading began at byte `from` (its `position().byte()`).
    pub(crate) fn line_at(&self, from: u64) -> u64 {
        self.0.borrow_mut().line_at(from)
    }
}
