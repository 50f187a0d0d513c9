//! redb's storage on a [`VfsFile`], so the catalog and the DynamoDB tables go through the same
//! file-system interface as the log (and the simulated disk in tests), and a database that
//! reopens itself after an I/O error.

// The closures below return redb's own error type, large as it is, so that `run` can tell I/O
// failures (which need a reopen) from the rest.
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use kinesin_engine::storage::StoreError;
use redb::Database;

use crate::vfs::{OpenMode, Vfs, VfsFile};
use crate::Durability;

/// A redb [`StorageBackend`](redb::StorageBackend) on a vfs file.
#[derive(Debug)]
pub(crate) struct VfsBackend {
    pub file: Arc<dyn VfsFile>,
    /// `false` (durability `os`): syncs are left to the OS. Writes still reach the file in
    /// order, which is all redb's barriers need short of a power loss.
    pub sync: bool,
}

impl redb::StorageBackend for VfsBackend {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    /// `eventual` asks only for a write barrier; Linux has none short of a sync, so (like
    /// redb's own file backend) both kinds sync.
    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        if self.sync {
            self.file.sync_data()
        } else {
            Ok(())
        }
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)
    }
}

pub(crate) fn redb_error(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(e) => StoreError::Io(e),
        e => StoreError::Catalog(e.to_string()),
    }
}

/// A redb database in one vfs file. After an I/O error redb refuses further work until
/// reopened; this reopens it on the next call (redb repairs it if needed).
pub(crate) struct RedbFile {
    fs: Arc<dyn Vfs>,
    path: PathBuf,
    durability: Durability,
    cache_bytes: usize,
    /// `None` after an I/O error, until reopened.
    db: RwLock<Option<Database>>,
}

impl std::fmt::Debug for RedbFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RedbFile {
    /// Opens (or creates) the database at `path`; the caller has created its directory.
    pub fn open(
        fs: Arc<dyn Vfs>,
        path: &Path,
        durability: Durability,
        cache_bytes: usize,
    ) -> Result<RedbFile, StoreError> {
        let db = open_db(&*fs, path, durability, cache_bytes)?;
        Ok(RedbFile { fs, path: path.to_owned(), durability, cache_bytes, db: RwLock::new(Some(db)) })
    }

    /// Runs `op` on the database, reopening it first if an I/O error closed it.
    pub fn run<T>(&self, op: impl FnOnce(&Database) -> Result<T, redb::Error>) -> Result<T, StoreError> {
        let mut guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            drop(guard);
            let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
            if db.is_none() {
                *db = Some(open_db(&*self.fs, &self.path, self.durability, self.cache_bytes)?);
            }
            drop(db);
            guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        }
        let db = guard.as_ref().ok_or_else(|| StoreError::Catalog("database closed".into()))?;
        match op(db) {
            Ok(value) => Ok(value),
            Err(e) => {
                if matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo) {
                    drop(guard);
                    *self.db.write().unwrap_or_else(PoisonError::into_inner) = None;
                }
                Err(redb_error(e))
            }
        }
    }

    /// Runs `op` in a write transaction and commits it: `Immediate` durability (fsync), or
    /// `Eventual` under durability `os`.
    pub fn write(
        &self,
        op: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StoreError> {
        let durability = match self.durability {
            Durability::Fsync => redb::Durability::Immediate,
            Durability::Os => redb::Durability::Eventual,
        };
        self.run(|db| {
            let mut tx = db.begin_write()?;
            tx.set_durability(durability);
            op(&tx)?;
            tx.commit()?;
            Ok(())
        })
    }
}

fn open_db(
    fs: &dyn Vfs,
    path: &Path,
    durability: Durability,
    cache_bytes: usize,
) -> Result<Database, StoreError> {
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
    redb::Builder::new().set_cache_size(cache_bytes).create_with_backend(backend).map_err(redb_error)
}
