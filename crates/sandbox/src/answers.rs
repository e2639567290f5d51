//! The answers a faulty or hostile server gives instead of a plain one: a body garbled or cut
//! half-way, a redirect, an endless or trickling list, a lookup answered for another id, a 409
//! that echoes an account number back. The configured [`Faults`](super::Faults) decide which.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::fault;
use super::listing::{self, ListKind};
use super::server::{BASE_PATH, Shared, error};

/// A 409 whose validation body echoes an account number, as a server that quotes the offending
/// value back would.
pub(crate) fn conflict_echo(shared: &Shared, query: &listing::ListQuery) -> Response {
    let account = listing::page(&shared.data, ListKind::Authorizations, query, false);
    let account: serde_json::Value = serde_json::from_slice(&account).unwrap_or_default();
    let value = account
        .get(0)
        .and_then(|a| a.get("account_number"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    (
        StatusCode::CONFLICT,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "error": "wrong_inputs",
            "message": "Some inputs are wrong or missing!",
            "field_errors": [{"param": "account_number", "msg": "account closed", "value": value, "type": "state"}],
        })
        .to_string(),
    )
        .into_response()
}

/// A 200 with `body`, unless the dice decide to garble it or cut the connection half-way.
pub(crate) fn deliver(shared: &Shared, body: Vec<u8>) -> Response {
    let (malformed, dropped) = {
        let mut dice = shared.dice();
        let malformed = dice.roll(shared.faults.malformed_json_per_mille);
        (
            malformed,
            !malformed && dice.roll(shared.faults.drop_connection_per_mille),
        )
    };
    let json = [(header::CONTENT_TYPE, "application/json")];
    if malformed {
        shared.count_fault(fault::MALFORMED_JSON);
        let mut garbled = body[..body.len() / 2].to_vec();
        garbled.extend_from_slice(b"\x00<html>oops");
        return (StatusCode::OK, json, garbled).into_response();
    }
    if dropped {
        shared.count_fault(fault::DROP_CONNECTION);
        let half = Bytes::from(body[..body.len() / 2].to_vec());
        // The error comes a moment later so that the status line and the first half are on the
        // wire first: the client sees a 200 whose body breaks, not a refused request.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
        tokio::spawn(async move {
            let _ = tx.send(Ok(half)).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let reset = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection dropped by the sandbox",
            );
            let _ = tx.send(Err(reset)).await;
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        return (StatusCode::OK, json, Body::from_stream(stream)).into_response();
    }
    (StatusCode::OK, json, body).into_response()
}

/// The list faults that answer instead of the data: a redirect, an endless or trickling body.
pub(crate) fn hostile_list(shared: &Shared, uri: &Uri) -> Option<Response> {
    let faults = &shared.faults;
    if let Some(target) = &faults.redirect_lists_to {
        shared.count_fault(fault::REDIRECT);
        let path = uri.path().strip_prefix(BASE_PATH).unwrap_or(uri.path());
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        return Some(redirect(&format!(
            "{}{path}{query}",
            target.trim_end_matches('/')
        )));
    }
    let json = [(header::CONTENT_TYPE, "application/json")];
    let opening = futures::stream::once(async { Ok(Bytes::from_static(b"[")) });
    if let Some(every) = faults.trickle_list_body_ms {
        shared.count_fault(fault::TRICKLE_BODY);
        let every = Duration::from_millis(every.max(1));
        let drip = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(every).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
        });
        let body = Body::from_stream(futures::StreamExt::chain(opening, drip));
        return Some((StatusCode::OK, json, body).into_response());
    }
    if faults.endless_list_body {
        shared.count_fault(fault::ENDLESS_BODY);
        let row = r#"{"authorization_id":1,"capture_id":1,"reference":"ENDLESS","date":"2026-11-23T12:00:00Z","amount":"1.00","creation_date":"2026-11-23T12:00:00Z"},"#;
        let chunk = Bytes::from(row.repeat((64 << 10) / row.len()));
        let rows = futures::StreamExt::map(futures::stream::repeat(chunk), Ok::<_, std::io::Error>);
        let body = Body::from_stream(futures::StreamExt::chain(opening, rows));
        return Some((StatusCode::OK, json, body).into_response());
    }
    None
}

/// A 307 to `location`: the client is asked to repeat the same request there.
pub(crate) fn redirect(location: &str) -> Response {
    let mut response = error(
        StatusCode::TEMPORARY_REDIRECT,
        "moved",
        "this endpoint has moved",
    );
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// An authorization's JSON with another `authorization_id`.
pub(crate) fn other_id(json: &str, id: u64) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("authorization_id".into(), json!(id));
    }
    value.to_string().into_bytes()
}
