//! Key values as bytes whose order is DynamoDB's order (`docs/dynamodb.md`, "Storage"): strings
//! by their UTF-8 bytes, binaries by their unsigned bytes, numbers numerically. Each encoding
//! is self-delimiting, so a hash key followed by a range key sorts by hash key, then range key.

use crate::{AttributeValue, Number};

/// The first byte of an encoded key value: its type.
const STRING: u8 = 1;
const NUMBER: u8 = 2;
const BINARY: u8 = 3;

/// Number classes, so that negatives sort before zero before positives.
const NEGATIVE: u8 = 1;
const ZERO: u8 = 2;
const POSITIVE: u8 = 3;

/// Appends the encoding of a key value (S, N or B); other types are never key values and
/// append nothing.
pub fn encode_key_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(s) => {
            out.push(STRING);
            escaped(out, s.as_bytes());
        }
        AttributeValue::B(b) => {
            out.push(BINARY);
            escaped(out, b);
        }
        AttributeValue::N(n) => {
            out.push(NUMBER);
            encode_number(out, n);
        }
        _ => {}
    }
}

/// Bytes with `0x00` escaped as `0x00 0xFF` and ended by `0x00 0x00`: a shorter value sorts
/// before any value it is a prefix of, and the end is unambiguous.
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// A class byte; for non-zero numbers the power of ten of the leading digit (offset to a byte:
/// DynamoDB's exponents run from -130 to 125) and the digits (`1`..`10` per digit, `0` ends
/// them). Negative numbers invert every byte after the class, which reverses their order.
fn encode_number(out: &mut Vec<u8>, n: &Number) {
    let (negative, digits, exponent) = n.parts();
    if n.is_zero() {
        out.push(ZERO);
        return;
    }
    let start = out.len() + 1;
    out.push(if negative { NEGATIVE } else { POSITIVE });
    out.push((exponent + 130).clamp(0, 255) as u8);
    out.extend(digits.bytes().map(|d| d - b'0' + 1));
    out.push(0);
    if negative {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// Reads one key value back from the front of `bytes`; returns it and the rest.
pub fn decode_key_value(bytes: &[u8]) -> Option<(AttributeValue, &[u8])> {
    let (&kind, rest) = bytes.split_first()?;
    match kind {
        STRING => {
            let (raw, rest) = unescaped(rest)?;
            Some((AttributeValue::S(String::from_utf8(raw).ok()?), rest))
        }
        BINARY => {
            let (raw, rest) = unescaped(rest)?;
            Some((AttributeValue::B(raw), rest))
        }
        NUMBER => decode_number(rest).map(|(n, rest)| (AttributeValue::N(n), rest)),
        _ => None,
    }
}

fn unescaped(bytes: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut raw = Vec::new();
    let mut i = 0;
    loop {
        match (bytes.get(i)?, bytes.get(i + 1)) {
            (0, Some(0)) => return Some((raw, &bytes[i + 2..])),
            (0, Some(0xFF)) => {
                raw.push(0);
                i += 2;
            }
            (0, _) => return None,
            (&b, _) => {
                raw.push(b);
                i += 1;
            }
        }
    }
}

fn decode_number(bytes: &[u8]) -> Option<(Number, &[u8])> {
    let (&class, rest) = bytes.split_first()?;
    if class == ZERO {
        return Some((Number::from(0), rest));
    }
    let negative = class == NEGATIVE;
    let byte = |b: u8| if negative { !b } else { b };
    let exponent = i64::from(byte(*rest.first()?)) - 130;
    let end = rest.iter().skip(1).position(|&b| byte(b) == 0)? + 1;
    let digits: String = rest[1..end].iter().map(|&b| char::from(byte(b) - 1 + b'0')).collect();
    let sign = if negative { "-" } else { "" };
    let number = Number::parse(&format!("{sign}0.{digits}E{}", exponent + 1)).ok()?;
    Some((number, &rest[end + 1..]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encoded(value: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_value(&mut out, value);
        out
    }

    fn number(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    #[test]
    fn values_decode_back() {
        for value in [
            number("0"),
            number("-1E-130"),
            number("9.9999E+125"),
            number("-12.5"),
            AttributeValue::S(String::new()),
            AttributeValue::S("a\0b".into()),
            AttributeValue::B(vec![0, 0xFF, 0]),
        ] {
            let bytes = encoded(&value);
            assert_eq!(decode_key_value(&bytes), Some((value, &[][..])));
        }
    }

    #[test]
    fn strings_and_binaries_sort_by_bytes() {
        let s = |t: &str| encoded(&AttributeValue::S(t.into()));
        assert!(
            s("") < s("\0") && s("\0") < s("a") && s("a") < s("a\0") && s("a\0") < s("ab") && s("Z") < s("a")
        );
        let b = |t: &[u8]| encoded(&AttributeValue::B(t.to_vec()));
        assert!(b(&[0x7F]) < b(&[0x80]) && b(&[1]) < b(&[1, 0]));
    }

    fn number_text() -> impl Strategy<Value = String> {
        "-?[0-9]{1,20}(\\.[0-9]{1,18})?([eE][+-]?[0-9]{1,2})?"
    }

    proptest! {
        /// The encodings of two numbers compare as the numbers do.
        #[test]
        fn number_order_is_encoding_order(a in number_text(), b in number_text()) {
            let (x, y) = (Number::parse(&a).unwrap(), Number::parse(&b).unwrap());
            let (ex, ey) = (encoded(&AttributeValue::N(x.clone())), encoded(&AttributeValue::N(y.clone())));
            prop_assert_eq!(ex.cmp(&ey), x.cmp(&y));
            prop_assert_eq!(decode_key_value(&ex), Some((AttributeValue::N(x), &[][..])));
        }

        /// Composite keys sort by hash key first, then by range key.
        #[test]
        fn composite_keys_sort_by_parts(a in ".{0,4}", b in ".{0,4}", x in number_text(), y in number_text()) {
            let key = |h: &str, r: &str| {
                let mut out = encoded(&AttributeValue::S(h.into()));
                encode_key_value(&mut out, &number(r));
                out
            };
            let expected = a.as_bytes().cmp(b.as_bytes())
                .then(Number::parse(&x).unwrap().cmp(&Number::parse(&y).unwrap()));
            prop_assert_eq!(key(&a, &x).cmp(&key(&b, &y)), expected);
        }
    }
}
