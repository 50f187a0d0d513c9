//! `RedbCatalog`: the [`Catalog`] of the embedded store, a redb database at
//! `DATA/catalog.redb` opened through the vfs.
//!
//! Tables: `streams` (stream id → `StreamMeta` as JSON) and `settings` (name → bytes). Every
//! call is one transaction, committed with redb's `Immediate` durability (`Eventual` under
//! durability `os`), reopened after an I/O error (`redb_backend::RedbFile`).

// The closures below return redb's own error type, large as it is (see `RedbFile::run`).
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::sync::Arc;

use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{Cas, Catalog, StoreError};
use redb::{Database, ReadableTable, TableDefinition, TableError};

use crate::redb_backend::RedbFile;
use crate::vfs::Vfs;
use crate::Durability;

const STREAMS: TableDefinition<u64, &str> = TableDefinition::new("streams");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// redb's page cache; the catalog is small.
const CACHE_BYTES: usize = 16 << 20;

pub struct RedbCatalog {
    db: RedbFile,
}

impl std::fmt::Debug for RedbCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbCatalog").field("db", &self.db).finish()
    }
}

impl RedbCatalog {
    /// Opens (or creates) the database at `path`; the caller has created its directory.
    pub(crate) fn open(fs: Arc<dyn Vfs>, path: &Path, durability: Durability) -> Result<Self, StoreError> {
        Ok(RedbCatalog { db: RedbFile::open(fs, path, durability, CACHE_BYTES)? })
    }

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
    /// `stream_id` is `expected` (`None`: not stored); otherwise writes nothing.
    fn compare_and_write(
        &self,
        stream_id: u64,
        expected: Option<u64>,
        op: impl FnOnce(&mut redb::Table<u64, &str>) -> Result<(), redb::Error>,
    ) -> Result<Cas, StoreError> {
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
        Ok(outcome)
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

impl Catalog for RedbCatalog {
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

    fn put_stream(&self, stream: &StreamMeta, expected: Option<u64>) -> Result<Cas, StoreError> {
        let json = serde_json::to_string(stream).map_err(|e| StoreError::Catalog(e.to_string()))?;
        self.compare_and_write(stream.id, expected, |table| {
            table.insert(stream.id, json.as_str())?;
            Ok(())
        })
    }

    fn delete_stream(&self, stream_id: u64, expected: u64) -> Result<Cas, StoreError> {
        self.compare_and_write(stream_id, Some(expected), |table| {
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
