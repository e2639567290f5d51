//! The fast path of the row readers against serde: what it accepts, it reads as serde does.

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::scan::Scan;
use super::{WireAuthorization, WireCapture, WireReturn};

/// The fast path either declines or reads what serde reads, using the same bytes.
fn agrees<T: Scan + DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str) -> bool {
    let Some((fast, used)) = T::scan(text.as_bytes()) else {
        return false;
    };
    let mut rows = serde_json::Deserializer::from_str(text).into_iter::<T>();
    let general = rows.next().and_then(Result::ok);
    assert_eq!(Some(&fast), general.as_ref(), "{text}");
    assert_eq!(used, rows.byte_offset(), "{text}");
    true
}

#[test]
fn plain_rows_take_the_fast_path_and_read_as_serde_reads_them() {
    let capture = r#" {"capture_id":346123,"authorization_id":"4821907733105521","reference":"ORD-1",
        "date":"2026-11-23T18:42:09.123Z","amount":1000.12,"unknown":{"x":[1,-2.5,true,null,"é"]},
        "external_location_id":"00-12345","returns":[{"return_id":"9000000000123456",
        "capture_id":346123,"date":"2026-11-24T15:05:44Z","amount":"200.00"}]} ,"#;
    assert!(agrees::<WireCapture>(capture));
    let auth = r#"{"authorization_id":7,"account_number":"****6677","creation_date":null,
        "amount":"5.10","external_location_id":null,"plan_id":12,"term":{}}"#;
    assert!(agrees::<WireAuthorization>(auth));
    assert!(agrees::<WireAuthorization>(r#"{"authorization_id":7}"#));
    assert!(agrees::<WireCapture>(
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":0,"returns":null}"#
    ));
}

#[test]
fn anything_unusual_is_left_to_serde() {
    for row in [
        // An escape, an exponent, a duplicate field, a missing or refused value.
        r#"{"capture_id":1,"authorization_id":2,"reference":"A\"B","date":"2026-11-23T00:00:00Z","amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":1e2}"#,
        r#"{"capture_id":1,"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":-0.5e1}"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23","amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":"1.005"}"#,
        r#"{"capture_id":12345678901234567,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"reference":7,"date":"2026-11-23T00:00:00Z","amount":1}"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":1"#,
        r#"{"capture_id":1,"authorization_id":2,"date":"2026-11-23T00:00:00Z","amount":12"#,
        r#"[1,2,"2026-11-23T00:00:00Z"]"#,
    ] {
        assert!(WireCapture::scan(row.as_bytes()).is_none(), "{row}");
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        (0u64..100_000_000, 0u32..3).prop_map(|(n, d)| json!(format!(
            "{}.{:0w$}",
            n / 10u64.pow(d),
            n % 10u64.pow(d),
            w = d as usize
        ))),
        "[0-9]{0,18}".prop_map(Value::String),
        "-?[0-9]{1,12}(\\.[0-9]{0,3})?".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,4})?(Z|[+-][0-9]{2}:[0-9]{2})?"
            .prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "capture_id",
    "authorization_id",
    "return_id",
    "reference",
    "date",
    "creation_date",
    "amount",
    "external_location_id",
    "returns",
    "account_number",
];

