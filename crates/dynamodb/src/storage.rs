//! Where tables and items are kept: an ordered map of bytes to bytes with atomic, durable
//! batches. The layout of tables, items and index entries in it is `layout.rs`'s; the durable
//! implementation is `kinesin_store_local::RedbTableStore` (redb through the store's vfs), and
//! [`MemoryStorage`] serves tests.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::Bound;
use std::sync::Mutex;

/// One change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Every key that starts with these bytes.
    DeletePrefix(Vec<u8>),
}

/// The ordered, durable map the tables live in.
pub trait Storage: Send + Sync + Debug {
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;

    /// Visits the entries with keys between `from` and `to` in key order (descending when
    /// `reverse`), until `visit` returns `false`. Everything visited is one consistent
    /// snapshot.
    fn scan(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()>;

    /// Applies the writes atomically; once this returns they are durable (as durable as the
    /// store was opened to be). On error nothing was applied.
    fn commit(&self, writes: Vec<Write>) -> io::Result<()>;
}

/// The smallest key greater than every key starting with `prefix` (`None`: there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// An in-memory [`Storage`], for tests.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Storage for MemoryStorage {
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(self.map.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned())
    }

    fn scan(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()> {
        // A snapshot, so that `visit` may read the storage again (as reading an index does).
        let entries: Vec<(Vec<u8>, Vec<u8>)> = {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            if bounds_cross(from, to) {
                return Ok(());
            }
            map.range::<[u8], _>((from, to)).map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let mut go = |(k, v): &(Vec<u8>, Vec<u8>)| visit(k, v);
        if reverse {
            for entry in entries.iter().rev() {
                if !go(entry) {
                    break;
                }
            }
        } else {
            for entry in &entries {
                if !go(entry) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn commit(&self, writes: Vec<Write>) -> io::Result<()> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for write in writes {
            match write {
                Write::Put(k, v) => {
                    map.insert(k, v);
                }
                Write::Delete(k) => {
                    map.remove(&k);
                }
                Write::DeletePrefix(prefix) => map.retain(|k, _| !k.starts_with(&prefix)),
            }
        }
        Ok(())
    }
}

/// Whether a range's start lies after its end: such a range holds nothing, and the ordered maps
/// under the storages (BTreeMap, redb) refuse it rather than answer empty.
pub fn bounds_cross(from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    matches!(
        (from, to),
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) if a > b
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
