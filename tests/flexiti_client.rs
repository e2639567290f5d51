//! The Flexiti adapter against a real HTTP server on a random port: a small contract-shaped
//! server defined here, which serves pages by UTC date and injects faults on demand, and counts
//! every request so retries can be checked from the server's side.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use flexiti_recon::domain::{Amount, BusinessCalendar, DayRange, Kind};
use flexiti_recon::flexiti::{self, FetchOutcome, FlexitiSettings};
use secrecy::SecretString;
use serde_json::{Value, json};

const SECRET: &str = "sup3r-secret-value-0042";
const XREF: &str = "0123456789abcdef0123456789abcdef";

#[derive(Clone)]
enum Fault {
    Status(u16, Value),
    RetryAfter(u64),
    InvalidToken,
    Malformed,
    /// A 200 whose body stops mid-way: the connection is cut.
    Dropped,
}

#[derive(Default)]
struct Server {
    captures: HashMap<String, Vec<Value>>,
    authorizations: HashMap<String, Vec<Value>>,
    lookups: HashMap<String, Value>,
    wrapped: bool,
    token_life: u64,
    latency: Duration,
    /// Faults served once each, in order, for a request key.
    once: Mutex<HashMap<String, VecDeque<Fault>>>,
    /// Faults served on every request whose key starts with the given prefix.
    always: Vec<(String, Fault)>,
    log: Mutex<Log>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Per `endpoint:date` query: requests in flight now, and the most seen at once.
    query_in_flight: Mutex<HashMap<String, (usize, usize)>>,
}

#[derive(Default)]
struct Log {
    /// Request keys such as `captures:2026-11-23:1`, `authorization:77`, `token`.
    keys: Vec<String>,
    grants: Vec<String>,
    valid_tokens: HashSet<String>,
    issued: usize,
    headers_ok: bool,
    bodies_sent: Vec<String>,
}

impl Server {
    /// The most requests of one `endpoint:date` query the server had in hand at once.
    fn max_in_flight_of(&self, query: &str) -> usize {
        let seen = self.query_in_flight.lock().expect("in flight");
        seen.get(query).map_or(0, |(_, max)| *max)
    }

    fn count(&self, key: &str) -> usize {
        self.log
            .lock()
            .expect("log")
            .keys
            .iter()
            .filter(|k| *k == key)
            .count()
    }

    fn fault_for(&self, key: &str) -> Option<Fault> {
        if let Some(q) = self.once.lock().expect("faults").get_mut(key)
            && let Some(f) = q.pop_front()
        {
            return Some(f);
        }
        self.always
            .iter()
            .find(|(p, _)| key.starts_with(p.as_str()))
            .map(|(_, f)| f.clone())
    }

    /// Logs the request; answers 401 itself when the bearer is not a valid token.
    fn record(&self, key: &str, headers: &HeaderMap) -> Option<Response> {
        let mut log = self.log.lock().expect("log");
        log.keys.push(key.to_string());
        if key == "token" {
            return None;
        }
        let xref_ok = headers.get("x-reference-id").and_then(|v| v.to_str().ok()) == Some(XREF);
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        if !xref_ok {
            log.headers_ok = false;
        }
        if !log.valid_tokens.contains(&bearer) {
            let body = json!({"error":"invalid_token","message":"token expired or unknown"});
            return Some((StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        None
    }
}

fn serve_fault(server: &Server, fault: Fault) -> Response {
    match fault {
        Fault::Status(status, body) => {
            let status = StatusCode::from_u16(status).expect("status");
            (status, Json(body)).into_response()
        }
        Fault::RetryAfter(secs) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"error":"rate_limited"})),
            )
                .into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            r
        }
        Fault::InvalidToken => {
            server.log.lock().expect("log").valid_tokens.clear();
            let body = json!({"error":"invalid_token","message":"token revoked"});
            (StatusCode::UNAUTHORIZED, Json(body)).into_response()
        }
        Fault::Malformed => {
            (StatusCode::OK, "[{\"capture_id\": 1, \"amount\": \"12.0").into_response()
        }
        Fault::Dropped => {
            let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
                Ok(axum::body::Bytes::from_static(b"[{\"capture_id\": 1,")),
                Err(std::io::Error::other("connection cut")),
            ];
            let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
            let mut r = Response::new(body);
            r.headers_mut()
                .insert("content-length", HeaderValue::from(4096));
            r
        }
    }
}

