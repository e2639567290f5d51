//! The tolerant field readers: amounts, ids, counts, texts and timestamps as Flexiti sends them.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::domain::{Amount, plain_date_time};

use super::{Lenient, WireReturn, excerpt};

/// Parses an amount from the raw text of a JSON number or string, exactly.
pub fn parse_amount_text(raw: &str) -> Result<Amount, String> {
    let text = raw.trim();
    let unescaped;
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => inner,
        Some(_) => {
            unescaped =
                serde_json::from_str::<String>(text).map_err(|e| format!("amount {raw}: {e}"))?;
            unescaped.as_str()
        }
        None => text,
    };
    if text.contains(['e', 'E']) {
        let value = Decimal::from_scientific(text).map_err(|e| format!("amount {raw}: {e}"))?;
        return Amount::from_decimal(value).map_err(|e| format!("amount {e}"));
    }
    Amount::parse(text, false).map_err(|e| format!("amount {e}"))
}

/// The amount's raw JSON text, borrowed from the body (every body is parsed from a slice).
fn raw_amount<'de, D: Deserializer<'de>>(d: D) -> Result<&'de str, D::Error> {
    <&'de RawValue>::deserialize(d).map(RawValue::get)
}

pub(super) fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Lenient<Amount>, D::Error> {
    let raw = raw_amount(d)?;
    Ok(parse_amount_text(raw).map_err(|_| excerpt(raw)))
}

pub(super) fn opt_lenient_amount<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Lenient<Option<Amount>>, D::Error> {
    let raw = raw_amount(d)?;
    if raw.trim() == "null" {
        return Ok(Ok(None));
    }
    Ok(parse_amount_text(raw).map(Some).map_err(|_| excerpt(raw)))
}

/// Ids are up to 16 digits; anything longer cannot be a Flexiti id and is refused.
pub(super) fn check_id(value: u64) -> Result<u64, String> {
    if value > 9_999_999_999_999_999 {
        return Err(format!("id {value} has more than 16 digits"));
    }
    Ok(value)
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an id of up to 16 digits, as a number or a string")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        check_id(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        let v = u64::try_from(v).map_err(|_| E::custom(format!("id {v} is negative")))?;
        check_id(v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        let t = v.trim();
        if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("id '{v}' is not up to 16 digits")));
        }
        t.parse()
            .map_err(|_| E::custom(format!("id '{v}' is not a number")))
    }
}

pub(super) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(IdVisitor)
}

/// Optional count (`total`, `total_pages`): a number, a digit string, or null.
pub(super) struct OptU64(pub(super) Option<u64>);

impl<'de> Deserialize<'de> for OptU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_u64(d).map(OptU64)
    }
}

fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a count")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("'{v}' is not a count")))
        }
    }
    d.deserialize_any(V)
}

/// Fails on a control character other than a line break or a tab (only an escape such as
/// `\u0000` can bring one): no reference, store or message holds one, and PostgreSQL cannot
/// store a NUL, so such a value fails its page (a failed call) instead of the run's commit.
fn printable<E: de::Error>(v: &str) -> Result<(), E> {
    match v
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some(c) => Err(E::custom(format!(
            "control character U+{:04X} in a text value",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Text that may arrive as a string, a number or null (account numbers, codes, ids used as
/// labels), without control characters ([`printable`]). Numbers keep their JSON spelling.
pub(super) fn opt_text<'de, D: Deserializer<'de>, T: From<String> + for<'a> From<&'a str>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: From<String> + for<'a> From<&'a str>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            printable(v)?;
            Ok(Some(T::from(v)))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            printable(&v)?;
            Ok(Some(T::from(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(T::from(v.to_string())))
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// UTC ISO-8601: `2026-11-23T18:42:07Z`, with optional fractional seconds; an explicit offset
/// is converted, a missing one is read as UTC.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Some(at) = plain_utc(t) {
        return Ok(at);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|naive| naive.and_utc())
        .map_err(|_| format!("'{text}' is not an ISO-8601 UTC timestamp"))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the spelling of nearly every timestamp, read by hand; `None` for
/// anything else (fractions, offsets, impossible dates), which the general path reads.
fn plain_utc(t: &str) -> Option<DateTime<Utc>> {
    let naive = plain_date_time(t.strip_suffix('Z')?.as_bytes(), b'T')?;
    Some(naive.and_utc())
}

/// A timestamp read in place (no copy: serde's `Cow<str>` always copies); null is `None`, and
/// any value that is not a timestamp string is kept as its JSON text.
struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Lenient<Option<DateTime<Utc>>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an ISO-8601 UTC timestamp")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse_timestamp(v)
            .map(Some)
            .map_err(|_| excerpt(&serde_json::to_string(v).unwrap_or_else(|_| v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(v.to_string().into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("[…]".into()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("{…}".into()))
    }
}

pub(super) fn lenient_timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Lenient<DateTime<Utc>>, D::Error> {
    Ok(d.deserialize_any(TimestampVisitor)?
        .and_then(|at| at.ok_or_else(|| "null".into())))
}

pub(super) fn opt_lenient_timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Lenient<Option<DateTime<Utc>>>, D::Error> {
    d.deserialize_any(TimestampVisitor)
}

pub(super) fn opt_returns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WireReturn>, D::Error> {
    Ok(Option::<Vec<WireReturn>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_numbers_and_strings_are_exact_cents() {
        for (text, cents) in [
            ("1000.12", 100_012),
            ("\"1000.12\"", 100_012),
            ("0.3", 30),
            ("\"10.00\"", 1000),
            ("1299.99", 129_999),
            ("12", 1200),
            ("1.5e2", 15_000),
        ] {
            assert_eq!(
                parse_amount_text(text),
                Ok(Amount::from_cents(cents)),
                "{text}"
            );
        }
        assert!(parse_amount_text("10.005").is_err());
        assert!(parse_amount_text("\"ten\"").is_err());
    }

    #[test]
    fn timestamps_without_zone_are_utc_and_offsets_are_converted() {
        let a = parse_timestamp("2026-11-23T18:42:07").expect("naive");
        let b = parse_timestamp("2026-11-23T13:42:07-05:00").expect("offset");
        assert_eq!(a, b);
        assert!(parse_timestamp("23/11/2026").is_err());
        assert!(parse_timestamp("2026-02-30T10:00:00Z").is_err());
        assert_eq!(
            plain_utc("2026-11-23T18:42:07Z"),
            DateTime::parse_from_rfc3339("2026-11-23T18:42:07Z")
                .ok()
                .map(|at| at.with_timezone(&Utc))
        );
    }
}
