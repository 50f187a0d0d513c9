//! `RedbCatalog`: the [`Catalog`] of the embedded store, a redb database at
//! `DATA/catalog.redb` opened through the vfs.
//!
//! Tables: `streams` (stream id → `StreamMeta` as JSON) and `settings` (name → bytes). Every
//! call is one transaction, committed with redb's `Immediate` durability (`Eventual` under
//! durability `os`). After an I/O error redb refuses further work until reopened; the catalog
//! then reopens the database on the next call (redb repairs it if needed).

// The closures below return redb's own error type, large as it is, so that `with_db` can
// tell I/O failures (which need a reopen) from the rest.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{Catalog, StoreError};
use redb::{Database, ReadableTable, TableDefinition, TableError};

use crate::redb_backend::VfsBackend;
use crate::vfs::{OpenMode, Vfs};
use crate::Durability;

const STREAMS: TableDefinition<u64, &str> = TableDefinition::new("streams");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// redb's page cache; the catalog is small.
const CACHE_BYTES: usize = 16 << 20;

pub struct RedbCatalog {
    fs: Arc<dyn Vfs>,
    path: PathBuf,
    durability: Durability,
    /// `None` after an I/O error, until reopened.
    db: RwLock<Option<Database>>,
}

impl std::fmt::Debug for RedbCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbCatalog").field("path", &self.path).finish_non_exhaustive()
    }
}

fn catalog_error(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(e) => StoreError::Io(e),
        e => StoreError::Catalog(e.to_string()),
    }
}

impl RedbCatalog {
    /// Opens (or creates) the database at `path`; the caller has created its directory.
    pub(crate) fn open(fs: Arc<dyn Vfs>, path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let db = open_db(&*fs, path, durability)?;
        Ok(RedbCatalog { fs, path: path.to_owned(), durability, db: RwLock::new(Some(db)) })
    }

    /// Runs `op` on the database, reopening it first if an I/O error closed it.
    fn with_db<T>(&self, op: impl FnOnce(&Database) -> Result<T, redb::Error>) -> Result<T, StoreError> {
        let mut guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            drop(guard);
            let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
            if db.is_none() {
                *db = Some(open_db(&*self.fs, &self.path, self.durability)?);
            }
            drop(db);
            guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        }
        let db = guard.as_ref().ok_or_else(|| StoreError::Catalog("catalog closed".into()))?;
        match op(db) {
            Ok(value) => Ok(value),
            Err(e) => {
                if matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo) {
                    drop(guard);
                    *self.db.write().unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(catalog_error(e))
            }
        }
    }

    fn write(
        &self,
        op: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        let durability = match self.durability {
            Durability::Fsync => redb::Durability::Immediate,
            Durability::Os => redb::Durability::Eventual,
        };
        self.with_db(|db| {
            let mut tx = db.begin_write()?;
            tx.set_durability(durability);
            op(&tx)?;
            tx.commit()?;
            Ok(())
        })
    }
}

fn open_db(fs: &dyn Vfs, path: &Path, durability: Durability) -> Result<Database, StoreError> {
    let file = match fs.open(path, OpenMode::Existing) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = fs.open(path, OpenMode::Create)?;
            if durability == Durability::Fsync {
                fs.sync_dir(path.parent().unwrap_or(Path::new("/")))?;
            }
            file
        }
        Err(e) => return Err(e.into()),
    };
    let backend = VfsBackend { file, sync: durability == Durability::Fsync };
    redb::Builder::new().set_cache_size(CACHE_BYTES).create_with_backend(backend).map_err(catalog_error)
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
        json.iter()
            .map(|s| {
                serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stream metadata: {e}")))
            })
            .collect()
    }

    fn put_stream(&self, stream: &StreamMeta) -> Result<(), StoreError> {
        let json = serde_json::to_string(stream).map_err(|e| StoreError::Catalog(e.to_string()))?;
        self.write(|tx| {
            tx.open_table(STREAMS)?.insert(stream.id, json.as_str())?;
            Ok(())
        })
    }

    fn delete_stream(&self, stream_id: u64) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(STREAMS)?.remove(stream_id)?;
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