async fn token(
    State(s): State<Arc<Server>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    s.log.lock().expect("log").keys.push("token".into());
    if let Some(f) = s.fault_for("token") {
        return serve_fault(&s, f);
    }
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let secret = form.get("client_secret").cloned().unwrap_or_default();
    let mut log = s.log.lock().expect("log");
    log.grants.push(grant.clone());
    if secret != "right-secret" || form.get("scope").map(String::as_str) != Some("merchant") {
        // A careless server echoing what it got: the client must not pass it on.
        let body =
            json!({"error":"invalid_client","message":format!("client secret {secret} is wrong")});
        log.bodies_sent.push(body.to_string());
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    log.issued += 1;
    let access = format!("tok-{}", log.issued);
    log.valid_tokens.insert(access.clone());
    Json(
        json!({"token_type":"bearer","access_token":access,"expires_in":s.token_life,
                "refresh_token":format!("ref-{}", log.issued)}),
    )
    .into_response()
}

async fn list(
    State(s): State<Arc<Server>>,
    Path((_client, endpoint)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let query = format!(
        "{endpoint}:{}",
        q.get("creation_date_from").map_or("", String::as_str)
    );
    {
        let mut seen = s.query_in_flight.lock().expect("in flight");
        let (now, max) = seen.entry(query.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
    }
    tokio::time::sleep(s.latency).await;
    let response = list_page(&s, &endpoint, &q, &headers);
    if let Some((now, _)) = s.query_in_flight.lock().expect("in flight").get_mut(&query) {
        *now -= 1;
    }
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

fn list_page(
    s: &Server,
    endpoint: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let date = q.get("creation_date_from").cloned().unwrap_or_default();
    assert_eq!(
        q.get("creation_date_to"),
        Some(&date),
        "one UTC date per query"
    );
    let page: usize = q
        .get("page_number")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let size: usize = q
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    let key = format!("{endpoint}:{date}:{page}");
    if let Some(r) = s.record(&key, headers) {
        return r;
    }
    if let Some(f) = s.fault_for(&key) {
        return serve_fault(s, f);
    }
    let all = match endpoint {
        "captures" => s.captures.get(&date),
        "authorizations" => s.authorizations.get(&date),
        _ => return (StatusCode::NOT_FOUND, Json(json!({"error":"not_found"}))).into_response(),
    };
    let all = all.cloned().unwrap_or_default();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    if s.wrapped {
        let list_key = if endpoint == "captures" {
            "captures"
        } else {
            "data"
        };
        let total_pages = all.len().div_ceil(size).max(1);
        Json(json!({list_key: items, "total": all.len(), "total_pages": total_pages, "extra": {"x": 1}}))
            .into_response()
    } else {
        Json(Value::Array(items)).into_response()
    }
}

async fn lookup(
    State(s): State<Arc<Server>>,
    Path((_client, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = format!("authorization:{id}");
    if let Some(r) = s.record(&key, &headers) {
        return r;
    }
    if let Some(f) = s.fault_for(&key) {
        return serve_fault(&s, f);
    }
    match s.lookups.get(&id) {
        Some(a) => Json(a.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error":"not_found","message":"no such authorization"})),
        )
            .into_response(),
    }
}

async fn spawn(mut server: Server) -> (String, Arc<Server>) {
    if server.token_life == 0 {
        server.token_life = 1200;
    }
    server.log.lock().expect("log").headers_ok = true;
    let state = Arc::new(server);
    let app = Router::new()
        .route("/flexiti/pos-api/v2.5/oauth/token", post(token))
        .route(
            "/flexiti/pos-api/v2.5.1/client-id/{client}/{endpoint}",
            get(list),
        )
        .route(
            "/flexiti/pos-api/v2.5.1/client-id/{client}/authorization/{id}",
            get(lookup),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/flexiti/pos-api"), state)
}

/// A week in Toronto: capture 346123 on Nov 23 with a return on Nov 24 (so it is listed on both
/// dates), two captures of 1000.12 spelled as a string and as a number, a capture whose
/// authorization predates the window (looked up), and an authorization never captured.
fn data() -> Server {
    let c1 = json!({"capture_id":346123,"authorization_id":"4821907733105521","reference":"ORD-1",
        "date":"2026-11-23T18:42:09Z","amount":"1000.12","external_location_id":"00-11111",
        "returns":[{"return_id":"9000000000123456","capture_id":346123,"reference":"ORD-1",
                    "date":"2026-11-24T15:05:44.250Z","amount":200.00,"remaining_capture_amount":"800.12"}]});
    let c2 = json!({"capture_id":"346124","authorization_id":4_821_907_733_105_522_u64,"reference":"ORD-2",
        "date":"2026-11-23T23:10:00Z","amount":1000.12,"external_location_id":"00-22222"});
    let c3 = json!({"capture_id":346125,"authorization_id":77,"reference":"ORD-3",
        "date":"2026-11-23T20:00:00Z","amount":"15.5","external_location_id":"cap-store"});
    let c4 = json!({"capture_id":346126,"authorization_id":4_821_907_733_105_523_u64,"reference":"ORD-4",
        "date":"2026-11-22T16:00:00Z","amount":"0.30"});
    let a = |id: u64, reference: &str, created: &str, store: &str| {
        json!({"authorization_id":id,"reference":reference,"account_number":"20076677",
               "transaction_type":"promotional_purchase","authorization_status":"closed",
               "creation_date":created,"amount":"1000.12","external_location_id":store,"plan_id":4})
    };
    let mut s = Server::default();
    s.captures.insert("2026-11-22".into(), vec![c4]);
    s.captures
        .insert("2026-11-23".into(), vec![c1.clone(), c2, c3]);
    s.captures.insert("2026-11-24".into(), vec![c1]);
    s.authorizations.insert(
        "2026-11-22".into(),
        vec![a(
            4821907733105523,
            "ORD-4",
            "2026-11-22T15:59:00Z",
            "00-44444",
        )],
    );
    s.authorizations.insert(
        "2026-11-23".into(),
        vec![
            a(
                4821907733105521,
                "ORD-1",
                "2026-11-23T18:42:07Z",
                "00-12345",
            ),
            a(
                4821907733105522,
                "ORD-2",
                "2026-11-23T23:09:00Z",
                "00-22222",
            ),
        ],
    );
    s.authorizations.insert(
        "2026-11-24".into(),
        vec![a(555, "ORD-NEVER", "2026-11-24T12:00:00Z", "00-12345")],
    );
    s.lookups.insert(
        "77".into(),
        a(77, "ORD-3", "2026-10-01T12:00:00Z", "00-77777"),
    );
    s
}

fn settings(base: &str) -> FlexitiSettings {
    let mut s = FlexitiSettings::new(base, "acme", SecretString::from("right-secret"));
    s.page_size = 2;
    s.concurrency = 3;
    s.max_attempts = 3;
    s.backoff_base_ms = 1;
    s.backoff_cap_ms = 20;
    s.timeout_secs = 5;
    s
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

fn window() -> DayRange {
    DayRange::new(day("2026-11-22"), day("2026-11-24"))
}

async fn run(settings: &FlexitiSettings) -> FetchOutcome {
    let calendar = BusinessCalendar::new(chrono_tz::America::Toronto);
    flexiti::fetch(settings, calendar, window(), XREF).await
}

#[tokio::test]
async fn progress_is_told_after_each_date_query_up_to_every_page() {
    let (base, _server) = spawn(data()).await;
    let seen: Mutex<Vec<flexiti::FetchProgress>> = Mutex::new(Vec::new());
    let calendar = BusinessCalendar::new(chrono_tz::America::Toronto);
    let record = |p: flexiti::FetchProgress| seen.lock().expect("lock").push(p);
    let out =
        flexiti::fetch_with_progress(&settings(&base), calendar, window(), XREF, &record).await;
    let seen = seen.into_inner().expect("lock");
    // Nov 22..24 in Toronto touch four UTC dates, two endpoints each.
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|p| p.queries == 8 && p.failed == 0));
    let done: Vec<usize> = seen.iter().map(|p| p.queries_done).collect();
    assert_eq!(done, (1..=8).collect::<Vec<_>>());
    assert!(seen.windows(2).all(|w| w[0].pages <= w[1].pages));
    // Every list page; the one authorization lookup comes after the date queries.
    let list_pages = out
        .pages
        .iter()
        .filter(|p| p.endpoint != "authorization")
        .count();
    assert_eq!(seen.last().map(|p| p.pages), Some(list_pages));
}

#[tokio::test]
async fn a_clean_fetch_unions_utc_dates_without_losing_or_duplicating_a_transaction() {
    let (base, server) = spawn(data()).await;
    let out = run(&settings(&base)).await;

    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    assert!(out.side.incomplete_days.is_empty());
    let ids: Vec<String> = out.side.records.iter().map(|r| r.identity()).collect();
    assert_eq!(
        ids,
        [
            "capture:346126",
            "capture:346123",
            "capture:346125",
            "capture:346124",
            "return:9000000000123456"
        ]
    );
    let by_id = |id: &str| {
        out.side
            .records
            .iter()
            .find(|r| r.identity() == id)
            .expect("record")
    };
    assert_eq!(by_id("capture:346123").amount, Amount::from_cents(100_012));
    assert_eq!(by_id("capture:346124").amount, Amount::from_cents(100_012));
    assert_eq!(by_id("capture:346126").amount, Amount::from_cents(30));
    let ret = by_id("return:9000000000123456");
    assert_eq!(
        (ret.kind, ret.amount, ret.capture_id),
        (Kind::Return, Amount::from_cents(20_000), 346_123)
    );
    assert_eq!(ret.at.to_rfc3339(), "2026-11-24T15:05:44.250+00:00");
    // The store comes from the authorization, and from the lookup for an older authorization.
    assert_eq!(by_id("capture:346123").store.as_deref(), Some("00-12345"));
    assert_eq!(by_id("capture:346125").store.as_deref(), Some("00-77777"));
    assert_eq!(server.count("authorization:77"), 1);

    // Only listed authorizations feed not_captured, and of those only the one no capture
    // refers to is kept; the looked-up one is not among them.
    let auths: BTreeSet<u64> = out
        .side
        .authorizations
        .iter()
        .map(|a| a.authorization_id)
        .collect();
    assert_eq!(auths, BTreeSet::from([555]));
    assert_eq!(out.side.listed_authorizations, 4);

    // Nov 22..24 in Toronto touch UTC Nov 22..25; Nov 23 captures need two pages of 2.
    assert_eq!(server.count("captures:2026-11-23:1"), 1);
    assert_eq!(server.count("captures:2026-11-23:2"), 1);
    assert_eq!(server.count("captures:2026-11-25:1"), 1);
    assert_eq!(server.count("captures:2026-11-21:1"), 0);
    // A short first page is confirmed by an empty page 2 (a server may cap page_size).
    assert_eq!(server.count("captures:2026-11-22:2"), 1);
    assert_eq!(out.stats.pages, 10 + 4 + 1);
    assert_eq!(out.stats.retries, 0);
    assert!(
        server.log.lock().expect("log").headers_ok,
        "every call carries the x-reference-id"
    );
}

#[tokio::test]
async fn wrapped_and_bare_pages_give_the_same_side() {
    let (bare_base, _) = spawn(data()).await;
    let mut wrapped = data();
    wrapped.wrapped = true;
    let (wrapped_base, wrapped_server) = spawn(wrapped).await;
    let bare = run(&settings(&bare_base)).await;
    let wrapped = run(&settings(&wrapped_base)).await;
    assert!(
        wrapped.failed_calls.is_empty(),
        "{:?}",
        wrapped.failed_calls
    );
    assert_eq!(bare.side.records, wrapped.side.records);
    assert_eq!(bare.side.authorizations, wrapped.side.authorizations);
    // total_pages = 1 ends paging even on a full page.
    assert_eq!(wrapped_server.count("authorizations:2026-11-23:2"), 0);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_page_succeeds() {
    let s = data();
    s.once.lock().expect("faults").insert(
        "captures:2026-11-23:1".into(),
        VecDeque::from([
            Fault::Status(500, json!({"error":"general_error"})),
            Fault::Status(503, json!({})),
        ]),
    );
    let (base, server) = spawn(s).await;
    let out = run(&settings(&base)).await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    assert_eq!(server.count("captures:2026-11-23:1"), 3);
    assert_eq!(out.stats.retries, 2);
    assert_eq!(out.side.records.len(), 5);
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let s = data();
    s.once.lock().expect("faults").insert(
        "authorizations:2026-11-24:1".into(),
        VecDeque::from([Fault::RetryAfter(1)]),
    );
    let (base, server) = spawn(s).await;
    let mut settings = settings(&base);
    settings.backoff_cap_ms = 5_000;
    let started = Instant::now();
    let out = run(&settings).await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    assert_eq!(server.count("authorizations:2026-11-24:1"), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_invalid_token_gets_one_new_token_and_one_repeat() {
    let s = data();
    s.once.lock().expect("faults").insert(
        "captures:2026-11-22:1".into(),
        VecDeque::from([Fault::InvalidToken]),
    );
    let (base, server) = spawn(s).await;
    let mut settings = settings(&base);
    settings.concurrency = 1;
    let out = run(&settings).await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    assert_eq!(server.count("captures:2026-11-22:1"), 2);
    assert_eq!(
        server.log.lock().expect("log").grants,
        ["client_credentials", "client_credentials"]
    );
    assert_eq!(out.stats.retries, 0);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed_with_the_refresh_token() {
    let mut s = data();
    s.token_life = 60;
    let (base, server) = spawn(s).await;
    let out = run(&settings(&base)).await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    let grants = server.log.lock().expect("log").grants.clone();
    assert_eq!(grants[0], "client_credentials");
    assert!(
        grants.len() > 2 && grants[1..].iter().all(|g| g == "refresh_token"),
        "{grants:?}"
    );
}

#[tokio::test]
async fn a_dead_utc_date_makes_two_toronto_days_incomplete() {
    let mut s = data();
    s.always.push((
        "captures:2026-11-24".into(),
        Fault::Status(502, json!({"error":"general_error"})),
    ));
    let (base, server) = spawn(s).await;
    let out = run(&settings(&base)).await;

    assert_eq!(out.failed_utc_dates, BTreeSet::from([day("2026-11-24")]));
    assert_eq!(
        out.side.incomplete_days,
        BTreeSet::from([day("2026-11-23"), day("2026-11-24")])
    );
    assert_eq!(server.count("captures:2026-11-24:1"), 3);
    assert_eq!(out.failed_calls.len(), 1);
    let f = &out.failed_calls[0];
    assert_eq!(f.endpoint, "GET /v2.5.1/client-id/{client_id}/captures");
    assert!(
        f.parameters.contains("creation_date_from=2026-11-24"),
        "{}",
        f.parameters
    );
    assert!(f.parameters.contains("page_number=1"), "{}", f.parameters);
    assert_eq!(
        (f.http_status, f.error_code.as_deref()),
        (Some(502), Some("general_error"))
    );
    assert_eq!((f.attempts, f.x_reference_id.as_str()), (3, XREF));
    assert_eq!(f.utc_date, Some(day("2026-11-24")));
    // The capture and its return were still found through Nov 23's listing.
    assert_eq!(out.side.records.len(), 5);
}

#[tokio::test]
async fn cut_or_malformed_bodies_are_retried_and_a_lasting_one_becomes_a_failed_call() {
    let s = data();
    s.once.lock().expect("faults").insert(
        "captures:2026-11-22:1".into(),
        VecDeque::from([Fault::Malformed, Fault::Malformed, Fault::Malformed]),
    );
    s.once.lock().expect("faults").insert(
        "captures:2026-11-25:1".into(),
        VecDeque::from([Fault::Malformed]),
    );
    s.once.lock().expect("faults").insert(
        "authorizations:2026-11-25:1".into(),
        VecDeque::from([Fault::Dropped]),
    );
    let (base, server) = spawn(s).await;
    let out = run(&settings(&base)).await;
    assert_eq!(server.count("captures:2026-11-22:1"), 3);
    assert_eq!(
        server.count("captures:2026-11-25:1"),
        2,
        "one malformed body, then recovered"
    );
    assert_eq!(
        server.count("authorizations:2026-11-25:1"),
        2,
        "one cut body, then recovered"
    );
    assert_eq!(out.failed_calls.len(), 1, "{:?}", out.failed_calls);
    let f = &out.failed_calls[0];
    assert_eq!(f.http_status, Some(200));
    assert!(
        f.message.contains(r#"[{"capture_id": 1, "amount": "12.0"#),
        "{}",
        f.message
    );
    assert_eq!(
        out.side.incomplete_days,
        BTreeSet::from([day("2026-11-22")])
    );
}

#[tokio::test]
async fn a_409_is_an_answer_and_is_not_retried() {
    let mut s = data();
    s.always.push((
        "authorizations:2026-11-22".into(),
        Fault::Status(
            409,
            json!({"url":"/x","message":"Some inputs are wrong or missing!","error":"wrong_inputs",
                   "field_errors":[{"param":"creation_date_from","msg":"invalid","value":"2026-11-22","type":"format"}]}),
        ),
    ));
    let (base, server) = spawn(s).await;
    let out = run(&settings(&base)).await;
    assert_eq!(server.count("authorizations:2026-11-22:1"), 1);
    let f = &out.failed_calls[0];
    assert_eq!(
        (f.http_status, f.error_code.as_deref(), f.attempts),
        (Some(409), Some("wrong_inputs"), 1)
    );
    assert!(
        f.message
            .contains("creation_date_from: invalid (2026-11-22)"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_record_with_the_capture_store_and_marks_its_day() {
    let mut s = data();
    s.always.push((
        "authorization:77".into(),
        Fault::Status(404, json!({"error":"not_found"})),
    ));
    let (base, _) = spawn(s).await;
    let out = run(&settings(&base)).await;
    let rec = out
        .side
        .records
        .iter()
        .find(|r| r.capture_id == 346_125)
        .expect("kept");
    assert_eq!(rec.store.as_deref(), Some("cap-store"));
    assert_eq!(out.failed_calls.len(), 1);
    assert_eq!(out.failed_calls[0].parameters, "authorization_id=77");
    assert!(out.failed_utc_dates.is_empty());
    // 2026-11-23T20:00Z is Nov 23 in Toronto.
    assert_eq!(
        out.side.incomplete_days,
        BTreeSet::from([day("2026-11-23")])
    );
}

#[tokio::test]
async fn the_secret_never_appears_in_a_failed_call() {
    let (base, server) = spawn(data()).await;
    let mut settings = settings(&base);
    settings.client_secret = SecretString::from(SECRET);
    let out = run(&settings).await;
    let echoed = server.log.lock().expect("log").bodies_sent.join("\n");
    assert!(
        echoed.contains(SECRET),
        "the server did echo the secret back"
    );
    assert_eq!(out.failed_calls.len(), 1);
    assert_eq!(
        out.failed_calls[0].error_code.as_deref(),
        Some("invalid_client")
    );
    assert_eq!(out.side.incomplete_days.len(), 3);
    let shown = format!("{:?} {:?} {:?}", out.failed_calls, settings, out.side);
    assert!(!shown.contains(SECRET), "{shown}");
    let report = flexiti::check(&settings, XREF)
        .await
        .expect("config is fine");
    assert!(report.token.is_err());
    assert!(!format!("{report:?}").contains(SECRET));
}

#[tokio::test]
async fn requests_in_flight_never_exceed_the_concurrency() {
    let mut s = data();
    s.latency = Duration::from_millis(30);
    let (base, server) = spawn(s).await;
    let mut settings = settings(&base);
    settings.concurrency = 2;
    let out = run(&settings).await;
    assert!(out.failed_calls.is_empty());
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
}

/// The data set with twelve more captures on UTC Nov 23: six full pages of two, then an empty one.
fn busy_date() -> Server {
    let mut s = data();
    let extra = (0..12u64).map(|i| {
        json!({"capture_id":500_000 + i,"authorization_id":"4821907733105521",
               "reference":format!("ORD-X{i}"),"date":format!("2026-11-23T12:{i:02}:00Z"),
               "amount":"10.00","external_location_id":"00-11111"})
    });
    let day = s.captures.get_mut("2026-11-23").expect("Nov 23 captures");
    day.truncate(0);
    day.extend(extra);
    s.latency = Duration::from_millis(100);
    s
}

/// The raw pages of one query, in the order the fetch kept them.
fn pages_of(out: &FetchOutcome, endpoint: &str, date: &str) -> Vec<String> {
    out.pages
        .iter()
        .filter(|p| p.endpoint == endpoint && p.utc_date == Some(day(date)))
        .map(|p| format!("{} {}", p.params, String::from_utf8_lossy(&p.body)))
        .collect()
}

#[tokio::test]
async fn pages_of_one_date_overlap_and_give_what_reading_them_in_turn_gives() {
    let (base, server) = spawn(busy_date()).await;
    let mut overlapping = settings(&base);
    overlapping.concurrency = 6;
    let out = run(&overlapping).await;
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    // After the first full page, up to four pages are read ahead, never beyond the bound.
    let most = server.max_in_flight_of("captures:2026-11-23");
    assert!((2..=4).contains(&most), "{most} pages of Nov 23 at once");
    assert!(server.max_in_flight.load(Ordering::SeqCst) <= 6);
    // The end is page 7 (empty); read-ahead sent at most three pages past it, all dropped.
    for page in 1..=7 {
        assert_eq!(server.count(&format!("captures:2026-11-23:{page}")), 1);
    }
    let past_end: usize = (8..=11)
        .map(|page| server.count(&format!("captures:2026-11-23:{page}")))
        .sum();
    assert!(past_end <= 3, "{past_end} pages past the end");

    let (base, _) = spawn(busy_date()).await;
    let mut in_turn = settings(&base);
    in_turn.concurrency = 1;
    let sequential = run(&in_turn).await;
    assert_eq!(out.side.records, sequential.side.records);
    assert_eq!(out.side.authorizations, sequential.side.authorizations);
    let kept = pages_of(&out, "captures", "2026-11-23");
    assert_eq!(kept.len(), 7);
    assert_eq!(kept, pages_of(&sequential, "captures", "2026-11-23"));
    assert_eq!(out.pages.len(), sequential.pages.len());
    assert_eq!(out.stats.records, 12 + 1 + 1 + 1);
}

#[tokio::test]
async fn announced_pages_are_requested_together_and_none_past_the_last() {
    let mut s = busy_date();
    s.wrapped = true;
    let (base, server) = spawn(s).await;
    let mut settings = settings(&base);
    settings.concurrency = 6;
    let started = Instant::now();
    let out = run(&settings).await;
    let elapsed = started.elapsed();
    assert!(out.failed_calls.is_empty(), "{:?}", out.failed_calls);
    // Page 1 announces six pages; pages 2 to 6 then go out together.
    let most = server.max_in_flight_of("captures:2026-11-23");
    assert!(most >= 4, "{most} pages of Nov 23 at once");
    assert!(server.max_in_flight.load(Ordering::SeqCst) <= 6);
    for page in 1..=6 {
        assert_eq!(server.count(&format!("captures:2026-11-23:{page}")), 1);
    }
    assert_eq!(server.count("captures:2026-11-23:7"), 0);
    assert_eq!(pages_of(&out, "captures", "2026-11-23").len(), 6);
    assert_eq!(out.stats.records, 12 + 1 + 1 + 1);
    // Read in turn, the six pages alone would take 600 ms.
    assert!(elapsed < Duration::from_millis(550), "{elapsed:?}");
}

#[tokio::test]
async fn a_failed_page_in_the_middle_is_the_one_failed_call_of_its_date() {
    let mut s = busy_date();
    s.always.push((
        "captures:2026-11-23:3".into(),
        Fault::Status(502, json!({"error":"general_error"})),
    ));
    let (base, server) = spawn(s).await;
    let mut settings = settings(&base);
    settings.concurrency = 6;
    let out = run(&settings).await;
    assert_eq!(out.failed_calls.len(), 1, "{:?}", out.failed_calls);
    let f = &out.failed_calls[0];
    assert!(f.parameters.contains("page_number=3"), "{}", f.parameters);
    assert_eq!((f.http_status, f.attempts), (Some(502), 3));
    assert_eq!(out.failed_utc_dates, BTreeSet::from([day("2026-11-23")]));
    assert_eq!(server.count("captures:2026-11-23:3"), 3);
    // Pages read ahead before the failure still count; nothing is requested after it.
    assert_eq!(server.count("captures:2026-11-23:7"), 0);
    let ids: BTreeSet<u64> = out.side.records.iter().map(|r| r.capture_id).collect();
    for lost in [500_004, 500_005] {
        assert!(!ids.contains(&lost), "{lost} is on the failed page");
    }
    for kept in [500_000, 500_001, 500_002, 500_003] {
        assert!(
            ids.contains(&kept),
            "{kept} is on a page before the failure"
        );
    }
}

#[tokio::test]
async fn fetched_pages_replay_offline_into_the_same_records() {
    let (base, _) = spawn(data()).await;
    let out = run(&settings(&base)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, page) in out.pages.iter().enumerate() {
        std::fs::write(
            dir.path().join(page.replay_file_name(i)),
            page.replay_body(),
        )
        .expect("write");
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let offline = flexiti::load_dir(dir.path()).expect("loads");
    assert_eq!(offline.side.records, out.side.records);
    assert!(offline.side.incomplete_days.is_empty());
    assert_eq!(offline.files.len(), out.pages.len());

    std::fs::write(
        dir.path().join("captures-broken.json"),
        "{\"captures\": [1,",
    )
    .expect("write");
    let err = format!(
        "{:#}",
        flexiti::load_dir(dir.path()).expect_err("broken file")
    );
    assert!(err.contains("captures-broken.json"), "{err}");
}

#[tokio::test]
async fn check_reports_a_token_and_a_page() {
    let (base, server) = spawn(data()).await;
    let report = flexiti::check(&settings(&base), XREF)
        .await
        .expect("config is fine");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(server.log.lock().expect("log").grants.len(), 1);
    let bad = flexiti::check(&settings("http://flexiti.example.com"), XREF).await;
    assert!(bad.is_err());
}
