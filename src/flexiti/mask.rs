//! Account numbers are personal data: they are masked at the wire boundary, in the raw text of
//! every body Flexiti sends, before anything parses, logs, stores or bundles it. No full number
//! exists past this adapter (the rules never read it: `wire` skips the field).
//!
//! Every `"account_number": <value>` of a body, string or number, becomes the JSON string
//! `"****6677"` (the last four characters of the value; `"****"` when the value is shorter than
//! five characters, or holds an escape or a non-ASCII character). The body stays JSON of the same
//! shape, so a masked page parses into the same records and a replay from the audit bundle gives
//! the same findings. A body cut short (an unparseable page) is masked to its end. The scan is
//! one pass over the bytes with a substring finder, and a body without the key is not copied.

use std::borrow::Cow;

use memchr::memmem;

const KEY: &[u8] = b"\"account_number\"";

/// The spans of the account-number values of `body`, in order.
fn account_spans(body: &[u8]) -> Vec<(usize, usize)> {
    let finder = memmem::Finder::new(KEY);
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = finder.find(&body[from..]) {
        let key_end = from + found + KEY.len();
        from = key_end;
        if let Some((start, end)) = value_span(body, key_end) {
            spans.push((start, end));
            from = end;
        }
    }
    spans
}

/// `body` with every account number masked (borrowed when there is none).
pub fn mask_account_numbers(body: &[u8]) -> Cow<'_, [u8]> {
    let spans = account_spans(body);
    if spans.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut copied = 0;
    for (start, end) in spans {
        out.extend_from_slice(&body[copied..start]);
        out.extend_from_slice(masked(&body[start..end], end == body.len()).as_slice());
        copied = end;
    }
    out.extend_from_slice(&body[copied..]);
    Cow::Owned(out)
}

/// `body` with every account number masked, in place when no masked value is longer than the
/// value it replaces (account numbers of 8 digits or more sent as strings, the usual case): a
/// page is then neither copied nor reallocated.
pub fn masked_body(mut body: Vec<u8>) -> Vec<u8> {
    let spans = account_spans(&body);
    if spans.is_empty() {
        return body;
    }
    let len = body.len();
    let values: Vec<Masked> = spans
        .iter()
        .map(|&(start, end)| masked(&body[start..end], end == len))
        .collect();
    if spans
        .iter()
        .zip(&values)
        .any(|(&(start, end), m)| m.len > end - start)
    {
        return mask_account_numbers(&body).into_owned();
    }
    // Each value shrinks or keeps its length, so the write cursor never passes the read one.
    let mut write = spans[0].0;
    let mut read = spans[0].0;
    for (&(start, end), value) in spans.iter().zip(&values) {
        body.copy_within(read..start, write);
        write += start - read;
        body[write..write + value.len].copy_from_slice(value.as_slice());
        write += value.len;
        read = end;
    }
    body.copy_within(read..len, write);
    body.truncate(write + (len - read));
    body
}

/// The span of the value after a key ending at `i`: a whole JSON string with its quotes, or a
/// bare scalar (number, literal); a string or scalar cut short runs to the end of the body.
fn value_span(body: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let blank = |b: &u8| b" \t\r\n".contains(b);
    while body.get(i).is_some_and(blank) {
        i += 1;
    }
    if body.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while body.get(i).is_some_and(blank) {
        i += 1;
    }
    let start = i;
    match body.get(i)? {
        b'"' => {
            let mut j = i + 1;
            while j < body.len() && body[j] != b'"' {
                j += if body[j] == b'\\' { 2 } else { 1 };
            }
            Some((start, (j + 1).min(body.len())))
        }
        b'{' | b'[' => None,
        _ => {
            let mut j = i;
            while j < body.len() && !b",}] \t\r\n".contains(&body[j]) {
                j += 1;
            }
            Some((start, j))
        }
    }
}

/// The masked form of one value: at most `"****1234"`.
struct Masked {
    bytes: [u8; 10],
    len: usize,
}

impl Masked {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The masked form of one raw value (quoted string or bare scalar) as a JSON string; a value
/// that runs to the end of a body may be cut anywhere and keeps no digit.
fn masked(raw: &[u8], at_end: bool) -> Masked {
    let mut out = Masked {
        bytes: [b'*'; 10],
        len: 5,
    };
    out.bytes[0] = b'"';
    if raw == b"null" {
        out.bytes[..4].copy_from_slice(raw);
        out.len = 4;
        return out;
    }
    let inner = raw
        .strip_prefix(b"\"")
        .map(|r| r.strip_suffix(b"\"").unwrap_or(r))
        .unwrap_or(raw);
    let plain = inner
        .iter()
        .all(|b| b.is_ascii_graphic() && *b != b'\\' && *b != b'"');
    if plain && !at_end && inner.len() > 4 {
        out.bytes[5..9].copy_from_slice(&inner[inner.len() - 4..]);
        out.len = 9;
    }
    out.bytes[out.len] = b'"';
    out.len += 1;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copying and the in-place paths, which must agree.
    fn masked(body: &str) -> String {
        let copied = mask_account_numbers(body.as_bytes()).into_owned();
        let in_place = masked_body(body.as_bytes().to_vec());
        assert_eq!(copied, in_place, "{body}");
        String::from_utf8(copied).expect("utf-8")
    }

    #[test]
    fn strings_and_numbers_become_masked_strings_and_the_rest_is_untouched() {
        let page = r#"[{"authorization_id":4821907733105521,"account_number":"20076677","amount":1.5},
            {"authorization_id":2,"account_number" : 12345678901234,"reference":"A"},
            {"authorization_id":3,"account_number":null,"note":"account_number"}]"#;
        let out = masked(page);
        assert!(
            out.contains(r#""account_number":"****6677","amount":1.5"#),
            "{out}"
        );
        assert!(
            out.contains(r#""account_number" : "****1234","reference""#),
            "{out}"
        );
        assert!(out.contains(r#""account_number":null"#), "{out}");
        assert!(!out.contains("20076677") && !out.contains("12345678901234"));
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(parsed[0]["authorization_id"], 4821907733105521u64);
        assert_eq!(parsed[2]["note"], "account_number");
    }

    #[test]
    fn odd_values_are_masked_whole_and_cut_bodies_to_their_end() {
        assert_eq!(
            masked(r#"{"account_number":"12\"345678"}"#),
            r#"{"account_number":"****"}"#
        );
        assert_eq!(
            masked(r#"{"account_number":"2007é6677"}"#),
            r#"{"account_number":"****"}"#
        );
        assert_eq!(
            masked(r#"{"account_number":"123"}"#),
            r#"{"account_number":"****"}"#
        );
        assert_eq!(
            masked(r#"[{"account_number":"200766"#),
            r#"[{"account_number":"****""#
        );
        assert_eq!(
            masked(r#"[{"account_number":2007"#),
            r#"[{"account_number":"****""#
        );
    }

    #[test]
    fn a_body_without_account_numbers_is_not_copied() {
        let body = br#"[{"capture_id":1}]"#;
        assert!(matches!(mask_account_numbers(body), Cow::Borrowed(_)));
        let page = br#"[{"account_number":"20076677","a":1},{"account_number":"12345678901234"}]"#;
        let capacity = page.to_vec().capacity();
        let in_place = masked_body(page.to_vec());
        assert_eq!(
            in_place,
            br#"[{"account_number":"****6677","a":1},{"account_number":"****1234"}]"#
        );
        assert_eq!(in_place.capacity(), capacity);
    }
}
