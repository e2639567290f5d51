//! The sandbox Flexiti API over real TCP (reqwest against a server on a random port): the
//! contract (tokens, pages, the date filter, lookups, input errors, refusals), then each fault it
//! injects on demand.

mod common;

use std::collections::BTreeSet;

use flexiti_sandbox::{Faults, SandboxHandle, fault};
use serde_json::Value;

use common::{CLIENT_ID, json, read, samples, start_sandbox};

const SECRET: &str = "s3cret-for-tests";
const REFERENCE_ID: &str = "0123456789abcdef0123456789abcdef";

async fn start(faults: Faults) -> SandboxHandle {
    start_sandbox(samples(), SECRET, faults).await
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn post_token(base: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v2.5/oauth/token"))
        .header("x-reference-id", REFERENCE_ID)
        .form(&form(pairs))
        .send()
        .await
        .expect("token call");
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.expect("body")).expect("json body"),
    )
}

async fn fetch_token(base: &str) -> String {
    let (status, body) = post_token(
        base,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "merchant"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// GET `{base}/v2.5.1/client-id/acme/{path}` with the token; status, headers and raw body.
async fn get(
    base: &str,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = reqwest::Client::new()
        .get(format!("{base}/v2.5.1/client-id/{CLIENT_ID}/{path}"))
        .query(query)
        .bearer_auth(token)
        .header("x-reference-id", REFERENCE_ID)
        .send()
        .await
        .expect("call");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

fn day_query<'a>(
    from: &'a str,
    to: &'a str,
    page: &'a str,
    size: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("lang", "en"),
        ("creation_date_from", from),
        ("creation_date_to", to),
        ("page_number", page),
        ("page_size", size),
    ]
}

fn sample_captures() -> Vec<Value> {
    json(&read(&samples().join("flexiti/captures.json")))
        .as_array()
        .expect("array")
        .clone()
}

fn utc_date(value: &Value) -> String {
    value["date"].as_str().expect("date")[..10].to_string()
}

#[tokio::test]
async fn a_token_is_issued_for_good_credentials_in_the_form_body_only() {
    let sandbox = start(Faults::default()).await;
    let base = sandbox.base_url();
    let (status, body) = post_token(
        &base,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "merchant"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1200);
    let refresh = body["refresh_token"].as_str().expect("refresh token");
    let (status, refreshed) = post_token(
        &base,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["access_token"], body["access_token"]);

    let (status, body) = post_token(
        &base,
        &[("client_id", CLIENT_ID), ("client_secret", "wrong")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client"))
    );
    let (status, body) = post_token(
        &base,
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let in_query = reqwest::Client::new()
        .post(format!("{base}/v2.5/oauth/token"))
        .query(&[("client_id", CLIENT_ID), ("client_secret", SECRET)])
        .form(&form(&[("grant_type", "client_credentials")]))
        .send()
        .await
        .expect("token call");
    assert_eq!(in_query.status().as_u16(), 400);
    assert_eq!(
        json(&in_query.text().await.expect("body"))["error"],
        "invalid_request"
    );
    assert_eq!(sandbox.stats().tokens_issued, 2);
    assert_eq!(sandbox.stats().requests_to("token"), 5);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn list_pages_run_in_id_order_and_end_with_a_short_page_in_both_shapes() {
    let expected: Vec<u64> = sample_captures()
        .iter()
        .filter(|c| {
            utc_date(c) == "2026-11-23"
                || c["returns"]
                    .as_array()
                    .expect("returns")
                    .iter()
                    .any(|r| utc_date(r) == "2026-11-23")
        })
        .map(|c| c["capture_id"].as_u64().expect("id"))
        .collect();
    assert!(
        expected.len() > 10,
        "samples too small for paging: {}",
        expected.len()
    );

    for wrapped in [false, true] {
        let sandbox = start(Faults {
            wrapped_pages: wrapped,
            ..Faults::default()
        })
        .await;
        let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
        let mut ids = Vec::new();
        let mut sizes = Vec::new();
        for page in 1.. {
            let page_text = page.to_string();
            let (status, _, body) = get(
                &base,
                &token,
                "captures",
                &day_query("2026-11-23", "2026-11-23", &page_text, "4"),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let body = json(&body);
            let items = if wrapped {
                assert_eq!(body["total"].as_u64(), Some(expected.len() as u64));
                assert_eq!(
                    body["total_pages"].as_u64(),
                    Some(expected.len().div_ceil(4) as u64)
                );
                body["captures"].as_array().expect("wrapped array").clone()
            } else {
                body.as_array().expect("bare array").clone()
            };
            sizes.push(items.len());
            ids.extend(items.iter().map(|c| c["capture_id"].as_u64().expect("id")));
            if items.len() < 4 {
                break;
            }
        }
        assert_eq!(ids, expected, "wrapped={wrapped}");
        assert!(sizes.iter().rev().skip(1).all(|s| *s == 4), "{sizes:?}");
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn the_date_filter_is_utc_and_lists_a_capture_on_the_dates_of_its_later_returns() {
    let sandbox = start(Faults::default()).await;
    let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
    let captures = sample_captures();
    let with_later_return = captures
        .iter()
        .find(|c| {
            c["returns"]
                .as_array()
                .expect("returns")
                .iter()
                .any(|r| utc_date(r) != utc_date(c))
        })
        .expect("samples hold a capture returned on a later UTC date");
    let return_date = utc_date(&with_later_return["returns"][0]);
    let (_, _, body) = get(
        &base,
        &token,
        "captures",
        &day_query(&return_date, &return_date, "1", "500"),
    )
    .await;
    let listed: Vec<Value> = json(&body).as_array().expect("array").clone();
    assert!(
        listed
            .iter()
            .any(|c| c["capture_id"] == with_later_return["capture_id"])
    );
    assert!(listed.iter().all(|c| {
        utc_date(c) == return_date
            || c["returns"]
                .as_array()
                .expect("returns")
                .iter()
                .any(|r| utc_date(r) == return_date)
    }));

    // 2026-11-24T05:05Z is the evening of the 23rd in Toronto, yet listed on the 24th (UTC).
    let (_, _, body) = get(
        &base,
        &token,
        "authorizations",
        &day_query("2026-11-24", "2026-11-24", "1", "500"),
    )
    .await;
    let authorizations = json(&body);
    let dates: BTreeSet<String> = authorizations
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["creation_date"].as_str().expect("date")[..10].to_string())
        .collect();
    assert_eq!(dates, BTreeSet::from(["2026-11-24".to_string()]));
    let (_, _, body) = get(
        &base,
        &token,
        "captures",
        &day_query("2030-01-01", "2030-01-31", "1", "50"),
    )
    .await;
    assert_eq!(body, "[]");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_lookup_returns_the_authorization_or_a_404() {
    let sandbox = start(Faults::default()).await;
    let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
    let id = sample_captures()[0]["authorization_id"]
        .to_string()
        .trim_matches('"')
        .to_string();
    let (status, _, body) = get(&base, &token, &format!("authorization/{id}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["authorization_id"].to_string(), id);
    let (status, _, body) = get(&base, &token, "authorization/1234567890123456", &[]).await;
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(sandbox.stats().requests_to("authorization"), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn wrong_inputs_answer_409_with_one_field_error_per_bad_parameter() {
    let sandbox = start(Faults::default()).await;
    let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
    let (status, _, body) = get(
        &base,
        &token,
        "authorizations",
        &[
            ("creation_date_from", "2026-13-01"),
            ("page_number", "0"),
            ("page_size", "many"),
        ],
    )
    .await;
    assert_eq!(status, 409);
    let body = json(&body);
    assert_eq!(body["error"], "wrong_inputs");
    assert_eq!(
        body["url"],
        "/flexiti/pos-api/v2.5.1/client-id/acme/authorizations"
    );
    let errors: BTreeSet<(String, String)> = body["field_errors"]
        .as_array()
        .expect("field_errors")
        .iter()
        .map(|e| {
            (
                e["param"].as_str().expect("param").to_string(),
                e["type"].as_str().expect("type").to_string(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("creation_date_from", "format"),
        ("creation_date_to", "missing"),
        ("page_number", "range"),
        ("page_size", "format"),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    assert_eq!(errors, expected);
    let (status, _, body) = get(
        &base,
        &token,
        "captures",
        &day_query("2026-11-24", "2026-11-23", "1", "50"),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(json(&body)["field_errors"][0]["type"], "range");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn calls_without_a_valid_unexpired_token_or_reference_id_are_refused() {
    let sandbox = start(Faults {
        token_ttl_secs: Some(1),
        ..Faults::default()
    })
    .await;
    let base = sandbox.base_url();
    let query = day_query("2026-11-23", "2026-11-23", "1", "50");
    let url = format!("{base}/v2.5.1/client-id/{CLIENT_ID}/captures");
    let client = reqwest::Client::new();
    let bare = client
        .get(&url)
        .query(&query)
        .header("x-reference-id", REFERENCE_ID)
        .send()
        .await
        .expect("call");
    assert_eq!(bare.status().as_u16(), 401);
    assert_eq!(
        json(&bare.text().await.expect("body"))["error"],
        "invalid_token"
    );

    let token = fetch_token(&base).await;
    let no_reference = client
        .get(&url)
        .query(&query)
        .bearer_auth(&token)
        .send()
        .await
        .expect("call");
    assert_eq!(no_reference.status().as_u16(), 400);
    let (status, _, _) = get(&base, &token, "captures", &query).await;
    assert_eq!(status, 200);
    let other_client = client
        .get(format!("{base}/v2.5.1/client-id/someone-else/captures"))
        .query(&query)
        .bearer_auth(&token)
        .header("x-reference-id", REFERENCE_ID)
        .send()
        .await
        .expect("call");
    assert_eq!(other_client.status().as_u16(), 403);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = get(&base, &token, "captures", &query).await;
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(sandbox.stats().faults_of(fault::EXPIRED_TOKEN), 1);
    assert!(sandbox.stats().reference_ids.contains(REFERENCE_ID));
    sandbox.shutdown().await;
}

// ---- faults ----

fn one_day() -> Vec<(&'static str, &'static str)> {
    day_query("2026-11-23", "2026-11-23", "1", "50")
}

#[tokio::test]
async fn maintenance_closes_every_endpoint_with_503() {
    let sandbox = start(Faults {
        maintenance: true,
        ..Faults::default()
    })
    .await;
    let (status, body) = post_token(
        &sandbox.base_url(),
        &[("client_id", CLIENT_ID), ("client_secret", SECRET)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("general_error"))
    );
    let (status, _, _) = get(&sandbox.base_url(), "no-token", "captures", &one_day()).await;
    assert_eq!(status, 503);
    assert_eq!(sandbox.stats().faults_of(fault::MAINTENANCE), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let sandbox = start(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .await;
    let started = std::time::Instant::now();
    let token = fetch_token(&sandbox.base_url()).await;
    get(&sandbox.base_url(), &token, "captures", &one_day()).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sandbox.stats().faults_of(fault::LATENCY), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn server_errors_and_rate_limits_come_at_their_rates() {
    let sandbox = start(Faults {
        server_error_per_mille: 1000,
        ..Faults::default()
    })
    .await;
    let token = fetch_token(&sandbox.base_url()).await;
    for _ in 0..8 {
        let (status, _, body) = get(&sandbox.base_url(), &token, "captures", &one_day()).await;
        assert!([500, 502, 503, 504].contains(&status), "{status}");
        assert_eq!(json(&body)["error"], "general_error");
    }
    assert_eq!(sandbox.stats().faults_of(fault::SERVER_ERROR), 8);
    sandbox.shutdown().await;

    let sandbox = start(Faults {
        rate_limit_per_mille: 1000,
        retry_after_secs: 7,
        ..Faults::default()
    })
    .await;
    let token = fetch_token(&sandbox.base_url()).await;
    let (status, headers, _) = get(&sandbox.base_url(), &token, "authorizations", &one_day()).await;
    assert_eq!(status, 429);
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    sandbox.shutdown().await;

    let half = |seed| async move {
        let sandbox = start(Faults {
            seed,
            server_error_per_mille: 500,
            ..Faults::default()
        })
        .await;
        let token = fetch_token(&sandbox.base_url()).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                get(&sandbox.base_url(), &token, "captures", &one_day())
                    .await
                    .0,
            );
        }
        sandbox.shutdown().await;
        statuses
    };
    let (first, second) = (half(3).await, half(3).await);
    assert_eq!(first, second, "the same seed injects the same faults");
    let failures = first.iter().filter(|s| **s != 200).count();
    assert!(
        (8..=32).contains(&failures),
        "{failures} failures of 40 at 500 per mille"
    );
}

#[tokio::test]
async fn malformed_json_and_dropped_connections_break_a_200_answer() {
    let sandbox = start(Faults {
        malformed_json_per_mille: 1000,
        ..Faults::default()
    })
    .await;
    let token = fetch_token(&sandbox.base_url()).await;
    let (status, _, body) = get(&sandbox.base_url(), &token, "captures", &one_day()).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
    assert_eq!(sandbox.stats().faults_of(fault::MALFORMED_JSON), 1);
    sandbox.shutdown().await;

    let sandbox = start(Faults {
        drop_connection_per_mille: 1000,
        ..Faults::default()
    })
    .await;
    let token = fetch_token(&sandbox.base_url()).await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v2.5.1/client-id/{CLIENT_ID}/captures",
            sandbox.base_url()
        ))
        .query(&one_day())
        .bearer_auth(&token)
        .header("x-reference-id", REFERENCE_ID)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.text().await.is_err(),
        "the body must fail half-way"
    );
    assert_eq!(sandbox.stats().faults_of(fault::DROP_CONNECTION), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn failing_dates_and_authorization_ids_always_fail_and_nothing_else_does() {
    let id = sample_captures()[0]["authorization_id"]
        .to_string()
        .trim_matches('"')
        .parse::<u64>()
        .expect("id");
    let faults = Faults::from_spec(&format!(
        "failing_dates=2026-11-24,failing_authorization_ids={id}"
    ))
    .expect("spec");
    let sandbox = start(faults).await;
    let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
    for _ in 0..3 {
        let (status, _, body) = get(
            &base,
            &token,
            "captures",
            &day_query("2026-11-23", "2026-11-25", "1", "50"),
        )
        .await;
        assert_eq!(
            (status, json(&body)["error"].as_str()),
            (500, Some("general_error"))
        );
        let (status, _, _) = get(&base, &token, &format!("authorization/{id}"), &[]).await;
        assert_eq!(status, 500);
    }
    let (status, _, _) = get(
        &base,
        &token,
        "authorizations",
        &day_query("2026-11-23", "2026-11-23", "1", "50"),
    )
    .await;
    assert_eq!(status, 200);
    let stats = sandbox.stats();
    assert_eq!(
        (
            stats.faults_of(fault::FAILING_DATE),
            stats.faults_of(fault::FAILING_AUTHORIZATION)
        ),
        (3, 3)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_distinct_call_fails_exactly_its_first_n_times() {
    let sandbox = start(Faults {
        fail_first_n_per_call: 2,
        ..Faults::default()
    })
    .await;
    let (base, token) = (sandbox.base_url(), fetch_token(&sandbox.base_url()).await);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(get(&base, &token, "captures", &one_day()).await.0);
    }
    assert_eq!(statuses, vec![503, 503, 200]);
    let (status, _, _) = get(
        &base,
        &token,
        "captures",
        &day_query("2026-11-23", "2026-11-23", "2", "50"),
    )
    .await;
    assert_eq!(status, 503, "another page is another call");
    assert_eq!(sandbox.stats().faults_of(fault::FAIL_FIRST_N), 3);
    assert_eq!(sandbox.stats().requests_to("captures"), 4);
    sandbox.shutdown().await;
}
