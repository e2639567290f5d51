//! Wire types: Flexiti's response bodies exactly as the contract assumes them, and nothing more.
//!
//! Parsing is tolerant where Flexiti's examples disagree with each other: amounts come as JSON
//! numbers or strings and are read from their text into exact cents (never through `f64`), ids
//! as numbers or digit strings, account numbers as strings or numbers, timestamps as UTC
//! ISO-8601 with or without fractional seconds. Unknown fields are ignored and statuses, types
//! and error codes stay open strings. A list page is a bare array or an object that holds the
//! array under `authorizations`, `captures`, `data` or `items`. Every deserializer here streams:
//! nothing is buffered into a `serde_json::Value`, so pages of millions of rows stay cheap.
//!
//! Files: `values` (the tolerant field readers), `rows` (list pages read row by row, bare or
//! wrapped, in chunks), `scan` (the fast path of the row readers).

mod rows;
mod scan;
#[cfg(test)]
mod scan_tests;
mod values;

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::domain::{Amount, Text};

pub use rows::{for_each_row, for_each_row_from};
pub use scan::Scan;
use values::{
    OptU64, id, lenient_amount, lenient_timestamp, opt_lenient_amount, opt_lenient_timestamp,
    opt_returns, opt_text,
};
pub use values::{parse_amount_text, parse_timestamp};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(json: &str) -> Page<WireCapture> {
        serde_json::from_str(json).expect("capture page parses")
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
}
