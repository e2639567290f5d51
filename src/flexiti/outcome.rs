//! What a fetch hands back: the Flexiti side, the failed calls, the raw pages for the audit
//! bundle, and the completeness of each business day.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;

use crate::domain::{BusinessCalendar, DayRange, FailedCall, FlexitiSide};

/// One raw response body, kept for the run's audit bundle.
#[derive(Debug, Clone)]
pub struct RawPage {
    /// `captures`, `authorizations` or `authorization` (a lookup).
    pub endpoint: String,
    pub params: String,
    pub utc_date: Option<NaiveDate>,
    pub body: Vec<u8>,
}

impl RawPage {
    /// A file name that [`super::load_dir`] reads back (`captures-…json`, `authorizations-…json`).
    pub fn replay_file_name(&self, index: usize) -> String {
        let date = self
            .utc_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "lookup".into());
        let family = if self.endpoint == "captures" {
            "captures"
        } else {
            "authorizations"
        };
        format!("{family}-{date}-{index:06}.json")
    }

    /// The body as a list page: a lookup's single object is wrapped in an array.
    pub fn replay_body(&self) -> Vec<u8> {
        if self.endpoint == "authorization" {
            let mut out = Vec::with_capacity(self.body.len() + 2);
            out.push(b'[');
            out.extend_from_slice(&self.body);
            out.push(b']');
            out
        } else {
            self.body.clone()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// HTTP requests sent, token requests and retries included.
    pub calls: u64,
    pub retries: u64,
    pub records: u64,
    pub pages: u64,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct FetchOutcome {
    pub side: FlexitiSide,
    pub failed_calls: Vec<FailedCall>,
    pub pages: Vec<RawPage>,
    pub failed_utc_dates: BTreeSet<NaiveDate>,
    pub stats: FetchStats,
}

impl FetchOutcome {
    /// Marks the business days of `window` whose local span touches a failed UTC date.
    pub(crate) fn with_calendar(
        mut self,
        calendar: BusinessCalendar,
        window: DayRange,
    ) -> FetchOutcome {
        for day in window.days() {
            let touched = calendar.utc_dates_touched(DayRange::single(day));
            if touched.iter().any(|d| self.failed_utc_dates.contains(d)) {
                self.side.incomplete_days.insert(day);
            }
        }
        if !self.side.incomplete_days.is_empty() {
            tracing::warn!(days = ?self.side.incomplete_days, "flexiti side incomplete");
        }
        tracing::info!(
            records = self.stats.records,
            authorizations = self.side.authorizations.len(),
            failed_calls = self.failed_calls.len(),
            calls = self.stats.calls,
            retries = self.stats.retries,
            "fetched flexiti side in {:.1?}",
            self.stats.elapsed
        );
        self
    }
}
