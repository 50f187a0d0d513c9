//! The 128-bit hash-key space: partition-key hashing and shard hash ranges.

use md5::{Digest, Md5};

/// The largest hash key, 2^128 - 1.
pub const MAX_HASH_KEY: u128 = u128::MAX;

/// MD5 of the UTF-8 partition key, read as an unsigned big-endian 128-bit integer — the
/// function AWS, the KPL and the KCL all use.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Parses a decimal ExplicitHashKey; `None` when it is not a number in `[0, 2^128 - 1]`.
pub fn parse_hash_key(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok()
}

/// The ranges AWS gives `n` new shards: `step = floor(2^128 / n)`, shard i covers
/// `[i * step, (i + 1) * step - 1]`, and the last one ends at 2^128 - 1.
pub fn even_ranges(n: u32) -> Vec<(u128, u128)> {
    assert!(n > 0, "a stream has at least one shard");
    if n == 1 {
        return vec![(0, MAX_HASH_KEY)];
    }
    // floor(2^128 / n) without 2^128 itself: floor((2^128 - 1) / n) is the same unless n
    // divides 2^128, i.e. unless n is a power of two.
    let step = MAX_HASH_KEY / u128::from(n) + u128::from(n.is_power_of_two());
    (0..u128::from(n))
        .map(|i| {
            let start = i * step;
            let end = if i + 1 == u128::from(n) { MAX_HASH_KEY } else { (i + 1) * step - 1 };
            (start, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_partition_key_hashes() {
        assert_eq!(partition_key_hash("a"), 16955237001963240173058271559858726497);
        assert_eq!(partition_key_hash("pk-1"), 273922656776327812788301823748127981641);
    }

    #[test]
    fn known_even_ranges() {
        assert_eq!(even_ranges(1), vec![(0, MAX_HASH_KEY)]);
        assert_eq!(
            even_ranges(2),
            vec![
                (0, 170141183460469231731687303715884105727),
                (170141183460469231731687303715884105728, MAX_HASH_KEY)
            ]
        );
        let four: Vec<u128> = even_ranges(4).iter().skip(1).map(|r| r.0).collect();
        assert_eq!(
            four,
            vec![
                85070591730234615865843651857942052864,
                170141183460469231731687303715884105728,
                255211775190703847597530955573826158592
            ]
        );
    }

    #[test]
    fn parses_hash_keys() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(parse_hash_key("340282366920938463463374607431768211455"), Some(MAX_HASH_KEY));
        assert_eq!(parse_hash_key("340282366920938463463374607431768211456"), None);
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
    }

    proptest! {
        /// Ranges tile the whole space: contiguous, non-overlapping, from 0 to 2^128 - 1, and
        /// each (but the last) exactly floor(2^128 / n) wide.
        #[test]
        fn even_ranges_tile_the_space(n in 1u32..2000) {
            let ranges = even_ranges(n);
            prop_assert_eq!(ranges.len(), n as usize);
            prop_assert_eq!(ranges[0].0, 0);
            prop_assert_eq!(ranges.last().unwrap().1, MAX_HASH_KEY);
            for w in ranges.windows(2) {
                prop_assert_eq!(w[0].1 + 1, w[1].0);
            }
            // floor(2^128 / n) computed independently via the 2^128 = 2 * 2^127 identity
            // (for n = 1 the one range is the whole space, checked above).
            if n > 1 {
                let half = 1u128 << 127;
                let n128 = u128::from(n);
                let step = (half / n128) * 2 + ((half % n128) * 2) / n128;
                for r in &ranges[..ranges.len() - 1] {
                    prop_assert_eq!(r.1 - r.0 + 1, step);
                }
            }
        }

        /// Every hash key is routed to exactly one shard.
        #[test]
        fn every_key_has_one_shard(n in 1u32..64, key in any::<u128>()) {
            let ranges = even_ranges(n);
            let owners = ranges.iter().filter(|(s, e)| *s <= key && key <= *e).count();
            prop_assert_eq!(owners, 1);
        }
    }
}
