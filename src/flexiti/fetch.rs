//! The fetch stage: every UTC date the window touches, both list endpoints, then the
//! authorization lookups, turned into the domain's Flexiti side plus failed calls.
//!
//! Each UTC date is its own paged query (`creation_date_from = creation_date_to`); it ends at a
//! short page or at `total_pages`. An end that may hide records is a failed call, never a silent
//! truncation: the page cap (`max_pages_per_date`) reached, fewer records than the announced
//! `total`, or a server that caps `page_size`. Without totals the last case looks like a short
//! first page, so a short first page is confirmed by asking for page 2, which must be empty. Dates run in parallel and the pages of one date overlap (all
//! announced pages at once, or a few pages read ahead when the server gives no totals), with at
//! most `concurrency` requests in flight over the whole fetch; pages are used in page order, so
//! the outcome is the one of reading them one after the other. Completeness follows the exact reading in `docs/RULES.md`: business
//! day D of the window is incomplete when a page of a UTC date that D's local span touches
//! failed, or when an authorization lookup needed by a record of D failed. Records are kept
//! even when their authorization lookup failed (their store is then the capture's).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use futures::StreamExt;
use futures::stream::{self, FuturesOrdered};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::domain::{BusinessCalendar, DayRange};
use crate::report::FailedCall;

use super::client::{CallErr, CallOk, CallSpec, FlexitiClient};
use super::error::FlexitiError;
use super::map::{Collected, Source};
use super::outcome::{FetchOutcome, FetchStats, RawPage};
use super::settings::FlexitiSettings;
use super::wire::{Page, WireAuthorization, WireCapture};

/// Pages of one date read ahead, at most, when the server announces no totals.
const READ_AHEAD: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    Captures,
    Authorizations,
}

impl ListKind {
    fn name(self) -> &'static str {
        match self {
            ListKind::Captures => "captures",
            ListKind::Authorizations => "authorizations",
        }
    }
}

/// What one date query of one endpoint produced.
#[derive(Default)]
struct DateResult {
    collected: Collected,
    pages: Vec<RawPage>,
    failed: Option<FailedCall>,
}

pub(crate) fn failed_call(
    client: &FlexitiClient,
    spec: &CallSpec,
    err: &CallErr,
    utc_date: Option<NaiveDate>,
) -> FailedCall {
    FailedCall {
        endpoint: spec.endpoint.clone(),
        parameters: spec.parameters(),
        http_status: err.error.http_status(),
        error_code: err.error.error_code().map(str::to_string),
        message: err.error.to_string(),
        attempts: err.attempts,
        duration_ms: u64::try_from(err.duration.as_millis()).unwrap_or(u64::MAX),
        x_reference_id: client.x_reference_id().to_string(),
        utc_date,
    }
}

pub(crate) fn list_spec(
    client: &FlexitiClient,
    kind: ListKind,
    date: NaiveDate,
    page: u32,
    size: u32,
) -> CallSpec {
    let day = date.to_string();
    CallSpec {
        endpoint: format!("GET /v2.5.1/client-id/{{client_id}}/{}", kind.name()),
        path: format!(
            "/v2.5.1/client-id/{}/{}",
            client.client_segment(),
            kind.name()
        ),
        query: vec![
            ("lang".into(), "en".into()),
            ("creation_date_from".into(), day.clone()),
            ("creation_date_to".into(), day),
            ("page_number".into(), page.to_string()),
            ("page_size".into(), size.to_string()),
        ],
    }
}

/// Rows of one list page, whichever endpoint it came from.
enum Rows {
    Captures(Vec<WireCapture>),
    Authorizations(Vec<WireAuthorization>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Captures(rows) => rows.len(),
            Rows::Authorizations(rows) => rows.len(),
        }
    }

    fn add_to(self, collected: &mut Collected, source: &Arc<Source>) {
        match self {
            Rows::Captures(rows) => collected.add_captures(source, rows),
            Rows::Authorizations(rows) => collected.add_authorizations(source, rows),
        }
    }
}

/// One list page as read, with the totals the server announced.
struct PageRead {
    rows: Rows,
    total: Option<u64>,
    total_pages: Option<u64>,
    body: Vec<u8>,
}

