//! The mapping layer's contract checks: each breach makes an invalid record, never a record.

use std::sync::Arc;

use super::map::{Collected, Source};
use super::wire::{WireAuthorization, WireCapture, for_each_row};
use crate::domain::{Amount, Breach, FlexitiSide, InvalidRecord};

fn page(name: &str) -> Arc<Source> {
    Source::call(
        "GET /v2.5.1/client-id/{client_id}/captures",
        format!("creation_date_from=2026-11-23&page_number={name}"),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23),
    )
}

/// The side of one captures page (and an authorizations page), read as the fetch reads it.
fn side(captures: &str, authorizations: &str) -> FlexitiSide {
    let mut c = Collected::default();
    let mut rows: Vec<WireCapture> = Vec::new();
    for_each_row(captures.as_bytes(), |r| rows.push(r)).expect("the page parses");
    c.add_captures(&page("1"), rows);
    let mut auths: Vec<WireAuthorization> = Vec::new();
    for_each_row(authorizations.as_bytes(), |a| auths.push(a)).expect("the page parses");
    c.add_authorizations(&page("2"), auths);
    c.into_side()
}

/// A valid capture with `fields` (`"key":value,` pairs) replacing or adding to its own.
fn capture(fields: &str) -> String {
    let base = r#"{"capture_id":1,"authorization_id":9,"reference":"ORD-1",
        "date":"2026-11-23T18:00:00Z","amount":"10.00"}"#;
    let mut row: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(base).expect("base");
    let extra: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&format!("{{{}}}", fields.trim().trim_end_matches(',')))
            .expect("fields");
    row.extend(extra);
    serde_json::to_string(&row).expect("json")
}

fn only_invalid(side: &FlexitiSide) -> &InvalidRecord {
    assert_eq!(side.invalid.len(), 1, "{:?}", side.invalid);
    &side.invalid[0]
}

