//! The data set the sandbox serves: every `authorizations*.json` and `captures*.json` under
//! `<data_dir>/flexiti/`, in the contract's shape (bare arrays or wrapped pages).
//!
//! Elements are kept as the JSON text they were read from (compacted), so amounts sent as strings
//! stay strings and numbers stay numbers: the client under test must meet both. Only what the
//! server filters on is parsed: ids, UTC dates and the optional authorization filters.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate};
use serde_json::Value;

/// One element of a list endpoint, ready to be served.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub id: u64,
    /// UTC dates on which a list query finds this element (a capture: its own date and each of
    /// its returns' dates).
    pub dates: Vec<NaiveDate>,
    pub status: Option<String>,
    pub transaction_type: Option<String>,
    pub account_number: Option<String>,
    pub json: String,
}

impl Item {
    pub fn listed_within(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.dates.iter().any(|d| from <= *d && *d <= to)
    }
}

/// Both collections, sorted by id (the stable order the list endpoints page through).
#[derive(Debug, Default)]
pub(crate) struct Dataset {
    pub authorizations: Vec<Item>,
    pub captures: Vec<Item>,
    /// UTC date → positions in `authorizations`, ascending (so in id order).
    pub authorizations_by_date: BTreeMap<NaiveDate, Vec<usize>>,
    /// UTC date → positions in `captures`, ascending; a capture is under each of its dates.
    pub captures_by_date: BTreeMap<NaiveDate, Vec<usize>>,
    by_authorization_id: HashMap<u64, usize>,
}

/// Positions of `items` by each of their dates, so a page costs its own size, not a scan.
fn index_by_date(items: &[Item]) -> BTreeMap<NaiveDate, Vec<usize>> {
    let mut index: BTreeMap<NaiveDate, Vec<usize>> = BTreeMap::new();
    for (position, item) in items.iter().enumerate() {
        for date in &item.dates {
            let positions = index.entry(*date).or_default();
            // A capture with two returns on one date is listed once.
            if positions.last() != Some(&position) {
                positions.push(position);
            }
        }
    }
    index
}

impl Dataset {
    pub fn load(data_dir: &Path) -> anyhow::Result<Dataset> {
        let dir = data_dir.join("flexiti");
        let mut dataset = Dataset::default();
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("{}: cannot list the flexiti data folder", dir.display()))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
            files.push(entry.path());
        }
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !name.ends_with(".json") {
                continue;
            }
            if name.starts_with("authorizations") {
                for (index, value) in read_elements(&path, "authorizations")?
                    .into_iter()
                    .enumerate()
                {
                    let item = authorization_item(&value)
                        .with_context(|| format!("{}: element {index}", path.display()))?;
                    dataset.authorizations.push(item);
                }
            } else if name.starts_with("captures") {
                for (index, value) in read_elements(&path, "captures")?.into_iter().enumerate() {
                    let item = capture_item(&value)
                        .with_context(|| format!("{}: element {index}", path.display()))?;
                    dataset.captures.push(item);
                }
            }
        }
        dataset.authorizations.sort_by_key(|i| i.id);
        dataset.captures.sort_by_key(|i| i.id);
        dataset.authorizations_by_date = index_by_date(&dataset.authorizations);
        dataset.captures_by_date = index_by_date(&dataset.captures);
        dataset.by_authorization_id = dataset
            .authorizations
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id, i))
            .collect();
        Ok(dataset)
    }

    pub fn authorization(&self, id: u64) -> Option<&Item> {
        self.by_authorization_id
            .get(&id)
            .and_then(|i| self.authorizations.get(*i))
    }
}

fn read_elements(path: &Path, key: &str) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => {
            for k in [key, "data", "items"] {
                if let Some(Value::Array(items)) = map.remove(k) {
                    return Ok(items);
                }
            }
            bail!(
                "{}: an object page without a '{key}', 'data' or 'items' array",
                path.display()
            )
        }
        _ => bail!("{}: neither a JSON array nor a page object", path.display()),
    }
}

fn authorization_item(value: &Value) -> anyhow::Result<Item> {
    let id = id_field(value, "authorization_id")?;
    let created = utc_date(value, "creation_date")?;
    Ok(Item {
        id,
        dates: vec![created],
        status: text_field(value, "authorization_status"),
        transaction_type: text_field(value, "transaction_type"),
        account_number: text_field(value, "account_number"),
        json: value.to_string(),
    })
}

fn capture_item(value: &Value) -> anyhow::Result<Item> {
    let id = id_field(value, "capture_id")?;
    let mut dates = vec![utc_date(value, "date")?];
    if let Some(returns) = value.get("returns").and_then(Value::as_array) {
        for (index, ret) in returns.iter().enumerate() {
            dates.push(utc_date(ret, "date").with_context(|| format!("return {index}"))?);
        }
    }
    Ok(Item {
        id,
        dates,
        status: None,
        transaction_type: None,
        account_number: None,
        json: value.to_string(),
    })
}

/// Ids arrive as numbers or as strings of digits.
fn id_field(value: &Value, field: &str) -> anyhow::Result<u64> {
    match value.get(field) {
        Some(Value::Number(n)) => n
            .as_u64()
            .with_context(|| format!("{field}: {n} is not an id")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .with_context(|| format!("{field}: '{s}' is not an id")),
        _ => bail!("{field}: missing"),
    }
}

fn utc_date(value: &Value, field: &str) -> anyhow::Result<NaiveDate> {
    let text = value
        .get(field)
        .and_then(Value::as_str)
        .with_context(|| format!("{field}: missing"))?;
    let at = DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{field}: '{text}' is not an ISO-8601 timestamp"))?;
    Ok(at.naive_utc().date())
}

fn text_field(value: &Value, field: &str) -> Option<String> {
    match value.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
