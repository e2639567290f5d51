//! The fast path of the row readers: a row in the shape nearly every row has (an object of
//! plain values: strings without escapes, numbers without exponents, `null`, nested lists and
//! objects of the same) is read straight from the bytes, without serde's visitors.
//!
//! It never decides an outcome of its own. Anything else (an escape, an exponent, a duplicate
//! or missing field, a value the contract does not allow, a row cut by the end of the bytes read
//! so far) makes it answer `None`, and the general reader (serde) reads the row instead. What it
//! accepts it reads exactly as the general reader does; property tests (`scan_tests.rs`) check it on
//! arbitrary rows.

use chrono::{DateTime, Utc};

use crate::domain::{Amount, Text, plain_date_time};

use super::values::parse_timestamp;
use super::{WireAuthorization, WireCapture, WireReturn, parse_amount_text};

/// Nesting accepted inside a skipped value; deeper values go to the general reader.
pub(super) const MAX_DEPTH: u32 = 16;

/// A row type the fast path reads.
pub trait Scan: Sized {
    /// The row at the start of `bytes` (after optional whitespace) and the bytes it used, or
    /// `None` when the general reader must read it.
    fn scan(bytes: &[u8]) -> Option<(Self, usize)>;
}

/// Where a string's text ends in `bytes` (the first `"`, `\\` or control character), and
/// whether the text before it is all ASCII; `None` when none is found.
///
/// Eight bytes at a time: in a word, the lowest byte flagged by "equals `"`", "equals `\\`"
/// or "is below 0x20" is exactly the first such byte (a false flag can only sit above a true
/// one, where a borrow carried), so the lowest flag is where the text ends.
pub(super) fn string_end(bytes: &[u8]) -> Option<(usize, bool)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let flags = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x
    };
    let mut ascii = true;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let stop =
            (flags(word, b'"') | flags(word, b'\\') | (word.wrapping_sub(ONES * 0x20) & !word))
                & HIGH;
        if stop != 0 {
            let i = stop.trailing_zeros() / 8;
            let before = (1u64 << (i * 8)).wrapping_sub(1);
            ascii &= word & HIGH & before == 0;
            return Some((at + i as usize, ascii));
        }
        ascii &= word & HIGH == 0;
        at += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return Some((at + i, ascii));
        }
        ascii &= b.is_ascii();
    }
    None
}