/// An object of the contract's fields (some missing) and others, each a hostile value,
/// printed compact or pretty, possibly with a field repeated and cut short.
fn row_text() -> impl Strategy<Value = String> {
    let field = (
        0..FIELDS.len() + 1,
        value(),
        prop::collection::vec(value(), 0..3),
        any::<bool>(),
    );
    (prop::collection::vec(field, 0..9), any::<bool>(), any::<u8>()).prop_map(
        |(fields, pretty, cut)| {
            let mut map = Map::new();
            let mut extra = String::new();
            for (i, v, nested, plain) in fields {
                let key = FIELDS.get(i).map_or("other", |k| k);
                let v = match key {
                    "returns" => Value::Array(
                        nested
                            .into_iter()
                            .map(|n| {
                                let amount = if plain { json!("2.50") } else { n };
                                json!({"return_id": 1, "amount": amount, "date": "2026-11-23T00:00:00Z"})
                            })
                            .collect(),
                    ),
                    _ if !plain => v,
                    "capture_id" | "authorization_id" | "return_id" => json!(4_000_000_123_u64),
                    "date" | "creation_date" => json!("2026-11-23T18:42:07Z"),
                    "amount" => json!(12.5),
                    _ => json!("ORD-1"),
                };
                if map.contains_key(key) {
                    extra = format!(",\"{key}\":{v}");
                }
                map.insert(key.to_string(), v);
            }
            let text = if pretty {
                serde_json::to_string_pretty(&Value::Object(map))
            } else {
                serde_json::to_string(&Value::Object(map))
            }
            .unwrap_or_default();
            let text = match text.strip_suffix('}') {
                Some(open) if !extra.is_empty() => format!("{open}{extra}}}"),
                _ => text,
            };
            let keep = text
                .len()
                .saturating_sub(usize::from(cut) % 4 * usize::from(cut % 3 == 0));
            text.get(..keep).unwrap_or(&text).to_string()
        },
    )
}

proptest! {
    #[test]
    fn fuzz_the_fast_path_reads_what_serde_reads(text in row_text()) {
        agrees::<WireCapture>(&text);
        agrees::<WireAuthorization>(&text);
        agrees::<WireReturn>(&text);
    }

    #[test]
    fn fuzz_plain_rows_take_the_fast_path(
        id in 0u64..10_000_000_000_000_000,
        cents in 0u64..1_000_000_000,
        reference in "[A-Za-z0-9-]{1,30}",
        quoted in any::<bool>(),
    ) {
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let amount = if quoted { format!("\"{amount}\"") } else { amount };
        let text = format!(r#"{{"capture_id":{id},"authorization_id":"{id}","reference":"{reference}",
            "date":"2026-11-23T18:42:07Z","amount":{amount},"returns":[]}}"#);
        prop_assert!(agrees::<WireCapture>(&text), "{}", text);
    }
}

/// Where a string ends and whether it is ASCII, read one byte at a time.
fn string_end_bytewise(bytes: &[u8]) -> Option<(usize, bool)> {
    let end = bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some((end, bytes.get(..end).is_some_and(<[u8]>::is_ascii)))
}

