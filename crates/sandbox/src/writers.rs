//! Streaming writers for generated data sets: contract-shaped JSON arrays and ledger CSV, written
//! element by element (never a whole document in memory) so that millions of rows stay fast.
//!
//! The JSON is formatted by hand: amounts go out exactly from integer cents, as numbers or as
//! strings as the generator chooses, and the layout is either compact or pretty (two-space
//! indent, for the committed samples).

use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

/// An amount of cents, sent as a JSON number (`1299.99`) or string (`"1299.99"`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Money {
    pub cents: i64,
    pub as_string: bool,
}

pub(crate) struct AuthorizationOut<'a> {
    pub id: u64,
    pub reference: &'a str,
    pub account_number: &'a str,
    pub transaction_type: &'a str,
    pub status: &'a str,
    pub created: DateTime<Utc>,
    /// Milliseconds shown on the timestamp, when some.
    pub created_millis: Option<u32>,
    pub amount: Money,
    pub remaining: Money,
    pub store: &'a str,
    pub plan_id: u32,
    pub term: u32,
}

pub(crate) struct ReturnOut {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub amount: Money,
    pub remaining_capture: Money,
}

pub(crate) struct CaptureOut<'a> {
    pub id: u64,
    pub authorization_id: u64,
    pub authorization_id_as_string: bool,
    pub reference: &'a str,
    pub at: DateTime<Utc>,
    pub amount: Money,
    pub remaining_authorization: Money,
    pub store: &'a str,
    pub returns: &'a [ReturnOut],
}

/// Elements spread round-robin over one or more files, each a JSON array.
pub(crate) struct JsonFiles {
    files: Vec<(PathBuf, BufWriter<File>, bool)>,
    next: usize,
    pretty: bool,
}

