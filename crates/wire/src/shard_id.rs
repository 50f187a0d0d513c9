//! Shard ids: `shardId-` and the shard's index in twelve digits (`shardId-000000000007`).

const PREFIX: &str = "shardId-";

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

/// `shardId-000000000007` → 7. Like AWS, the zero padding is not required.
pub fn parse_shard_id(shard_id: &str) -> Option<u32> {
    let digits = shard_id.strip_prefix(PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|i| *i <= i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shard_ids() {
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("shardId-7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("7"), None);
    }

    #[test]
    fn writes_twelve_digits() {
        assert_eq!(shard_id(12), "shardId-000000000012");
        assert_eq!(shard_id(0), "shardId-000000000000");
        assert_eq!(shard_id(u32::MAX), "shardId-004294967295");
    }
}
