//! The sandbox's HTTP surface (axum): the token endpoint, the paged list endpoints and the
//! single-authorization lookup, with the contract's error bodies and the configured faults.
//!
//! Order of checks on a data call, so that each fault is observable on its own: maintenance,
//! latency, bearer token, `x-reference-id`, client id in the path, 429, random 5xx, the
//! first-N-failures counter (and every Nth request), then the hostile answers a client must
//! refuse (a redirect elsewhere, an endless or trickling body, a lookup for another id),
//! input validation (409), the dated and per-id failures, then the answer, which may still be
//! malformed or cut short, or cut to `page_size_cap` rows.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::answers::{conflict_echo, deliver, hostile_list, other_id};
use super::data::Dataset;
use super::faults::{Dice, Faults};
use super::listing::{self, ListKind};
use super::tokens::{TokenCheck, TokenStore};
use super::{SandboxStats, fault, oauth};

pub(crate) const BASE_PATH: &str = "/flexiti/pos-api";

pub(crate) struct Shared {
    pub data: Dataset,
    pub client_id: String,
    pub client_secret: String,
    pub faults: Faults,
    pub dice: Mutex<Dice>,
    pub tokens: Mutex<TokenStore>,
    pub stats: Mutex<SandboxStats>,
}

impl Shared {
    pub fn dice(&self) -> std::sync::MutexGuard<'_, Dice> {
        self.dice.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stats(&self) -> std::sync::MutexGuard<'_, SandboxStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn tokens(&self) -> std::sync::MutexGuard<'_, TokenStore> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn count_fault(&self, kind: &str) {
        *self.stats().faults.entry(kind.to_string()).or_insert(0) += 1;
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let v251 = format!("{BASE_PATH}/v2.5.1/client-id/{{client_id}}");
    Router::new()
        .route(&format!("{BASE_PATH}/v2.5/oauth/token"), post(oauth::token))
        .route(&format!("{v251}/authorizations"), get(list_authorizations))
        .route(&format!("{v251}/captures"), get(list_captures))
        .route(
            &format!("{v251}/authorization/{{authorization_id}}"),
            get(lookup),
        )
        .fallback(|uri: Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("no such endpoint: {}", uri.path()),
            )
        })
        .with_state(shared)
}

/// `{"error": code, "message": text}` with the given status.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": code, "message": message}).to_string(),
    )
        .into_response()
}

async fn list_authorizations(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    list(
        shared,
        ListKind::Authorizations,
        &method,
        &uri,
        &headers,
        &client_id,
    )
    .await
}

async fn list_captures(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    list(
        shared,
        ListKind::Captures,
        &method,
        &uri,
        &headers,
        &client_id,
    )
    .await
}

async fn list(
    shared: Arc<Shared>,
    kind: ListKind,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    client_id: &str,
) -> Response {
    count_call(&shared, &listing::call_name(kind, uri));
    if let Some(refused) = guard(&shared, kind.endpoint(), method, uri, headers, client_id).await {
        return refused;
    }
    if let Some(hostile) = hostile_list(&shared, uri) {
        return hostile;
    }
    let mut query = match listing::ListQuery::parse(uri) {
        Ok(query) => query,
        Err(field_errors) => return listing::wrong_inputs(uri.path(), field_errors),
    };
    if let Some(cap) = shared.faults.page_size_cap
        && query.page_size > cap
    {
        shared.count_fault(fault::PAGE_SIZE_CAP);
        query.page_size = cap;
    }
    if let Some(date) = shared
        .faults
        .failing_dates
        .iter()
        .find(|d| query.from <= **d && **d <= query.to)
    {
        shared.count_fault(fault::FAILING_DATE);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "general_error",
            &format!("internal error while listing {date}"),
        );
    }
    let in_range =
        |dates: &[chrono::NaiveDate]| dates.iter().any(|d| query.from <= *d && *d <= query.to);
    if in_range(&shared.faults.conflict_dates) {
        shared.count_fault(fault::CONFLICT);
        return conflict_echo(&shared, &query);
    }
    let body = listing::page(&shared.data, kind, &query, shared.faults.wrapped_pages);
    if in_range(&shared.faults.cut_dates) {
        shared.count_fault(fault::CUT_PAGE);
        let cut = body[..body.len() / 2].to_vec();
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            cut,
        )
            .into_response();
    }
    deliver(&shared, body)
}

