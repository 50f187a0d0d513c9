//! `SimFs`: an in-memory [`Vfs`] that models what survives a power cut, for tests.
//!
//! The model follows POSIX as the store relies on it (see the contract in [`crate::vfs`]):
//! * every file keeps its *durable* contents and the list of writes and length changes made
//!   since its last `sync_data`; reads see both;
//! * every directory keeps its *durable* entries and its current ones; `sync_dir` makes the
//!   current entries durable. A file or directory created, renamed or removed in a directory
//!   that was not synced afterwards is back to its old state after a power cut, even if the
//!   file's own data was synced.
//!
//! [`SimFs::power_cut`] drops everything that was not made durable and returns the file
//! system as the restarted machine sees it; [`SimFs::power_cut_torn`] also lets a random
//! prefix of each file's unsynced writes reach the disk, the last of them possibly torn (as
//! when the disk wrote some sectors of a request before the power went). The crashed side —
//! the old `SimFs` and every file opened through it — fails with an I/O error from then on, so
//! a store still running on it cannot touch the new "disk". [`SimFs::kill_process`] is the
//! same for a process killed with the machine running: nothing is lost, the page cache
//! included, and the old handle fails.
//!
//! [`SimFs::fail_writes`] simulates a full disk: writes, creating files and directories, and
//! growing a file fail with `ErrorKind::StorageFull` until it is switched off (syncing what
//! was written still works, as on ext4 and XFS, which reserve the blocks at write time).
//! [`SimFs::fail_syncs`] makes syncs fail, doing what Linux may do after a failed writeback:
//! the file's unsynced changes count as written, so reads still see them but they never reach
//! the disk, however many later syncs succeed.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Component, Path};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::vfs::{DirEntry, OpenMode, Vfs, VfsFile};

/// A simulated disk; see the module documentation. Cloning gives another handle to the same
/// disk and the same boot.
#[derive(Debug, Clone)]
pub struct SimFs {
    disk: Arc<Mutex<Disk>>,
    /// The boot this handle belongs to; handles of earlier boots fail.
    boot: u64,
}

#[derive(Debug)]
struct Disk {
    boot: u64,
    next_id: u64,
    files: HashMap<u64, SimInode>,
    dirs: HashMap<u64, SimDir>,
    fail_writes: bool,
    fail_syncs: bool,
    syncs: u64,
    sync_delay: Duration,
}

#[derive(Debug, Default)]
struct SimInode {
    durable: Vec<u8>,
    current: Vec<u8>,
    /// Changes since the last sync, in order: `durable` + these = `current`.
    unsynced: Vec<Change>,
}

#[derive(Debug)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default, Clone)]
struct SimDir {
    durable: BTreeMap<String, Node>,
    current: BTreeMap<String, Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File(u64),
    Dir(u64),
}

const ROOT: u64 = 0;

impl Default for SimFs {
    fn default() -> Self {
        Self::new()
    }
}

impl SimFs {
    /// An empty disk holding only the root directory `/`.
    pub fn new() -> Self {
        let mut dirs = HashMap::new();
        dirs.insert(ROOT, SimDir::default());
        let disk = Disk {
            boot: 0,
            next_id: ROOT + 1,
            files: HashMap::new(),
            dirs,
            fail_writes: false,
            fail_syncs: false,
            syncs: 0,
            sync_delay: Duration::ZERO,
        };
        SimFs { disk: Arc::new(Mutex::new(disk)), boot: 0 }
    }

    /// Cuts the power: everything not durable is lost. Returns the file system of the
    /// restarted machine; this handle and its open files fail from now on.
    pub fn power_cut(&self) -> SimFs {
        self.cut(|_| 0)
    }

    /// Like [`power_cut`](Self::power_cut), but for each file a random prefix (chosen from
    /// `seed`) of its unsynced changes reaches the disk, the last write possibly only in part.
    pub fn power_cut_torn(&self, seed: u64) -> SimFs {
        let mut rng = SplitMix64(seed);
        self.cut(move |bound| rng.below(bound + 1))
    }

    /// The process dies (kill -9) and starts again on the same machine: every write is kept,
    /// synced or not. Returns the file system the new process sees; this handle and its open
    /// files fail from now on.
    pub fn kill_process(&self) -> SimFs {
        let mut disk = self.lock();
        disk.boot += 1;
        SimFs { disk: self.disk.clone(), boot: disk.boot }
    }

