//! Hash keys: where a record goes. A partition key's hash key is the MD5 of its UTF-8 bytes read
//! as a big-endian `u128`; an explicit hash key (a decimal string in `[0, 2^128 - 1]`) replaces it
//! (docs/protocol/sequence-numbers.md, "Hash keys and routing").

use md5::{Digest, Md5};

/// The hash key Kinesis routes `partition_key` by.
pub fn of_partition_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// An explicit hash key as Kinesis accepts it: decimal digits without a sign or leading zeros,
/// at most `2^128 - 1`. `None` for anything else.
pub fn parse(explicit_hash_key: &str) -> Option<u128> {
    let digits_only = !explicit_hash_key.is_empty() && explicit_hash_key.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = explicit_hash_key.len() > 1 && explicit_hash_key.starts_with('0');
    if !digits_only || leading_zero {
        return None;
    }
    explicit_hash_key.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_keys_hash_as_kinesis_does() {
        assert_eq!(of_partition_key("a"), 16955237001963240173058271559858726497);
        assert_eq!(of_partition_key("pk-1"), 273922656776327812788301823748127981641);
    }

    #[test]
    fn explicit_hash_keys_are_decimal_u128s() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("340282366920938463463374607431768211455"), Some(u128::MAX));
        for bad in ["", "-1", "+1", "01", "1e3", "340282366920938463463374607431768211456"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
