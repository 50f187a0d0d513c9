//! `RedbTableStore`: the [`Storage`] of kinesin's DynamoDB tables, a redb database at
//! `DATA/dynamodb.redb` opened through the vfs like the catalog, so the simulated disk's power
//! cuts cover tables too. One redb table of bytes to bytes; each commit is one transaction with
//! `Immediate` durability (`Eventual` under durability `os`). See `docs/dynamodb.md`,
//! "Storage".

// The closures below return redb's own error type, large as it is (see `RedbFile::run`).
#![allow(clippy::result_large_err)]

use std::io;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use kinesin_dynamodb::storage::bounds_cross;
use kinesin_dynamodb::{Storage, Write};
use kinesin_engine::storage::StoreError;
use redb::{TableDefinition, TableError};

use crate::redb_backend::RedbFile;
use crate::vfs::{self, Vfs};
use crate::Durability;

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dynamodb");
/// redb's page cache: lease tables are small, but a scan should not read pages twice.
const CACHE_BYTES: usize = 32 << 20;
/// The file's name in the data directory.
pub const FILE_NAME: &str = "dynamodb.redb";

#[derive(Debug)]
pub struct RedbTableStore {
    db: RedbFile,
}

fn io_error(e: StoreError) -> io::Error {
    match e {
        StoreError::Io(e) => e,
        e => io::Error::other(e.to_string()),
    }
}

impl RedbTableStore {
    /// Opens (or creates) `DATA/dynamodb.redb` in `root` on the given file system.
    pub fn open(fs: Arc<dyn Vfs>, root: &Path, durability: Durability) -> Result<RedbTableStore, StoreError> {
        vfs::ensure_dir(&*fs, root, durability == Durability::Fsync)?;
        Ok(RedbTableStore { db: RedbFile::open(fs, &root.join(FILE_NAME), durability, CACHE_BYTES)? })
    }
}

impl Storage for RedbTableStore {
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.db
            .run(|db| {
                let tx = db.begin_read()?;
                let table = match tx.open_table(ENTRIES) {
                    Ok(table) => table,
                    Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                Ok(table.get(key)?.map(|v| v.value().to_vec()))
            })
            .map_err(io_error)
    }

    fn scan(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()> {
        if bounds_cross(from, to) {
            return Ok(());
        }
        self.db
            .run(|db| {
                let tx = db.begin_read()?;
                let table = match tx.open_table(ENTRIES) {
                    Ok(table) => table,
                    Err(TableError::TableDoesNotExist(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                let range = table.range::<&[u8]>((from, to))?;
                // Boxed: the two directions are two iterator types.
                let entries: Box<dyn Iterator<Item = _>> =
                    if reverse { Box::new(range.rev()) } else { Box::new(range) };
                for entry in entries {
                    let (key, value) = entry?;
                    if !visit(key.value(), value.value()) {
                        break;
                    }
                }
                Ok(())
            })
            .map_err(io_error)
    }

    fn commit(&self, writes: Vec<Write>) -> io::Result<()> {
        self.db
            .write(|tx| {
                let mut table = tx.open_table(ENTRIES)?;
                for write in &writes {
                    match write {
                        Write::Put(k, v) => {
                            table.insert(k.as_slice(), v.as_slice())?;
                        }
                        Write::Delete(k) => {
                            table.remove(k.as_slice())?;
                        }
                        Write::DeletePrefix(prefix) => {
                            let end = kinesin_dynamodb::storage::prefix_end(prefix);
                            let range = (
                                Bound::Included(prefix.as_slice()),
                                end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
                            );
                            table.retain_in::<&[u8], _>(range, |_, _| false)?;
                        }
                    }
                }
                Ok(())
            })
            .map_err(io_error)
    }
}
