//! Shard ids: `shardId-` and the shard's index in twelve digits (`shardId-000000000007`).

const PREFIX: &str = "shardId-";

/// The largest shard index a shard id can name: AWS reads the index as a signed 32-bit number.
pub const MAX_SHARD_INDEX: u32 = i32::MAX as u32;

/// `7` → `shardId-000000000007`.
pub fn shard_id(index: u32) -> String {
    String::from_utf8(shard_id_bytes(index).to_vec()).expect("ASCII")
}

/// The id's bytes, built on the stack: every record PutRecords writes is answered with one,
/// and `format!` with padding costs several times as much.
pub fn shard_id_bytes(index: u32) -> [u8; 20] {
    // Twelve digits hold any u32 (at most ten), so the padding is never cut.
    let mut id = *b"shardId-000000000000";
    let mut rest = index;
    for digit in id[PREFIX.len()..].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    id
}

/// The shard index a client's shard id names, read as AWS reads it (docs/protocol/corners.md,
/// "Shard-id aliases"): the text after the first `-`, or the whole id when it has none, must be
/// decimal digits worth at most 2147483647. So `shardId-7`, `shard-7`, `x-0007` and `7` all
/// name shard 7, which every answer then calls `shardId-000000000007`.
pub fn parse_shard_id(shard_id: &str) -> Option<u32> {
    let digits = shard_id.split_once('-').map_or(shard_id, |(_, after)| after);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros do not overflow `parse`; a value above u32 does, and is no shard either.
    digits.parse::<u32>().ok().filter(|i| *i <= MAX_SHARD_INDEX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_aliases_as_aws_does() {
        for (id, index) in [
            ("shardId-000000000007", Some(7)),
            ("shardId-7", Some(7)),
            ("shard-0", Some(0)),
            ("anything-0", Some(0)),
            ("0", Some(0)),
            ("7", Some(7)),
            ("2147483647", Some(2_147_483_647)),
            ("a-00002147483647", Some(2_147_483_647)),
            ("-00002147483647", Some(2_147_483_647)),
            ("2147483648", None),
            ("shardId-002147483648", None),
            ("99999999999999999999", None),
            ("shardId-", None),
            ("7-", None),
            ("ABKLFD8", None),
            ("2.14E4", None),
            ("a-1-2", None),
            ("shardId-+7", None),
            ("", None),
        ] {
            assert_eq!(parse_shard_id(id), index, "{id:?}");
        }
    }

    #[test]
    fn writes_twelve_digits() {
        assert_eq!(shard_id(12), "shardId-000000000012");
        assert_eq!(shard_id(0), "shardId-000000000000");
        assert_eq!(shard_id(u32::MAX), "shardId-004294967295");
    }

    /// The rule written out the long way: the digits, without leading zeros, compared with the
    /// largest index as text.
    fn reference(id: &str) -> Option<u32> {
        let digits = match id.find('-') {
            Some(at) => &id[at + 1..],
            None => id,
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let significant = digits.trim_start_matches('0');
        let max = MAX_SHARD_INDEX.to_string();
        let fits =
            significant.len() < max.len() || (significant.len() == max.len() && significant <= max.as_str());
        fits.then(|| significant.parse().unwrap_or(0))
    }

    /// Ids of the shapes clients send: a prefix from the model's character set, maybe a `-`,
    /// then digits (often zero-padded, often near the limit) or anything else.
    fn ids() -> impl Strategy<Value = String> {
        let prefix = "[a-zA-Z0-9_.-]{0,10}";
        let digits = prop_oneof![
            "[0-9]{0,12}",
            "0{0,6}214748364[0-9]",
            "0{0,6}[0-9]{10,11}",
            (0u32..=MAX_SHARD_INDEX + 10).prop_map(|n| n.to_string()),
        ];
        let tail = prop_oneof![digits.clone().boxed(), "[a-zA-Z0-9_.-]{0,6}".boxed()];
        prop_oneof![
            (prefix, tail).prop_map(|(p, t)| format!("{p}-{t}")),
            digits.prop_map(|d| d.to_string()),
            "[a-zA-Z0-9_.-]{1,16}",
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(id in ids()) {
            prop_assert_eq!(parse_shard_id(&id), reference(&id), "{:?}", id);
        }

        /// Every id an answer carries reads back as its shard.
        #[test]
        fn normalised_ids_read_back(index in 0..=MAX_SHARD_INDEX) {
            prop_assert_eq!(parse_shard_id(&shard_id(index)), Some(index));
        }
    }
}
