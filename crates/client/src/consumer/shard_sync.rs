//! Leases for new shards (docs/client.md#shard-sync): from ListShards at start and now and then,
//! and from a closed shard's `ChildShards` as soon as a consumer reaches its end. Each lease
//! records the shard's parents and hash range; its first checkpoint is where reading starts.

use std::collections::HashSet;

use aws_sdk_kinesis::types::{ChildShard, HashKeyRange, Shard};

use super::lease::{Checkpoint, Lease};
use super::lease_table::{LeaseTable, TableResult};
use super::InitialPosition;

/// The leases to create for the listed shards that have none. On the first sync (an empty
/// table) every lease starts at the initial position, and with `Latest` closed shards get none
/// (their records are all older than the tip). Later, a shard whose parent has a lease starts
/// at TRIM_HORIZON, so nothing between the parent's end and the child's start is missed.
pub(crate) fn new_leases(
    shards: &[Shard],
    existing: &HashSet<String>,
    initial: &InitialPosition,
) -> Vec<Lease> {
    let first_sync = existing.is_empty();
    let mut leased = existing.clone();
    let mut shards: Vec<&Shard> = shards.iter().collect();
    // Shard ids grow with creation: parents come before their children.
    shards.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
    let mut leases = Vec::new();
    for shard in shards {
        if leased.contains(&shard.shard_id) {
            continue;
        }
        let parents: Vec<String> = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let open = shard.sequence_number_range.as_ref().is_none_or(|r| r.ending_sequence_number.is_none());
        let checkpoint = if !first_sync && parents.iter().any(|p| leased.contains(p)) {
            Checkpoint::TrimHorizon
        } else {
            match initial {
                InitialPosition::TrimHorizon => Checkpoint::TrimHorizon,
                InitialPosition::AtTimestamp(_) => Checkpoint::AtTimestamp,
                InitialPosition::Latest if open => Checkpoint::Latest,
                InitialPosition::Latest => continue,
            }
        };
        leased.insert(shard.shard_id.clone());
        leases.push(lease_for(&shard.shard_id, parents, shard.hash_key_range.as_ref(), checkpoint));
    }
    leases
}

/// The leases of a closed shard's children, read from TRIM_HORIZON.
pub(crate) fn child_leases(children: &[ChildShard]) -> Vec<Lease> {
    children
        .iter()
        .map(|child| {
            lease_for(
                &child.shard_id,
                child.parent_shards.clone(),
                child.hash_key_range.as_ref(),
                Checkpoint::TrimHorizon,
            )
        })
        .collect()
}

fn lease_for(
    shard_id: &str,
    parents: Vec<String>,
    range: Option<&HashKeyRange>,
    checkpoint: Checkpoint,
) -> Lease {
    Lease {
        parent_shard_ids: parents,
        hash_range: range.map(|r| (r.starting_hash_key.clone(), r.ending_hash_key.clone())),
        ..Lease::new(shard_id, checkpoint)
    }
}

/// Creates the leases `new_leases` chooses; a lease another worker created first is left alone.
pub(crate) async fn sync_shards(
    table: &dyn LeaseTable,
    shards: &[Shard],
    initial: &InitialPosition,
) -> TableResult<()> {
    let existing: HashSet<String> = table.list().await?.into_iter().map(|lease| lease.key).collect();
    for lease in new_leases(shards, &existing, initial) {
        table.create(&lease).await?;
    }
    Ok(())
}

/// Creates leases; one that exists already is left alone.
pub(crate) async fn create_all(table: &dyn LeaseTable, leases: &[Lease]) -> TableResult<()> {
    for lease in leases {
        table.create(lease).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kinesis::types::SequenceNumberRange;

    fn shard(id: u32, parents: &[u32], closed: bool) -> Shard {
        let name = |n: &u32| format!("shardId-{n:012}");
        Shard::builder()
            .shard_id(name(&id))
            .set_parent_shard_id(parents.first().map(name))
            .set_adjacent_parent_shard_id(parents.get(1).map(name))
            .hash_key_range(
                HashKeyRange::builder().starting_hash_key("0").ending_hash_key("9").build().unwrap(),
            )
            .sequence_number_range(
                SequenceNumberRange::builder()
                    .starting_sequence_number("1")
                    .set_ending_sequence_number(closed.then(|| "2".to_owned()))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn plan(
        shards: &[Shard],
        existing: &[u32],
        initial: InitialPosition,
    ) -> Vec<(String, Checkpoint, Vec<String>)> {
        let existing = existing.iter().map(|n| format!("shardId-{n:012}")).collect();
        new_leases(shards, &existing, &initial)
            .into_iter()
            .map(|l| (l.key[8..].to_owned(), l.checkpoint, l.parent_shard_ids))
            .collect()
    }

    #[test]
    fn the_first_sync_starts_every_shard_at_the_initial_position() {
        // 0 split into 1 and 2; 1 and 2 merged into 3.
        let shards =
            [shard(0, &[], true), shard(1, &[0], true), shard(2, &[0], true), shard(3, &[1, 2], false)];
        let trim = plan(&shards, &[], InitialPosition::TrimHorizon);
        assert_eq!(trim.len(), 4);
        assert!(trim.iter().all(|(_, c, _)| *c == Checkpoint::TrimHorizon));
        assert_eq!(trim[3].2, ["shardId-000000000001", "shardId-000000000002"]);
        let latest = plan(&shards, &[], InitialPosition::Latest);
        assert_eq!(
            latest,
            [("000000000003".to_owned(), Checkpoint::Latest, trim[3].2.clone())],
            "open shards only"
        );
    }

    #[test]
    fn children_of_leased_shards_start_at_trim_horizon() {
        let shards =
            [shard(0, &[], true), shard(1, &[0], false), shard(2, &[0], false), shard(3, &[], false)];
        let later = plan(&shards, &[0], InitialPosition::Latest);
        let checkpoints: Vec<_> = later.iter().map(|(k, c, _)| (k.as_str(), c.clone())).collect();
        assert_eq!(
            checkpoints,
            [
                ("000000000001", Checkpoint::TrimHorizon),
                ("000000000002", Checkpoint::TrimHorizon),
                ("000000000003", Checkpoint::Latest)
            ]
        );
    }
}
