//! The Flexiti adapter against a scripted server on a random port, for what the sandbox cannot
//! express: a fault on one chosen call (a body cut or garbled once, or every time, a page in the
//! middle of a date that always fails), a careless server echoing the secret it was sent, and
//! the requests in flight, overall and per date query. The server serves the week of
//! `tests/common/week.rs` by UTC date and counts every request so retries can be checked from
//! its side. Everything the sandbox can do runs against it in `tests/flexiti_client.rs`.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flexiti_recon::flexiti::{self, FetchOutcome, FlexitiSettings};
use secrecy::SecretString;
use serde_json::{Value, json};

use common::{XREF, day, fetch_week, week_authorizations, week_captures, week_settings};

const SECRET: &str = "sup3r-secret-value-0042";

#[derive(Clone)]
enum Fault {
    Status(u16, Value),
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
    valid_tokens: HashSet<String>,
    issued: usize,
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
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        if !log.valid_tokens.contains(&bearer) {
            let body = json!({"error":"invalid_token","message":"token expired or unknown"});
            return Some((StatusCode::UNAUTHORIZED, Json(body)).into_response());
        }
        None
    }
}

fn serve_fault(fault: Fault) -> Response {
    match fault {
        Fault::Status(status, body) => {
            let status = StatusCode::from_u16(status).expect("status");
            (status, Json(body)).into_response()
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
        return serve_fault(f);
    }
    let secret = form.get("client_secret").cloned().unwrap_or_default();
    let mut log = s.log.lock().expect("log");
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
        json!({"token_type":"bearer","access_token":access,"expires_in":1200,
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
        return serve_fault(f);
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
        return serve_fault(f);
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

async fn spawn(server: Server) -> (String, Arc<Server>) {
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

/// The week by UTC date: a capture under its own date and each of its returns' dates, an
/// authorization under its creation date; every authorization can be looked up.
fn data() -> Server {
    let utc_date = |v: &Value| v.as_str().map(|d| d[..10].to_string()).unwrap_or_default();
    let mut s = Server::default();
    for c in week_captures() {
        let mut dates = vec![utc_date(&c["date"])];
        for r in c["returns"].as_array().into_iter().flatten() {
            dates.push(utc_date(&r["date"]));
        }
        dates.dedup();
        for date in dates {
            s.captures.entry(date).or_default().push(c.clone());
        }
    }
    for a in week_authorizations() {
        let id = a["authorization_id"].to_string();
        s.authorizations
            .entry(utc_date(&a["creation_date"]))
            .or_default()
            .push(a.clone());
        s.lookups.insert(id, a);
    }
    s
}

fn settings(base: &str) -> FlexitiSettings {
    week_settings(base, "right-secret")
}

async fn run(settings: &FlexitiSettings) -> FetchOutcome {
    fetch_week(settings).await
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
