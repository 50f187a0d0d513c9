//! [`PgCatalog`]: the engine's [`Catalog`] in PostgreSQL (docs/cluster.md, "The catalog in
//! PostgreSQL"). A stream is one row of `kinesin_streams`; every change is one statement that
//! writes only from the expected version (compare-and-set) and, in the same transaction, sends
//! a `NOTIFY` that the change feed (`feed.rs`) of every node turns into a
//! [`StreamChange`](kinesin_engine::storage::StreamChange).

use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{Cas, Catalog, ChangeFeed, StoreError};
use tokio_postgres::types::ToSql;

use crate::feed::{Feed, Notice};
use crate::pg::Metadata;

/// The catalog of a cluster: stream metadata and settings in the metadata database, shared by
/// every node. Dropping it stops its change feed.
pub struct PgCatalog {
    metadata: Metadata,
    feed: Feed,
}

impl std::fmt::Debug for PgCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCatalog").field("metadata", &self.metadata).finish_non_exhaustive()
    }
}

impl PgCatalog {
    /// The catalog in a migrated database ([`Metadata::open`]). Resolves once its change feed
    /// listens: every change committed from then on is reported.
    pub async fn open(metadata: Metadata) -> Result<PgCatalog, StoreError> {
        let feed = Feed::start(metadata.clone()).await?;
        Ok(PgCatalog { metadata, feed })
    }

    /// Runs a compare-and-set statement, which returns a row per stream it changed (and
    /// notified): none means the stored version was not the expected one, or (for a new
    /// stream) its id or name is taken. (Updates never change a stream's name.)
    async fn compare_and_set(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Cas, StoreError> {
        let written = self.metadata.query(sql, params).await?;
        Ok(if written.is_empty() { Cas::Conflict } else { Cas::Committed })
    }
}

/// Stream ids and versions are u64 in the engine and bigint (i64) in PostgreSQL: the same 64
/// bits.
pub(crate) fn to_sql(n: u64) -> i64 {
    n as i64
}

/// Every stream as stored now.
pub(crate) async fn load_streams(metadata: &Metadata) -> Result<Vec<StreamMeta>, StoreError> {
    let rows = metadata.query("SELECT meta::text FROM kinesin_streams ORDER BY id", &[]).await?;
    rows.iter().map(|row| parse_stream(row.get(0))).collect()
}

pub(crate) fn parse_stream(json: &str) -> Result<StreamMeta, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stream metadata: {e}")))
}

impl Catalog for PgCatalog {
    async fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError> {
        load_streams(&self.metadata).await
    }

    async fn get_stream(&self, stream_id: u64) -> Result<Option<StreamMeta>, StoreError> {
        let sql = "SELECT meta::text FROM kinesin_streams WHERE id = $1";
        let rows = self.metadata.query(sql, &[&to_sql(stream_id)]).await?;
        rows.first().map(|row| parse_stream(row.get(0))).transpose()
    }

    async fn put_stream(&self, stream: &StreamMeta, expected: Option<u64>) -> Result<Cas, StoreError> {
        let json = serde_json::to_string(stream).map_err(|e| StoreError::Catalog(e.to_string()))?;
        let notice = Notice::put(stream.id, stream.version, &json);
        let (id, version) = (to_sql(stream.id), to_sql(stream.version));
        let row: [&(dyn ToSql + Sync); 7] =
            [&id, &stream.account, &stream.region, &stream.name, &version, &json, &notice];
        match expected {
            // A new stream: refused if its id or its name (per account and region) is taken.
            None => {
                self.compare_and_set(
                    "WITH written AS (
                         INSERT INTO kinesin_streams (id, account, region, name, version, meta)
                         VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)
                         ON CONFLICT DO NOTHING
                         RETURNING id)
                     SELECT pg_notify('kinesin_streams', $7) FROM written",
                    &row,
                )
                .await
            }
            Some(expected) => {
                let expected = to_sql(expected);
                let mut params = row.to_vec();
                params.push(&expected);
                self.compare_and_set(
                    "WITH written AS (
                         UPDATE kinesin_streams
                         SET account = $2, region = $3, name = $4, version = $5, meta = $6::text::jsonb
                         WHERE id = $1 AND version = $8
                         RETURNING id)
                     SELECT pg_notify('kinesin_streams', $7) FROM written",
                    &params,
                )
                .await
            }
        }
    }

    async fn delete_stream(&self, stream_id: u64, expected: u64) -> Result<Cas, StoreError> {
        let notice = Notice::deleted(stream_id);
        self.compare_and_set(
            "WITH gone AS (
                 DELETE FROM kinesin_streams WHERE id = $1 AND version = $2 RETURNING id)
             SELECT pg_notify('kinesin_streams', $3) FROM gone",
            &[&to_sql(stream_id), &to_sql(expected), &notice],
        )
        .await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self.metadata.query("SELECT value FROM kinesin_settings WHERE key = $1", &[&key]).await?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let sql = "INSERT INTO kinesin_settings (key, value) VALUES ($1, $2)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        self.metadata.query(sql, &[&key, &value]).await?;
        Ok(())
    }

    async fn put_setting_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let sql = "INSERT INTO kinesin_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
        self.metadata.query(sql, &[&key, &value]).await?;
        // A statement of its own: it sees the winner's row, committed before our insert
        // returned (one statement with the insert would read from before the race).
        self.get_setting(key).await?.ok_or_else(|| StoreError::Catalog(format!("setting {key} vanished")))
    }

    fn changes(&self) -> ChangeFeed {
        self.feed.subscribe()
    }
}
