//! Wire types: Flexiti's response bodies exactly as the contract assumes them, and nothing more.
//!
//! Parsing is tolerant where Flexiti's examples disagree with each other: amounts come as JSON
//! numbers or strings and are read from their text into exact cents (never through `f64`), ids
//! as numbers or digit strings, account numbers as strings or numbers, timestamps as UTC
//! ISO-8601 with or without fractional seconds. Unknown fields are ignored and statuses, types
//! and error codes stay open strings. A list page is a bare array or an object that holds the
//! array under `authorizations`, `captures`, `data` or `items`. Every deserializer here streams:
//! nothing is buffered into a `serde_json::Value`, so pages of millions of rows stay cheap.

use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::{Amount, Text, plain_date_time};

/// One element of `/authorizations`, also the body of `/authorization/{id}`. Only what the
/// rules use is read; the account number, status, type and plan are skipped unread.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WireAuthorization {
    #[serde(deserialize_with = "id")]
    pub authorization_id: u64,
    #[serde(default, deserialize_with = "opt_text")]
    pub reference: Option<Text>,
    /// Null or absent is `Ok(None)`; a value that is not a timestamp is kept as sent.
    #[serde(default = "ok_none", deserialize_with = "opt_lenient_timestamp")]
    pub creation_date: Lenient<Option<DateTime<Utc>>>,
    /// Null or absent is `Ok(None)`; a value that is not an amount is kept as sent.
    #[serde(default = "ok_none", deserialize_with = "opt_lenient_amount")]
    pub amount: Lenient<Option<Amount>>,
    #[serde(default, deserialize_with = "opt_text")]
    pub external_location_id: Option<Text>,
}

/// One element of `/captures`, with its returns nested.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WireCapture {
    #[serde(deserialize_with = "id")]
    pub capture_id: u64,
    #[serde(deserialize_with = "id")]
    pub authorization_id: u64,
    #[serde(default, deserialize_with = "opt_text")]
    pub reference: Option<Text>,
    #[serde(default = "absent", deserialize_with = "lenient_timestamp")]
    pub date: Lenient<DateTime<Utc>>,
    #[serde(default = "absent", deserialize_with = "lenient_amount")]
    pub amount: Lenient<Amount>,
    #[serde(default, deserialize_with = "opt_text")]
    pub external_location_id: Option<Text>,
    #[serde(default, deserialize_with = "opt_returns")]
    pub returns: Vec<WireReturn>,
}

/// A return, nested under its capture.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WireReturn {
    #[serde(deserialize_with = "id")]
    pub return_id: u64,
    #[serde(default, deserialize_with = "opt_text")]
    pub reference: Option<Text>,
    #[serde(default = "absent", deserialize_with = "lenient_timestamp")]
    pub date: Lenient<DateTime<Utc>>,
    #[serde(default = "absent", deserialize_with = "lenient_amount")]
    pub amount: Lenient<Amount>,
}

/// A record's field as sent: its value, or, when the contract does not allow what was sent,
/// that value's JSON text (cut to [`MAX_VALUE_CHARS`]; `(absent)` for a missing field). The
/// mapping reports such a record as invalid instead of failing its whole page, and a valid
/// value costs nothing more than before.
pub type Lenient<T> = Result<T, Box<str>>;

/// What a missing field reads as.
pub const ABSENT: &str = "(absent)";

/// Longest excerpt of a refused value kept for the report.
pub const MAX_VALUE_CHARS: usize = 60;

fn absent<T>() -> Lenient<T> {
    Err(ABSENT.into())
}

fn ok_none<T>() -> Lenient<Option<T>> {
    Ok(None)
}

/// A refused value's JSON text, cut to [`MAX_VALUE_CHARS`] characters.
fn excerpt(text: &str) -> Box<str> {
    let text = text.trim();
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        None => text.into(),
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
    }
}

/// Flexiti's error body: `{"error","message","url","field_errors":[...]}`, every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WireError {
    #[serde(default, deserialize_with = "opt_text")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub url: Option<String>,
    #[serde(default)]
    pub field_errors: Vec<WireFieldError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WireFieldError {
    #[serde(default, deserialize_with = "opt_text")]
    pub param: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub msg: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub value: Option<String>,
}

