//! The sandbox: a local fake of the Flexiti POS API (see `docs/FLEXITI-API.md`) that serves a data
//! set from files and injects faults on demand, plus the synthetic data generator that writes such
//! data sets together with the merchant ledger and the findings a reconciliation must report.
//!
//! The server binds loopback only; it is for the demo, the integration tests and manual
//! rehearsals, never for production. Everything it serves comes from `<data_dir>/flexiti/`, so a
//! generated data set and the committed `samples/` are interchangeable.

mod answers;
mod data;
mod faults;
mod generate;
mod listing;
mod oauth;
mod orders;
mod server;
mod tokens;
mod writers;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use generate::{GenerateOptions, GenerateSummary, generate};
pub use listing::MAX_PAGE_SIZE;

/// Names under which [`SandboxStats::faults`] counts the injected faults.
pub mod fault {
    pub const MAINTENANCE: &str = "maintenance";
    pub const LATENCY: &str = "latency";
    pub const RATE_LIMIT: &str = "rate_limit";
    pub const SERVER_ERROR: &str = "server_error";
    pub const FAIL_FIRST_N: &str = "fail_first_n";
    pub const FAILING_DATE: &str = "failing_date";
    pub const FAILING_AUTHORIZATION: &str = "failing_authorization";
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const DROP_CONNECTION: &str = "drop_connection";
    /// A call refused because its token expired (early, with `token_ttl_secs`).
    pub const EXPIRED_TOKEN: &str = "expired_token";
    pub const BAD_TOKEN_REPLY: &str = "bad_token_reply";
    pub const CUT_PAGE: &str = "cut_page";
    pub const CONFLICT: &str = "conflict";
    /// A 307 sent instead of a token or a list page.
    pub const REDIRECT: &str = "redirect";
    /// A token reply with the configured `expires_in`.
    pub const TOKEN_EXPIRES_IN: &str = "token_expires_in";
    pub const ENDLESS_BODY: &str = "endless_body";
    pub const TRICKLE_BODY: &str = "trickle_body";
    /// A list page cut to `page_size_cap` rows.
    pub const PAGE_SIZE_CAP: &str = "page_size_cap";
    pub const LOOKUP_OTHER_ID: &str = "lookup_other_id";
}

/// How to run a sandbox server.
#[derive(Clone)]
pub struct SandboxOptions {
    /// 0 picks a free port.
    pub port: u16,
    /// Holds `flexiti/authorizations*.json` and `flexiti/captures*.json`.
    pub data_dir: PathBuf,
    pub client_id: String,
    pub client_secret: String,
    pub faults: Faults,
}

impl std::fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("faults", &self.faults)
            .finish()
    }
}

/// What the server has seen so far. Endpoints are `token`, `authorizations`, `captures` and
/// `authorization`; fault kinds are the names in [`fault`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxStats {
    pub requests: BTreeMap<String, u64>,
    pub faults: BTreeMap<String, u64>,
    pub tokens_issued: u64,
    /// The `grant_type` of each token issued, in order.
    pub grants: Vec<String>,
    /// Every well-formed `x-reference-id` received.
    pub reference_ids: BTreeSet<String>,
    /// Requests per call, answered or refused: `captures:2026-11-23:1` (a list endpoint, its
    /// `creation_date_from` and page number) or `authorization:77` (a lookup).
    pub calls: BTreeMap<String, u64>,
}

impl SandboxStats {
    pub fn requests_to(&self, endpoint: &str) -> u64 {
        self.requests.get(endpoint).copied().unwrap_or(0)
    }

    pub fn faults_of(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// How often the call named as in [`SandboxStats::calls`] was requested.
    pub fn calls_to(&self, call: &str) -> u64 {
        self.calls.get(call).copied().unwrap_or(0)
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// A running sandbox; dropping it without [`SandboxHandle::shutdown`] leaves the server running
/// until the runtime ends.
pub struct SandboxHandle {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SandboxHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// e.g. `http://127.0.0.1:41234/flexiti/pos-api`
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, server::BASE_PATH)
    }

    pub fn stats(&self) -> SandboxStats {
        self.shared.stats().clone()
    }

    /// Every access and refresh token issued so far, in order (bad token replies included).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens().issued().to_vec()
    }

    /// Stops accepting, lets in-flight calls finish (for at most 5 seconds) and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Loads the data set, binds `127.0.0.1:{port}` and serves in a background task.
pub async fn spawn(opts: SandboxOptions) -> anyhow::Result<SandboxHandle> {
    let data = data::Dataset::load(&opts.data_dir)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port))
        .await
        .with_context(|| format!("sandbox: cannot bind 127.0.0.1:{}", opts.port))?;
    let addr = listener.local_addr().context("sandbox: no local address")?;
    tracing::info!(
        %addr,
        authorizations = data.authorizations.len(),
        captures = data.captures.len(),
        "sandbox listening"
    );
    let shared = Arc::new(server::Shared {
        data,
        client_id: opts.client_id,
        client_secret: opts.client_secret,
        dice: Mutex::new(faults::Dice::new(opts.faults.seed)),
        faults: opts.faults,
        tokens: Mutex::new(tokens::TokenStore::default()),
        stats: Mutex::new(SandboxStats::default()),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let app = server::router(Arc::clone(&shared));
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(SandboxHandle {
        addr,
        shared,
        stop,
        task,
    })
}

/// Serves until Ctrl-C, then logs what was served (the `sandbox serve` command).
pub async fn serve_forever(opts: SandboxOptions) -> anyhow::Result<()> {
    let handle = spawn(opts).await?;
    tracing::info!(base_url = %handle.base_url(), "sandbox ready; Ctrl-C stops it");
    tokio::signal::ctrl_c()
        .await
        .context("sandbox: cannot listen for Ctrl-C")?;
    let stats = handle.stats();
    tracing::info!(
        requests = stats.total_requests(),
        tokens = stats.tokens_issued,
        faults = ?stats.faults,
        "sandbox stopping"
    );
    handle.shutdown().await;
    Ok(())
}
