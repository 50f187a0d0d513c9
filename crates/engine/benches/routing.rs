//! Criterion benchmark of routing's own cost: the MD5 of a partition key, the hash every
//! record pays before it is routed to a shard (the shard lookup itself is a binary search over
//! the open shards; the store's `put_path` benchmark measures routing and appending together).
//!
//! `cargo bench -p kinesin-engine --bench routing`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kinesin_engine::hashing::partition_key_hash;

fn hash_partition_keys(c: &mut Criterion) {
    let keys: Vec<String> = (0..500).map(|i| format!("{:016x}", i * 0x9e37_79b9_7f4a_7c15u64)).collect();
    let mut group = c.benchmark_group("partition_key_hash_500_keys");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("md5", |b| b.iter(|| keys.iter().fold(0u128, |acc, k| acc ^ partition_key_hash(k))));
    group.finish();
}

criterion_group!(benches, hash_partition_keys);
criterion_main!(benches);
