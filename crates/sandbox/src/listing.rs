//! The list endpoints' query parameters, their validation (409 `wrong_inputs` with
//! `field_errors`) and the pages, bare or wrapped.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::data::{Dataset, Item};

/// The largest page the sandbox serves; a larger `page_size` is a validation error.
pub const MAX_PAGE_SIZE: usize = 1000;
const DEFAULT_PAGE_SIZE: usize = 50;

#[derive(Debug, Clone, Copy)]
pub(crate) enum ListKind {
    Authorizations,
    Captures,
}

impl ListKind {
    pub fn endpoint(self) -> &'static str {
        match self {
            ListKind::Authorizations => "authorizations",
            ListKind::Captures => "captures",
        }
    }
}

/// A list call's name in [`SandboxStats::calls`](crate::SandboxStats::calls): the endpoint, the
/// `creation_date_from` and the page number as sent (page 1 when absent).
pub(crate) fn call_name(kind: ListKind, uri: &Uri) -> String {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let param = |name: &str, absent: &'static str| {
        params
            .get(name)
            .map_or(absent.to_string(), ToString::to_string)
    };
    format!(
        "{}:{}:{}",
        kind.endpoint(),
        param("creation_date_from", ""),
        param("page_number", "1")
    )
}

#[derive(Debug)]
pub(crate) struct ListQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub page_number: usize,
    pub page_size: usize,
    pub status: Option<String>,
    pub transaction_type: Option<String>,
    pub account_number: Option<String>,
}

impl ListQuery {
    pub fn parse(uri: &Uri) -> Result<ListQuery, Vec<Value>> {
        let params: HashMap<String, String> =
            serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
        let mut errors = Vec::new();
        let mut date = |name: &str| match params.get(name) {
            None => {
                errors.push(field_error(name, "required", "", "missing"));
                None
            }
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) if text.len() == 10 => Some(d),
                _ => {
                    errors.push(field_error(name, "invalid", text, "format"));
                    None
                }
            },
        };
        let from = date("creation_date_from");
        let to = date("creation_date_to");
        let page_number = number(&params, "page_number", 1, usize::MAX, 1, &mut errors);
        let page_size = number(
            &params,
            "page_size",
            1,
            MAX_PAGE_SIZE,
            DEFAULT_PAGE_SIZE,
            &mut errors,
        );
        if let Some(lang) = params
            .get("lang")
            .filter(|l| !matches!(l.as_str(), "en" | "fr"))
        {
            errors.push(field_error("lang", "invalid", lang, "enum"));
        }
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(field_error(
                "creation_date_to",
                "before creation_date_from",
                &t.to_string(),
                "range",
            ));
        }
        match (from, to, page_number, page_size) {
            (Some(from), Some(to), Some(page_number), Some(page_size)) if errors.is_empty() => {
                Ok(ListQuery {
                    from,
                    to,
                    page_number,
                    page_size,
                    status: params.get("authorization_status").cloned(),
                    transaction_type: params.get("transaction_type").cloned(),
                    account_number: params.get("account_number").cloned(),
                })
            }
            _ => Err(errors),
        }
    }

    fn admits(&self, item: &Item) -> bool {
        let matches = |wanted: &Option<String>, got: &Option<String>| {
            wanted.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        item.listed_within(self.from, self.to)
            && matches(&self.status, &item.status)
            && matches(&self.transaction_type, &item.transaction_type)
            && matches(&self.account_number, &item.account_number)
    }
}

fn number(
    params: &HashMap<String, String>,
    name: &str,
    min: usize,
    max: usize,
    default: usize,
    errors: &mut Vec<Value>,
) -> Option<usize> {
    let Some(text) = params.get(name) else {
        return Some(default);
    };
    match text.parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        Ok(_) => {
            errors.push(field_error(name, "out of range", text, "range"));
            None
        }
        Err(_) => {
            errors.push(field_error(name, "invalid", text, "format"));
            None
        }
    }
}

pub(crate) fn field_error(param: &str, msg: &str, value: &str, kind: &str) -> Value {
    json!({"param": param, "msg": msg, "value": value, "type": kind})
}

pub(crate) fn wrong_inputs(path: &str, field_errors: Vec<Value>) -> Response {
    let body = json!({
        "url": path,
        "message": "Some inputs are wrong or missing!",
        "error": "wrong_inputs",
        "field_errors": field_errors,
    });
    (
        StatusCode::CONFLICT,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// One page of the matching elements in id order, as the JSON text to send.
pub(crate) fn page(data: &Dataset, kind: ListKind, query: &ListQuery, wrapped: bool) -> Vec<u8> {
    let (items, by_date) = match kind {
        ListKind::Authorizations => (&data.authorizations, &data.authorizations_by_date),
        ListKind::Captures => (&data.captures, &data.captures_by_date),
    };
    // Positions listed on some date of the range, ascending and each once, as a scan of the
    // whole collection in id order would meet them.
    let mut dated = by_date.range(query.from..=query.to).map(|(_, p)| p);
    let mut positions: Cow<'_, [usize]> = match (dated.next(), dated.next()) {
        (None, _) => Cow::Borrowed(&[]),
        (Some(only), None) => Cow::Borrowed(only),
        (Some(first), Some(second)) => {
            let mut all: Vec<usize> = first.iter().chain(second).copied().collect();
            all.extend(dated.flatten());
            all.sort_unstable();
            all.dedup();
            Cow::Owned(all)
        }
    };
    if query.status.is_some() || query.transaction_type.is_some() || query.account_number.is_some()
    {
        positions = Cow::Owned(
            positions
                .iter()
                .copied()
                .filter(|p| items.get(*p).is_some_and(|i| query.admits(i)))
                .collect(),
        );
    }
    let total = positions.len();
    let skip = query
        .page_number
        .saturating_sub(1)
        .saturating_mul(query.page_size);
    let mut body = String::from("[");
    for item in positions
        .iter()
        .skip(skip)
        .take(query.page_size)
        .filter_map(|p| items.get(*p))
    {
        if body.len() > 1 {
            body.push(',');
        }
        body.push_str(&item.json);
    }
    body.push(']');
    if wrapped {
        let pages = total.div_ceil(query.page_size);
        body = format!(
            "{{\"{}\":{body},\"total\":{total},\"total_pages\":{pages}}}",
            kind.endpoint()
        );
    }
    body.into_bytes()
}
