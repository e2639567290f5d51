//! List pages read row by row: a bare array or an object holding the array, from a slice or
//! from a reader in chunks.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::scan::{Cursor, MAX_DEPTH, Scan};

/// Reads a list page (bare or wrapped, as [`Page`] does) and hands each row to `sink` as it is
/// read, without collecting the page: a file of a million rows never exists as rows at once.
pub fn for_each_row<T: DeserializeOwned>(
    body: &[u8],
    sink: impl FnMut(T),
) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_slice(body);
    de::DeserializeSeed::deserialize(RowsSeed(sink, PhantomData), &mut de)?;
    de.end()
}

struct RowsSeed<F, T>(F, PhantomData<T>);

impl<'de, T: DeserializeOwned, F: FnMut(T)> de::DeserializeSeed<'de> for RowsSeed<F, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(T)> Visitor<'de> for RowsSeed<F, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array, or an object with authorizations|captures|data|items")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element()? {
            (self.0)(item);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seed = Some(self);
        while let Some(key) = map.next_key::<std::borrow::Cow<'_, str>>()? {
            match (key.as_ref(), seed.take()) {
                ("authorizations" | "captures" | "data" | "items", Some(rows)) => {
                    map.next_value_seed(rows)?;
                }
                (_, rest) => {
                    seed = rest;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match seed {
            None => Ok(()),
            Some(_) => Err(de::Error::custom(
                "no list under authorizations, captures, data or items",
            )),
        }
    }
}

/// Like [`for_each_row`], reading `source` about 8 MiB at a time when the page is a bare array,
/// so that a large file is never held whole (a 10M-row benchmark held two 230 MB files at
/// once). A wrapped page is read whole. `buf` is reused between calls.
pub fn for_each_row_from<T: DeserializeOwned + Scan>(
    source: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    sink: impl FnMut(T),
) -> anyhow::Result<()> {
    for_each_row_chunked(source, buf, 8 << 20, sink)
}

/// The bytes of a source read so far and not yet parsed.
///
/// `buf` is read into in place: its first `filled` bytes hold data, the rest is room kept
/// between chunks and files. Growing a vector's length to read into it zeroed the room first,
/// every chunk: as many bytes written as the file holds, for nothing.
struct Chunked<'a, R> {
    source: &'a mut R,
    buf: &'a mut Vec<u8>,
    chunk: usize,
    /// Bytes of `buf` that hold data read.
    filled: usize,
    /// Next byte to parse in `buf`.
    pos: usize,
    /// Bytes of the source before `buf[0]`.
    dropped: u64,
    at_end: bool,
}

