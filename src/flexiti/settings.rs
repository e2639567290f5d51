//! Settings of the Flexiti adapter and the base URL they resolve to.
//!
//! The environment is a documented name (`training`, `merchant-integration`, `production`) or
//! any other URL (the sandbox, a proxy); plain `http://` is refused unless the host is a
//! loopback address, so credentials never travel in clear text over a network. The client
//! secret is filled from the environment by the app and never printed.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::error::FlexitiError;

pub const TRAINING_URL: &str = "https://posapi-training.flexiti.fi/flexiti/pos-api";
pub const MERCHANT_INTEGRATION_URL: &str = "https://posapi-mi.flexiti.fi/flexiti/pos-api";
pub const PRODUCTION_URL: &str = "https://posapi.flexiti.fi/flexiti/pos-api";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexitiSettings {
    /// `training`, `merchant-integration`, `production`, or a base URL.
    #[serde(alias = "base_url", default = "default_environment")]
    pub environment: String,
    #[serde(default)]
    pub client_id: String,
    /// Filled by the app from the environment (never read from a config file).
    #[serde(skip)]
    pub client_secret: SecretString,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    #[serde(default = "default_backoff_cap_ms")]
    pub backoff_cap_ms: u64,
    /// A response body longer than this (token, page, lookup or error) fails its call.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// How long a call keeps trying while Flexiti answers 429 (`rate_limit_budget_mins`).
    #[serde(
        rename = "rate_limit_budget_mins",
        default = "default_rate_limit_budget",
        deserialize_with = "minutes"
    )]
    pub rate_limit_budget: Duration,
    /// Pages of one date query at most: a date that needs more is a failed call.
    #[serde(default = "default_max_pages_per_date")]
    pub max_pages_per_date: u32,
}

fn default_environment() -> String {
    "training".into()
}
fn default_page_size() -> u32 {
    100
}
fn default_concurrency() -> usize {
    4
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff_base_ms() -> u64 {
    500
}
fn default_backoff_cap_ms() -> u64 {
    30_000
}
fn default_max_body_bytes() -> u64 {
    64 << 20
}
fn default_rate_limit_budget() -> Duration {
    Duration::from_secs(10 * 60)
}
fn default_max_pages_per_date() -> u32 {
    100_000
}

fn minutes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let mins = u64::deserialize(d)?;
    mins.checked_mul(60)
        .filter(|secs| *secs <= 7 * 24 * 3600)
        .map(Duration::from_secs)
        .ok_or_else(|| serde::de::Error::custom(format!("{mins} minutes is more than a week")))
}

impl FlexitiSettings {
    /// Settings with every default, for the given environment and credentials.
    pub fn new(environment: &str, client_id: &str, client_secret: SecretString) -> Self {
        FlexitiSettings {
            environment: environment.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            page_size: default_page_size(),
            concurrency: default_concurrency(),
            timeout_secs: default_timeout_secs(),
            max_attempts: default_max_attempts(),
            backoff_base_ms: default_backoff_base_ms(),
            backoff_cap_ms: default_backoff_cap_ms(),
            max_body_bytes: default_max_body_bytes(),
            rate_limit_budget: default_rate_limit_budget(),
            max_pages_per_date: default_max_pages_per_date(),
        }
    }

    /// Whether the client secret was given (the API cannot be called without it).
    pub fn has_client_secret(&self) -> bool {
        !self.client_secret.expose_secret().is_empty()
    }

    /// The base URL, without a trailing slash, checked for scheme and host.
    pub fn base_url(&self) -> Result<String, FlexitiError> {
        let url = match self.environment.trim() {
            "training" => TRAINING_URL,
            "merchant-integration" => MERCHANT_INTEGRATION_URL,
            "production" => PRODUCTION_URL,
            other => other,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            FlexitiError::Config(format!(
                "flexiti environment '{url}' is neither training, merchant-integration, production nor a URL: {e}"
            ))
        })?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => {
                return Err(FlexitiError::Config(format!(
                    "flexiti base url '{url}': plain http is allowed only for loopback hosts (use https)"
                )));
            }
            scheme => {
                return Err(FlexitiError::Config(format!(
                    "flexiti base url '{url}': unsupported scheme {scheme}"
                )));
            }
        }
        Ok(url.trim_end_matches('/').to_string())
    }

    /// Checks everything a fetch needs before any network call.
    pub fn validate(&self) -> Result<(), FlexitiError> {
        self.base_url()?;
        let bad = |what: &str| Err(FlexitiError::Config(format!("flexiti {what}")));
        if self.client_id.trim().is_empty() || self.client_id.len() > 100 {
            return bad("client_id must be 1 to 100 ASCII characters");
        }
        if !self.client_id.is_ascii() {
            return bad("client_id must be ASCII");
        }
        if self.page_size == 0 || self.concurrency == 0 || self.max_attempts == 0 {
            return bad("page_size, concurrency and max_attempts must be at least 1");
        }
        if self.timeout_secs == 0 {
            return bad("timeout_secs must be at least 1");
        }
        if self.max_body_bytes == 0 || self.max_pages_per_date == 0 {
            return bad("max_body_bytes and max_pages_per_date must be at least 1");
        }
        Ok(())
    }
}

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl std::fmt::Debug for FlexitiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlexitiSettings")
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("page_size", &self.page_size)
            .field("concurrency", &self.concurrency)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_ms", &self.backoff_base_ms)
            .field("backoff_cap_ms", &self.backoff_cap_ms)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_limit_budget", &self.rate_limit_budget)
            .field("max_pages_per_date", &self.max_pages_per_date)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(env: &str) -> FlexitiSettings {
        FlexitiSettings::new(env, "acme", SecretString::from("s3cret-value".to_string()))
    }

    #[test]
    fn documented_names_map_to_their_urls() {
        assert_eq!(
            with_env("production").base_url().ok().as_deref(),
            Some(PRODUCTION_URL)
        );
        assert_eq!(
            with_env("merchant-integration").base_url().ok().as_deref(),
            Some(MERCHANT_INTEGRATION_URL)
        );
    }

    #[test]
    fn plain_http_is_allowed_only_on_loopback() {
        assert_eq!(
            with_env("http://127.0.0.1:8080/flexiti/pos-api/")
                .base_url()
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:8080/flexiti/pos-api")
        );
        assert!(with_env("http://localhost:1").base_url().is_ok());
        assert!(with_env("http://[::1]:1").base_url().is_ok());
        let err = with_env("http://flexiti.example.com")
            .base_url()
            .expect_err("refused");
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(with_env("ftp://127.0.0.1").base_url().is_err());
        assert!(with_env("staging").base_url().is_err());
    }

    #[test]
    fn debug_output_hides_the_secret_and_defaults_apply() {
        let s: FlexitiSettings =
            toml::from_str("environment = \"production\"\nclient_id = \"acme\"").expect("parses");
        assert_eq!((s.page_size, s.concurrency, s.max_attempts), (100, 4, 5));
        assert_eq!(s.max_body_bytes, 64 << 20);
        assert_eq!(s.rate_limit_budget, Duration::from_secs(600));
        let s: FlexitiSettings =
            toml::from_str("rate_limit_budget_mins = 3\nmax_body_bytes = 9").expect("parses");
        assert_eq!((s.rate_limit_budget.as_secs(), s.max_body_bytes), (180, 9));
        let err = toml::from_str::<FlexitiSettings>("rate_limit_budget_mins = 100000")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("more than a week"), "{err}");
        let shown = format!("{:?}", with_env("training"));
        assert!(!shown.contains("s3cret-value"));
        assert!(shown.contains("[redacted]"));
    }
}