/// How the pages of one date query are requested.
#[derive(Clone, Copy)]
struct Paging {
    page_size: u32,
    /// Pages kept in flight past a full page when the server gives no totals.
    read_ahead: u32,
    /// Pages of one date in flight at most (the semaphore bounds the whole fetch anyway).
    per_date: usize,
    /// Pages of one date at most; more means a server that ignores `page_number`, or a limit
    /// to raise.
    max_pages: u32,
}

/// What the pages of one date query read so far say about its end.
#[derive(Default)]
struct Seen {
    rows: u64,
    /// The latest `total` announced.
    total: Option<u64>,
    /// A short first page without totals, waiting for an empty page 2: (rows, page number).
    short: Option<(usize, u32)>,
}

/// What page `number` means for its date query.
enum Verdict {
    /// Not the last: pages up to this one are worth requesting.
    More(u32),
    Last,
    /// The date cannot be complete; `keep` says whether the page's rows are still good.
    Truncated {
        reason: String,
        keep: bool,
    },
}

impl Paging {
    fn new(page_size: u32, concurrency: usize, max_pages: u32) -> Paging {
        let concurrency = concurrency.max(1);
        Paging {
            page_size,
            read_ahead: u32::try_from(concurrency.min(READ_AHEAD)).unwrap_or(1),
            per_date: concurrency,
            max_pages: max_pages.max(1),
        }
    }

    /// Page `number`, taken in page order: the same rule as reading the pages one by one.
    fn verdict(&self, number: u32, page: &PageRead, seen: &mut Seen) -> Verdict {
        let len = page.rows.len();
        if let Some((short, short_page)) = seen.short
            && len > 0
        {
            let reason = format!(
                "page {number} holds {len} records after page {short_page} held only {short} \
                 of page_size {}: the server caps page_size or ignores page_number \
                 (set flexiti.page_size to {short} or less)",
                self.page_size
            );
            return Verdict::Truncated {
                reason,
                keep: false,
            };
        }
        seen.rows += len as u64;
        seen.total = page.total.or(seen.total);
        let short = len < self.page_size as usize;
        // A server that caps page_size below ours still announces total_pages: trust it first.
        let last = match page.total_pages {
            Some(total) => u64::from(number) >= total || len == 0,
            None if len == 0 => true,
            None if short && number == 1 && page.total.is_none() => {
                seen.short = Some((len, number));
                false
            }
            None => short,
        };
        if last {
            return match seen.total {
                Some(total) if seen.rows < total => Verdict::Truncated {
                    reason: format!(
                        "the pages end after {} records of the {total} announced",
                        seen.rows
                    ),
                    keep: true,
                },
                _ => Verdict::Last,
            };
        }
        if number >= self.max_pages {
            return Verdict::Truncated {
                reason: format!(
                    "page {number} is not the last and flexiti.max_pages_per_date is {}",
                    self.max_pages
                ),
                keep: true,
            };
        }
        Verdict::More(self.horizon(number, page, seen.short.is_some()))
    }

    /// The last page worth requesting once page `number` is known not to be the last.
    fn horizon(&self, number: u32, page: &PageRead, confirming: bool) -> u32 {
        let known = match (page.total_pages, page.total) {
            (Some(pages), _) => pages,
            (None, Some(total)) => total.div_ceil(u64::from(self.page_size)),
            (None, None) => 0,
        };
        let known = u32::try_from(known).unwrap_or(u32::MAX);
        let ahead = if page.total_pages.is_some() {
            known
        } else if confirming {
            number.saturating_add(1)
        } else {
            known.max(number.saturating_add(self.read_ahead))
        };
        ahead.min(self.max_pages)
    }
}