impl<R: std::io::Read> Chunked<'_, R> {
    /// The bytes read and not yet parsed.
    fn data(&self) -> &[u8] {
        self.buf.get(self.pos..self.filled).unwrap_or_default()
    }

    /// Drops what was parsed and appends up to a chunk more; false at the end of the source.
    fn more(&mut self) -> std::io::Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.dropped += self.pos as u64;
            self.filled -= self.pos;
            self.pos = 0;
        }
        let end = self.filled + self.chunk;
        if self.buf.len() < end {
            // Zeroed once; reused for every later chunk and file.
            self.buf.resize(end, 0);
        }
        let mut read = 0;
        while let Some(room) = self.buf.get_mut(self.filled..end).filter(|r| !r.is_empty()) {
            match self.source.read(room) {
                Ok(0) => break,
                Ok(n) => {
                    self.filled += n;
                    read += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.at_end = read == 0;
        Ok(read > 0)
    }

    /// The next byte that is not JSON whitespace (not consumed); `None` at the end.
    fn next_token(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            while let Some(&b) = self.data().first() {
                if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    fn offset(&self) -> u64 {
        self.dropped + self.pos as u64
    }
}

/// Whether a parse error lies at the end of the bytes read so far (a row cut by the chunk
/// boundary: the end of a string, or a number cut in two, which reads as an invalid number).
fn stops_at_end(bytes: &[u8], e: &serde_json::Error) -> bool {
    if e.is_eof() {
        return true;
    }
    // serde_json counts lines from 1 and bytes within the line from 1.
    let line_start = match e.line() {
        0 | 1 => 0,
        line => bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1),
    };
    line_start + e.column() >= bytes.len()
}

fn for_each_row_chunked<T: DeserializeOwned + Scan>(
    source: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    chunk: u64,
    mut sink: impl FnMut(T),
) -> anyhow::Result<()> {
    let mut c = Chunked {
        source,
        buf,
        chunk: usize::try_from(chunk).unwrap_or(usize::MAX).max(1),
        filled: 0,
        pos: 0,
        dropped: 0,
        at_end: false,
    };
    match c.next_token()? {
        Some(b'[') => c.pos += 1,
        Some(_) => {
            // Wrapped (or not a list at all): read whole, parsed as such. Read into the
            // room the buffer has, a chunk at a time: cutting its length to the bytes read
            // (to read the rest to the end) left the next file to zero its room again, 8 MiB
            // for each page of 1000 rows an audit bundle keeps (a tenth of the CPU of a run
            // over such a bundle).
            while c.more()? {}
            return wrapped_rows(c.data(), sink);
        }
        None => anyhow::bail!("empty: expected a list page"),
    }
    let mut after_row = false;
    let mut may_close = true;
    loop {
        let Some(b) = c.next_token()? else {
            anyhow::bail!("byte {}: the list ends without ']'", c.offset());
        };
        if may_close && b == b']' {
            c.pos += 1;
            break;
        }
        if after_row {
            if b != b',' {
                anyhow::bail!("byte {}: expected ',' or ']' after a row", c.offset());
            }
            c.pos += 1;
            (after_row, may_close) = (false, false);
            continue;
        }
        loop {
            if let Some((row, used)) = T::scan(c.data()) {
                c.pos += used;
                sink(row);
                break;
            }
            let step = {
                let mut rows = serde_json::Deserializer::from_slice(c.data()).into_iter::<T>();
                match rows.next() {
                    Some(Ok(row)) => Ok((row, rows.byte_offset())),
                    Some(Err(e)) => Err(Some(e)),
                    None => Err(None),
                }
            };
            match step {
                Ok((row, used)) => {
                    c.pos += used;
                    sink(row);
                    break;
                }
                // The row goes on in the next chunk.
                Err(e) if e.as_ref().is_none_or(|e| stops_at_end(c.data(), e)) && c.more()? => {}
                Err(e) => {
                    let why = e.map_or_else(|| "unexpected end".to_string(), |e| e.to_string());
                    let why = why
                        .split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    anyhow::bail!("in the row starting at byte {}: {why}", c.offset());
                }
            }
        }
        (after_row, may_close) = (true, true);
    }
    if c.next_token()?.is_some() {
        anyhow::bail!("byte {}: trailing characters after the list", c.offset());
    }
    Ok(())
}

/// A wrapped page, read whole: the fast path reads the wrapper and the rows; when it declines
/// anything, the general reader reads the page again, passing over the rows already handed on
/// (the same rows, since the fast path reads what it accepts as the general reader does).
fn wrapped_rows<T: DeserializeOwned + Scan>(
    body: &[u8],
    mut sink: impl FnMut(T),
) -> anyhow::Result<()> {
    let mut handed = 0usize;
    let fast = fast_wrapped(body, &mut |row| {
        handed += 1;
        sink(row);
    });
    if fast.is_some() {
        return Ok(());
    }
    for_each_row(body, |row| match handed.checked_sub(1) {
        Some(left) => handed = left,
        None => sink(row),
    })
    .map_err(anyhow::Error::from)
}

fn fast_wrapped<T: Scan>(body: &[u8], sink: &mut impl FnMut(T)) -> Option<()> {
    let mut c = Cursor::new(body, 0);
    let mut listed = false;
    c.object(|c, key| match key {
        b"authorizations" | b"captures" | b"data" | b"items" if !listed => {
            listed = true;
            fast_list(c, sink)
        }
        _ => c.skip(MAX_DEPTH),
    })?;
    (listed && c.peek().is_none()).then_some(())
}

fn fast_list<T: Scan>(c: &mut Cursor<'_>, sink: &mut impl FnMut(T)) -> Option<()> {
    c.eat(b'[')?;
    if c.peek()? == b']' {
        c.pos += 1;
        return Some(());
    }
    loop {
        let (row, used) = T::scan(c.rest())?;
        c.pos += used;
        sink(row);
        match c.peek()? {
            b',' => c.pos += 1,
            b']' => {
                c.pos += 1;
                return Some(());
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flexiti::wire::{Page, WireReturn};

    #[test]
    fn rows_streamed_one_by_one_are_the_rows_of_the_page() {
        for json in [
            r#"[{"return_id":1,"date":"2026-11-23T00:00:00Z","amount":1},
                {"return_id":2,"date":"2026-11-23T00:00:00Z","amount":"2.50"}]"#,
            r#"{"total":2,"data":[{"return_id":1,"date":"2026-11-23T00:00:00Z","amount":1},
                {"return_id":2,"date":"2026-11-23T00:00:00Z","amount":"2.50"}],"x":[]}"#,
        ] {
            let page: Page<WireReturn> = serde_json::from_str(json).expect("page");
            let mut rows = Vec::new();
            for_each_row::<WireReturn>(json.as_bytes(), |r| rows.push(r)).expect("rows");
            assert_eq!(rows, page.items);
        }
        assert!(for_each_row::<WireReturn>(br#"{"total":1}"#, |_| {}).is_err());
        assert!(for_each_row::<WireReturn>(br#"[] trailing"#, |_| {}).is_err());
    }

    #[test]
    fn rows_read_a_few_bytes_at_a_time_are_the_rows_of_the_page() {
        // Strings holding brackets, commas and escaped quotes, rows split across every chunk
        // boundary, and a wrapped page read whole.
        let bare = r#" [ {"return_id":1,"reference":"a],[{\"b","date":"2026-11-23T00:00:00Z","amount":1} ,
            {"return_id":2,"date":"2026-11-23T00:00:00Z","amount":"2.50","x":{"y":[1,{"z":"]"}]}},
            {"return_id":3,"date":"2026-11-23T10:00:00.5Z","amount":-3} ] "#;
        let wrapped = format!(r#"{{"total":3,"items":{}}}"#, bare.trim());
        for json in [bare.to_string(), wrapped] {
            let page: Page<WireReturn> = serde_json::from_str(&json).expect("page");
            assert_eq!(page.items.len(), 3);
            for chunk in [1, 2, 7, 64, 1 << 20] {
                let (mut rows, mut buf) = (Vec::new(), Vec::new());
                for_each_row_chunked::<WireReturn>(&mut json.as_bytes(), &mut buf, chunk, |r| {
                    rows.push(r)
                })
                .expect("rows");
                assert_eq!(rows, page.items, "chunk {chunk}");
            }
        }
    }

    #[test]
    fn a_buffer_reused_from_a_longer_page_holds_nothing_of_it() {
        // One worker's buffer goes from file to file: the room left by a long page must never
        // read as data of the next, bare or wrapped, whatever the chunk size.
        let row = |id: u32| {
            format!(r#"{{"return_id":{id},"date":"2026-11-23T00:00:00Z","amount":{id}}}"#)
        };
        let long: Vec<String> = (1..=50).map(row).collect();
        let long = format!("[{}]", long.join(","));
        let short = format!("[{}]", row(7));
        let cut = format!("[{},", row(8));
        for chunk in [3, 64, 1 << 20] {
            let mut buf = Vec::new();
            let mut rows = Vec::new();
            for_each_row_chunked::<WireReturn>(&mut long.as_bytes(), &mut buf, chunk, |r| {
                rows.push(r.return_id)
            })
            .expect("long");
            assert_eq!(rows, (1..=50).collect::<Vec<u64>>());
            rows.clear();
            for_each_row_chunked::<WireReturn>(&mut short.as_bytes(), &mut buf, chunk, |r| {
                rows.push(r.return_id)
            })
            .expect("short");
            assert_eq!(rows, [7], "chunk {chunk}");
            let wrapped = format!(r#"{{"items":{short}}}"#);
            rows.clear();
            for_each_row_chunked::<WireReturn>(&mut wrapped.as_bytes(), &mut buf, chunk, |r| {
                rows.push(r.return_id)
            })
            .expect("wrapped");
            assert_eq!(rows, [7], "chunk {chunk}");
            // Its room kept for the next page: not cut to the bytes read, to be zeroed again.
            assert!(buf.len() >= long.len().min(chunk as usize), "chunk {chunk}");
            // A page cut short still ends in an error, not in the long page's bytes.
            let read =
                for_each_row_chunked::<WireReturn>(&mut cut.as_bytes(), &mut buf, chunk, |_| {});
            assert!(read.is_err(), "chunk {chunk}");
        }
    }

    #[test]
    fn a_wrapped_page_the_fast_path_leaves_midway_gives_every_row_once() {
        // Row 2 holds an escape and the wrapper's last key one too: the general reader takes
        // over and passes over the row already handed on.
        let row = |id: u32, extra: &str| {
            format!(r#"{{"return_id":{id},{extra}"date":"2026-11-23T00:00:00Z","amount":{id}}}"#)
        };
        let (a, b, c) = (row(1, ""), row(2, r#""reference":"a\"b","#), row(3, ""));
        for json in [
            format!(r#"{{"total":3,"items":[{a},{b},{c}],"n\u0065xt":"x"}}"#),
            format!(r#"{{"total":3,"items":[{a},{c}],"n\u0065xt":"x"}}"#),
            format!(r#"{{"total":3,"data":[{a},{c}],"items":[{b}],"total_pages":1}}"#),
        ] {
            let page: Page<WireReturn> = serde_json::from_str(&json).expect("page");
            for chunk in [1, 1 << 20] {
                let (mut rows, mut buf) = (Vec::new(), Vec::new());
                for_each_row_chunked::<WireReturn>(&mut json.as_bytes(), &mut buf, chunk, |r| {
                    rows.push(r)
                })
                .expect("rows");
                assert_eq!(rows, page.items, "{json}");
            }
        }
        // A page broken after its list still fails, as the general reader says.
        let broken = format!(r#"{{"items":[{a}],"total":}}"#);
        let mut rows = Vec::new();
        let read =
            for_each_row_chunked::<WireReturn>(&mut broken.as_bytes(), &mut Vec::new(), 64, |r| {
                rows.push(r)
            });
        assert!(read.is_err());
        assert_eq!(rows.len(), 1);
    }

    /// Rows read through the fast path (chunked reader) and through serde alone.
    fn both_ways<T: DeserializeOwned + Scan + PartialEq + std::fmt::Debug>(json: &[u8]) {
        let (mut fast, mut general) = (Vec::new(), Vec::new());
        for_each_row_chunked::<T>(&mut &json[..], &mut Vec::new(), 4096, |r| fast.push(r))
            .expect("fast");
        for_each_row::<T>(json, |r| general.push(r)).expect("general");
        assert!(!fast.is_empty());
        assert_eq!(fast, general);
    }

    #[test]
    fn the_sample_pages_read_the_same_through_the_fast_path() {
        use crate::flexiti::wire::{WireAuthorization, WireCapture};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/flexiti");
        let captures = std::fs::read(dir.join("captures.json")).expect("sample");
        let authorizations = std::fs::read(dir.join("authorizations.json")).expect("sample");
        both_ways::<WireCapture>(&captures);
        both_ways::<WireAuthorization>(&authorizations);
        // The same rows wrapped, as the API pages them.
        let text = String::from_utf8(captures).expect("utf-8");
        let wrapped = format!(
            r#"{{"captures":{},"total":1,"total_pages":1}}"#,
            text.trim()
        );
        both_ways::<WireCapture>(wrapped.as_bytes());
    }

    #[test]
    fn a_broken_list_read_in_chunks_names_the_byte() {
        let read = |json: &str| {
            let mut buf = Vec::new();
            for_each_row_chunked::<WireReturn>(&mut json.as_bytes(), &mut buf, 5, |_| {})
                .map_err(|e| e.to_string())
        };
        let row = r#"{"return_id":1,"date":"2026-11-23T00:00:00Z","amount":1}"#;
        assert_eq!(read(&format!("[{row}]")), Ok(()));
        assert_eq!(read("[]"), Ok(()));
        let cut = read(&format!("[{row},{}", &row[..20])).expect_err("cut");
        assert!(cut.contains(&format!("byte {}", row.len() + 2)), "{cut}");
        assert!(
            read(&format!("[{row}]x"))
                .expect_err("trailing")
                .contains("trailing")
        );
        assert!(
            read(&format!("[{row} {row}]"))
                .expect_err("comma")
                .contains("expected ','")
        );
        assert!(read(&format!("[{row},]")).is_err());
        let bad = read(r#"[{"return_id":"x","date":"2026-11-23T00:00:00Z","amount":1}]"#);
        assert!(bad.expect_err("bad id").contains("starting at byte 1"));
        assert!(read("").is_err());
    }
}
