//! The fetch stage: every UTC date the window touches, both list endpoints, then the
//! authorization lookups, turned into the domain's Flexiti side plus failed calls.
//!
//! Each UTC date is its own paged query (`creation_date_from = creation_date_to`); it ends at a
//! short page or at `total_pages`. An end that may hide records is a failed call, never a silent
//! truncation: the page cap (`max_pages_per_date`) reached, fewer records than the announced
//! `total`, or a server that caps `page_size`. Without totals the last case looks like a short
//! first page, so a short first page is confirmed by asking for page 2, which must be empty
//! (the paging of one date query is in `paging.rs`). Dates run in parallel and the pages of one
//! date overlap (all announced pages at once, or a few pages read ahead when the server gives no
//! totals), with at most `concurrency` requests in flight over the whole fetch; pages are used
//! in page order, so the outcome is the one of reading them one after the other. Completeness
//! follows the exact reading in `docs/RULES.md`: business day D of the window is incomplete when a page of a UTC date that D's local span touches
//! failed, or when an authorization lookup needed by a record of D failed. Records are kept
//! even when their authorization lookup failed (their store is then the capture's).

use std::collections::HashSet;
use std::time::Instant;

use chrono::NaiveDate;
use futures::StreamExt;
use futures::stream;
use tokio::sync::Semaphore;

use crate::domain::{BusinessCalendar, DayRange, FailedCall};

use super::client::{CallErr, CallOk, CallSpec, FlexitiClient};
use super::error::FlexitiError;
use super::map::Collected;
use super::outcome::{FetchOutcome, FetchStats, RawPage};
use super::paging::{ListKind, Paging, failed_call, fetch_date};
use super::settings::FlexitiSettings;
use super::wire::WireAuthorization;

/// How far a fetch has got, reported after each date query (one endpoint, one UTC date, all
/// its pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchProgress {
    pub queries_done: usize,
    pub queries: usize,
    /// Pages read so far, and pages or queries that failed.
    pub pages: usize,
    pub failed: usize,
}

/// Fetches the Flexiti side of `window` (already widened by the match window).
pub async fn fetch(
    settings: &FlexitiSettings,
    calendar: BusinessCalendar,
    window: DayRange,
    x_reference_id: &str,
) -> FetchOutcome {
    fetch_with_progress(settings, calendar, window, x_reference_id, &|_| {}).await
}

/// [`fetch`], telling `progress` after each date query.
pub async fn fetch_with_progress(
    settings: &FlexitiSettings,
    calendar: BusinessCalendar,
    window: DayRange,
    x_reference_id: &str,
    progress: &(dyn Fn(FetchProgress) + Sync),
) -> FetchOutcome {
    let started = Instant::now();
    let dates = calendar.utc_dates_touched(window);
    let mut outcome = FetchOutcome::default();
    let client = match FlexitiClient::new(settings, x_reference_id) {
        Ok(client) => client,
        Err(error) => {
            outcome.failed_calls.push(FailedCall {
                endpoint: "configuration".into(),
                parameters: String::new(),
                http_status: None,
                error_code: None,
                message: error.to_string(),
                attempts: 0,
                duration_ms: 0,
                x_reference_id: x_reference_id.to_string(),
                utc_date: None,
            });
            return everything_failed(outcome, &dates, window, started);
        }
    };
    tracing::info!(
        x_reference_id,
        base_url = client.base_url(),
        "fetching {} UTC dates from flexiti ({window})",
        dates.len()
    );

    if let Err(err) = client.ensure_token().await {
        let spec = CallSpec {
            endpoint: "POST /v2.5/oauth/token".into(),
            path: String::new(),
            query: vec![("grant_type".into(), "client_credentials".into())],
        };
        outcome
            .failed_calls
            .push(failed_call(&client, &spec, &err, None));
        tracing::warn!(error = %err.error, "no flexiti token: nothing fetched");
        return finish(outcome, &client, window, started, true, &dates);
    }

    let concurrency = settings.concurrency.max(1);
    let paging = Paging::new(
        settings.page_size.max(1),
        concurrency,
        settings.max_pages_per_date,
    );
    let permits = Semaphore::new(concurrency);
    let tasks: Vec<(ListKind, NaiveDate)> = dates
        .iter()
        .flat_map(|d| [(ListKind::Captures, *d), (ListKind::Authorizations, *d)])
        .collect();
    let total_tasks = tasks.len();
    let mut collected = Collected::default();
    let mut done = 0usize;
    let mut results = stream::iter(tasks)
        .map(|(kind, date)| {
            let (client, permits) = (&client, &permits);
            async move { (date, fetch_date(client, permits, kind, date, paging).await) }
        })
        .buffer_unordered(concurrency);
    while let Some((date, result)) = results.next().await {
        done += 1;
        collected.merge(result.collected);
        outcome.pages.extend(result.pages);
        if let Some(failed) = result.failed {
            tracing::warn!(%date, endpoint = %failed.endpoint, message = %failed.message, "flexiti page failed");
            outcome.failed_utc_dates.insert(date);
            outcome.failed_calls.push(failed);
        }
        tracing::debug!("fetched {done} of {total_tasks} date queries");
        progress(FetchProgress {
            queries_done: done,
            queries: total_tasks,
            pages: outcome.pages.len(),
            failed: outcome.failed_calls.len(),
        });
    }
    drop(results);
    let failed_pages = outcome.failed_calls.len();
    tracing::info!(
        "fetched {} of {} pages",
        outcome.pages.len(),
        outcome.pages.len() + failed_pages
    );

    let failed_lookups = look_up_missing(
        &client,
        &mut collected,
        settings.concurrency.max(1),
        &mut outcome,
    )
    .await;
    outcome.side = collected.into_side();
    // Only the records of a failed look-up need their day.
    for r in &outcome.side.records {
        if !failed_lookups.contains(&r.authorization_id) {
            continue;
        }
        let day = calendar.day_of(r.at);
        if window.contains(day) {
            outcome.side.incomplete_days.insert(day);
        }
    }
    finish(outcome, &client, window, started, false, &dates).with_calendar(calendar, window)
}

