//! `RedbCatalog`: the [`Catalog`] of the embedded store, a redb database at
//! `DATA/catalog.redb` opened through the vfs.
//!
//! Tables: `streams` (stream id → `StreamMeta` as JSON) and `settings` (name → bytes). Every
//! call is one transaction, committed with redb's `Immediate` durability (`Eventual` under
//! durability `os`), reopened after an I/O error (`redb_backend::RedbFile`).

// The closures below return redb's own error type, large as it is (see `RedbFile::run`).
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{Cas, Catalog, ChangeFeed, StoreError, StreamChange};
use redb::{Database, ReadableTable, TableDefinition, TableError};
use tokio::sync::broadcast;

use crate::log::blocking;
use crate::redb_backend::RedbFile;
use crate::vfs::Vfs;
use crate::Durability;

const STREAMS: TableDefinition<u64, &str> = TableDefinition::new("streams");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// redb's page cache; the catalog is small.
const CACHE_BYTES: usize = 16 << 20;

/// Changes the feed holds for a subscriber that has not taken them yet; one further behind
/// reads every stream again.
const FEED_CAPACITY: usize = 1024;

/// The catalog: its calls run on blocking threads (redb does file I/O), and its change feed is
/// an in-process broadcast, since only this process writes the data directory.
#[derive(Clone)]
pub struct RedbCatalog {
    tables: Arc<Tables>,
}

/// The database and the feed, used from blocking threads.
struct Tables {
    db: RedbFile,
    changes: broadcast::Sender<StreamChange>,
    /// Held from a stream change's commit to its announcement, so that the feed reports
    /// changes in commit order (redb serializes write transactions anyway).
    announcing: Mutex<()>,
}

impl std::fmt::Debug for RedbCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbCatalog").field("db", &self.tables.db).finish()
    }
}

impl RedbCatalog {
    /// Opens (or creates) the database at `path`; the caller has created its directory.
    pub(crate) fn open(fs: Arc<dyn Vfs>, path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let db = RedbFile::open(fs, path, durability, CACHE_BYTES)?;
        let changes = broadcast::channel(FEED_CAPACITY).0;
        Ok(RedbCatalog { tables: Arc::new(Tables { db, changes, announcing: Mutex::new(()) }) })
    }

    /// Runs `op` on the tables on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Tables) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let tables = self.tables.clone();
        blocking(move || op(&tables)).await
    }
}

impl Catalog for RedbCatalog {
    async fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError> {
        self.run(Tables::load_streams).await
    }

    async fn get_stream(&self, stream_id: u64) -> Result<Option<StreamMeta>, StoreError> {
        self.run(move |tables| tables.get_stream(stream_id)).await
    }

    async fn put_stream(&self, stream: &StreamMeta, expected: Option<u64>) -> Result<Cas, StoreError> {
        let stream = Arc::new(stream.clone());
        self.run(move |tables| tables.put_stream(stream, expected)).await
    }

    async fn delete_stream(&self, stream_id: u64, expected: u64) -> Result<Cas, StoreError> {
        self.run(move |tables| tables.delete_stream(stream_id, expected)).await
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.run(move |tables| tables.get_setting(&key)).await
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.run(move |tables| tables.put_setting(&key, &value)).await
    }

    fn changes(&self) -> ChangeFeed {
        self.tables.changes.subscribe()
    }
}

impl Tables {
    fn with_db<T>(&self, op: impl FnOnce(&Database) -> Result<T, redb::Error>) -> Result<T, StoreError> {
        self.db.run(op)
    }

    fn write(
        &self,
        op: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        self.db.write(op)
    }

    /// Runs `op` on the streams table in one write transaction if the stored version of
    /// `stream_id` is `expected` (`None`: not stored), then announces `change`; otherwise
    /// writes nothing.
    fn compare_and_write(
        &self,
        stream_id: u64,
        expected: Option<u64>,
        change: StreamChange,
        op: impl FnOnce(&mut redb::Table<u64, &str>) -> Result<(), redb::Error>,
    ) -> Result<Cas, StoreError> {
        let _announcing = self.announcing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut outcome = Cas::Committed;
        self.write(|tx| {
            let mut table = tx.open_table(STREAMS)?;
            // A row that does not parse matches no expected version.
            let stored = table.get(stream_id)?.map(|row| stored_version(row.value()));
            if stored != expected.map(Some) {
                outcome = Cas::Conflict;
                return Ok(());
            }
            op(&mut table)
        })?;
        if outcome == Cas::Committed {
            // Nobody listening is fine.
            let _ = self.changes.send(change);
        }
        Ok(outcome)
    }

    fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError> {
        let json = self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = match tx.open_table(STREAMS) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            table.iter()?.map(|row| Ok(row?.1.value().to_owned())).collect::<Result<Vec<_>, redb::Error>>()
        })?;
        json.iter().map(|s| parse_stream(s)).collect()
    }

    fn get_stream(&self, stream_id: u64) -> Result<Option<StreamMeta>, StoreError> {
        let json = self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = match tx.open_table(STREAMS) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(table.get(stream_id)?.map(|row| row.value().to_owned()))
        })?;
        json.map(|json| parse_stream(&json)).transpose()
    }

    fn put_stream(&self, stream: Arc<StreamMeta>, expected: Option<u64>) -> Result<Cas, StoreError> {
        let json = serde_json::to_string(&*stream).map_err(|e| StoreError::Catalog(e.to_string()))?;
        let id = stream.id;
        self.compare_and_write(id, expected, StreamChange::Put(stream), |table| {
            table.insert(id, json.as_str())?;
            Ok(())
        })
    }

    fn delete_stream(&self, stream_id: u64, expected: u64) -> Result<Cas, StoreError> {
        let change = StreamChange::Deleted { stream_id };
        self.compare_and_write(stream_id, Some(expected), change, |table| {
            table.remove(stream_id)?;
            Ok(())
        })
    }

    fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read()?;
            let table = match tx.open_table(SETTINGS) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(table.get(key)?.map(|value| value.value().to_vec()))
        })
    }

    fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(SETTINGS)?.insert(key, value)?;
            Ok(())
        })
    }
}

/// The version of a stored stream, read without parsing the rest (catalogs written before
/// versions existed hold version 0); `None` if it does not parse.
fn stored_version(json: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Versioned {
        #[serde(default)]
        version: u64,
    }
    serde_json::from_str::<Versioned>(json).ok().map(|v| v.version)
}

fn parse_stream(json: &str) -> Result<StreamMeta, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stream metadata: {e}")))
}