    /// `true`: writes, creating files and directories, and growing a file fail with
    /// `StorageFull`.
    pub fn fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }

    /// `true`: file syncs fail, and drop what they should have written (see the module
    /// documentation).
    pub fn fail_syncs(&self, fail: bool) {
        self.lock().fail_syncs = fail;
    }

    /// How many file syncs (`sync_data`) have succeeded so far, across boots.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    /// Makes every file sync take this long, like a real disk (default: zero).
    pub fn set_sync_delay(&self, delay: Duration) {
        self.lock().sync_delay = delay;
    }

    /// Ends this boot. For each file, `keep(total)` picks how many of the `total` bytes of its
    /// unsynced changes (a length change counts as one byte) reach the disk, in order.
    fn cut(&self, mut keep: impl FnMut(u64) -> u64) -> SimFs {
        let mut disk = self.lock();
        disk.boot += 1;
        for inode in disk.files.values_mut() {
            let total: u64 = inode.unsynced.iter().map(Change::weight).sum();
            let budget = if total == 0 { 0 } else { keep(total) };
            inode.apply_prefix(budget);
            inode.current = inode.durable.clone();
        }
        for dir in disk.dirs.values_mut() {
            dir.current = dir.durable.clone();
        }
        SimFs { disk: self.disk.clone(), boot: disk.boot }
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        // A test that panicked while holding the lock leaves a consistent disk behind.
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the disk for an operation of this boot.
    fn live(&self) -> io::Result<MutexGuard<'_, Disk>> {
        let disk = self.lock();
        if disk.boot != self.boot {
            return Err(io::Error::other("simulated power loss: this machine is off"));
        }
        Ok(disk)
    }
}

impl Change {
    /// How much of the power-cut byte budget this change uses up.
    fn weight(&self) -> u64 {
        match self {
            Change::Write { data, .. } => data.len() as u64,
            Change::SetLen(_) => 1,
        }
    }
}

impl SimInode {
    /// Makes durable the unsynced changes, in order, until `budget` bytes are used (a length
    /// change counts as one); a write that does not fit lands in part. The rest is dropped.
    fn apply_prefix(&mut self, mut budget: u64) {
        for change in std::mem::take(&mut self.unsynced) {
            if budget == 0 {
                break;
            }
            match change {
                Change::Write { offset, data } => {
                    let n = (data.len() as u64).min(budget) as usize;
                    write_into(&mut self.durable, offset, &data[..n]);
                    budget -= n as u64;
                }
                Change::SetLen(len) => {
                    self.durable.resize(len as usize, 0);
                    budget -= 1;
                }
            }
        }
    }
}

fn write_into(buf: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let offset = offset as usize;
    if buf.len() < offset + data.len() {
        buf.resize(offset + data.len(), 0);
    }
    buf[offset..offset + data.len()].copy_from_slice(data);
}

fn storage_full() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "simulated full disk")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl Disk {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The directory at `path` (current view).
    fn dir_id(&self, path: &Path) -> io::Result<u64> {
        let mut id = ROOT;
        for name in components(path)? {
            match self.dirs[&id].current.get(name) {
                Some(Node::Dir(child)) => id = *child,
                Some(Node::File(_)) => {
                    return Err(io::Error::new(io::ErrorKind::NotADirectory, path.display().to_string()))
                }
                None => return Err(not_found(path)),
            }
        }
        Ok(id)
    }

    /// The parent directory of `path` and the last component's name.
    fn parent_and_name<'p>(&self, path: &'p Path) -> io::Result<(u64, &'p str)> {
        let mut parts = components(path)?;
        let name = parts.pop().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "root"))?;
        let parent = path.parent().ok_or_else(|| not_found(path))?;
        Ok((self.dir_id(parent)?, name))
    }

    fn entry(&self, path: &Path) -> io::Result<(u64, String, Node)> {
        let (parent, name) = self.parent_and_name(path)?;
        let node = *self.dirs[&parent].current.get(name).ok_or_else(|| not_found(path))?;
        Ok((parent, name.to_owned(), node))
    }
}

fn components(path: &Path) -> io::Result<Vec<&str>> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => out.push(
                name.to_str().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "non-UTF-8 path"))?,
            ),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "unsupported path"))
            }
        }
    }
    Ok(out)
}