impl JsonFiles {
    pub fn create(dir: &Path, stem: &str, count: u32, pretty: bool) -> anyhow::Result<JsonFiles> {
        let mut files = Vec::new();
        for path in numbered(dir, stem, "json", count) {
            let file = File::create(&path)
                .with_context(|| format!("{}: cannot create", path.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(b"[")
                .with_context(|| format!("{}: cannot write", path.display()))?;
            files.push((path, w, true));
        }
        Ok(JsonFiles {
            files,
            next: 0,
            pretty,
        })
    }

    fn element(&mut self) -> io::Result<(&mut BufWriter<File>, bool)> {
        let index = self.next % self.files.len();
        self.next = self.next.wrapping_add(1);
        let pretty = self.pretty;
        let (_, w, empty) = &mut self.files[index];
        if !*empty {
            w.write_all(b",")?;
        }
        *empty = false;
        if pretty {
            w.write_all(b"\n  ")?;
        }
        Ok((w, pretty))
    }

    pub fn authorization(&mut self, a: &AuthorizationOut<'_>) -> io::Result<()> {
        let (w, pretty) = self.element()?;
        let mut o = Obj::open(w, pretty, 2)?;
        o.raw("authorization_id", a.id)?;
        o.text("reference", a.reference)?;
        o.text("account_number", a.account_number)?;
        o.text("transaction_type", a.transaction_type)?;
        o.text("authorization_status", a.status)?;
        o.time("creation_date", a.created, a.created_millis)?;
        o.money("amount", a.amount)?;
        o.money("remaining_authorization_amount", a.remaining)?;
        o.text("external_location_id", a.store)?;
        o.raw("plan_id", a.plan_id)?;
        o.raw("term", a.term)?;
        o.close()
    }

    pub fn capture(&mut self, c: &CaptureOut<'_>) -> io::Result<()> {
        let (w, pretty) = self.element()?;
        let mut o = Obj::open(w, pretty, 2)?;
        o.raw("capture_id", c.id)?;
        if c.authorization_id_as_string {
            o.text("authorization_id", &c.authorization_id.to_string())?;
        } else {
            o.raw("authorization_id", c.authorization_id)?;
        }
        o.text("reference", c.reference)?;
        o.time("date", c.at, None)?;
        o.money("amount", c.amount)?;
        o.money("remaining_authorization_amount", c.remaining_authorization)?;
        o.text("external_location_id", c.store)?;
        o.key("returns")?;
        o.w.write_all(b"[")?;
        for (i, r) in c.returns.iter().enumerate() {
            if i > 0 {
                o.w.write_all(b",")?;
            }
            if pretty {
                o.w.write_all(b"\n      ")?;
            }
            let mut ro = Obj::open(o.w, pretty, 6)?;
            ro.raw("return_id", r.id)?;
            ro.text("reference", c.reference)?;
            ro.raw("capture_id", c.id)?;
            ro.time("date", r.at, None)?;
            ro.money("amount", r.amount)?;
            ro.money("remaining_capture_amount", r.remaining_capture)?;
            ro.close()?;
        }
        if pretty && !c.returns.is_empty() {
            o.w.write_all(b"\n    ")?;
        }
        o.w.write_all(b"]")?;
        o.close()
    }

    pub fn finish(self) -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for (path, mut w, empty) in self.files {
            let end: &[u8] = if self.pretty && !empty {
                b"\n]\n"
            } else {
                b"]\n"
            };
            w.write_all(end)
                .and_then(|()| w.flush())
                .with_context(|| format!("{}: cannot write", path.display()))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// One JSON object being written, fields in the order they come.
struct Obj<'w> {
    w: &'w mut BufWriter<File>,
    pretty: bool,
    indent: usize,
    first: bool,
}

const SPACES: &[u8] = b"                ";

impl<'w> Obj<'w> {
    fn open(w: &'w mut BufWriter<File>, pretty: bool, indent: usize) -> io::Result<Obj<'w>> {
        w.write_all(b"{")?;
        Ok(Obj {
            w,
            pretty,
            indent,
            first: true,
        })
    }

    fn key(&mut self, key: &str) -> io::Result<()> {
        if !self.first {
            self.w.write_all(b",")?;
        }
        self.first = false;
        if self.pretty {
            self.w.write_all(b"\n")?;
            self.w.write_all(&SPACES[..self.indent + 2])?;
            write!(self.w, "\"{key}\": ")
        } else {
            write!(self.w, "\"{key}\":")
        }
    }

    fn raw(&mut self, key: &str, value: impl Display) -> io::Result<()> {
        self.key(key)?;
        write!(self.w, "{value}")
    }

    /// Generated text is plain ASCII without quotes or backslashes (checked on the options).
    fn text(&mut self, key: &str, value: &str) -> io::Result<()> {
        self.key(key)?;
        write!(self.w, "\"{value}\"")
    }

    fn money(&mut self, key: &str, m: Money) -> io::Result<()> {
        self.key(key)?;
        let quote = if m.as_string { "\"" } else { "" };
        write!(
            self.w,
            "{quote}{}.{:02}{quote}",
            m.cents / 100,
            m.cents % 100
        )
    }

    fn time(&mut self, key: &str, at: DateTime<Utc>, millis: Option<u32>) -> io::Result<()> {
        self.key(key)?;
        let t = at.naive_utc();
        write!(
            self.w,
            "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        match millis {
            Some(ms) => write!(self.w, ".{ms:03}Z\""),
            None => self.w.write_all(b"Z\""),
        }
    }

    fn close(self) -> io::Result<()> {
        if self.pretty {
            self.w.write_all(b"\n")?;
            self.w.write_all(&SPACES[..self.indent])?;
        }
        self.w.write_all(b"}")
    }
}

/// One merchant ledger row, as the default column mapping reads it.
pub(crate) struct LedgerLine<'a> {
    pub sold_at: NaiveDateTime,
    pub store: &'a str,
    pub register: u32,
    pub order_id: &'a str,
    pub txn_type: &'a str,
    pub tender: &'a str,
    pub cents: i64,
}

pub(crate) const LEDGER_HEADER: &str =
    "sold_at,store_id,register_id,order_id,txn_type,tender,amount,currency\n";

/// Ledger rows spread round-robin over one or more CSV files.
pub(crate) struct LedgerFiles {
    files: Vec<(PathBuf, BufWriter<File>)>,
    next: usize,
}

impl LedgerFiles {
    pub fn create(dir: &Path, count: u32) -> anyhow::Result<LedgerFiles> {
        let mut files = Vec::new();
        for path in numbered(dir, "ledger", "csv", count) {
            let file = File::create(&path)
                .with_context(|| format!("{}: cannot create", path.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(LEDGER_HEADER.as_bytes())
                .with_context(|| format!("{}: cannot write", path.display()))?;
            files.push((path, w));
        }
        Ok(LedgerFiles { files, next: 0 })
    }

    pub fn row(&mut self, r: &LedgerLine<'_>) -> io::Result<()> {
        let index = self.next % self.files.len();
        self.next = self.next.wrapping_add(1);
        let (_, w) = &mut self.files[index];
        let t = r.sold_at;
        writeln!(
            w,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{},R{:02},{},{},{},{}.{:02},CAD",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            r.store,
            r.register,
            r.order_id,
            r.txn_type,
            r.tender,
            r.cents / 100,
            r.cents % 100
        )
    }

    pub fn finish(self) -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for (path, mut w) in self.files {
            w.flush()
                .with_context(|| format!("{}: cannot write", path.display()))?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// `stem.ext` for one file, `stem-0001.ext`… for several.
fn numbered(dir: &Path, stem: &str, ext: &str, count: u32) -> Vec<PathBuf> {
    if count <= 1 {
        return vec![dir.join(format!("{stem}.{ext}"))];
    }
    (1..=count)
        .map(|i| dir.join(format!("{stem}-{i:04}.{ext}")))
        .collect()
}
