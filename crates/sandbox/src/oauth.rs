//! The token endpoint: client credentials or a refresh token in a form body (never the query
//! string), answered with the contract's bearer token or its 400/401/403 error bodies.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::answers::redirect;
use super::fault;
use super::server::{Shared, count_request, error, outage};

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    count_request(&shared, "token", &headers);
    if let Some(refused) = outage(&shared).await {
        return refused;
    }
    if let Some(target) = &shared.faults.redirect_token_to {
        shared.count_fault(fault::REDIRECT);
        return redirect(&format!(
            "{}/v2.5/oauth/token",
            target.trim_end_matches('/')
        ));
    }
    let query = query.unwrap_or_default();
    if query.contains("client_id") || query.contains("client_secret") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "credentials must be sent in the form body, not in the query string",
        );
    }
    let Ok(Form(form)) = form else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected an application/x-www-form-urlencoded body",
        );
    };
    let (Some(id), Some(secret)) = (form.client_id.as_deref(), form.client_secret.as_deref())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "client_id and client_secret are required",
        );
    };
    if id != shared.client_id || secret != shared.client_secret {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        );
    }
    if form.scope.as_deref().is_some_and(|s| s != "merchant") {
        return error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "only the merchant scope is available",
        );
    }
    let ttl = shared.faults.token_ttl_secs.map(Duration::from_secs);
    let grant = form.grant_type.as_deref().unwrap_or("client_credentials");
    let issued = match grant {
        "client_credentials" => shared.tokens().issue(id, ttl),
        "refresh_token" => {
            let Some(refresh) = form.refresh_token.as_deref() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required with grant_type=refresh_token",
                );
            };
            match shared.tokens().refresh(id, refresh, ttl) {
                Some(issued) => issued,
                None => {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "the refresh token is unknown or its access token has expired",
                    );
                }
            }
        }
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("unsupported grant_type '{other}'"),
            );
        }
    };
    {
        let mut stats = shared.stats();
        stats.tokens_issued += 1;
        stats.grants.push(grant.to_string());
    }
    if shared
        .dice()
        .within_first("bad token reply", shared.faults.bad_token_replies)
    {
        shared.count_fault(super::fault::BAD_TOKEN_REPLY);
        let body = format!(
            r#"{{"token_type":"bearer","access_token":"{}","expires_in":"twenty minutes","refresh_token":"{}"#,
            issued.access_token, issued.refresh_token
        );
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    let body = json!({
        "token_type": "bearer",
        "access_token": issued.access_token,
        "expires_in": super::tokens::ANNOUNCED_TTL_SECS,
        "refresh_token": issued.refresh_token,
    });
    let mut body = body.to_string();
    if let Some(raw) = &shared.faults.token_expires_in {
        shared.count_fault(fault::TOKEN_EXPIRES_IN);
        // Raw text, so that values JSON numbers cannot hold reach the client as sent.
        body = body.replace(
            &format!("\"expires_in\":{}", super::tokens::ANNOUNCED_TTL_SECS),
            &format!("\"expires_in\":{raw}"),
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