impl Vfs for SimFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut disk = self.live()?;
        let (parent, name) = disk.parent_and_name(path)?;
        let existing = disk.dirs[&parent].current.get(name).copied();
        let inode = match (existing, mode) {
            (Some(Node::Dir(_)), _) => {
                return Err(io::Error::new(io::ErrorKind::IsADirectory, path.display().to_string()))
            }
            (Some(Node::File(inode)), OpenMode::Truncate) => {
                let file = disk.files.get_mut(&inode).expect("entry points to a file");
                file.current.clear();
                file.unsynced.push(Change::SetLen(0));
                inode
            }
            (Some(Node::File(inode)), _) => inode,
            (None, OpenMode::Existing) => return Err(not_found(path)),
            (None, OpenMode::Create | OpenMode::Truncate) => {
                if disk.fail_writes {
                    return Err(storage_full());
                }
                let inode = disk.new_id();
                disk.files.insert(inode, SimInode::default());
                let name = name.to_owned();
                disk.dirs.get_mut(&parent).expect("parent exists").current.insert(name, Node::File(inode));
                inode
            }
        };
        Ok(Arc::new(SimFile { fs: self.clone(), inode }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut disk = self.live()?;
        let (from_parent, from_name, node) = disk.entry(from)?;
        let (to_parent, to_name) = disk.parent_and_name(to)?;
        if let Some(Node::Dir(_)) = disk.dirs[&to_parent].current.get(to_name) {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, to.display().to_string()));
        }
        let to_name = to_name.to_owned();
        disk.dirs.get_mut(&from_parent).expect("exists").current.remove(&from_name);
        disk.dirs.get_mut(&to_parent).expect("exists").current.insert(to_name, node);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.live()?;
        let (parent, name, node) = disk.entry(path)?;
        if let Node::Dir(_) = node {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, path.display().to_string()));
        }
        disk.dirs.get_mut(&parent).expect("exists").current.remove(&name);
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.live()?;
        let mut id = ROOT;
        for name in components(path)? {
            id = match disk.dirs[&id].current.get(name).copied() {
                Some(Node::Dir(child)) => child,
                Some(Node::File(_)) => {
                    return Err(io::Error::new(io::ErrorKind::AlreadyExists, path.display().to_string()))
                }
                None => {
                    if disk.fail_writes {
                        return Err(storage_full());
                    }
                    let child = disk.new_id();
                    disk.dirs.insert(child, SimDir::default());
                    disk.dirs.get_mut(&id).expect("exists").current.insert(name.to_owned(), Node::Dir(child));
                    child
                }
            };
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let disk = self.live()?;
        let id = disk.dir_id(path)?;
        Ok(disk.dirs[&id]
            .current
            .iter()
            .map(|(name, node)| DirEntry { name: name.clone(), is_dir: matches!(node, Node::Dir(_)) })
            .collect())
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let disk = self.live()?;
        match disk.dir_id(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.live()?;
        let (parent, name, node) = disk.entry(path)?;
        if let Node::File(_) = node {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, path.display().to_string()));
        }
        // The subtree stays reachable from older durable entries until the parent is synced.
        disk.dirs.get_mut(&parent).expect("exists").current.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.live()?;
        let id = disk.dir_id(path)?;
        let dir = disk.dirs.get_mut(&id).expect("exists");
        dir.durable = dir.current.clone();
        Ok(())
    }
}

#[derive(Debug)]
struct SimFile {
    fs: SimFs,
    inode: u64,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimInode, bool) -> io::Result<T>) -> io::Result<T> {
        let mut disk = self.fs.live()?;
        let fail = disk.fail_writes;
        f(disk.files.get_mut(&self.inode).expect("open file exists"), fail)
    }
}

