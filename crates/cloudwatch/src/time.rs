//! Times: epoch milliseconds inside kinesin, ISO 8601 in awsQuery forms and XML answers
//! (`2016-10-03T23:00:00Z`), epoch seconds in JSON and CBOR.

use kinesin_sigv4::date::{civil_from_days, days_from_civil, days_in_month};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Epoch seconds (a JSON or CBOR number) to milliseconds, `None` when not finite or outside
/// the years 0..=9999.
pub fn from_epoch_seconds(seconds: f64) -> Option<Millis> {
    let millis = (seconds * 1000.0).round();
    (millis.is_finite() && (MIN_MILLIS as f64..=MAX_MILLIS as f64).contains(&millis))
        .then_some(millis as Millis)
}

pub fn to_epoch_seconds(millis: Millis) -> f64 {
    millis as f64 / 1000.0
}

const MIN_MILLIS: Millis = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_MILLIS: Millis = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/// Parses `YYYY-MM-DDThh:mm:ss[.fraction][Z|±hh:mm]` (no zone means UTC), as awsQuery clients
/// write timestamps; a bare date is midnight UTC.
pub fn parse_iso8601(text: &str) -> Option<Millis> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = bytes.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') || !(1..=12).contains(&month) {
        return None;
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let date_millis = days_from_civil(year, month, day) * 86_400_000;
    if bytes.len() == 10 {
        return Some(date_millis);
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        || bytes.get(13) != Some(&b':')
        || bytes.get(16) != Some(&b':')
    {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut fraction_millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (place, digit) in bytes[at + 1..at + 1 + digits.min(3)].iter().enumerate() {
            fraction_millis += i64::from(digit - b'0') * [100, 10, 1][place];
        }
        at += 1 + digits;
    }
    let offset_minutes = match &bytes[at..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if bytes.len() == at + 6 && bytes[at + 3] == b':' => {
            let minutes = number(at + 1..at + 3)? * 60 + number(at + 4..at + 6)?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let millis = date_millis + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + fraction_millis;
    (MIN_MILLIS..=MAX_MILLIS).contains(&millis).then_some(millis)
}

/// `2016-10-03T23:00:00Z`, with `.mmm` when the time has milliseconds.
pub fn format_iso8601(millis: Millis) -> String {
    let (days, millis_of_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let seconds = millis_of_day / 1000;
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let fraction = millis_of_day % 1000;
    if fraction == 0 {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_what_query_clients_send() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2016-10-03T23:00:00Z"), Some(1_475_535_600_000));
        assert_eq!(parse_iso8601("2016-10-03T23:00:00.123456Z"), Some(1_475_535_600_123));
        assert_eq!(parse_iso8601("2016-10-04T01:00:00+02:00"), Some(1_475_535_600_000));
        assert_eq!(parse_iso8601("2016-10-03T23:00:00"), Some(1_475_535_600_000));
        assert_eq!(parse_iso8601("2016-10-03"), Some(1_475_452_800_000));
        for bad in [
            "",
            "2016-13-01T00:00:00Z",
            "2016-02-30",
            "2016-10-03T24:00:00Z",
            "2016-10-03T23:00:00.Z",
            "1475535600",
            "2016-10-03T23:00:00+0200",
            "2016-10-03T23:00:00Zjunk",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_seconds_round_to_milliseconds() {
        assert_eq!(from_epoch_seconds(1.0005), Some(1001));
        assert_eq!(from_epoch_seconds(f64::NAN), None);
        assert_eq!(from_epoch_seconds(1e300), None);
    }

    proptest! {
        #[test]
        fn formatting_and_parsing_round_trip(millis in MIN_MILLIS..=MAX_MILLIS) {
            prop_assert_eq!(parse_iso8601(&format_iso8601(millis)), Some(millis));
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_iso8601(&text);
        }
    }
}
