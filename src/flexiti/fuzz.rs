//! Property tests over hostile bodies: every parser a Flexiti answer goes through (list pages
//! bare and wrapped, lookups, token replies, error bodies, `Retry-After`, `Location`) gets
//! arbitrary bytes and arbitrary JSON built from the contract's field names, and must answer
//! `Ok` or `Err`, never panic. Each test's name starts with `fuzz_`; `PROPTEST_CASES` raises the
//! number of cases (256 by default).

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::client::error_answer;
use super::http::{parse_retry_after, refused_redirect};
use super::map::{Collected, Source};
use super::token::parse_token_reply;
use super::wire::{Page, WireAuthorization, WireCapture, WireError, for_each_row};

const KEYS: &[&str] = &[
    "authorization_id",
    "capture_id",
    "return_id",
    "reference",
    "date",
    "creation_date",
    "amount",
    "external_location_id",
    "returns",
    "authorizations",
    "captures",
    "data",
    "items",
    "total",
    "total_pages",
    "access_token",
    "expires_in",
    "refresh_token",
    "token_type",
    "error",
    "message",
    "url",
    "field_errors",
    "param",
    "msg",
    "value",
];

/// Number spellings a `serde_json::Value` cannot hold, put in place of the placeholder.
const RAW: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "-1e-400",
    "0.000000000000000000001",
    "99999999999999999999.99",
    "79228162514264337593543950336",
    "1.5e2",
    "-0",
];
const PLACEHOLDER: &str = "\u{1}raw\u{1}";

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "[0-9]{0,20}".prop_map(Value::String),
        "-?[0-9]{0,14}(\\.[0-9]{0,4})?([eE]-?[0-9]{1,4})?".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})?"
            .prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        Just(Value::String(PLACEHOLDER.into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..10).prop_map(|pairs| {
                let map: Map<String, Value> =
                    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Value::Object(map)
            }),
        ]
    })
}

/// JSON text: a value, with the placeholder replaced by a raw number, sometimes cut short.
fn json_text() -> impl Strategy<Value = Vec<u8>> {
    (
        value(),
        prop::sample::select(RAW),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(value, raw, cut, cut_it)| {
            let text = value
                .to_string()
                .replace(&format!("\"{}\"", "\\u0001raw\\u0001"), raw);
            let mut bytes = text.into_bytes();
            if cut_it && !bytes.is_empty() {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        })
}

fn small_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..40).prop_map(|n| json!(n)),
        "[0-9]{1,17}".prop_map(Value::String),
        scalar(),
    ]
}

fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        "2026-11-2[0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z?".prop_map(Value::String),
        scalar(),
    ]
}

fn amount() -> impl Strategy<Value = Value> {
    prop_oneof![
        "-?[0-9]{1,16}(\\.[0-9]{1,3})?".prop_map(Value::String),
        (-1_000_000i64..1_000_000).prop_map(|cents| json!(cents)),
        scalar(),
    ]
}

/// A row with every field the rules read, each of any shape: captures with returns, and
/// authorizations, so that parsed rows reach the mapping often.
fn row() -> impl Strategy<Value = Value> {
    let ret = (small_id(), timestamp(), amount(), scalar()).prop_map(|(id, date, amount, r)| {
        json!({"return_id": id, "date": date, "amount": amount, "reference": r})
    });
    let capture = (
        (small_id(), small_id(), timestamp(), amount()),
        (scalar(), scalar(), prop::collection::vec(ret, 0..3)),
    )
        .prop_map(|((id, auth, date, amount), (reference, store, returns))| {
            json!({"capture_id": id, "authorization_id": auth, "date": date, "amount": amount,
                   "reference": reference, "external_location_id": store, "returns": returns})
        });
    let authorization = (small_id(), timestamp(), amount(), scalar(), scalar()).prop_map(
        |(id, created, amount, reference, store)| {
            json!({"authorization_id": id, "creation_date": created, "amount": amount,
                   "reference": reference, "external_location_id": store})
        },
    );
    prop_oneof![capture, authorization]
}