async fn lookup(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((client_id, authorization_id)): Path<(String, String)>,
) -> Response {
    count_call(&shared, &format!("authorization:{authorization_id}"));
    if let Some(refused) = guard(
        &shared,
        "authorization",
        &method,
        &uri,
        &headers,
        &client_id,
    )
    .await
    {
        return refused;
    }
    let Ok(id) = authorization_id.trim().parse::<u64>() else {
        let errors = vec![listing::field_error(
            "authorization_id",
            "invalid",
            &authorization_id,
            "format",
        )];
        return listing::wrong_inputs(uri.path(), errors);
    };
    if shared.faults.lookup_other_id
        && let Some(item) = shared.data.authorization(id)
    {
        shared.count_fault(fault::LOOKUP_OTHER_ID);
        return deliver(&shared, other_id(&item.json, id + 1));
    }
    if shared.faults.failing_authorization_ids.contains(&id) {
        shared.count_fault(fault::FAILING_AUTHORIZATION);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "general_error",
            "internal error while reading the authorization",
        );
    }
    match shared.data.authorization(id) {
        Some(item) => deliver(&shared, item.json.clone().into_bytes()),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("authorization {id} not found"),
        ),
    }
}

pub(crate) fn count_request(shared: &Shared, endpoint: &str, headers: &HeaderMap) {
    let mut stats = shared.stats();
    *stats.requests.entry(endpoint.to_string()).or_insert(0) += 1;
    if let Some(id) = reference_id(headers) {
        stats.reference_ids.insert(id);
    }
}

fn count_call(shared: &Shared, call: &str) {
    *shared.stats().calls.entry(call.to_string()).or_insert(0) += 1;
}

fn reference_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-reference-id")?.to_str().ok()?;
    (value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| value.to_string())
}

/// Maintenance and latency: what every endpoint, the token one included, goes through.
pub(crate) async fn outage(shared: &Shared) -> Option<Response> {
    if shared.faults.maintenance {
        shared.count_fault(fault::MAINTENANCE);
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "general_error",
            "the service is under maintenance",
        ));
    }
    if shared.faults.latency_ms > 0 {
        shared.count_fault(fault::LATENCY);
        tokio::time::sleep(Duration::from_millis(shared.faults.latency_ms)).await;
    }
    None
}

async fn guard(
    shared: &Shared,
    endpoint: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    client_id: &str,
) -> Option<Response> {
    count_request(shared, endpoint, headers);
    if let Some(refused) = outage(shared).await {
        return Some(refused);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    let Some(bearer) = bearer else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "missing bearer token",
        ));
    };
    let owner = match shared.tokens().check(&bearer) {
        TokenCheck::Valid(owner) => owner,
        TokenCheck::Expired => {
            shared.count_fault(fault::EXPIRED_TOKEN);
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token has expired",
            ));
        }
        TokenCheck::Unknown => {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "unknown access token",
            ));
        }
    };
    if reference_id(headers).is_none() {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the x-reference-id header must be 32 hexadecimal characters",
        ));
    }
    if owner != client_id {
        return Some(error(
            StatusCode::FORBIDDEN,
            "invalid_role",
            &format!("the token does not grant access to client id '{client_id}'"),
        ));
    }
    random_failure(shared, method, uri)
}

fn random_failure(shared: &Shared, method: &Method, uri: &Uri) -> Option<Response> {
    let faults = &shared.faults;
    let mut dice = shared.dice();
    let nth = dice.every(faults.rate_limit_every);
    if nth || dice.roll(faults.rate_limit_per_mille) {
        drop(dice);
        shared.count_fault(fault::RATE_LIMIT);
        let mut refused = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "slow down",
        );
        refused.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(faults.retry_after_secs),
        );
        return Some(refused);
    }
    if dice.roll(faults.server_error_per_mille) {
        let codes = [500u16, 502, 503, 504];
        let code = dice.pick(&codes).copied().unwrap_or(500);
        drop(dice);
        shared.count_fault(fault::SERVER_ERROR);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(error(
            status,
            "general_error",
            "an unexpected error occurred",
        ));
    }
    let call = format!("{method} {uri}");
    if dice.within_first(&call, faults.fail_first_n_per_call) {
        drop(dice);
        shared.count_fault(fault::FAIL_FIRST_N);
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "general_error",
            "temporarily unavailable",
        ));
    }
    None
}
