//! JSON blobs: base64 text checked and decoded the way the service does
//! (`docs/protocol/front-door.md`, "Base64 checks").

/// Decodes standard, padded, canonical base64. On failure returns the SerializationException
/// message: the first failing check of length, then characters, then canonical form.
pub(super) fn decode(text: &str) -> Result<Vec<u8>, String> {
    // Every string the checks accept is exactly what the strict (padded, canonical) decoder
    // accepts, so the common case costs one decoding pass and the checks only run to word
    // the error.
    if let Ok(bytes) = base64_simd::STANDARD.decode_to_vec(text) {
        return Ok(bytes);
    }
    let length = text.encode_utf16().count();
    let reason = if !length.is_multiple_of(4) {
        format!("Base64 encoded length is expected a multiple of 4 bytes but found: {length}")
    } else if let Some(c) = invalid_character(text) {
        format!("Invalid Base64 character: '{c}'")
    } else {
        // "dectected" is the observed spelling.
        "Invalid last non-pad Base64 character dectected".to_owned()
    };
    Err(format!("'{text}' can not be converted to a Blob: {reason}"))
}

/// The first character outside `A-Z a-z 0-9 + / =`, or an `=` followed by anything but `=`.
fn invalid_character(text: &str) -> Option<char> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let bad = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => false,
            '=' => chars.peek().is_some_and(|&next| next != '='),
            _ => true,
        };
        if bad {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use proptest::prelude::*;

    use super::decode;

    proptest! {
        /// The SIMD decoder accepts exactly what the `base64` crate's strict standard engine
        /// accepts, with the same bytes.
        #[test]
        fn agrees_with_the_reference_decoder(text in "[A-Za-z0-9+/=]{0,12}|[A-C=]{0,8}|(\\PC){0,6}") {
            let reference = base64::engine::general_purpose::STANDARD.decode(&text).ok();
            prop_assert_eq!(decode(&text).ok(), reference);
        }
    }

    #[test]
    fn valid_base64_decodes() {
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("AA==").unwrap(), [0]);
    }

    #[test]
    fn observed_messages() {
        assert_eq!(
            decode("23456").unwrap_err(),
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"
        );
        assert_eq!(
            decode("=+/=").unwrap_err(),
            "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"
        );
        assert_eq!(
            decode("+/+=").unwrap_err(),
            "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
        );
        assert_eq!(
            decode("====").unwrap_err(),
            "'====' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
        );
    }

    #[test]
    fn first_offending_character_is_reported() {
        assert_eq!(
            decode("ab!c").unwrap_err(),
            "'ab!c' can not be converted to a Blob: Invalid Base64 character: '!'"
        );
        assert_eq!(
            decode("a=b!").unwrap_err(),
            "'a=b!' can not be converted to a Blob: Invalid Base64 character: '='"
        );
        assert_eq!(
            decode("aé==").unwrap_err(),
            "'aé==' can not be converted to a Blob: Invalid Base64 character: 'é'"
        );
    }

    #[test]
    fn length_is_counted_in_utf16_units() {
        assert!(decode("a😀").unwrap_err().ends_with("found: 3"));
    }
}