#[test]
fn a_negative_capture_is_an_invalid_record_not_a_sale() {
    let s = side(&format!("[{}]", capture(r#""amount":"-10.00","#)), "[]");
    assert!(s.records.is_empty(), "{:?}", s.records);
    let invalid = only_invalid(&s);
    assert_eq!(invalid.id, "capture:1");
    assert_eq!(invalid.breach, Breach::NegativeAmount);
    assert_eq!(
        (invalid.breach.field(), invalid.value.as_str()),
        ("amount", "-10.00")
    );
    assert_eq!(invalid.reference, "ORD-1");
    assert_eq!(invalid.source, "GET /v2.5.1/client-id/{client_id}/captures");
    assert!(invalid.parameters.contains("page_number=1"));
    assert_eq!(
        invalid.describe(),
        "capture:1 amount -10.00 (negative amount)"
    );
}

#[test]
fn a_negative_return_is_an_invalid_record_and_its_capture_stays_a_sale() {
    let returns = r#""returns":[{"return_id":5,"date":"2026-11-24T10:00:00Z","amount":-2.5},
        {"return_id":6,"date":"2026-11-24T11:00:00Z","amount":1}],"#;
    let s = side(&format!("[{}]", capture(returns)), "[]");
    let ids: Vec<String> = s.records.iter().map(|r| r.identity()).collect();
    assert_eq!(ids, ["capture:1", "return:6"]);
    let invalid = only_invalid(&s);
    assert_eq!(invalid.id, "return:5");
    assert_eq!(invalid.breach, Breach::NegativeAmount);
    assert_eq!(invalid.value, "-2.50");
    assert_eq!(invalid.reference, "ORD-1", "the capture's reference");
}

#[test]
fn a_non_numeric_null_or_absent_amount_is_an_invalid_record_with_its_value() {
    for (fields, value) in [
        (r#""amount":"ten","#, r#""ten""#),
        (r#""amount":true,"#, "true"),
        (r#""amount":null,"#, "null"),
        (r#""amount":"10.005","#, r#""10.005""#),
        (r#""amount":{"v":1},"#, r#"{"v":1}"#),
    ] {
        let s = side(&format!("[{}]", capture(fields)), "[]");
        assert!(s.records.is_empty(), "{fields}");
        let invalid = only_invalid(&s);
        assert_eq!(invalid.breach, Breach::BadAmount, "{fields}");
        assert_eq!(invalid.value, value, "{fields}");
    }
    let absent = r#"[{"capture_id":1,"authorization_id":9,"reference":"ORD-1",
        "date":"2026-11-23T18:00:00Z"}]"#;
    let s = side(absent, "[]");
    assert_eq!(only_invalid(&s).value, "(absent)");
}

#[test]
fn a_capture_or_return_without_any_reference_is_an_invalid_record() {
    for fields in [
        r#""reference":null,"#,
        r#""reference":"","#,
        r#""reference":"  ","#,
    ] {
        let returns = r#""returns":[{"return_id":5,"date":"2026-11-24T10:00:00Z","amount":1}],"#;
        let s = side(
            &format!("[{}]", capture(&format!("{fields}{returns}"))),
            "[]",
        );
        assert!(s.records.is_empty(), "{fields}: {:?}", s.records);
        let found: Vec<(&str, Breach)> = s
            .invalid
            .iter()
            .map(|i| (i.id.as_str(), i.breach))
            .collect();
        assert_eq!(
            found,
            [
                ("capture:1", Breach::NoReference),
                ("return:5", Breach::NoReference)
            ],
            "{fields}"
        );
    }
}

#[test]
fn the_authorization_reference_still_fills_a_capture_that_has_none() {
    let auth = r#"[{"authorization_id":9,"reference":"ORD-9","creation_date":"2026-11-23T17:00:00Z",
        "amount":10}]"#;
    let s = side(&format!("[{}]", capture(r#""reference":null,"#)), auth);
    assert!(s.invalid.is_empty(), "{:?}", s.invalid);
    assert_eq!(s.records[0].reference, "ORD-9");
    // And an invalid capture without a reference carries its authorization's.
    let s = side(
        &format!("[{}]", capture(r#""reference":null,"amount":-1,"#)),
        auth,
    );
    assert_eq!(only_invalid(&s).reference, "ORD-9");
}

#[test]
fn an_unparseable_null_or_absent_date_is_an_invalid_record() {
    for (fields, value) in [
        (r#""date":"23/11/2026","#, r#""23/11/2026""#),
        (
            r#""date":"2026-02-30T10:00:00Z","#,
            r#""2026-02-30T10:00:00Z""#,
        ),
        (r#""date":null,"#, "null"),
        (r#""date":20261123,"#, "20261123"),
        (r#""date":["x"],"#, "[…]"),
    ] {
        let s = side(&format!("[{}]", capture(fields)), "[]");
        assert!(s.records.is_empty(), "{fields}");
        let invalid = only_invalid(&s);
        assert_eq!(
            (invalid.breach, invalid.value.as_str()),
            (Breach::BadDate, value)
        );
    }
    let returns = r#""returns":[{"return_id":5,"date":"yesterday","amount":1}],"#;
    let s = side(&format!("[{}]", capture(returns)), "[]");
    assert_eq!(s.records.len(), 1);
    assert_eq!(only_invalid(&s).id, "return:5");
}

#[test]
fn a_listed_authorization_with_a_negative_or_bad_amount_or_date_is_an_invalid_record() {
    for (fields, breach) in [
        (
            r#""amount":-10,"creation_date":"2026-11-23T17:00:00Z""#,
            Breach::NegativeAmount,
        ),
        (
            r#""amount":"x","creation_date":"2026-11-23T17:00:00Z""#,
            Breach::BadAmount,
        ),
        (r#""amount":10,"creation_date":"soon""#, Breach::BadDate),
    ] {
        let auth = format!(r#"[{{"authorization_id":9,"reference":"ORD-9",{fields}}}]"#);
        let s = side("[]", &auth);
        let invalid = only_invalid(&s);
        assert_eq!(
            (invalid.id.as_str(), invalid.breach),
            ("authorization:9", breach)
        );
        assert_eq!(invalid.reference, "ORD-9");
    }
    // Null or absent amount and date stay allowed on an authorization.
    let s = side(
        "[]",
        r#"[{"authorization_id":9,"reference":"ORD-9","amount":null}]"#,
    );
    assert!(s.invalid.is_empty());
}

#[test]
fn a_capture_listed_on_two_pages_is_reported_once_and_valid_rows_are_untouched() {
    let bad = capture(r#""amount":-1,"#);
    let good = r#"{"capture_id":2,"authorization_id":8,"reference":"ORD-2",
        "date":"2026-11-23T18:00:00Z","amount":3}"#;
    let mut c = Collected::default();
    let rows = |json: &str| {
        let mut v: Vec<WireCapture> = Vec::new();
        for_each_row(json.as_bytes(), |r| v.push(r)).expect("parses");
        v
    };
    c.add_captures(&page("2"), rows(&format!("[{bad},{good}]")));
    c.add_captures(&page("1"), rows(&format!("[{bad}]")));
    let s = c.into_side();
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].amount, Amount::from_cents(300));
    let invalid = only_invalid(&s);
    assert!(invalid.parameters.ends_with("page_number=1"), "{invalid:?}");
}

#[test]
fn an_overlong_refused_value_is_cut() {
    let long = "9".repeat(500);
    let s = side(
        &format!("[{}]", capture(&format!(r#""amount":"{long}x","#))),
        "[]",
    );
    let value = &only_invalid(&s).value;
    assert!(
        value.chars().count() <= 61 && value.ends_with('…'),
        "{value}"
    );
}

/// A text value holding a control character (a NUL here, which PostgreSQL cannot store) fails
/// its page, naming the character, instead of reaching the findings; a line break does not.
#[test]
fn a_control_character_in_a_text_value_fails_the_page() {
    for (field, value) in [
        ("reference", r#""ORD-\u0000X""#),
        ("external_location_id", r#""00-\u00071""#),
    ] {
        let page = format!("[{}]", capture(&format!(r#""{field}":{value}"#)));
        let mut rows: Vec<WireCapture> = Vec::new();
        let err = for_each_row(page.as_bytes(), |r| rows.push(r)).expect_err(field);
        assert!(
            format!("{err:#}").contains("control character U+00"),
            "{field}: {err:#}"
        );
        assert!(rows.is_empty());
    }
    let page = format!("[{}]", capture(r#""external_location_id":"store\nnorth""#));
    let mut rows: Vec<WireCapture> = Vec::new();
    for_each_row(page.as_bytes(), |r| rows.push(r)).expect("a line break is text");
    assert_eq!(rows.len(), 1);
}