async fn look_up_missing(
    client: &FlexitiClient,
    collected: &mut Collected,
    concurrency: usize,
    outcome: &mut FetchOutcome,
) -> HashSet<u64> {
    let missing = collected.missing_authorizations();
    let mut failed = HashSet::new();
    if missing.is_empty() {
        return failed;
    }
    tracing::info!(
        "looking up {} authorizations not listed in the window",
        missing.len()
    );
    let mut lookups = stream::iter(missing)
        .map(|id| async move {
            let spec = CallSpec {
                endpoint: "GET /v2.5.1/client-id/{client_id}/authorization/{authorization_id}"
                    .into(),
                path: format!(
                    "/v2.5.1/client-id/{}/authorization/{id}",
                    client.client_segment()
                ),
                query: vec![("lang".into(), "en".into())],
            };
            let started = Instant::now();
            let result = client.get::<WireAuthorization>(&spec).await;
            (id, spec, result.and_then(|ok| answers_for(id, ok, started)))
        })
        .buffer_unordered(concurrency);
    while let Some((id, spec, result)) = lookups.next().await {
        match result {
            Ok(ok) => {
                outcome.pages.push(RawPage {
                    endpoint: "authorization".into(),
                    params: format!("authorization_id={id}"),
                    utc_date: None,
                    body: ok.body,
                });
                collected.add_looked_up(ok.value);
            }
            Err(err) => {
                let mut call = failed_call(client, &spec, &err, None);
                call.parameters = format!("authorization_id={id}");
                tracing::warn!(authorization_id = id, message = %call.message, "flexiti lookup failed");
                outcome.failed_calls.push(call);
                failed.insert(id);
            }
        }
    }
    failed
}

/// A lookup must answer for the authorization it asked about.
fn answers_for(
    id: u64,
    ok: CallOk<WireAuthorization>,
    started: Instant,
) -> Result<CallOk<WireAuthorization>, CallErr> {
    if ok.value.authorization_id == id {
        return Ok(ok);
    }
    Err(CallErr {
        error: FlexitiError::Refused {
            status: Some(200),
            reason: format!(
                "the lookup of authorization {id} answered authorization {}",
                ok.value.authorization_id
            ),
        },
        attempts: ok.attempts,
        duration: started.elapsed(),
    })
}

fn everything_failed(
    mut outcome: FetchOutcome,
    dates: &[NaiveDate],
    window: DayRange,
    started: Instant,
) -> FetchOutcome {
    outcome.failed_utc_dates.extend(dates.iter().copied());
    outcome.side.incomplete_days.extend(window.days());
    outcome.stats.elapsed = started.elapsed();
    outcome
}

fn finish(
    mut outcome: FetchOutcome,
    client: &FlexitiClient,
    window: DayRange,
    started: Instant,
    nothing_fetched: bool,
    dates: &[NaiveDate],
) -> FetchOutcome {
    let (calls, retries) = client.counters();
    if nothing_fetched {
        outcome = everything_failed(outcome, dates, window, started);
    }
    outcome.stats = FetchStats {
        calls,
        retries,
        records: outcome.side.records.len() as u64,
        pages: outcome.pages.len() as u64,
        elapsed: started.elapsed(),
    };
    outcome
}