/// A cursor over the bytes of a page.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8], pos: usize) -> Self {
        Cursor { bytes, pos }
    }

    /// The next byte that is not JSON whitespace, not consumed.
    pub(super) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// The bytes from the cursor on.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn eat(&mut self, byte: u8) -> Option<()> {
        if self.peek()? != byte {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.peek()?;
        if !self.bytes.get(self.pos..)?.starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(())
    }

    /// A string without escapes or control characters, in valid UTF-8; its bytes (checked
    /// for UTF-8 only when one is not ASCII).
    pub(super) fn string_bytes(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = self.rest();
        let (end, ascii) = string_end(rest)?;
        if rest.get(end) != Some(&b'"') {
            return None;
        }
        let text = rest.get(..end)?;
        if !ascii {
            std::str::from_utf8(text).ok()?;
        }
        self.pos += end + 1;
        Some(text)
    }

    /// A string without escapes or control characters, in valid UTF-8; its text.
    pub(super) fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string_bytes()?).ok()
    }

    /// A number without exponent, checked against JSON's grammar; its text (ASCII). A number
    /// that reaches the end of the bytes may go on past them, so it is left to the general
    /// reader.
    fn number(&mut self) -> Option<&'a [u8]> {
        self.peek()?;
        let (b, start) = (self.bytes, self.pos);
        let digits_from = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        i = match b.get(i)? {
            b'0' => i + 1,
            b'1'..=b'9' => digits_from(i + 1),
            _ => return None,
        };
        if b.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if matches!(b.get(i), None | Some(b'e' | b'E')) {
            return None;
        }
        self.pos = i;
        b.get(start..i)
    }

    /// Any value, read and dropped (an unknown field's).
    pub(super) fn skip(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string_bytes().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'[' => {
                let depth = depth.checked_sub(1)?;
                self.pos += 1;
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth)?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                let depth = depth.checked_sub(1)?;
                self.object(|c, _| c.skip(depth))
            }
            _ => self.number().map(drop),
        }
    }

    /// An object, each field handed to `field` with its key (which must read the value).
    pub(super) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.members(|c| {
            let key = c.string_bytes()?;
            c.eat(b':')?;
            field(c, key)
        })
    }

    /// An object of a row type's fields: each field is handed to `field` with what its key
    /// names in `keys` (`other` for a key not there), which must read the value.
    ///
    /// `keys` lists the fields in the order the contract's rows give them. The key after the
    /// one just read is compared first, in place: a row in that order has each key recognised
    /// by one comparison, without finding where the key ends and then looking it up. Any other
    /// key is read and looked up as `object` does; a key that holds an escape, or any other
    /// spelling of a listed key, never equals one and goes to the general reader as before.
    pub(super) fn fields<K: Copy>(
        &mut self,
        keys: &[(&[u8], K)],
        other: K,
        mut field: impl FnMut(&mut Self, K) -> Option<()>,
    ) -> Option<()> {
        let mut next = 0;
        self.members(|c| {
            let known = match keys.get(next) {
                Some(&(key, name)) if c.quoted(key) => {
                    c.pos += key.len() + 2;
                    Some((next, name))
                }
                _ => {
                    let key = c.string_bytes()?;
                    keys.iter()
                        .enumerate()
                        .find(|(_, (k, _))| *k == key)
                        .map(|(i, &(_, name))| (i, name))
                }
            };
            c.eat(b':')?;
            field(c, known.map_or(other, |(_, name)| name))?;
            next = known.map_or(usize::MAX, |(i, _)| i + 1);
            Some(())
        })
    }

    /// An object's braces and commas; `member` reads each `"key": value` between them.
    fn members(&mut self, mut member: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            member(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Whether the next token is the string `key` (plain bytes, no escape), not consumed.
    fn quoted(&mut self, key: &[u8]) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let rest = self.rest();
        rest.get(1..=key.len()) == Some(key) && rest.get(key.len() + 1) == Some(&b'"')
    }

    /// An id as the general reader takes it: up to 16 digits, as a number or a string.
    fn id(&mut self) -> Option<u64> {
        let digits = match self.peek()? {
            b'"' => self.string_bytes()?,
            _ => return self.id_number(),
        };
        if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // At most 16 digits: below 10^16, no overflow.
        Some(
            digits
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
        )
    }

    /// An id sent as a JSON number: its digits read and counted in one pass. Anything but 1 to
    /// 16 digits (a sign, a fraction, an exponent, a leading zero, a number that may go on past
    /// the bytes read) is left to the general reader, as `number` and `id` together decide.
    fn id_number(&mut self) -> Option<u64> {
        let rest = self.rest();
        let mut value = 0u64;
        let mut len = 0;
        for &b in rest.iter().take(17) {
            if !b.is_ascii_digit() {
                break;
            }
            // At most 17 digits are added (a 17th fails the check below): below 10^17, no
            // overflow.
            value = value * 10 + u64::from(b - b'0');
            len += 1;
        }
        if len == 0 || len > 16 || (len > 1 && rest.first() == Some(&b'0')) {
            return None;
        }
        if matches!(rest.get(len), None | Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.pos += len;
        Some(value)
    }

    /// A text field sent as a string or null.
    fn opt_text(&mut self) -> Option<Option<Text>> {
        match self.peek()? {
            b'"' => self.string().map(|t| Some(Text::from(t))),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// A timestamp string the contract allows. The common spelling, `YYYY-MM-DDTHH:MM:SSZ`,
    /// is read from the bytes; any other goes through `parse_timestamp`, whose first try is
    /// that same reading.
    fn timestamp(&mut self) -> Option<DateTime<Utc>> {
        let text = self.string_bytes()?;
        if let Some(at) = text
            .strip_suffix(b"Z")
            .and_then(|t| plain_date_time(t, b'T'))
        {
            return Some(at.and_utc());
        }
        parse_timestamp(std::str::from_utf8(text).ok()?).ok()
    }

    /// A timestamp or null.
    fn opt_timestamp(&mut self) -> Option<Option<DateTime<Utc>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            _ => self.timestamp().map(Some),
        }
    }

    /// An amount sent as a number or a string that reads as one. The common spelling is read
    /// from the bytes (`Amount::parse_plain`, the first try of `parse_amount_text` too); any
    /// other from the value's JSON text, quotes included.
    fn amount(&mut self) -> Option<Amount> {
        let start = self.peek().map(|_| self.pos)?;
        let text = match self.bytes.get(start)? {
            b'"' => self.string_bytes()?,
            _ => self.number()?,
        };
        if let Some(amount) = Amount::parse_plain(text) {
            return Some(amount);
        }
        let raw = std::str::from_utf8(self.bytes.get(start..self.pos)?).ok()?;
        parse_amount_text(raw).ok()
    }

    /// An amount or null.
    fn opt_amount(&mut self) -> Option<Option<Amount>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            _ => self.amount().map(Some),
        }
    }

    fn returns(&mut self) -> Option<Vec<WireReturn>> {
        match self.peek()? {
            b'n' => return self.literal(b"null").map(|()| Vec::new()),
            b'[' => self.pos += 1,
            _ => return None,
        }
        let mut returns = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(returns);
        }
        loop {
            returns.push(self.wire_return()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(returns);
                }
                _ => return None,
            }
        }
    }

    fn wire_return(&mut self) -> Option<WireReturn> {
        let (mut return_id, mut reference, mut date, mut amount) = (None, None, None, None);
        self.fields(RETURN_KEYS, Field::Other, |c, key| match key {
            Field::ReturnId => set(&mut return_id, c.id()?),
            Field::Reference => set(&mut reference, c.opt_text()?),
            Field::Date => set(&mut date, c.timestamp()?),
            Field::Amount => set(&mut amount, c.amount()?),
            _ => c.skip(MAX_DEPTH),
        })?;
        Some(WireReturn {
            return_id: return_id?,
            reference: reference.flatten(),
            date: Ok(date?),
            amount: Ok(amount?),
        })
    }
}