/// Bytes near the ones that matter: quotes, backslashes, control and non-ASCII bytes, and
/// their neighbours (0x1f, 0x20, 0x21, 0x7f, 0x80), in runs longer and shorter than a word.
fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => prop::sample::select(b"abcXYZ019-_ ".to_vec()),
        1 => prop::sample::select(vec![b'"', b'\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x5c, 0x5d, 0x7f, 0x80, 0xa0, 0xc3, 0xff]),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..40)
}

proptest! {
    #[test]
    fn fuzz_string_end_finds_what_a_byte_loop_finds(bytes in string_bytes()) {
        prop_assert_eq!(super::scan::string_end(&bytes), string_end_bytewise(&bytes));
    }
}

#[test]
fn string_end_stops_at_each_kind_of_byte_in_every_place_of_a_word() {
    for stop in [b'"', b'\\', 0x00, 0x1f] {
        for at in 0..20 {
            let mut bytes = vec![b'a'; 24];
            bytes[at] = stop;
            assert_eq!(
                super::scan::string_end(&bytes),
                Some((at, true)),
                "{stop:#x} at {at}"
            );
            if at == 0 {
                continue;
            }
            bytes[at / 2] = 0xc3;
            let want = (at, false);
            assert_eq!(
                super::scan::string_end(&bytes),
                Some(want),
                "0xc3 before {stop:#x} at {at}"
            );
        }
    }
    assert_eq!(super::scan::string_end(&[b'a'; 30]), None);
}

/// The keys of a capture and of a return in the contract's order, each with a plain value.
const CAPTURE_ROW: &[(&str, &str)] = &[
    ("capture_id", "346123"),
    ("authorization_id", "\"4821907733105521\""),
    ("reference", "\"ORD-1\""),
    ("date", "\"2026-11-23T18:42:07Z\""),
    ("amount", "\"12.50\""),
    ("remaining_authorization_amount", "0.00"),
    ("external_location_id", "\"00-12345\""),
    (
        "returns",
        r#"[{"return_id":9,"reference":"R-1","capture_id":346123,"date":"2026-11-24T10:00:00Z","amount":1.5,"remaining_capture_amount":0}]"#,
    ),
];

/// Keys that come close to the contract's: one letter short or long, another case, a space,
/// empty, or a contract key spelled with an escape.
const DECOYS: &[&str] = &[
    "capture_i",
    "capture_idx",
    "referenc",
    "reference ",
    "Reference",
    "amounts",
    "dat",
    "",
    "external_location_id_2",
    "d\\u0061te",
];

/// A capture in the contract's order, some fields left out, near-miss keys put in, a field
/// repeated, compact or spaced.
fn ordered_capture() -> impl Strategy<Value = (String, bool)> {
    let n = CAPTURE_ROW.len();
    (
        prop::collection::vec(0u8..8, n),
        prop::collection::vec(prop::option::of(0..DECOYS.len()), n),
        prop::option::of(0..n),
        any::<bool>(),
    )
        .prop_map(move |(keep, decoys, repeat, spaced)| {
            let gap = if spaced { "\n    " } else { "" };
            let mut fields = Vec::new();
            let mut escaped = false;
            let mut kept = vec![false; n];
            for (i, (key, value)) in CAPTURE_ROW.iter().enumerate() {
                if let Some(d) = decoys[i] {
                    escaped |= DECOYS[d].contains('\\');
                    fields.push(format!("{gap}\"{}\": \"x\"", DECOYS[d]));
                }
                // Required fields are always kept; the others now and then left out.
                kept[i] = keep[i] > 0
                    || matches!(*key, "capture_id" | "authorization_id" | "date" | "amount");
                if kept[i] {
                    fields.push(format!("{gap}\"{key}\": {value}"));
                }
            }
            let mut repeated = false;
            if let Some(r) = repeat {
                let (key, value) = CAPTURE_ROW[r];
                // A field not read may come twice (serde ignores it too).
                repeated = kept[r] && key != "remaining_authorization_amount";
                fields.push(format!("{gap}\"{key}\": {value}"));
            }
            let text = format!("{{{}}}", fields.join(","));
            // Plain unless a key holds an escape or a field read comes twice.
            (text, !escaped && !repeated)
        })
}

proptest! {
    #[test]
    fn fuzz_rows_in_the_contract_order_read_as_serde_reads_them(
        (text, plain) in ordered_capture()
    ) {
        let fast = agrees::<WireCapture>(&text);
        prop_assert_eq!(fast, plain, "{}", text);
    }
}

#[test]
fn an_authorization_in_the_contract_order_or_any_other_reads_alike() {
    let fields = [
        r#""authorization_id":4000000000001279"#,
        r#""reference":"ORD-20261122-000002""#,
        r#""account_number":"2867185848""#,
        r#""transaction_type":"regular_purchase""#,
        r#""authorization_status":"closed""#,
        r#""creation_date":"2026-11-22T04:59:41.137Z""#,
        r#""amount":3705.31"#,
        r#""remaining_authorization_amount":"0.00""#,
        r#""external_location_id":"00-12345""#,
        r#""plan_id":4"#,
        r#""term":12"#,
    ];
    let ordered = format!("{{{}}}", fields.join(","));
    let reversed: Vec<&str> = fields.iter().rev().copied().collect();
    let reversed = format!("{{{}}}", reversed.join(","));
    assert!(agrees::<WireAuthorization>(&ordered));
    assert!(agrees::<WireAuthorization>(&reversed));
    let (a, _) = WireAuthorization::scan(ordered.as_bytes()).expect("fast path");
    let (b, _) = WireAuthorization::scan(reversed.as_bytes()).expect("fast path");
    assert_eq!(a, b);
    assert_eq!(a.external_location_id.as_deref(), Some("00-12345"));
}
