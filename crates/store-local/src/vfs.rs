//! The narrow file-system interface every byte of the store goes through.
//!
//! The segment log and the catalog never call `std::fs` directly: they use [`Vfs`] and
//! [`VfsFile`], so that tests can run the real code on [`crate::SimFs`], a simulated disk that
//! keeps unsynced writes apart and drops them at a simulated power cut.
//!
//! Durability contract (what callers rely on, and what `SimFs` models):
//! * file contents and length changes are durable once [`VfsFile::sync_data`] returns;
//! * a directory's entries (files or directories created, renamed or removed in it) are durable
//!   once [`Vfs::sync_dir`] on that directory returns.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// How [`Vfs::open`] treats a missing or existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist.
    Existing,
    /// Open the file, creating it empty if it is missing.
    Create,
    /// Create the file, or empty it if it exists.
    Truncate,
}

/// One entry of [`Vfs::list_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// An open file, read and written at explicit offsets (pread/pwrite): no shared cursor, so
/// one handle can serve concurrent readers and a writer.
#[allow(clippy::len_without_is_empty)] // a file, not a collection
pub trait VfsFile: Send + Sync + Debug {
    /// Fills `buf` from `offset`; `UnexpectedEof` if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Like [`read_exact_at`](Self::read_exact_at), but only if it need not wait for the disk
    /// (the bytes are in the page cache): otherwise `Ok(false)`, with `buf` unspecified. Lets
    /// an async task read freshly written records without handing the read to a thread.
    fn read_cached_at(&self, buf: &mut [u8], offset: u64) -> io::Result<bool>;
    /// Writes all of `data` at `offset`, extending the file if needed.
    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    /// Truncates or extends (with zeros) the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the contents and length durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
}

/// The file-system operations the store needs. Paths are full paths.
pub trait Vfs: Send + Sync + Debug {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and any missing parents; succeeds if it exists.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of a directory, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Whether a directory exists at `path` (`false` if nothing does).
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Lets only the owner read and write the file or directory (mode 0600 or 0700), for key
    /// material. A file system without permissions does nothing.
    fn set_owner_only(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The real file system (`std::fs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(File);

impl VfsFile for RealFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(&self.0, buf, offset)
    }

    #[cfg(target_os = "linux")]
    fn read_cached_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        while !buf.is_empty() {
            let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
            let offset_arg = libc::off_t::try_from(offset).map_err(io::Error::other)?;
            // SAFETY: `iov` describes `buf`, which is valid for writes of its length.
            let n = unsafe { libc::preadv2(self.0.as_raw_fd(), &iov, 1, offset_arg, libc::RWF_NOWAIT) };
            match n {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n if n > 0 => {
                    buf = &mut buf[n as usize..];
                    offset += n as u64;
                }
                _ => {
                    let e = io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EINTR) => {}
                        // Not cached; or a kernel or file system without RWF_NOWAIT.
                        Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => {
                            return Ok(false)
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
        Ok(true)
    }

    #[cfg(not(target_os = "linux"))]
    fn read_cached_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<bool> {
        Ok(false)
    }

    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(&self.0, data, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

/// Files and directories the store creates are the owner's only: records of unencrypted
/// streams, stream names and tags are nobody else's business.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

impl Vfs for RealFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = OpenOptions::new();
        options.read(true).write(true).mode(FILE_MODE);
        match mode {
            OpenMode::Existing => {}
            OpenMode::Create => {
                options.create(true);
            }
            OpenMode::Truncate => {
                options.create(true).truncate(true);
            }
        }
        Ok(Arc::new(RealFile(options.open(path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            // Names that are not UTF-8 cannot be ours; skip them.
            if let Ok(name) = entry.file_name().into_string() {
                entries.push(DirEntry { name, is_dir: entry.file_type()?.is_dir() });
            }
        }
        Ok(entries)
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match std::fs::metadata(path) {
            Ok(metadata) => Ok(metadata.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn set_owner_only(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mode = if std::fs::metadata(path)?.is_dir() { DIR_MODE } else { FILE_MODE };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
}

/// Creates `path` if it is missing and, when `sync`, makes its entry in the parent durable.
/// (Parents are created too, but only the last one's entry is synced: the store's own
/// directories are created one level at a time.)
pub(crate) fn ensure_dir(fs: &dyn Vfs, path: &Path, sync: bool) -> io::Result<()> {
    // Not by listing it: a stream's directory holds a directory per shard, and creating a
    // stream of n shards made this O(n²).
    if fs.is_dir(path)? {
        return Ok(());
    }
    fs.create_dir_all(path)?;
    match path.parent() {
        Some(parent) if sync && !parent.as_os_str().is_empty() => fs.sync_dir(parent),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_reads_of_fresh_writes_return_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = RealFs.open(&dir.path().join("f"), OpenMode::Create).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all_at(&data, 0).unwrap();

        let mut buf = vec![0; 50_000];
        assert!(file.read_cached_at(&mut buf, 25_000).unwrap(), "just written, so in the page cache");
        assert_eq!(buf, data[25_000..75_000]);
        let err = file.read_cached_at(&mut buf, 75_000).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
