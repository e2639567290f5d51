//! The `check` command's probe of Flexiti: a token, then one page of `/authorizations` for
//! yesterday (UTC), reporting which step worked.

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};

use super::client::FlexitiClient;
use super::paging::{ListKind, list_spec};
use super::settings::FlexitiSettings;
use super::wire::{Page, WireAuthorization};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub base_url: String,
    pub probe_date: NaiveDate,
    /// Remaining life of the token obtained, or why none was.
    pub token: Result<Duration, String>,
    /// Authorizations on the first page for `probe_date`, or why the page failed.
    pub page: Result<usize, String>,
    pub elapsed: Duration,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.token.is_ok() && self.page.is_ok()
    }
}

/// Probes Flexiti with the given settings. Fails only on a configuration error; network and
/// API failures are reported in the [`CheckReport`].
pub async fn check(
    settings: &FlexitiSettings,
    x_reference_id: &str,
) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let client = FlexitiClient::new(settings, x_reference_id)?;
    let probe_date = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(1))
        .unwrap_or(NaiveDate::MIN);
    let mut report = CheckReport {
        base_url: client.base_url().to_string(),
        probe_date,
        token: Err("not tried".into()),
        page: Err("not tried: no token".into()),
        elapsed: Duration::ZERO,
    };
    tracing::info!(x_reference_id, base_url = %report.base_url, "checking flexiti");
    report.token = client.ensure_token().await.map_err(|e| e.error.to_string());
    if report.token.is_ok() {
        let spec = list_spec(
            &client,
            ListKind::Authorizations,
            probe_date,
            1,
            settings.page_size.max(1),
        );
        report.page = client
            .get::<Page<WireAuthorization>>(&spec)
            .await
            .map(|ok| ok.value.items.len())
            .map_err(|e| format!("{} {}: {}", spec.endpoint, spec.parameters(), e.error));
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
