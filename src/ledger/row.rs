//! Validation of one ledger row: every reason a row is rejected lives here.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use super::mapping::{AmountSign, ColumnNames, LedgerSettings};
use crate::domain::{Amount, BusinessCalendar, Kind, Labels, LedgerRow, Text, plain_date_time};

/// Why a row was rejected.
pub(crate) struct RowError(pub(crate) String);

fn reject<T>(reason: impl Into<String>) -> Result<T, RowError> {
    Err(RowError(reason.into()))
}

/// The reason of a row whose number of cells differs from the header's, whatever its tender.
pub(crate) fn shape(cells: usize, header: usize) -> String {
    let plural = if cells == 1 { "" } else { "s" };
    format!("{cells} cell{plural}, the header has {header}")
}

/// Where each mapped column sits in a file's header.
pub(crate) struct Positions {
    sold_at: usize,
    store: Option<usize>,
    register: Option<usize>,
    order_id: usize,
    txn_type: usize,
    tender: Option<usize>,
    amount: usize,
    currency: Option<usize>,
}

impl Positions {
    /// Finds the mapped columns; `Err` names the first missing one.
    pub(crate) fn find(header: &csv::ByteRecord, names: &ColumnNames) -> Result<Positions, String> {
        let find = |name: &str| -> Result<Option<usize>, String> {
            if name.is_empty() {
                return Ok(None);
            }
            header
                .iter()
                .position(|h| {
                    String::from_utf8_lossy(h)
                        .trim_start_matches('\u{feff}')
                        .trim()
                        == name
                })
                .map(Some)
                .ok_or_else(|| name.to_string())
        };
        let required = |name: &str| find(name)?.ok_or_else(|| name.to_string());
        Ok(Positions {
            sold_at: required(&names.sold_at)?,
            store: find(&names.store_id)?,
            register: find(&names.register_id)?,
            order_id: required(&names.order_id)?,
            txn_type: required(&names.txn_type)?,
            tender: find(&names.tender)?,
            amount: required(&names.amount)?,
            currency: find(&names.currency)?,
        })
    }
}

pub(crate) struct Validator<'a> {
    settings: &'a LedgerSettings,
    store_map: &'a HashMap<&'a str, &'a str>,
    tenders: Vec<String>,
    max_amount: Amount,
    /// `sold_at_format` is the default `%Y-%m-%d %H:%M:%S`, which [`plain_local_time`] reads.
    plain_local_format: bool,
    /// The stores and registers met last (`Labels`): two per row, few distinct ones. A
    /// validator serves one file on one thread.
    labels: RefCell<Labels>,
    calendar: BusinessCalendar,
    /// The formats of the general path, each parsed once.
    formats: TimeFormats,
    /// The last `sold_at` read and its instant: rows in time order repeat their second (a
    /// day of a million rows, a dozen a second), and the same text reads as the same instant,
    /// without its formats or the calendar's search of the zone's transitions.
    last_time: RefCell<(String, Option<DateTime<Utc>>)>,
}

/// A `strftime` format parsed into its items once: `parse_from_str` parses the format again
/// for every value, and a layout other than the default (a day-first date, say) tries four
/// formats a row (at 5M rows in such a layout, an eighth of the run's CPU went to reading
/// formats).
type Items = Vec<Item<'static>>;

/// The formats the general path tries, in its order.
struct TimeFormats {
    /// An instant with an offset, in the forms a ledger may write one.
    with_offset: [Items; 3],
    /// The configured local format; `None` when it is not a valid format (nothing reads
    /// with it, as with `parse_from_str`).
    local: Option<Items>,
    /// Local times in the ISO-like forms, taken whatever the configured format; the first is
    /// also the naive part of a time that ends in `Z` or ` UTC`.
    iso_local: [Items; 2],
}

impl TimeFormats {
    fn new(local: &str) -> Self {
        let items = |fmt: &str| StrftimeItems::new(fmt).parse_to_owned().ok();
        // The fixed formats are valid (a test reads with each); empty items read nothing.
        let fixed = |fmt: &str| items(fmt).unwrap_or_default();
        TimeFormats {
            with_offset: [
                fixed("%Y-%m-%d %H:%M:%S%.f%:z"),
                fixed("%Y-%m-%d %H:%M:%S%.f%#z"),
                fixed("%Y-%m-%dT%H:%M:%S%.f%#z"),
            ],
            local: items(local),
            iso_local: [fixed("%Y-%m-%d %H:%M:%S%.f"), fixed("%Y-%m-%dT%H:%M:%S%.f")],
        }
    }
}

