//! The HTTP side of the adapter: one `FlexitiClient` per run, holding the token, the
//! x-reference-id, the retry policy and the shared rate-limit pause.
//!
//! Every call carries `authorization: Bearer` and the run's `x-reference-id`. Network errors,
//! timeouts, unparseable bodies and 5xx are retried with capped exponential backoff and jitter,
//! up to `max_attempts`; a 429 pauses the whole client (honouring `Retry-After`) and is retried
//! for the rate-limit budget instead (see `pace`); other 4xx are answers and fail at once, and so
//! do the answers `http` refuses (redirects, bodies over the cap) and bad token replies. A token
//! is refreshed when less than two minutes remain, and a 401 `invalid_token` gets one new token
//! and one repeat. The client secret never appears in an error: texts are redacted before they
//! leave,
//! and the secret and every token received are registered with [`crate::redact`]. Account numbers
//! are masked in every body as it arrives (see `mask`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use super::error::{FlexitiError, excerpt};
use super::http::{
    parse_retry_after, read_capped, redirect_policy, refuse_url, refused_redirect, transport,
};
use super::pace::Pace;
use super::settings::FlexitiSettings;
use super::wire::WireError;
use auth::Token;

mod auth;

/// One GET: the endpoint as a template for reports, the real path, the query.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// e.g. `GET /v2.5.1/client-id/{client_id}/captures`.
    pub endpoint: String,
    /// Path after the base URL, e.g. `/v2.5.1/client-id/acme/captures`.
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl CallSpec {
    pub fn parameters(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A successful call: the parsed value and the raw body (for the audit bundle).
#[derive(Debug)]
pub struct CallOk<T> {
    pub value: T,
    pub body: Vec<u8>,
    pub attempts: u32,
}

/// A call that still failed after its retries.
#[derive(Debug, Clone)]
pub struct CallErr {
    pub error: FlexitiError,
    pub attempts: u32,
    pub duration: Duration,
}

/// One call's attempts so far, for the retry policy.
#[derive(Default)]
struct Tries {
    attempts: u32,
    /// Failed attempts other than 429s: they count against `max_attempts`.
    failures: u32,
    /// 429s, and when the first came: they count against the rate-limit budget.
    limited: u32,
    limited_since: Option<Instant>,
}

pub struct FlexitiClient {
    http: reqwest::Client,
    base: String,
    client_id: String,
    secret: SecretString,
    x_reference_id: String,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    max_body: u64,
    pace: Pace,
    token: tokio::sync::Mutex<Option<Token>>,
    calls: AtomicU64,
    retries: AtomicU64,
}

impl FlexitiClient {
    pub fn new(settings: &FlexitiSettings, x_reference_id: &str) -> Result<Self, FlexitiError> {
        settings.validate()?;
        crate::redact::register(settings.client_secret.expose_secret());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs.min(10)))
            .user_agent(concat!("flexiti-recon/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect_policy())
            .build()
            .map_err(|e| FlexitiError::Config(format!("cannot build the http client: {e}")))?;
        Ok(FlexitiClient {
            http,
            base: settings.base_url()?,
            client_id: settings.client_id.clone(),
            secret: settings.client_secret.clone(),
            x_reference_id: x_reference_id.to_string(),
            max_attempts: settings.max_attempts.max(1),
            backoff_base: Duration::from_millis(settings.backoff_base_ms),
            backoff_cap: Duration::from_millis(settings.backoff_cap_ms),
            max_body: settings.max_body_bytes,
            pace: Pace::new(settings.rate_limit_budget),
            token: tokio::sync::Mutex::new(None),
            calls: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn x_reference_id(&self) -> &str {
        &self.x_reference_id
    }

    /// The client id as a path segment (percent-encoded where needed).
    pub fn client_segment(&self) -> String {
        let mut out = String::with_capacity(self.client_id.len());
        for b in self.client_id.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// HTTP requests sent so far, and how many of them were retries.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        )
    }

    /// Makes sure a usable token is held; returns its remaining life.
    pub async fn ensure_token(&self) -> Result<Duration, CallErr> {
        let started = Instant::now();
        let mut guard = self.token.lock().await;
        self.refresh_if_needed(&mut guard)
            .await
            .map_err(|(error, attempts)| CallErr {
                error,
                attempts,
                duration: started.elapsed(),
            })?;
        Ok(guard.as_ref().map_or(Duration::ZERO, |t| {
            t.expires_at.saturating_duration_since(Instant::now())
        }))
    }

    /// GETs `spec` and parses the body as `T`, with retries and token handling.
    pub async fn get<T: DeserializeOwned>(&self, spec: &CallSpec) -> Result<CallOk<T>, CallErr> {
        let started = Instant::now();
        let url = format!("{}{}", self.base, spec.path);
        let mut tries = Tries::default();
        let mut token_renewed = false;
        loop {
            self.pace.wait().await;
            tries.attempts += 1;
            let access = match self.bearer().await {
                Ok(access) => access,
                Err((error, _)) => {
                    let error = FlexitiError::Token(Box::new(error));
                    return Err(self.fail(error, tries.attempts, started));
                }
            };
            let request = self
                .http
                .get(&url)
                .query(&spec.query)
                .bearer_auth(access.expose_secret())
                .header("x-reference-id", &self.x_reference_id);
            tracing::debug!(endpoint = %spec.endpoint, parameters = %spec.parameters(), attempts = tries.attempts, "flexiti call");
            let answer =
                self.attempt(request).await.and_then(
                    |(status, body)| match serde_json::from_slice::<T>(&body) {
                        Ok(value) => Ok((value, body)),
                        Err(e) => Err(FlexitiError::Unparseable {
                            status,
                            reason: e.to_string(),
                            excerpt: excerpt(&body),
                        }),
                    },
                );
            match answer {
                Ok((value, body)) => {
                    return Ok(CallOk {
                        value,
                        body,
                        attempts: tries.attempts,
                    });
                }
                Err(error) if error.is_invalid_token() && !token_renewed => {
                    token_renewed = true;
                    self.forget_token(&access).await;
                }
                Err(error) => match self.next_try(error, &mut tries) {
                    Ok(delay) => {
                        tracing::debug!(endpoint = %spec.endpoint, ?delay, "retrying flexiti call");
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(delay).await;
                    }
                    Err(error) => return Err(self.fail(error, tries.attempts, started)),
                },
            }
        }
    }

    /// After a failed attempt: the wait before the next one, or the error to give up with.
    /// A 429's wait is the client-wide pause, waited for before the next attempt.
    fn next_try(&self, error: FlexitiError, tries: &mut Tries) -> Result<Duration, FlexitiError> {
        if let FlexitiError::RateLimited {
            retry_after,
            code,
            message,
        } = error
        {
            tries.limited += 1;
            let since = *tries.limited_since.get_or_insert_with(Instant::now);
            let asked = retry_after
                .unwrap_or_else(|| self.backoff(tries.limited))
                .max(self.backoff_base);
            return match self.pace.limited(since, asked) {
                Ok(pause) => {
                    tracing::debug!(?pause, "rate limited: every call pauses");
                    Ok(Duration::ZERO)
                }
                Err(spent) => Err(FlexitiError::RateLimited {
                    retry_after,
                    code,
                    message: format!(
                        "{message}{}still rate limited after {} s (flexiti.rate_limit_budget_mins)",
                        if message.is_empty() { "" } else { "; " },
                        spent.as_secs()
                    ),
                }),
            };
        }
        tries.failures += 1;
        if !error.is_retryable() || tries.failures >= self.max_attempts {
            return Err(error);
        }
        Ok(self.backoff(tries.failures))
    }

    fn fail(&self, error: FlexitiError, attempts: u32, started: Instant) -> CallErr {
        let error = error.redacted(self.secret.expose_secret());
        CallErr {
            error,
            attempts,
            duration: started.elapsed(),
        }
    }

    /// One HTTP exchange: the status and body of a 2xx, or the failure it is.
    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), FlexitiError> {
        let request = request
            .build()
            .map_err(|e| FlexitiError::Config(format!("cannot build the request: {e}")))?;
        if let Some(reason) = refuse_url(request.url()) {
            return Err(FlexitiError::Refused {
                status: None,
                reason: format!("request refused: {reason}"),
            });
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            return Err(refused_redirect(status, response.url(), location));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = read_capped(&mut response, status, self.max_body).await?;
        let body = super::mask::masked_body(body);
        if (200..300).contains(&status) {
            self.pace.answered();
            return Ok((status, body));
        }
        Err(error_answer(status, retry_after, &body))
    }

    /// Capped exponential backoff with jitter.
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        let full = self
            .backoff_base
            .saturating_mul(factor)
            .min(self.backoff_cap);
        let half = full / 2;
        let jitter_ms = rand::rng().random_range(0..=u64::try_from(half.as_millis()).unwrap_or(0));
        half + Duration::from_millis(jitter_ms)
    }
}

/// A non-2xx answer, classified by status, with Flexiti's error body when there is one.
pub(super) fn error_answer(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> FlexitiError {
    let wire: WireError = serde_json::from_slice(body).unwrap_or_default();
    let code = wire.error.clone();
    let mut message = crate::redact::text(&wire.describe());
    if message.is_empty() && code.is_none() {
        message = excerpt(body);
    }
    match status {
        401 => FlexitiError::Unauthorized { code, message },
        429 => FlexitiError::RateLimited {
            retry_after,
            code,
            message,
        },
        500..=599 => FlexitiError::Server {
            status,
            code,
            message,
        },
        _ => FlexitiError::Rejected {
            status,
            code,
            message,
        },
    }
}