/// The fields the rows' readers take; `Other` is any other key, its value skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    CaptureId,
    AuthorizationId,
    ReturnId,
    Reference,
    Date,
    CreationDate,
    Amount,
    Store,
    Returns,
    Other,
}

/// Each row type's keys in the order the contract's rows give them (`docs/FLEXITI-API.md`),
/// the fields not read among them (as `Other`) so that the order is followed through them.
const CAPTURE_KEYS: &[(&[u8], Field)] = &[
    (b"capture_id", Field::CaptureId),
    (b"authorization_id", Field::AuthorizationId),
    (b"reference", Field::Reference),
    (b"date", Field::Date),
    (b"amount", Field::Amount),
    (b"remaining_authorization_amount", Field::Other),
    (b"external_location_id", Field::Store),
    (b"returns", Field::Returns),
];

const AUTHORIZATION_KEYS: &[(&[u8], Field)] = &[
    (b"authorization_id", Field::AuthorizationId),
    (b"reference", Field::Reference),
    (b"account_number", Field::Other),
    (b"transaction_type", Field::Other),
    (b"authorization_status", Field::Other),
    (b"creation_date", Field::CreationDate),
    (b"amount", Field::Amount),
    (b"remaining_authorization_amount", Field::Other),
    (b"external_location_id", Field::Store),
    (b"plan_id", Field::Other),
    (b"term", Field::Other),
];

const RETURN_KEYS: &[(&[u8], Field)] = &[
    (b"return_id", Field::ReturnId),
    (b"reference", Field::Reference),
    (b"capture_id", Field::Other),
    (b"date", Field::Date),
    (b"amount", Field::Amount),
    (b"remaining_capture_amount", Field::Other),
];

