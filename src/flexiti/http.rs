//! What the client refuses from a server, whatever the server says: requests in plain http
//! outside loopback, redirects that would carry a request elsewhere, bodies over the size cap.
//!
//! Redirects: the token call is never redirected (its form carries the client secret); any
//! other call follows a few redirects within the API's own origin only. A refused redirect is a
//! failed call naming where it pointed. Bodies are read chunk by chunk and a body over
//! `max_body_bytes` fails its call at once, so an endless body costs at most the cap.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::redirect::{Action, Attempt, Policy};

use super::error::FlexitiError;
use super::settings::is_loopback;

/// The token endpoint's path after the base URL.
pub const TOKEN_PATH: &str = "/v2.5/oauth/token";
const MAX_REDIRECTS: usize = 5;

/// Why a request to `url` may not be sent: anything but https, except http to loopback.
pub fn refuse_url(url: &Url) -> Option<String> {
    match url.scheme() {
        "https" => None,
        "http" if is_loopback(url) => None,
        "http" => Some("plain http outside loopback (https only)".into()),
        scheme => Some(format!("unsupported scheme {scheme}")),
    }
}

/// Why the redirect that ends the chain `previous` (the first URL is the call's own) towards
/// `next` is not followed.
pub fn refuse_redirect(previous: &[Url], next: &Url) -> Option<String> {
    let Some(first) = previous.first() else {
        return Some("a redirect with no origin".into());
    };
    if first.path().ends_with(TOKEN_PATH) {
        return Some("the token call is never redirected".into());
    }
    if let Some(why) = refuse_url(next) {
        return Some(why);
    }
    if next.origin() != first.origin() {
        return Some("another origin than the API's".into());
    }
    if previous.len() > MAX_REDIRECTS {
        return Some(format!("more than {MAX_REDIRECTS} redirects"));
    }
    None
}

/// Stops every redirect [`refuse_redirect`] refuses; the 3xx then reaches [`refused_redirect`].
pub fn redirect_policy() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| -> Action {
        if refuse_redirect(attempt.previous(), attempt.url()).is_some() {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The failed call for a 3xx that reached the client from `from`.
pub fn refused_redirect(status: u16, from: &Url, location: Option<&str>) -> FlexitiError {
    let reason = match location.and_then(|l| from.join(l).ok()) {
        None => "redirect without a usable Location refused".to_string(),
        Some(to) => {
            let why = refuse_redirect(std::slice::from_ref(from), &to)
                .unwrap_or_else(|| format!("more than {MAX_REDIRECTS} redirects"));
            format!("redirect to {} refused: {why}", shown(&to))
        }
    };
    FlexitiError::Refused {
        status: Some(status),
        reason,
    }
}

/// Scheme, host, port and path (never the query), at most 120 characters.
fn shown(url: &Url) -> String {
    let text = format!("{}{}", url.origin().ascii_serialization(), url.path());
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Reads the body chunk by chunk; more than `cap` bytes fails the call.
pub async fn read_capped(
    response: &mut reqwest::Response,
    status: u16,
    cap: u64,
) -> Result<Vec<u8>, FlexitiError> {
    let too_big = || FlexitiError::Refused {
        status: Some(status),
        reason: format!("body over {cap} bytes (flexiti.max_body_bytes)"),
    };
    let announced = response.content_length();
    if announced.is_some_and(|len| len > cap) {
        return Err(too_big());
    }
    let reserve = announced.unwrap_or(0).min(cap).min(1 << 20);
    let mut body = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        let len = u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if len > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A `Retry-After` value: seconds, or an HTTP date (a date already past is no wait).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// A network-level failure, with its causes (timeouts say so plainly).
pub fn transport(e: &reqwest::Error) -> FlexitiError {
    use std::error::Error as _;
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    FlexitiError::Transport(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn only_same_origin_redirects_of_data_calls_are_followed() {
        let list = url("https://posapi.flexiti.fi/flexiti/pos-api/v2.5.1/client-id/acme/captures");
        let token = url("https://posapi.flexiti.fi/flexiti/pos-api/v2.5/oauth/token");
        let same = url("https://posapi.flexiti.fi/flexiti/pos-api/v2.5.1/other");
        assert_eq!(refuse_redirect(std::slice::from_ref(&list), &same), None);
        let why =
            |chain: &[Url], next: &str| refuse_redirect(chain, &url(next)).unwrap_or_default();
        assert!(why(std::slice::from_ref(&token), same.as_str()).contains("token call"));
        assert!(
            why(std::slice::from_ref(&list), "https://evil.example/x").contains("another origin")
        );
        assert!(
            why(
                std::slice::from_ref(&list),
                "https://posapi.flexiti.fi:444/x"
            )
            .contains("origin")
        );
        assert!(
            why(std::slice::from_ref(&list), "http://posapi.flexiti.fi/x").contains("plain http")
        );
        assert!(why(std::slice::from_ref(&list), "ftp://posapi.flexiti.fi/x").contains("scheme"));
        let local = url("http://127.0.0.1:8080/flexiti/pos-api/v2.5.1/x");
        assert_eq!(
            refuse_redirect(
                std::slice::from_ref(&local),
                &url("http://127.0.0.1:8080/y")
            ),
            None
        );
        assert!(why(std::slice::from_ref(&local), "http://127.0.0.1:8081/y").contains("origin"));
        let long_chain = vec![list.clone(); MAX_REDIRECTS + 1];
        assert!(why(&long_chain, same.as_str()).contains("more than"));
        assert!(refuse_url(&url("http://[::1]:9/x")).is_none());
        assert!(refuse_url(&url("http://10.0.0.1/x")).is_some());
    }

    #[test]
    fn a_refused_redirect_names_its_target_without_the_query() {
        let from = url("https://posapi.flexiti.fi/flexiti/pos-api/v2.5/oauth/token");
        let e = refused_redirect(307, &from, Some("https://evil.example/steal?secret=x"));
        assert_eq!(
            e.to_string(),
            "HTTP 307 redirect to https://evil.example/steal refused: the token call is never redirected"
        );
        assert!(!e.is_retryable());
        assert_eq!(e.http_status(), Some(307));
        let e = refused_redirect(302, &from, None);
        assert!(e.to_string().contains("without a usable Location"), "{e}");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 08:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
    }
}
