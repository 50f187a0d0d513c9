//! redb's storage on a [`VfsFile`], so the catalog goes through the same file-system
//! interface as the log (and the simulated disk in tests).

use std::io;
use std::sync::Arc;

use crate::vfs::VfsFile;

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
