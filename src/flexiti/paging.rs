//! The paging of one date query (one endpoint, one UTC date): which pages to request, several
//! at a time, and when the pages read say the date is complete, or truncated (a failed call).

use std::sync::Arc;

use chrono::NaiveDate;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::client::{CallErr, CallSpec, FlexitiClient};
use super::error::FlexitiError;
use super::map::{Collected, Source};
use super::outcome::RawPage;
use super::wire::{Page, WireAuthorization, WireCapture};
use crate::domain::FailedCall;

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

/// What one date query of one endpoint produced.
#[derive(Default)]
pub(super) struct DateResult {
    pub(super) collected: Collected,
    pub(super) pages: Vec<RawPage>,
    pub(super) failed: Option<FailedCall>,
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
pub(super) struct Paging {
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
    pub(super) fn new(page_size: u32, concurrency: usize, max_pages: u32) -> Paging {
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
pub(super) async fn fetch_date(
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