impl WireError {
    /// The message plus the field errors, as one line for a failed call.
    pub fn describe(&self) -> String {
        let mut text = self.message.clone().unwrap_or_default();
        for f in &self.field_errors {
            let part = format!(
                "{}: {} ({})",
                f.param.as_deref().unwrap_or("?"),
                f.msg.as_deref().unwrap_or("invalid"),
                f.value.as_deref().unwrap_or("")
            );
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&part);
        }
        text
    }
}

/// One list page: the rows plus the paging hints when the page was wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
    pub total_pages: Option<u64>,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PageVisitor(PhantomData))
    }
}

struct PageVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for PageVisitor<T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array, or an object with authorizations|captures|data|items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Page<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Page {
            items,
            total: None,
            total_pages: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let mut items: Option<Vec<T>> = None;
        let (mut total, mut total_pages) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "authorizations" | "captures" | "data" | "items" if items.is_none() => {
                    items = Some(map.next_value()?);
                }
                "total" => total = map.next_value::<OptU64>()?.0,
                "total_pages" => total_pages = map.next_value::<OptU64>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let items = items.ok_or_else(|| {
            de::Error::custom("no list under authorizations, captures, data or items")
        })?;
        Ok(Page {
            items,
            total,
            total_pages,
        })
    }
}

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
pub fn for_each_row_from<T: DeserializeOwned>(
    source: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    sink: impl FnMut(T),
) -> anyhow::Result<()> {
    for_each_row_chunked(source, buf, 8 << 20, sink)
}

/// The bytes of a source read so far and not yet parsed.
struct Chunked<'a, R> {
    source: &'a mut R,
    buf: &'a mut Vec<u8>,
    chunk: u64,
    /// Next byte to parse in `buf`.
    pos: usize,
    /// Bytes of the source before `buf[0]`.
    dropped: u64,
    at_end: bool,
}

impl<R: std::io::Read> Chunked<'_, R> {
    /// Drops what was parsed and appends the next chunk; false at the end of the source.
    fn more(&mut self) -> std::io::Result<bool> {
        if self.at_end {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.dropped += self.pos as u64;
        self.pos = 0;
        let read = (&mut *self.source).take(self.chunk).read_to_end(self.buf)?;
        self.at_end = read == 0;
        Ok(read > 0)
    }

    /// The next byte that is not JSON whitespace (not consumed); `None` at the end.
    fn next_token(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
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

fn for_each_row_chunked<T: DeserializeOwned>(
    source: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    chunk: u64,
    mut sink: impl FnMut(T),
) -> anyhow::Result<()> {
    buf.clear();
    let mut c = Chunked {
        source,
        buf,
        chunk: chunk.max(1),
        pos: 0,
        dropped: 0,
        at_end: false,
    };
    match c.next_token()? {
        Some(b'[') => c.pos += 1,
        Some(_) => {
            // Wrapped (or not a list at all): read whole, parsed as such.
            c.source.read_to_end(c.buf)?;
            let body = c.buf.get(c.pos..).unwrap_or_default();
            return for_each_row(body, sink).map_err(anyhow::Error::from);
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
            let step = {
                let mut rows =
                    serde_json::Deserializer::from_slice(c.buf.get(c.pos..).unwrap_or_default())
                        .into_iter::<T>();
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
                Err(e)
                    if e.as_ref().is_none_or(|e| {
                        stops_at_end(c.buf.get(c.pos..).unwrap_or_default(), e)
                    }) && c.more()? => {}
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

/// Parses an amount from the raw text of a JSON number or string, exactly.
pub fn parse_amount_text(raw: &str) -> Result<Amount, String> {
    let text = raw.trim();
    let unescaped;
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => inner,
        Some(_) => {
            unescaped =
                serde_json::from_str::<String>(text).map_err(|e| format!("amount {raw}: {e}"))?;
            unescaped.as_str()
        }
        None => text,
    };
    if text.contains(['e', 'E']) {
        let value = Decimal::from_scientific(text).map_err(|e| format!("amount {raw}: {e}"))?;
        return Amount::from_decimal(value).map_err(|e| format!("amount {e}"));
    }
    Amount::parse(text, false).map_err(|e| format!("amount {e}"))
}

/// The amount's raw JSON text, borrowed from the body (every body is parsed from a slice).
fn raw_amount<'de, D: Deserializer<'de>>(d: D) -> Result<&'de str, D::Error> {
    <&'de RawValue>::deserialize(d).map(RawValue::get)
}

fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Lenient<Amount>, D::Error> {
    let raw = raw_amount(d)?;
    Ok(parse_amount_text(raw).map_err(|_| excerpt(raw)))
}

fn opt_lenient_amount<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Lenient<Option<Amount>>, D::Error> {
    let raw = raw_amount(d)?;
    if raw.trim() == "null" {
        return Ok(Ok(None));
    }
    Ok(parse_amount_text(raw).map(Some).map_err(|_| excerpt(raw)))
}

/// Ids are up to 16 digits; anything longer cannot be a Flexiti id and is refused.
fn check_id(value: u64) -> Result<u64, String> {
    if value > 9_999_999_999_999_999 {
        return Err(format!("id {value} has more than 16 digits"));
    }
    Ok(value)
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an id of up to 16 digits, as a number or a string")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        check_id(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        let v = u64::try_from(v).map_err(|_| E::custom(format!("id {v} is negative")))?;
        check_id(v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        let t = v.trim();
        if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("id '{v}' is not up to 16 digits")));
        }
        t.parse()
            .map_err(|_| E::custom(format!("id '{v}' is not a number")))
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(IdVisitor)
}

/// Optional count (`total`, `total_pages`): a number, a digit string, or null.
struct OptU64(Option<u64>);

impl<'de> Deserialize<'de> for OptU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_u64(d).map(OptU64)
    }
}

fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a count")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("'{v}' is not a count")))
        }
    }
    d.deserialize_any(V)
}

/// Text that may arrive as a string, a number or null (account numbers, codes, ids used as
/// labels). Numbers keep their JSON spelling.
fn opt_text<'de, D: Deserializer<'de>, T: From<String> + for<'a> From<&'a str>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: From<String> + for<'a> From<&'a str>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(T::from(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(T::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// UTC ISO-8601: `2026-11-23T18:42:07Z`, with optional fractional seconds; an explicit offset
/// is converted, a missing one is read as UTC.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Some(at) = plain_utc(t) {
        return Ok(at);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|naive| naive.and_utc())
        .map_err(|_| format!("'{text}' is not an ISO-8601 UTC timestamp"))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the spelling of nearly every timestamp, read by hand; `None` for
/// anything else (fractions, offsets, impossible dates), which the general path reads.
fn plain_utc(t: &str) -> Option<DateTime<Utc>> {
    let naive = plain_date_time(t.strip_suffix('Z')?, b'T')?;
    Some(naive.and_utc())
}

/// A timestamp read in place (no copy: serde's `Cow<str>` always copies); null is `None`, and
/// any value that is not a timestamp string is kept as its JSON text.
struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Lenient<Option<DateTime<Utc>>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an ISO-8601 UTC timestamp")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse_timestamp(v)
            .map(Some)
            .map_err(|_| excerpt(&serde_json::to_string(v).unwrap_or_else(|_| v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("[…]".into()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("{…}".into()))
    }
}

fn lenient_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Lenient<DateTime<Utc>>, D::Error> {
    Ok(d.deserialize_any(TimestampVisitor)?
        .and_then(|at| at.ok_or_else(|| "null".into())))
}

fn opt_lenient_timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Lenient<Option<DateTime<Utc>>>, D::Error> {
    d.deserialize_any(TimestampVisitor)
}

fn opt_returns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WireReturn>, D::Error> {
    Ok(Option::<Vec<WireReturn>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(json: &str) -> Page<WireCapture> {
        serde_json::from_str(json).expect("capture page parses")
    }

    #[test]
    fn amounts_as_numbers_and_strings_are_exact_cents() {
        for (text, cents) in [
            ("1000.12", 100_012),
            ("\"1000.12\"", 100_012),
            ("0.3", 30),
            ("\"10.00\"", 1000),
            ("1299.99", 129_999),
            ("12", 1200),
            ("1.5e2", 15_000),
        ] {
            assert_eq!(
                parse_amount_text(text),
                Ok(Amount::from_cents(cents)),
                "{text}"
            );
        }
        assert!(parse_amount_text("10.005").is_err());
        assert!(parse_amount_text("\"ten\"").is_err());
    }

    #[test]
    fn a_bare_capture_page_with_mixed_spellings_parses() {
        let page = captures(
            r#"[{"capture_id":346123,"authorization_id":"4821907733105521","reference":"ORD-1",
                 "date":"2026-11-23T18:42:09.123Z","amount":1000.12,"unknown":{"x":[1,2]},
                 "external_location_id":"00-12345",
                 "returns":[{"return_id":"9000000000123456","capture_id":346123,
                   "date":"2026-11-24T15:05:44Z","amount":"200.00"}]}]"#,
        );
        let c = &page.items[0];
        assert_eq!(c.capture_id, 346_123);
        assert_eq!(c.authorization_id, 4_821_907_733_105_521);
        assert_eq!(c.amount, Ok(Amount::from_cents(100_012)));
        assert_eq!(
            c.date.as_ref().map(|d| d.timestamp_subsec_millis()),
            Ok(123)
        );
        assert_eq!(c.returns[0].return_id, 9_000_000_000_123_456);
        assert_eq!(c.returns[0].amount, Ok(Amount::from_cents(20_000)));
        assert_eq!(page.total_pages, None);
    }

    #[test]
    fn wrapped_pages_are_read_under_each_documented_key() {
        for key in ["authorizations", "data", "items"] {
            let json = format!(
                r#"{{"total":"3","meta":{{"a":1}},"{key}":[{{"authorization_id":7,
                "account_number":20076677,"creation_date":"2026-11-23T18:42:07Z",
                "amount":"5.10","authorization_status":"closed"}}],"total_pages":2}}"#
            );
            let page: Page<WireAuthorization> = serde_json::from_str(&json).expect("parses");
            assert_eq!(page.items.len(), 1, "{key}");
            assert_eq!(page.total, Some(3));
            assert_eq!(page.total_pages, Some(2));
            assert_eq!(page.items[0].reference, None);
            assert_eq!(page.items[0].amount, Ok(Some(Amount::from_cents(510))));
        }
    }

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

    #[test]
    fn an_object_without_a_list_and_overlong_ids_are_refused() {
        assert!(serde_json::from_str::<Page<WireCapture>>(r#"{"total":1}"#).is_err());
        let long = r#"[{"capture_id":"12345678901234567","authorization_id":1,
            "date":"2026-11-23T00:00:00Z","amount":1}]"#;
        assert!(serde_json::from_str::<Page<WireCapture>>(long).is_err());
    }

    #[test]
    fn error_bodies_describe_their_field_errors() {
        let body = r#"{"url":"/x","message":"Some inputs are wrong or missing!","error":"wrong_inputs",
            "field_errors":[{"param":"creation_date_from","msg":"invalid","value":"2026-13-01","type":"format"}]}"#;
        let e: WireError = serde_json::from_str(body).expect("parses");
        assert_eq!(e.error.as_deref(), Some("wrong_inputs"));
        assert_eq!(
            e.describe(),
            "Some inputs are wrong or missing!; creation_date_from: invalid (2026-13-01)"
        );
    }

    #[test]
    fn timestamps_without_zone_are_utc_and_offsets_are_converted() {
        let a = parse_timestamp("2026-11-23T18:42:07").expect("naive");
        let b = parse_timestamp("2026-11-23T13:42:07-05:00").expect("offset");
        assert_eq!(a, b);
        assert!(parse_timestamp("23/11/2026").is_err());
        assert!(parse_timestamp("2026-02-30T10:00:00Z").is_err());
        assert_eq!(
            plain_utc("2026-11-23T18:42:07Z"),
            DateTime::parse_from_rfc3339("2026-11-23T18:42:07Z")
                .ok()
                .map(|at| at.with_timezone(&Utc))
        );
    }
}
