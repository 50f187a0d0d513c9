//! Housekeeping (docs/cluster.md, "Housekeeping"): a pass any node may run at any time that
//! deletes the objects no index row references any more (retention, deleted streams) and the
//! uploads whose commit never happened (orphans) once they are older than a grace period.
//!
//! One node at a time: a pass first takes a PostgreSQL advisory lock with a try-lock, held by a
//! transaction of its own until the pass ends (or its connection dies); a node that does not
//! get it skips the pass.

use std::time::Duration;

use kinesin_engine::storage::StoreError;
use object_store::path::Path;

use super::Shared;

/// The lock a pass holds ("kin-gc" in ASCII), apart from the migrations' lock.
const HOUSEKEEPING_LOCK: i64 = 0x0000_6b69_6e2d_6763;

/// Unreferenced objects one pass deletes at most; the next pass continues.
const OBJECTS_PER_PASS: i64 = 1000;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Another node held the lock, so this node did nothing.
    pub skipped: bool,
    /// Committed objects deleted because no index row referenced them any more.
    pub objects_deleted: usize,
    /// Uploads without a committed row, older than the grace period, deleted.
    pub orphans_deleted: usize,
}

/// Runs one pass, unless another node is running one.
pub(super) async fn run(shared: &Shared, orphan_grace: Duration) -> Result<HousekeepingReport, StoreError> {
    let mut lock_client = shared.metadata.client().await?;
    // Dropping the transaction (an error, a cancelled pass) rolls it back, releasing the lock.
    let lock = lock_client.transaction().await.map_err(|e| shared.failed(e))?;
    let locked: bool = lock
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&HOUSEKEEPING_LOCK])
        .await
        .map_err(|e| shared.failed(e))?
        .get(0);
    if !locked {
        return Ok(HousekeepingReport { skipped: true, ..HousekeepingReport::default() });
    }
    let report = HousekeepingReport {
        skipped: false,
        objects_deleted: unreferenced_objects(shared).await?,
        orphans_deleted: orphans(shared, orphan_grace).await?,
    };
    lock.commit().await.map_err(|e| shared.failed(e))?;
    if report.objects_deleted + report.orphans_deleted > 0 {
        tracing::info!(
            objects = report.objects_deleted,
            orphans = report.orphans_deleted,
            bucket = %shared.bucket,
            "housekeeping deleted objects"
        );
    }
    Ok(report)
}

/// Deletes committed objects no frame references: the row first, by a statement that checks
/// again that no frame references it, then the object. An object whose row went but whose
/// deletion failed is an orphan, which [`orphans`] collects later.
async fn unreferenced_objects(shared: &Shared) -> Result<usize, StoreError> {
    let client = shared.metadata.client().await?;
    let rows = client
        .query(
            "DELETE FROM kinesin_objects WHERE key IN (
                 SELECT o.key FROM kinesin_objects o
                 WHERE o.collected_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM kinesin_frames f WHERE f.object_key = o.key)
                 LIMIT $1)
             AND NOT EXISTS (SELECT 1 FROM kinesin_frames f WHERE f.object_key = kinesin_objects.key)
             RETURNING key",
            &[&OBJECTS_PER_PASS],
        )
        .await
        .map_err(|e| shared.failed(e))?;
    delete_returned(shared, client, rows).await
}

/// Deletes the uploads in the bucket without a committed row that are older than `grace`.
/// Each is first claimed by a row marked collected (`collected_at`), which stays: the
/// upload's own commit, if it ever comes, then fails on the key and acknowledges nothing.
async fn orphans(shared: &Shared, grace: Duration) -> Result<usize, StoreError> {
    let cutoff_ms = shared.clock.now_ms().saturating_sub(grace.as_millis().min(i64::MAX as u128) as i64);
    let old: Vec<String> = shared
        .bucket
        .list_data()
        .await?
        .into_iter()
        .filter(|(_, uploaded_ms)| *uploaded_ms < cutoff_ms)
        .map(|(key, _)| key.to_string())
        .collect();
    if old.is_empty() {
        return Ok(0);
    }
    let client = shared.metadata.client().await?;
    // A committed row wins (nothing returned); an earlier pass's claim is taken again.
    let rows = client
        .query(
            "INSERT INTO kinesin_objects AS o (key, collected_at) SELECT k, now() FROM unnest($1::text[]) AS k
             ON CONFLICT (key) DO UPDATE SET collected_at = o.collected_at WHERE o.collected_at IS NOT NULL
             RETURNING key",
            &[&old],
        )
        .await
        .map_err(|e| shared.failed(e))?;
    delete_returned(shared, client, rows).await
}

/// Deletes from the bucket the objects whose keys a statement returned (rows already removed
/// or claimed), after handing the connection back to the pool: deletions are slow network
/// calls.
async fn delete_returned(
    shared: &Shared,
    client: deadpool_postgres::Object,
    rows: Vec<tokio_postgres::Row>,
) -> Result<usize, StoreError> {
    drop(client);
    for row in &rows {
        let key: &str = row.get(0);
        shared.bucket.delete(&Path::from(key)).await?;
    }
    Ok(rows.len())
}
