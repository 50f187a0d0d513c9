//! A stream's shards drawn as a tree of their lineage: children under the shard they were split
//! from or merged into (a merged child sits under its parent and names the adjacent parent).

use aws_sdk_kinesis::types::Shard;

/// What the drawing needs of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardNode {
    pub id: String,
    pub parent: Option<String>,
    pub adjacent_parent: Option<String>,
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
    /// No ending sequence number yet.
    pub open: bool,
}

pub fn from_sdk(shards: &[Shard]) -> Vec<ShardNode> {
    let key = |text: Option<&str>| text.and_then(|t| t.parse().ok()).unwrap_or(0);
    shards
        .iter()
        .map(|shard| {
            let range = shard.hash_key_range();
            ShardNode {
                id: shard.shard_id().to_owned(),
                parent: shard.parent_shard_id().map(str::to_owned),
                adjacent_parent: shard.adjacent_parent_shard_id().map(str::to_owned),
                starting_hash_key: key(range.map(|r| r.starting_hash_key())),
                ending_hash_key: key(range.map(|r| r.ending_hash_key())),
                open: shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_none(),
            }
        })
        .collect()
}

/// One line per shard, in the list's order within each level, e.g.
/// `├── shardId-000000000002  open  0%–50%`.
pub fn render(shards: &[ShardNode]) -> String {
    let present = |id: &Option<String>| id.as_ref().filter(|id| shards.iter().any(|s| &s.id == *id)).cloned();
    // The shard each one hangs under: its parent, else (the parent trimmed) its adjacent parent.
    let tree_parent: Vec<Option<String>> =
        shards.iter().map(|s| present(&s.parent).or_else(|| present(&s.adjacent_parent))).collect();
    let mut out = String::new();
    let roots: Vec<usize> = (0..shards.len()).filter(|&i| tree_parent[i].is_none()).collect();
    draw(shards, &tree_parent, &roots, "", true, &mut out);
    out
}

fn draw(
    shards: &[ShardNode],
    tree_parent: &[Option<String>],
    level: &[usize],
    indent: &str,
    top: bool,
    out: &mut String,
) {
    for (n, &i) in level.iter().enumerate() {
        let last = n + 1 == level.len();
        let shard = &shards[i];
        let (branch, below) = match (top, last) {
            (true, _) => ("", String::new()),
            (false, false) => ("├── ", format!("{indent}│   ")),
            (false, true) => ("└── ", format!("{indent}    ")),
        };
        let state = if shard.open { "open" } else { "closed" };
        let range = format!("{}–{}", percent(shard.starting_hash_key), percent_after(shard.ending_hash_key));
        out.push_str(&format!("{indent}{branch}{}  {state}  {range}", shard.id));
        if let Some(other) = shard.adjacent_parent.as_ref().filter(|_| shard.parent.is_some()) {
            out.push_str(&format!("  (merged from {} and {other})", shard.parent.as_deref().unwrap_or("")));
        }
        out.push('\n');
        let children: Vec<usize> =
            (0..shards.len()).filter(|&c| tree_parent[c].as_deref() == Some(shard.id.as_str())).collect();
        draw(shards, tree_parent, &children, &below, false, out);
    }
}

/// Where a hash key sits in the key space, in percent, with no superfluous decimals.
fn percent(key: u128) -> String {
    let value = key as f64 / 2f64.powi(128) * 100.0;
    let text = format!("{value:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The percentage just after an (inclusive) ending key.
fn percent_after(key: u128) -> String {
    key.checked_add(1).map_or_else(|| "100%".to_owned(), percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(
        id: &str,
        parent: Option<&str>,
        adjacent: Option<&str>,
        range: (u128, u128),
        open: bool,
    ) -> ShardNode {
        ShardNode {
            id: id.into(),
            parent: parent.map(Into::into),
            adjacent_parent: adjacent.map(Into::into),
            starting_hash_key: range.0,
            ending_hash_key: range.1,
            open,
        }
    }

    #[test]
    fn splits_and_merges_are_drawn_under_their_parents() {
        let half = u128::MAX / 2;
        let quarter = u128::MAX / 4;
        let shards = [
            node("s0", None, None, (0, half), false),
            node("s1", None, None, (half + 1, u128::MAX), false),
            node("s2", Some("s0"), None, (0, quarter), true),
            node("s3", Some("s0"), None, (quarter + 1, half), false),
            node("s4", Some("s3"), Some("s1"), (quarter + 1, u128::MAX), true),
        ];
        let expected = "\
s0  closed  0%–50%
├── s2  open  0%–25%
└── s3  closed  25%–50%
    └── s4  open  25%–100%  (merged from s3 and s1)
s1  closed  50%–100%
";
        assert_eq!(render(&shards), expected);
    }

    #[test]
    fn a_trimmed_parent_leaves_its_children_at_the_top() {
        let shards = [node("s2", Some("s0"), None, (0, u128::MAX), true)];
        assert_eq!(render(&shards), "s2  open  0%–100%\n");
    }
}