impl VfsFile for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.with(|inode, _| {
            let start = offset as usize;
            let end = start.checked_add(buf.len()).filter(|end| *end <= inode.current.len());
            let end = end.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(&inode.current[start..end]);
            Ok(())
        })
    }

    /// Everything is in memory: as cached as it gets.
    fn read_cached_at(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        self.read_exact_at(buf, offset).map(|()| true)
    }

    fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.with(|inode, fail| {
            if fail {
                return Err(storage_full());
            }
            write_into(&mut inode.current, offset, data);
            inode.unsynced.push(Change::Write { offset, data: data.to_vec() });
            Ok(())
        })
    }

    fn len(&self) -> io::Result<u64> {
        self.with(|inode, _| Ok(inode.current.len() as u64))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|inode, fail| {
            if fail && len > inode.current.len() as u64 {
                return Err(storage_full());
            }
            inode.current.resize(len as usize, 0);
            inode.unsynced.push(Change::SetLen(len));
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        let delay = self.fs.lock().sync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut disk = self.fs.live()?;
        let fail = disk.fail_syncs;
        let inode = disk.files.get_mut(&self.inode).expect("open file exists");
        if fail {
            inode.unsynced.clear();
            return Err(io::Error::other("simulated sync failure"));
        }
        inode.apply_prefix(u64::MAX);
        disk.syncs += 1;
        Ok(())
    }
}

/// A tiny deterministic generator for the torn power cut (splitmix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(fs: &SimFs, path: &str) -> Vec<u8> {
        let file = fs.open(Path::new(path), OpenMode::Existing).unwrap();
        let mut buf = vec![0; file.len().unwrap() as usize];
        file.read_exact_at(&mut buf, 0).unwrap();
        buf
    }

    #[test]
    fn unsynced_data_and_entries_are_lost() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        let f = fs.open(Path::new("/d/a"), OpenMode::Create).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(b" world", 5).unwrap();
        // The file's data is synced but its directory entry is not.
        let after = fs.power_cut();
        assert!(after.open(Path::new("/d/a"), OpenMode::Existing).is_err());
        assert!(f.len().is_err(), "the old boot's files are dead");

        let f = after.open(Path::new("/d/a"), OpenMode::Create).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        after.sync_dir(Path::new("/d")).unwrap();
        f.write_all_at(b" world", 5).unwrap();
        let after = after.power_cut();
        assert_eq!(read_all(&after, "/d/a"), b"hello");
    }

    #[test]
    fn torn_cut_keeps_a_prefix_of_unsynced_writes() {
        for seed in 0..50 {
            let fs = SimFs::new();
            let f = fs.open(Path::new("/a"), OpenMode::Create).unwrap();
            fs.sync_dir(Path::new("/")).unwrap();
            f.write_all_at(b"abc", 0).unwrap();
            f.sync_data().unwrap();
            f.write_all_at(b"defg", 3).unwrap();
            f.write_all_at(b"hij", 7).unwrap();
            let data = read_all(&fs.power_cut_torn(seed), "/a");
            assert!(b"abcdefghij".starts_with(&data) && data.len() >= 3, "{data:?}");
        }
    }

    #[test]
    fn full_disk_fails_writes() {
        let fs = SimFs::new();
        let f = fs.open(Path::new("/a"), OpenMode::Create).unwrap();
        f.write_all_at(b"x", 0).unwrap();
        fs.fail_writes(true);
        assert_eq!(f.write_all_at(b"y", 1).unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert!(fs.open(Path::new("/b"), OpenMode::Create).is_err());
        f.sync_data().unwrap();
        fs.fail_writes(false);
        f.write_all_at(b"y", 1).unwrap();
        f.sync_data().unwrap();
        assert_eq!(fs.sync_count(), 2);
    }

    #[test]
    fn a_killed_process_loses_nothing() {
        let fs = SimFs::new();
        let f = fs.open(Path::new("/a"), OpenMode::Create).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        f.write_all_at(b"unsynced", 0).unwrap();
        let restarted = fs.kill_process();
        assert!(f.write_all_at(b"x", 0).is_err(), "the dead process can do nothing");
        assert_eq!(read_all(&restarted, "/a"), b"unsynced");
        assert_eq!(read_all(&restarted.power_cut(), "/a"), b"", "still not durable");
    }

    #[test]
    fn a_failed_sync_loses_the_unsynced_writes_for_good() {
        let fs = SimFs::new();
        let f = fs.open(Path::new("/a"), OpenMode::Create).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        f.write_all_at(b"dropped", 0).unwrap();
        fs.fail_syncs(true);
        assert!(f.sync_data().is_err());
        fs.fail_syncs(false);
        f.write_all_at(b"kept", 7).unwrap();
        f.sync_data().unwrap();
        assert_eq!(read_all(&fs, "/a"), b"droppedkept", "reads still see the dropped writes");
        assert_eq!(read_all(&fs.power_cut(), "/a"), b"\0\0\0\0\0\0\0kept");
    }
}
