//! The committer's figures for `/metrics` (`docs/metrics.md`): how big group commits are and how
//! long the fdatasyncs that make them durable take.
//!
//! Process-wide, as a metrics facade's recorder is: a server runs one store. Recording costs a
//! bucket scan and two relaxed atomic additions per group and per sync — never per record, no
//! lock, no allocation — so that it does not slow the committer down.

use std::fmt::Write;
use std::time::Instant;

use kinesin_engine::histogram::Histogram;

/// Records per group commit.
const RECORDS: [u64; 16] =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];
/// Bytes of frames per group commit: 256 B to 64 MiB, by fours (a group stops at 16 MiB but a
/// single larger append goes alone).
const BYTES: [u64; 10] =
    [256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20];
/// fdatasync durations, in microseconds: 50 µs to 10 s.
const SYNC_MICROS: [u64; 17] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// The store's group commits and syncs since start-up.
pub struct CommitMetrics {
    group_records: Histogram,
    group_bytes: Histogram,
    /// The journal's sync, one per batch of groups.
    journal_syncs: Histogram,
    /// The syncs of segments that a large share of a group is written to directly.
    segment_syncs: Histogram,
}

static COMMIT_METRICS: CommitMetrics = CommitMetrics {
    group_records: Histogram::new(&RECORDS, 1),
    group_bytes: Histogram::new(&BYTES, 1),
    journal_syncs: Histogram::new(&SYNC_MICROS, Histogram::SECONDS),
    segment_syncs: Histogram::new(&SYNC_MICROS, Histogram::SECONDS),
};

/// Which file a sync made durable.
#[derive(Clone, Copy)]
pub(crate) enum SyncedFile {
    Journal,
    Segment,
}

impl CommitMetrics {
    /// The process's figures.
    pub fn global() -> &'static CommitMetrics {
        &COMMIT_METRICS
    }

    /// One group commit, from each of its appends' record count and frame bytes.
    pub(crate) fn group(appends: impl Iterator<Item = (usize, u64)>) {
        let (records, bytes) =
            appends.fold((0, 0), |(r, b), (records, bytes)| (r + records as u64, b + bytes));
        COMMIT_METRICS.group_records.observe(records);
        COMMIT_METRICS.group_bytes.observe(bytes);
    }

    /// Runs `sync` (an fdatasync of `file`) and records how long it took.
    pub(crate) fn timed<T>(file: SyncedFile, sync: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = sync();
        let histogram = match file {
            SyncedFile::Journal => &COMMIT_METRICS.journal_syncs,
            SyncedFile::Segment => &COMMIT_METRICS.segment_syncs,
        };
        histogram.observe_duration(started.elapsed());
        result
    }

    /// Appends `kinesin_group_commit_records`, `kinesin_group_commit_bytes` and
    /// `kinesin_fsync_duration_seconds` in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP kinesin_group_commit_records Records written by each group commit.\n# TYPE kinesin_group_commit_records histogram"
        );
        self.group_records.render(out, "kinesin_group_commit_records", "");
        let _ = writeln!(
            out,
            "# HELP kinesin_group_commit_bytes Bytes (record frames) written by each group commit.\n# TYPE kinesin_group_commit_bytes histogram"
        );
        self.group_bytes.render(out, "kinesin_group_commit_bytes", "");
        let _ = writeln!(
            out,
            "# HELP kinesin_fsync_duration_seconds fdatasyncs that make appends durable, by file: the journal's (one per batch of group commits) and the segments' of large writes.\n# TYPE kinesin_fsync_duration_seconds histogram"
        );
        self.journal_syncs.render(out, "kinesin_fsync_duration_seconds", "file=\"journal\"");
        self.segment_syncs.render(out, "kinesin_fsync_duration_seconds", "file=\"segment\"");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use bytes::Bytes;
    use kinesin_engine::storage::{NewRecord, ShardKey, ShardLog, SystemClock};

    use super::*;
    use crate::{open_store_with_fs, SimFs, StoreOptions};

    /// Other tests of the crate run stores in the same process: the figures only grow.
    #[tokio::test]
    async fn group_commits_and_journal_syncs_are_counted() {
        let (log, _catalog) = open_store_with_fs(
            Arc::new(SimFs::new()),
            Path::new("/data"),
            StoreOptions::default(),
            Arc::new(SystemClock),
        )
        .unwrap();
        let shard = ShardKey { stream_id: 1, shard_index: 0 };
        log.create_shard(shard).unwrap();
        let metrics = CommitMetrics::global();
        let groups = metrics.group_records.count();
        let (records, syncs) = (metrics.group_records.sum(), metrics.journal_syncs.count());
        let record =
            || NewRecord { partition_key: "k".into(), data: Bytes::from_static(b"data"), encrypted: false };
        log.append(shard, vec![record(), record(), record()]).await.unwrap();
        assert!(metrics.group_records.count() > groups);
        assert!(metrics.group_records.sum() >= records + 3);
        assert!(metrics.journal_syncs.count() > syncs);
        let mut text = String::new();
        metrics.render(&mut text);
        for series in [
            "kinesin_group_commit_records_count ",
            "kinesin_group_commit_bytes_bucket{le=\"+Inf\"} ",
            "kinesin_fsync_duration_seconds_count{file=\"journal\"} ",
            "kinesin_fsync_duration_seconds_count{file=\"segment\"} ",
        ] {
            assert!(text.contains(series), "no {series} in\n{text}");
        }
    }
}