fn rows_page() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(row(), 0..12).prop_map(|rows| Value::Array(rows).to_string().into_bytes())
}

/// A list page as the API would wrap it, around rows of any shape.
fn wrapped_page() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(&["authorizations", "captures", "data", "items"][..]),
        prop::collection::vec(prop_oneof![row(), value()], 0..6),
        value(),
        value(),
    )
        .prop_map(|(key, rows, total, pages)| {
            json!({ key: rows, "total": total, "total_pages": pages })
                .to_string()
                .into_bytes()
        })
}

/// Every way a list page or a lookup body is read, mapped to records as a fetch would.
fn read_lists(body: &[u8]) {
    let mut collected = Collected::default();
    let source = Source::call("fuzz", String::new(), None);
    if let Ok(page) = serde_json::from_slice::<Page<WireCapture>>(body) {
        collected.add_captures(&source, page.items);
    }
    if let Ok(page) = serde_json::from_slice::<Page<WireAuthorization>>(body) {
        collected.add_authorizations(&source, page.items);
    }
    if let Ok(one) = serde_json::from_slice::<WireAuthorization>(body) {
        collected.add_looked_up(one);
    }
    let _ = collected.missing_authorizations();
    let _ = collected.into_side();
    let _ = for_each_row::<WireCapture>(body, |_| {});
    let _ = for_each_row::<WireAuthorization>(body, |_| {});
    let mut buf = Vec::new();
    let _ = super::wire::for_each_row_from::<WireCapture>(&mut &body[..], &mut buf, |_| {});
}

fn read_token(body: &[u8]) {
    if let Ok(reply) = parse_token_reply(body) {
        let _ = Instant::now().checked_add(reply.life);
        let _ = format!("{reply:?}");
    }
}

fn read_error(status: u16, retry_after: Option<Duration>, body: &[u8]) {
    let error = error_answer(status, retry_after, body);
    let _ = error.to_string();
    let _ = (
        error.http_status(),
        error.error_code(),
        error.is_retryable(),
    );
    let _ = error.redacted("secret").to_string();
    if let Ok(wire) = serde_json::from_slice::<WireError>(body) {
        let _ = wire.describe();
    }
}

proptest! {
    #[test]
    fn fuzz_list_page_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        read_lists(&body);
    }

    #[test]
    fn fuzz_list_page_json(body in json_text()) {
        read_lists(&body);
    }

    #[test]
    fn fuzz_list_page_rows(body in rows_page()) {
        read_lists(&body);
    }

    #[test]
    fn fuzz_list_page_wrapped(body in wrapped_page()) {
        read_lists(&body);
    }

    #[test]
    fn fuzz_list_page_strings(text in any::<String>()) {
        read_lists(text.as_bytes());
        read_lists(format!("[{text}]").as_bytes());
    }

    #[test]
    fn fuzz_token_reply_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        read_token(&body);
    }

    #[test]
    fn fuzz_token_reply_json(body in json_text()) {
        read_token(&body);
    }

    #[test]
    fn fuzz_error_body_bytes(
        status in 100u16..1000,
        retry in prop::option::of(any::<u64>()),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        read_error(status, retry.map(Duration::from_secs), &body);
    }

    #[test]
    fn fuzz_error_body_json(status in 100u16..1000, body in json_text()) {
        read_error(status, None, &body);
    }

    #[test]
    fn fuzz_retry_after_and_location_headers(text in any::<String>(), secs in any::<i64>()) {
        let now = Utc.timestamp_opt(secs.rem_euclid(1 << 35), 0).single().unwrap_or_default();
        let _ = parse_retry_after(&text, now);
        let from = reqwest::Url::parse("https://posapi.flexiti.fi/flexiti/pos-api/v2.5/oauth/token")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = refused_redirect(307, &from, Some(&text)).to_string();
    }
}