/// Reads one page, holding one of the fetch's request permits for the whole call (retries
/// and their waits included), so `concurrency` bounds what is in flight across all dates.
async fn read_list_page(
    client: &FlexitiClient,
    permits: &Semaphore,
    kind: ListKind,
    date: NaiveDate,
    number: u32,
    page_size: u32,
) -> (u32, CallSpec, Result<PageRead, CallErr>) {
    let spec = list_spec(client, kind, date, number, page_size);
    // The semaphore is never closed; without a permit the call would merely not be bounded.
    let _permit = permits.acquire().await.ok();
    let read = match kind {
        ListKind::Captures => read_page::<WireCapture>(client, &spec)
            .await
            .map(|(page, body)| {
                (
                    Rows::Captures(page.items),
                    page.total,
                    page.total_pages,
                    body,
                )
            }),
        ListKind::Authorizations => {
            read_page::<WireAuthorization>(client, &spec)
                .await
                .map(|(page, body)| {
                    let rows = Rows::Authorizations(page.items);
                    (rows, page.total, page.total_pages, body)
                })
        }
    };
    let read = read.map(|(rows, total, total_pages, body)| PageRead {
        rows,
        total,
        total_pages,
        body,
    });
    (number, spec, read)
}

/// Reads the pages of one date query, several at a time, and uses them in page order.
///
/// Page 1 goes alone. After it, the pages a wrapped page announces (`total_pages`, or `total`)
/// are requested together; without totals, up to `read_ahead` pages past the last full page
/// are kept in flight (and only page 2 after a short page 1, to confirm the end). Results are
/// taken strictly in page order with the sequential rule for the end, so records, raw pages and
/// their order are those of reading one page after the other: a page past the end (empty, or
/// failed) is awaited and dropped. The first page that fails in order, or that shows the date
/// truncated, is the date's failed call; no page is requested after it, and the pages already
/// in flight still count (their records are kept, a later failure adds no second failed call:
/// the date is failed already).
async fn fetch_date(
    client: &FlexitiClient,
    permits: &Semaphore,
    kind: ListKind,
    date: NaiveDate,
    paging: Paging,
) -> DateResult {
    let mut result = DateResult::default();
    let mut in_flight = FuturesOrdered::new();
    let mut next = 1u32;
    let mut horizon = 1u32;
    let mut seen = Seen::default();
    loop {
        while next <= horizon && in_flight.len() < paging.per_date {
            in_flight.push_back(read_list_page(
                client,
                permits,
                kind,
                date,
                next,
                paging.page_size,
            ));
            next += 1;
        }
        let Some((number, spec, read)) = in_flight.next().await else {
            break;
        };
        let page = match read {
            Ok(page) => page,
            Err(err) => {
                if result.failed.is_none() {
                    result.failed = Some(failed_call(client, &spec, &err, Some(date)));
                }
                horizon = horizon.min(number);
                continue;
            }
        };
        let verdict = paging.verdict(number, &page, &mut seen);
        let keep = match &verdict {
            Verdict::More(more) => {
                if result.failed.is_none() {
                    horizon = horizon.max(*more);
                }
                true
            }
            Verdict::Last => true,
            Verdict::Truncated { reason, keep } => {
                if result.failed.is_none() {
                    let err = CallErr {
                        error: FlexitiError::Refused {
                            status: None,
                            reason: format!("{date} incomplete: {reason}"),
                        },
                        attempts: 1,
                        duration: std::time::Duration::ZERO,
                    };
                    result.failed = Some(failed_call(client, &spec, &err, Some(date)));
                }
                *keep
            }
        };
        if keep {
            result.pages.push(RawPage {
                endpoint: kind.name().into(),
                params: spec.parameters(),
                utc_date: Some(date),
                body: page.body,
            });
            let source = Source::call(&spec.endpoint, spec.parameters(), Some(date));
            page.rows.add_to(&mut result.collected, &source);
        }
        if !matches!(verdict, Verdict::More(_)) {
            break;
        }
    }
    // Pages requested past the end: awaited so every request sent is answered, then dropped.
    while in_flight.next().await.is_some() {}
    result
}

async fn read_page<T: DeserializeOwned>(
    client: &FlexitiClient,
    spec: &CallSpec,
) -> Result<(Page<T>, Vec<u8>), CallErr> {
    let ok = client.get::<Page<T>>(spec).await?;
    Ok((ok.value, ok.body))
}

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
    for r in &outcome.side.records {
        let day = calendar.day_of(r.at);
        if failed_lookups.contains(&r.authorization_id) && window.contains(day) {
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
