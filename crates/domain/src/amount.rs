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

    /// The magnitude. No parser makes `i64::MIN` cents (see [`Amount::from_decimal`]), so this
    /// is exact for every amount read from outside; it saturates rather than overflow.
    pub const fn abs(self) -> Self {
        Amount(self.0.saturating_abs())
    }

    /// `self + other`, or `None` when the cents do not fit in 64 bits. Amounts have no `+`:
    /// every sum either is checked here or is a [`Total`].
    pub const fn checked_add(self, other: Amount) -> Option<Amount> {
        match self.0.checked_add(other.0) {
            Some(cents) => Some(Amount(cents)),
            None => None,
        }
    }

    /// `self - other`, or `None` when the cents do not fit in 64 bits.
    pub const fn checked_sub(self, other: Amount) -> Option<Amount> {
        match self.0.checked_sub(other.0) {
            Some(cents) => Some(Amount(cents)),
            None => None,
        }
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The common spelling (`1299.99`, `-5`, `+10.5`: a sign, up to 15 digits, up to two
    /// decimals after a `.`) read from bytes, exactly as [`Amount::parse`] reads it; `None` for
    /// any other text, which `parse` then reads (or refuses).
    pub fn parse_plain(bytes: &[u8]) -> Option<Self> {
        plain_cents(bytes, b'.')
    }

    /// Parses `1299.99`, `-5`, `+10.5`, `10.00`; with `decimal_comma`, `1299,99`. Thousands
    /// separators, currency signs and exponents are refused: a ledger amount is plain text.
    pub fn parse(text: &str, decimal_comma: bool) -> Result<Self, AmountError> {
        let trimmed = text.trim();
        if let Some(amount) =
            plain_cents(trimmed.as_bytes(), if decimal_comma { b',' } else { b'.' })
        {
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
    /// (`10.500` is accepted, `10.505` is not), and so is a value beyond ±92233720368547758.07.
    pub fn from_decimal(value: Decimal) -> Result<Self, AmountError> {
        let normalized = value.normalize();
        if normalized.scale() > 2 {
            return Err(AmountError::TooPrecise(value.to_string()));
        }
        let cents = normalized
            .checked_mul(Decimal::from(100))
            .ok_or_else(|| AmountError::OutOfRange(value.to_string()))?;
        // `i64::MIN` is left out so that every amount read has a magnitude.
        match i64::try_from(cents.trunc()) {
            Ok(cents) if cents != i64::MIN => Ok(Amount(cents)),
            _ => Err(AmountError::OutOfRange(value.to_string())),
        }
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
fn plain_cents(bytes: &[u8], separator: u8) -> Option<Amount> {
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

/// A sum of amounts held in 128 bits: no number of 64-bit amounts a run can hold overflows
/// it, so sums that are only shown (money at stake, net differences, export totals) are exact
/// whatever the inputs. A sum that must be stored as cents goes back through
/// [`Total::to_amount`], which fails rather than wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Total(i128);

impl Total {
    pub const ZERO: Total = Total(0);

    pub const fn cents(self) -> i128 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The magnitude; saturates only past 10^36 dollars, far beyond any sum of 64-bit amounts.
    pub fn abs(self) -> Self {
        Total(self.0.saturating_abs())
    }

    /// Back to 64-bit cents, or an error when the sum does not fit.
    pub fn to_amount(self) -> Result<Amount, AmountError> {
        i64::try_from(self.0)
            .map(Amount)
            .map_err(|_| AmountError::OutOfRange(self.to_string()))
    }

    /// Formats with a decimal comma instead of a point (for spreadsheet exports).
    pub fn to_string_with_comma(self) -> String {
        self.to_string().replace('.', ",")
    }
}

impl From<Amount> for Total {
    fn from(amount: Amount) -> Total {
        Total(i128::from(amount.0))
    }
}

impl fmt::Display for Total {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl serde::Serialize for Total {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Adding 64-bit amounts to a 128-bit sum: 2^64 additions of the largest amount still fit, more
/// than any run can hold in memory.
impl<T: Into<Total>> std::ops::Add<T> for Total {
    type Output = Total;
    fn add(self, rhs: T) -> Total {
        Total(self.0 + rhs.into().0)
    }
}

impl<T: Into<Total>> std::ops::Sub<T> for Total {
    type Output = Total;
    fn sub(self, rhs: T) -> Total {
        Total(self.0 - rhs.into().0)
    }
}

impl<T: Into<Total>> std::ops::AddAssign<T> for Total {
    fn add_assign(&mut self, rhs: T) {
        self.0 += rhs.into().0;
    }
}

impl std::iter::Sum<Amount> for Total {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Total {
        iter.fold(Total::ZERO, |sum, a| sum + a)
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
            let fast = plain_cents(text.as_bytes(), b'.');
            let general = Decimal::from_str(text).map(Amount::from_decimal);
            assert_eq!(fast, general.ok().and_then(Result::ok), "{text}");
        }
        for odd in ["5.", ".5", "1.234", "1e3", "--1", "1 2", "1,5", ""] {
            assert_eq!(
                plain_cents(odd.as_bytes(), b'.'),
                None,
                "{odd} goes down the general path"
            );
        }
        assert_eq!(plain_cents(b"12,34", b','), Some(Amount::from_cents(1234)));
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

    #[test]
    fn sums_of_cents_are_checked_or_wide_never_wrapped() {
        let max = Amount::parse("92233720368547758.07", false).expect("the largest amount");
        assert_eq!(max.cents(), i64::MAX);
        assert_eq!(max.checked_add(Amount::from_cents(1)), None);
        assert_eq!(
            Amount::from_cents(-5).checked_sub(max),
            None,
            "below the range"
        );
        let three: Total = [max, max, max].into_iter().sum();
        assert_eq!(three.to_string(), "276701161105643274.21");
        assert!(three.to_amount().is_err());
        assert_eq!(
            (Total::from(max) - max).to_amount(),
            Ok(Amount::ZERO),
            "a sum that fits comes back"
        );
        assert_eq!(
            Amount::parse("-92233720368547758.08", false),
            Err(AmountError::OutOfRange("-92233720368547758.08".into())),
            "i64::MIN has no magnitude: never read"
        );
        assert_eq!(Amount::from_cents(i64::MIN).abs().cents(), i64::MAX);
        assert_eq!(Total::from(Amount::from_cents(-5)).to_string(), "-0.05");
        assert_eq!(
            Total::from(Amount::from_cents(-5)).to_string_with_comma(),
            "-0,05"
        );
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fuzz_amount_parse_never_panics_and_what_it_reads_reads_back(
            text in any::<String>(),
            comma in any::<bool>(),
        ) {
            if let Ok(amount) = Amount::parse(&text, comma) {
                prop_assert!(amount.cents() != i64::MIN);
                let written = if comma { amount.to_string_with_comma() } else { amount.to_string() };
                prop_assert_eq!(Amount::parse(&written, comma), Ok(amount));
            }
        }

        #[test]
        fn fuzz_amount_parse_of_number_like_text(
            sign in prop_oneof![Just(""), Just("-"), Just("+"), Just("--")],
            whole in prop::collection::vec(0u8..10, 0..24),
            separator in prop_oneof![Just(""), Just("."), Just(",")],
            fraction in prop::collection::vec(0u8..10, 0..5),
            comma in any::<bool>(),
        ) {
            let digits = |d: &[u8]| d.iter().map(|d| char::from(b'0' + d)).collect::<String>();
            let text = format!("{sign}{}{separator}{}", digits(&whole), digits(&fraction));
            let fast = plain_cents(text.as_bytes(), if comma { b',' } else { b'.' });
            match Amount::parse(&text, comma) {
                Ok(amount) => {
                    prop_assert!(fast.is_none_or(|f| f == amount), "{}", text);
                    let exact = Decimal::from_str(&text.replace(',', "."))
                        .expect("a parsed amount is a decimal");
                    prop_assert_eq!(amount.to_decimal(), exact, "{}", text);
                }
                Err(_) => prop_assert!(fast.is_none(), "{}", text),
            }
        }

        #[test]
        fn fuzz_sums_of_any_amounts_are_exact_or_refused(
            cents in prop::collection::vec(any::<i64>(), 0..64)
        ) {
            let amounts: Vec<Amount> = cents.iter().map(|&c| Amount::from_cents(c)).collect();
            let wide: i128 = cents.iter().map(|&c| i128::from(c)).sum();
            let total: Total = amounts.iter().copied().sum();
            prop_assert_eq!(total.cents(), wide);
            let checked = amounts
                .iter()
                .try_fold(Amount::ZERO, |sum, &a| sum.checked_add(a));
            match i64::try_from(wide) {
                // Every partial sum must fit too for the checked fold to succeed.
                Ok(fits) => prop_assert!(checked.is_none_or(|c| c.cents() == fits)),
                Err(_) => prop_assert!(checked.is_none()),
            }
            prop_assert_eq!(total.to_amount().ok().map(Amount::cents), i64::try_from(wide).ok());
        }
    }
}
