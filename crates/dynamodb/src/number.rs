//! DynamoDB's numbers: exact decimals of at most 38 significant digits, with a magnitude between
//! 1E-130 and 1E+126 (exclusive), answered in plain notation with no superfluous zeros (`5`,
//! never `5.0` or `5E0`; the KCL parses lease counters with `Long.parseLong`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::BigDecimal;

/// The most significant digits a number may have.
const MAX_DIGITS: u64 = 38;
/// The largest and smallest exponent of a number's leading digit (`d.ddd × 10^e`).
const MAX_EXPONENT: i64 = 125;
const MIN_EXPONENT: i64 = -130;

/// An exact decimal, always normalized (no trailing zeros in its mantissa), so that equal
/// numbers are equal values and `Hash`/`Eq` agree with numeric equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(BigDecimal);

/// Why a text or a result is not a DynamoDB number; `Display` gives DynamoDB's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number's syntax. Holds the text; DynamoDB leaves the `: text` off when it is
    /// empty.
    NotNumeric(String),
    TooManyDigits,
    Overflow,
    Underflow,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::NotNumeric(text) if text.is_empty() => {
                f.write_str("The parameter cannot be converted to a numeric value")
            }
            NumberError::NotNumeric(text) => {
                write!(f, "The parameter cannot be converted to a numeric value: {text}")
            }
            NumberError::TooManyDigits => {
                f.write_str("Attempting to store more than 38 significant digits in a Number")
            }
            NumberError::Overflow => f.write_str(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
            NumberError::Underflow => f.write_str(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ),
        }
    }
}

impl std::error::Error for NumberError {}

impl Number {
    /// Parses DynamoDB's number syntax: an optional `-`, digits with an optional fraction (or a
    /// fraction alone, `.5`), and an optional exponent (`e`/`E`, optional sign). No spaces.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        if !is_number_syntax(text) {
            return Err(NumberError::NotNumeric(text.to_owned()));
        }
        // The syntax is a subset of what BigDecimal reads, so this cannot fail; a huge exponent
        // that it cannot hold is out of DynamoDB's range anyway.
        let value = BigDecimal::from_str(text).map_err(|_| overflow_or_underflow(text))?;
        Number::checked(value)
    }

    /// `self + other`, refused when the sum leaves DynamoDB's range.
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        Number::checked(&self.0 + &other.0)
    }

    /// `self - other`, refused when the difference leaves DynamoDB's range.
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        Number::checked(&self.0 - &other.0)
    }

    pub fn is_zero(&self) -> bool {
        self.0.sign() == Sign::NoSign
    }

    /// How many significant digits the number has (0 has one).
    pub fn significant_digits(&self) -> usize {
        self.0.as_bigint_and_exponent().0.magnitude().to_string().len()
    }

    /// The number as sign, significant digits (no leading or trailing zeros; `"0"` for zero)
    /// and the power of ten of the first digit: `-0.0125` is `(true, "125", -2)`.
    pub fn parts(&self) -> (bool, String, i64) {
        let (mantissa, scale) = self.0.as_bigint_and_exponent();
        let digits = mantissa.magnitude().to_string();
        let exponent = digits.len() as i64 - 1 - scale;
        (mantissa.sign() == Sign::Minus, digits, exponent)
    }

    /// Normalizes `value` and checks it against DynamoDB's limits.
    fn checked(value: BigDecimal) -> Result<Number, NumberError> {
        let value = value.normalized();
        if value.sign() == Sign::NoSign {
            return Ok(Number(BigDecimal::from(0)));
        }
        let (mantissa, scale) = value.as_bigint_and_exponent();
        let digits = mantissa.magnitude().to_string().len() as u64;
        let exponent = digits as i64 - 1 - scale;
        if exponent > MAX_EXPONENT {
            return Err(NumberError::Overflow);
        }
        if exponent < MIN_EXPONENT {
            return Err(NumberError::Underflow);
        }
        if digits > MAX_DIGITS {
            return Err(NumberError::TooManyDigits);
        }
        Ok(Number(value))
    }
}

/// A number whose exponent BigDecimal cannot even hold: too large or too small by the sign of
/// its exponent.
fn overflow_or_underflow(text: &str) -> NumberError {
    let exponent = text.split(['e', 'E']).nth(1).unwrap_or_default();
    if exponent.starts_with('-') {
        NumberError::Underflow
    } else {
        NumberError::Overflow
    }
}

