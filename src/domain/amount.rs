//! Exact money: a signed number of cents. Parsed from decimal text or JSON numbers without ever
//! passing through binary floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// An exact amount of Canadian dollars, held as integer cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("'{0}' is not a number")]
    NotANumber(String),
    #[error("'{0}' has more than 2 decimals")]
    TooPrecise(String),
    #[error("'{0}' is out of range")]
    OutOfRange(String),
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_cents(cents: i64) -> Self {
        Amount(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    pub const fn abs(self) -> Self {
        Amount(self.0.abs())
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses `1299.99`, `-5`, `+10.5`, `10.00`; with `decimal_comma`, `1299,99`. Thousands
    /// separators, currency signs and exponents are refused: a ledger amount is plain text.
    pub fn parse(text: &str, decimal_comma: bool) -> Result<Self, AmountError> {
        let trimmed = text.trim();
        if let Some(amount) = plain_cents(trimmed, if decimal_comma { b',' } else { b'.' }) {
            return Ok(amount);
        }
        let normalised;
        let candidate = if decimal_comma {
            if trimmed.contains('.') {
                return Err(AmountError::NotANumber(text.to_string()));
            }
            normalised = trimmed.replace(',', ".");
            normalised.as_str()
        } else {
            trimmed
        };
        let valid_chars = !candidate.is_empty()
            && candidate
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+')));
        if !valid_chars || !candidate.chars().any(|c| c.is_ascii_digit()) {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        let value =
            Decimal::from_str(candidate).map_err(|_| AmountError::NotANumber(text.to_string()))?;
        Self::from_decimal(value).map_err(|e| match e {
            AmountError::TooPrecise(_) => AmountError::TooPrecise(text.to_string()),
            other => other,
        })
    }

    /// Converts an exact decimal; more than two significant decimals is an error
    /// (`10.500` is accepted, `10.505` is not).
    pub fn from_decimal(value: Decimal) -> Result<Self, AmountError> {
        let normalized = value.normalize();
        if normalized.scale() > 2 {
            return Err(AmountError::TooPrecise(value.to_string()));
        }
        let cents = normalized
            .checked_mul(Decimal::from(100))
            .ok_or_else(|| AmountError::OutOfRange(value.to_string()))?;
        let cents =
            i64::try_from(cents.trunc()).map_err(|_| AmountError::OutOfRange(value.to_string()))?;
        Ok(Amount(cents))
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Formats with a decimal comma instead of a point (for spreadsheet exports).
    pub fn to_string_with_comma(self) -> String {
        self.to_string().replace('.', ",")
    }
}

/// The common spelling read without a decimal type: an optional sign, up to 15 digits, and
/// optionally a separator with one or two decimals (`1299.99`, `-5`, `+10.5`). `None` sends
/// anything else down the general path, which also produces the errors.
fn plain_cents(text: &str, separator: u8) -> Option<Amount> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == separator) {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits, &[][..]),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if whole.is_empty()
        || whole.len() > 15
        || !all_digits(whole)
        || fraction.len() > 2
        || !all_digits(fraction)
        || (fraction.is_empty() && digits.len() != whole.len())
    {
        return None;
    }
    let number = |part: &[u8]| part.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    let scale = [100, 10, 1][fraction.len()];
    let cents = number(whole) * 100 + number(fraction) * scale;
    Some(Amount(if negative { -cents } else { cents }))
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Serialised as its exact decimal text (`"1299.99"`), never as a float.
impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::ops::Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

impl std::ops::AddAssign for Amount {
    fn add_assign(&mut self, rhs: Amount) {
        self.0 += rhs.0;
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        Amount(iter.map(|a| a.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals_exactly() {
        assert_eq!(
            Amount::parse("1299.99", false),
            Ok(Amount::from_cents(129_999))
        );
        assert_eq!(Amount::parse("0.1", false), Ok(Amount::from_cents(10)));
        assert_eq!(
            Amount::parse("-200", false),
            Ok(Amount::from_cents(-20_000))
        );
        assert_eq!(
            Amount::parse(" 10.500 ", false),
            Ok(Amount::from_cents(1050))
        );
        assert_eq!(
            Amount::parse("1299,99", true),
            Ok(Amount::from_cents(129_999))
        );
    }

    #[test]
    fn the_plain_fast_path_agrees_with_the_decimal_reading() {
        for text in [
            "0",
            "7",
            "-7",
            "+7",
            "0.5",
            "0.05",
            "-0.00",
            "12.30",
            "999999999999999.99",
            "100000",
            "+0.1",
            "-12.5",
            "00012.34",
        ] {
            let fast = plain_cents(text, b'.');
            let general = Decimal::from_str(text).map(Amount::from_decimal);
            assert_eq!(fast, general.ok().and_then(Result::ok), "{text}");
        }
        for odd in ["5.", ".5", "1.234", "1e3", "--1", "1 2", "1,5", ""] {
            assert_eq!(
                plain_cents(odd, b'.'),
                None,
                "{odd} goes down the general path"
            );
        }
        assert_eq!(plain_cents("12,34", b','), Some(Amount::from_cents(1234)));
    }

    #[test]
    fn refuses_what_is_not_a_plain_amount() {
        for bad in ["", "abc", "1e3", "1,299.99", "$12", "12.3.4", "-", "."] {
            assert!(
                Amount::parse(bad, false).is_err(),
                "{bad} should be refused"
            );
        }
        assert_eq!(
            Amount::parse("10.005", false),
            Err(AmountError::TooPrecise("10.005".into()))
        );
        assert!(Amount::parse("1.234,5", true).is_err());
    }

    #[test]
    fn formats_with_two_decimals_and_sign() {
        assert_eq!(Amount::from_cents(5).to_string(), "0.05");
        assert_eq!(Amount::from_cents(-129_999).to_string(), "-1299.99");
        assert_eq!(Amount::from_cents(-5).to_string_with_comma(), "-0,05");
    }
}