/// Fills a field once: a second value for it is a duplicate field, left to the general reader.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl Scan for WireCapture {
    fn scan(bytes: &[u8]) -> Option<(Self, usize)> {
        let mut c = Cursor::new(bytes, 0);
        let (mut capture_id, mut authorization_id, mut reference) = (None, None, None);
        let (mut date, mut amount, mut store, mut returns) = (None, None, None, None);
        c.fields(CAPTURE_KEYS, Field::Other, |c, key| match key {
            Field::CaptureId => set(&mut capture_id, c.id()?),
            Field::AuthorizationId => set(&mut authorization_id, c.id()?),
            Field::Reference => set(&mut reference, c.opt_text()?),
            Field::Date => set(&mut date, c.timestamp()?),
            Field::Amount => set(&mut amount, c.amount()?),
            Field::Store => set(&mut store, c.opt_text()?),
            Field::Returns => set(&mut returns, c.returns()?),
            _ => c.skip(MAX_DEPTH),
        })?;
        let row = WireCapture {
            capture_id: capture_id?,
            authorization_id: authorization_id?,
            reference: reference.flatten(),
            date: Ok(date?),
            amount: Ok(amount?),
            external_location_id: store.flatten(),
            returns: returns.unwrap_or_default(),
        };
        Some((row, c.pos))
    }
}

impl Scan for WireAuthorization {
    fn scan(bytes: &[u8]) -> Option<(Self, usize)> {
        let mut c = Cursor::new(bytes, 0);
        let (mut authorization_id, mut reference, mut store) = (None, None, None);
        let (mut creation_date, mut amount) = (None, None);
        c.fields(AUTHORIZATION_KEYS, Field::Other, |c, key| match key {
            Field::AuthorizationId => set(&mut authorization_id, c.id()?),
            Field::Reference => set(&mut reference, c.opt_text()?),
            Field::CreationDate => set(&mut creation_date, c.opt_timestamp()?),
            Field::Amount => set(&mut amount, c.opt_amount()?),
            Field::Store => set(&mut store, c.opt_text()?),
            _ => c.skip(MAX_DEPTH),
        })?;
        let row = WireAuthorization {
            authorization_id: authorization_id?,
            reference: reference.flatten(),
            creation_date: Ok(creation_date.flatten()),
            amount: Ok(amount.flatten()),
            external_location_id: store.flatten(),
        };
        Some((row, c.pos))
    }
}

impl Scan for WireReturn {
    fn scan(bytes: &[u8]) -> Option<(Self, usize)> {
        let mut c = Cursor::new(bytes, 0);
        let row = c.wire_return()?;
        Some((row, c.pos))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Cursor;

    /// An id number as `number` then `id` read it before `id_number`: the number's text, then
    /// 1 to 16 digits; the value and where the cursor ends.
    fn the_long_way(bytes: &[u8]) -> Option<(u64, usize)> {
        let mut c = Cursor::new(bytes, 0);
        let digits = c.number()?;
        if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        // A leading zero followed by digits: `number` stops after the zero, and the row then
        // fails on the next byte; `id_number` declines at once. Both leave the row to serde.
        if c.rest().first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        Some((value, c.pos))
    }

    fn the_short_way(bytes: &[u8]) -> Option<(u64, usize)> {
        let mut c = Cursor::new(bytes, 0);
        let value = c.id()?;
        Some((value, c.pos))
    }

    #[test]
    fn id_numbers_read_as_number_and_id_read_them() {
        for text in [
            "0,",
            "7}",
            "4000000000001279,",
            "9999999999999999,",
            "10000000000000000,",
            "99999999999999999,",
            "0123,",
            "00,",
            "-1,",
            "-0,",
            "1.0,",
            "1e3,",
            "1E3,",
            "12",
            "",
            ",",
            "1.,",
            "+1,",
            "1 ,",
            "1]",
        ] {
            assert_eq!(
                the_short_way(text.as_bytes()),
                the_long_way(text.as_bytes()),
                "{text:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn fuzz_id_numbers_read_as_number_and_id_read_them(text in "[-+0-9.eE ]{0,20}[,}\\]]?") {
            prop_assert_eq!(the_short_way(text.as_bytes()), the_long_way(text.as_bytes()), "{:?}", text);
        }
    }
}