fn is_number_syntax(text: &str) -> bool {
    let bytes = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let (mantissa, exponent) = match bytes.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
        None => (bytes, None),
    };
    let (integer, fraction) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], Some(&mantissa[at + 1..])),
        None => (mantissa, None),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    let mantissa_ok = all_digits(integer)
        && fraction.is_none_or(all_digits)
        && (!integer.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(b"+").or_else(|| e.strip_prefix(b"-")).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number(BigDecimal::from(value))
    }
}

/// Plain notation, no exponent, no trailing zeros: `100`, `0.0001`, `-1.5`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mantissa, scale): (BigInt, i64) = self.0.as_bigint_and_exponent();
        if mantissa.sign() == Sign::Minus {
            f.write_str("-")?;
        }
        let digits = mantissa.magnitude().to_string();
        if scale <= 0 {
            f.write_str(&digits)?;
            return f.write_str(&"0".repeat(scale.unsigned_abs() as usize));
        }
        let scale = scale as usize;
        if digits.len() > scale {
            let (integer, fraction) = digits.split_at(digits.len() - scale);
            write!(f, "{integer}.{fraction}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn canonical(text: &str) -> String {
        Number::parse(text).unwrap().to_string()
    }

    #[test]
    fn answers_are_plain_and_minimal() {
        assert_eq!(canonical("5.0"), "5");
        assert_eq!(canonical("5E0"), "5");
        assert_eq!(canonical("1e2"), "100");
        assert_eq!(canonical("1.0E-4"), "0.0001");
        assert_eq!(canonical("-0"), "0");
        assert_eq!(canonical("-0.50"), "-0.5");
        assert_eq!(canonical(".5"), "0.5");
        assert_eq!(canonical("5."), "5");
        assert_eq!(canonical("007"), "7");
        assert_eq!(canonical("1E+125"), format!("1{}", "0".repeat(125)));
        assert_eq!(canonical("1E-130"), format!("0.{}1", "0".repeat(129)));
    }

    #[test]
    fn limits_give_dynamodbs_messages() {
        let error = |text: &str| Number::parse(text).unwrap_err().to_string();
        assert_eq!(error(""), "The parameter cannot be converted to a numeric value");
        assert_eq!(error("b"), "The parameter cannot be converted to a numeric value: b");
        for bad in [" 1", "1 ", "+1", "1e", "e1", ".", "-", "1.2.3", "0x10", "1e+-2", "NaN", "Infinity"] {
            assert!(matches!(Number::parse(bad), Err(NumberError::NotNumeric(_))), "{bad:?}");
        }
        assert_eq!(error("123456789012345678901234567890123456789"), NumberError::TooManyDigits.to_string());
        assert_eq!(
            error("-1.23456789012345678901234567890123456789"),
            NumberError::TooManyDigits.to_string()
        );
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        assert!(Number::parse("123456789012345678901234567890123456780000").is_ok());
        assert_eq!(Number::parse("1E+126"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1E-131"), Err(NumberError::Underflow));
        assert_eq!(Number::parse("1E99999999999999999999"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1E-99999999999999999999"), Err(NumberError::Underflow));
        assert_eq!(Number::parse("0E99999"), Ok(Number::from(0)));
    }

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let n = |text| Number::parse(text).unwrap();
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("5").checked_sub(&n("7")).unwrap().to_string(), "-2");
        assert_eq!(n("9E+125").checked_add(&n("9E+125")), Err(NumberError::Overflow));
        assert!(n("1.5") < n("2") && n("-3") < n("-2.5"));
    }

    proptest! {
        /// Integers, which the KCL writes and reads with `Long`, round-trip digit for digit.
        #[test]
        fn integers_round_trip(value in any::<i64>()) {
            prop_assert_eq!(canonical(&value.to_string()), value.to_string());
            prop_assert_eq!(Number::from(value).to_string(), value.to_string());
        }

        /// The answer reads back as the same number, and is its own canonical form.
        #[test]
        fn canonical_form_is_stable(text in "-?[0-9]{1,20}(\\.[0-9]{1,17})?([eE][+-]?[0-9]{1,2})?") {
            let number = Number::parse(&text).unwrap();
            let again = Number::parse(&number.to_string()).unwrap();
            prop_assert_eq!(&again, &number);
            prop_assert_eq!(again.to_string(), number.to_string());
        }

        /// Order agrees with f64's for values f64 holds exactly.
        #[test]
        fn order_matches_floats(a in -1_000_000i32..1_000_000, b in -1_000_000i32..1_000_000) {
            let (x, y) = (f64::from(a) / 64.0, f64::from(b) / 64.0);
            let (nx, ny) = (Number::parse(&x.to_string()).unwrap(), Number::parse(&y.to_string()).unwrap());
            prop_assert_eq!(nx.cmp(&ny), x.partial_cmp(&y).unwrap());
        }
    }
}