/// `DateTime::parse_from_str` with the format's items.
fn instant_in(items: &[Item<'static>], value: &str) -> Option<DateTime<FixedOffset>> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, value, items.iter()).ok()?;
    parsed.to_datetime().ok()
}

/// `NaiveDateTime::parse_from_str` with the format's items.
fn naive_in(items: &[Item<'static>], value: &str) -> Option<NaiveDateTime> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, value, items.iter()).ok()?;
    parsed.to_naive_datetime_with_offset(0).ok()
}

/// `YYYY-MM-DD HH:MM:SS`, the common case, read by hand. Such a value has no offset, so only
/// the naive local format could have read it; anything else goes down the general path.
fn plain_local_time(value: &str) -> Option<NaiveDateTime> {
    plain_date_time(value.as_bytes(), b' ')
}

impl<'a> Validator<'a> {
    pub(crate) fn new(
        settings: &'a LedgerSettings,
        calendar: BusinessCalendar,
        store_map: &'a HashMap<&'a str, &'a str>,
    ) -> anyhow::Result<Self> {
        Ok(Validator {
            settings,
            store_map,
            tenders: settings
                .tenders
                .iter()
                .map(|t| t.trim().to_uppercase())
                .collect(),
            max_amount: settings.max_amount()?,
            plain_local_format: settings.sold_at_format == "%Y-%m-%d %H:%M:%S",
            labels: RefCell::default(),
            calendar,
            formats: TimeFormats::new(&settings.sold_at_format),
            last_time: RefCell::default(),
        })
    }

    /// `Ok(None)` for a row of another tender.
    pub(crate) fn validate(
        &self,
        record: &csv::ByteRecord,
        pos: &Positions,
        file_index: u32,
        line: u64,
    ) -> Result<Option<LedgerRow>, RowError> {
        let Ok(line) = u32::try_from(line) else {
            return reject(format!(
                "line {line}: past the {} lines a ledger file may hold",
                u32::MAX
            ));
        };
        // The row's cells are checked at once, nearly every row being printable ASCII: one
        // UTF-8 check of all the row's bytes instead of one per cell, each cell then a slice of
        // that text. A row that fails it (a cell not read may hold anything) has each cell it
        // reads checked on its own, below.
        let whole = std::str::from_utf8(record.as_slice()).ok();
        // Without stopping early, so that the check runs many bytes at a time.
        let printable = whole.is_some()
            && record
                .as_slice()
                .iter()
                .fold(true, |all, b| all & (b' '..=b'~').contains(b));
        // A cell is read without the ASCII whitespace around it.
        let field = |i: usize, what: &str| -> Result<&str, RowError> {
            let text = match whole.zip(record.range(i)).and_then(|(w, r)| w.get(r)) {
                Some(text) => text.trim_ascii(),
                None => std::str::from_utf8(record.get(i).unwrap_or_default().trim_ascii())
                    .map_err(|_| RowError(format!("{what}: not valid UTF-8")))?,
            };
            // Printable ASCII, nearly every cell, holds no control character.
            if printable || text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return Ok(text);
            }
            // A NUL or another control character (line breaks and tabs aside, which a quoted
            // cell may hold) is no part of a ledger value, and PostgreSQL cannot store a NUL:
            // the row is rejected, not the run.
            match text
                .chars()
                .find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                Some(c) => reject(format!("{what}: control character U+{:04X}", u32::from(c))),
                None => Ok(text),
            }
        };
        let optional = |i: Option<usize>, what: &str| -> Result<Option<&str>, RowError> {
            match i {
                Some(i) => field(i, what).map(|v| Some(v).filter(|v| !v.is_empty())),
                None => Ok(None),
            }
        };
        if let Some(tender) = optional(pos.tender, "tender")? {
            if !self.tenders.iter().any(|t| t.eq_ignore_ascii_case(tender)) {
                return Ok(None);
            }
        } else if pos.tender.is_some() {
            return Ok(None);
        }
        let order_id = field(pos.order_id, "order_id")?;
        if order_id.is_empty() {
            return reject("missing order id");
        }
        if order_id.len() > 40 || !order_id.is_ascii() {
            return reject(format!(
                "bad order id '{order_id}': Flexiti references are ASCII, at most 40 characters"
            ));
        }
        let kind = self.kind(field(pos.txn_type, "txn_type")?)?;
        if let Some(currency) = optional(pos.currency, "currency")?
            && !self
                .settings
                .currencies
                .iter()
                .any(|c| c.eq_ignore_ascii_case(currency))
        {
            return reject(format!(
                "other currency '{currency}' (only {} is reconciled)",
                self.settings.currencies.join(", ")
            ));
        }
        let at = self.time(field(pos.sold_at, "sold_at")?)?;
        let amount = self.amount(field(pos.amount, "amount")?, kind)?;
        let mut labels = self.labels.borrow_mut();
        let store = optional(pos.store, "store_id")?
            .map(|s| labels.get(self.store_map.get(s).copied().unwrap_or(s)));
        let register = optional(pos.register, "register_id")?.map(|r| labels.get(r));
        Ok(Some(LedgerRow {
            file_index,
            line,
            at,
            store,
            register,
            reference: Text::from(order_id),
            kind,
            amount,
        }))
    }

    fn kind(&self, value: &str) -> Result<Kind, RowError> {
        let is = |list: &[String]| list.iter().any(|v| v.eq_ignore_ascii_case(value));
        if is(&self.settings.sale_values) {
            Ok(Kind::Sale)
        } else if is(&self.settings.return_values) {
            Ok(Kind::Return)
        } else if value.is_empty() {
            reject("unknown type: txn_type is empty")
        } else {
            reject(format!("unknown type '{value}'"))
        }
    }

    /// [`Validator::read_time`], its last answer reused for the very same text.
    fn time(&self, value: &str) -> Result<DateTime<Utc>, RowError> {
        let mut last = self.last_time.borrow_mut();
        if let (text, Some(at)) = &*last
            && text == value
        {
            return Ok(*at);
        }
        let at = self.read_time(value)?;
        last.0.clear();
        last.0.push_str(value);
        last.1 = Some(at);
        Ok(at)
    }

    fn read_time(&self, value: &str) -> Result<DateTime<Utc>, RowError> {
        if value.is_empty() {
            return reject("bad date: sold_at is empty");
        }
        if self.plain_local_format
            && let Some(local) = plain_local_time(value)
        {
            return Ok(self.calendar.local_to_utc(local));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(value) {
            return Ok(t.with_timezone(&Utc));
        }
        for items in &self.formats.with_offset {
            if let Some(t) = instant_in(items, value) {
                return Ok(t.with_timezone(&Utc));
            }
        }
        let [iso_space, iso_t] = &self.formats.iso_local;
        if let Some(naive) = value
            .strip_suffix('Z')
            .or_else(|| value.strip_suffix(" UTC"))
            && let Some(t) = naive_in(iso_space, naive.trim())
        {
            return Ok(t.and_utc());
        }
        let local = (self.formats.local.as_deref())
            .and_then(|items| naive_in(items, value))
            .or_else(|| naive_in(iso_space, value))
            .or_else(|| naive_in(iso_t, value));
        match local {
            Some(local) => Ok(self.calendar.local_to_utc(local)),
            None => reject(format!(
                "bad date '{value}' (expected {} local time, or an instant with an offset)",
                self.settings.sold_at_format
            )),
        }
    }

    fn amount(&self, value: &str, kind: Kind) -> Result<Amount, RowError> {
        let amount = Amount::parse(value, self.settings.decimal_comma)
            .map_err(|e| RowError(format!("bad amount: {e}")))?;
        if amount.abs() > self.max_amount {
            return reject(format!(
                "implausible amount '{value}': more than ledger.max_amount ({})",
                self.max_amount
            ));
        }
        match (self.settings.amount_sign, kind, amount.is_negative()) {
            (AmountSign::Positive, Kind::Sale, true) => {
                reject(format!("bad amount '{value}': a SALE must not be negative"))
            }
            (AmountSign::NegativeReturns, Kind::Sale, true) => {
                reject(format!("bad amount '{value}': a SALE must not be negative"))
            }
            (AmountSign::NegativeReturns, Kind::Return, false) if amount != Amount::ZERO => reject(
                format!("bad amount '{value}': returns are written negative in this ledger"),
            ),
            _ => Ok(amount.abs()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_reader_agrees_with_chrono_or_leaves_the_value_to_it() {
        assert!(plain_local_time("2026-11-23 09:15:00").is_some());
        for value in [
            "2026-11-23 09:15:00",
            "2024-02-29 23:59:59",
            "0999-01-01 00:00:00",
            "2026-02-30 10:00:00",
            "2026-11-23 24:00:00",
            "2026-11-23 10:00:60",
            "2026-11-23T10:00:00",
            "2026-11-23 10:00:0x",
            "+026-11-23 10:00:00",
            "2026-11-23 10:00",
        ] {
            // When the hand reader gives up, the general path (chrono) decides.
            let chrono = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").ok();
            if let Some(t) = plain_local_time(value) {
                assert_eq!(Some(t), chrono, "{value}");
            }
        }
    }

    #[test]
    fn formats_parsed_once_read_as_parse_from_str_does() {
        let values = [
            "2026-11-23 09:15:00",
            "2026-11-23 09:15:00.250",
            "2026-11-23 09:15:00+01:00",
            "2026-11-23 09:15:00.5-0500",
            "2026-11-23T09:15:00+0130",
            "2026-11-23T09:15:00",
            "23.11.2026 09:15:00",
            "1.2.2026 9:05:07",
            "29.02.2026 10:00:00",
            "23.11.2026 09:15",
            " 23.11.2026 09:15:00",
            "2026-11-23 09:15:00 UTC",
            "",
        ];
        let local_formats = [
            "%d.%m.%Y %H:%M:%S",
            "%m/%d/%Y %I:%M %p",
            "%Q %Y",
            "%Y-%m-%d",
        ];
        for local in local_formats {
            let formats = TimeFormats::new(local);
            assert_eq!(formats.local.is_some(), local != "%Q %Y", "{local}");
            let fixed = [
                (&formats.with_offset[0], "%Y-%m-%d %H:%M:%S%.f%:z"),
                (&formats.with_offset[1], "%Y-%m-%d %H:%M:%S%.f%#z"),
                (&formats.with_offset[2], "%Y-%m-%dT%H:%M:%S%.f%#z"),
                (&formats.iso_local[0], "%Y-%m-%d %H:%M:%S%.f"),
                (&formats.iso_local[1], "%Y-%m-%dT%H:%M:%S%.f"),
            ];
            for value in values {
                for (items, fmt) in fixed {
                    assert!(!items.is_empty(), "{fmt}");
                    let expected = DateTime::parse_from_str(value, fmt).ok();
                    assert_eq!(instant_in(items, value), expected, "{value} as {fmt}");
                    let expected = NaiveDateTime::parse_from_str(value, fmt).ok();
                    assert_eq!(naive_in(items, value), expected, "{value} as {fmt}");
                }
                let expected = NaiveDateTime::parse_from_str(value, local).ok();
                let got = formats.local.as_deref().and_then(|f| naive_in(f, value));
                assert_eq!(got, expected, "{value} as {local}");
            }
        }
        // The day-first layout reads its own values.
        let formats = TimeFormats::new("%d.%m.%Y %H:%M:%S");
        let read = formats
            .local
            .as_deref()
            .and_then(|f| naive_in(f, "23.11.2026 09:15:00"));
        assert_eq!(
            read.map(|t| t.to_string()).as_deref(),
            Some("2026-11-23 09:15:00")
        );
    }

    #[test]
    fn a_time_read_again_is_the_answer_read_the_first_time() {
        let zone = chrono_tz::America::Toronto;
        let store_map = HashMap::new();
        for format in ["%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S"] {
            let settings = LedgerSettings {
                sold_at_format: format.into(),
                ..LedgerSettings::default()
            };
            let validator =
                Validator::new(&settings, BusinessCalendar::new(zone), &store_map).expect("new");
            // Repeats, a bad value between two of them, the autumn change (01:30 twice), an
            // instant with an offset, and a day-first value in either layout.
            let values = [
                "2026-11-01 01:30:00",
                "2026-11-01 01:30:00",
                "01.11.2026 01:30:00",
                "01.11.2026 01:30:00",
                "not a time",
                "01.11.2026 01:30:00",
                "2026-11-23 09:15:00+01:00",
                "2026-11-23 09:15:00+01:00",
                "2026-11-23 09:15:00",
                "",
                "2026-11-23 09:15:00",
                "2026-11-23 09:15:01",
                "2026-11-23 09:15:00",
            ];
            for value in values {
                let fresh = Validator::new(&settings, BusinessCalendar::new(zone), &store_map)
                    .expect("new");
                let expected = fresh.read_time(value).map_err(|e| e.0);
                assert_eq!(validator.time(value).map_err(|e| e.0), expected, "{value}");
            }
            // The day-first layout reads its own values; the default one does not.
            let read = validator.time("01.11.2026 01:30:00").is_ok();
            assert_eq!(read, format.starts_with("%d"), "{format}");
        }
    }
}
