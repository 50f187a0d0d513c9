//! The tables of every account and region, over one [`Storage`]: the catalog in memory, the
//! single writer that makes every write linearizable, and item writes that keep indexes and
//! counts in step in the same atomic commit (`docs/dynamodb.md`, "Semantics").

use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use crate::codec::item_size;
use crate::error::{DynamoError, Result};
use crate::layout::{self, TABLE_SPACE};
use crate::storage::{prefix_end, Storage, Write};
use crate::table::TableMeta;
use crate::Item;

/// Milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    })
}

/// How long tables and indexes stay in their transitional statuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// A new table is CREATING for this long.
    pub create_table_ms: i64,
    /// An updated table is UPDATING (and a new index CREATING) for this long.
    pub update_table_ms: i64,
}

/// Called with each entry a scan of a space reaches (its key within the space, and its
/// value); `Ok(false)` stops the scan.
pub type EntryVisitor<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool>;

/// Tables are named within an account and region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// A table's description and the counts DescribeTable reports.
#[derive(Debug, Clone)]
pub struct TableState {
    pub meta: TableMeta,
    pub item_count: u64,
    pub size_bytes: u64,
}

/// One item written: its table key, and what it was and becomes (`None`: absent).
#[derive(Debug, Clone)]
pub struct ItemChange {
    pub table: u64,
    pub key: Vec<u8>,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

pub struct Database {
    storage: Arc<dyn Storage>,
    pub settings: Settings,
    clock: Clock,
    tables: RwLock<BTreeMap<TableName, TableState>>,
    /// Held by every write from its first read to its commit: one writer at a time, so each
    /// write sees the effects of all the writes acknowledged before it.
    writer: Mutex<()>,
}

fn storage_error(e: io::Error) -> DynamoError {
    tracing::warn!(error = %e, "DynamoDB storage failed");
    DynamoError::internal("The request failed: the storage could not complete it. Nothing was changed.")
}

impl Database {
    /// Loads the tables kept in `storage`.
    pub fn open(storage: Arc<dyn Storage>, settings: Settings, clock: Clock) -> Result<Database, io::Error> {
        let mut metas = Vec::new();
        let mut bad = None;
        let start = [layout::TABLE_PREFIX];
        let end = [layout::TABLE_PREFIX + 1];
        storage.scan(Bound::Included(&start), Bound::Excluded(&end), false, &mut |_, value| {
            match serde_json::from_slice::<TableMeta>(value) {
                Ok(meta) => metas.push(meta),
                Err(e) => bad = Some(e),
            }
            true
        })?;
        if let Some(e) = bad {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a stored DynamoDB table is damaged: {e}"),
            ));
        }
        let mut tables = BTreeMap::new();
        for meta in metas {
            let (item_count, size_bytes) =
                storage.get(&layout::count_key(meta.id))?.map_or((0, 0), |b| layout::decode_count(&b));
            let name = TableName {
                account: meta.account.clone(),
                region: meta.region.clone(),
                name: meta.name.clone(),
            };
            tables.insert(name, TableState { meta, item_count, size_bytes });
        }
        Ok(Database { storage, settings, clock, tables: RwLock::new(tables), writer: Mutex::new(()) })
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Takes the single writer's turn.
    pub fn writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn table(&self, name: &TableName) -> Option<TableState> {
        self.tables.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// A table that serves items (ACTIVE or UPDATING): otherwise `ResourceNotFoundException`,
    /// as DynamoDB answers for a table still being created.
    pub fn serving_table(&self, name: &TableName) -> Result<TableState> {
        match self.table(name) {
            Some(state) if state.meta.status(self.now_ms()) != "CREATING" => Ok(state),
            _ => Err(DynamoError::not_found()),
        }
    }

    /// The names of the tables of an account and region, in order.
    pub fn table_names(&self, account: &str, region: &str) -> Vec<String> {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        tables.keys().filter(|k| k.account == account && k.region == region).map(|k| k.name.clone()).collect()
    }

    /// A table id no table has had: one more than the largest.
    pub fn next_table_id(&self) -> u64 {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        tables.values().map(|t| t.meta.id).max().map_or(1, |id| id + 1)
    }

    /// Stores a table's description (new or changed) with `extra` writes, in one commit. The
    /// caller holds the writer.
    pub fn put_table(&self, meta: TableMeta, extra: Vec<Write>) -> Result<()> {
        let json = serde_json::to_vec(&meta).map_err(|e| DynamoError::internal(e.to_string()))?;
        let mut writes = vec![Write::Put(layout::table_meta_key(meta.id), json)];
        writes.extend(extra);
        self.storage.commit(writes).map_err(storage_error)?;
        let name =
            TableName { account: meta.account.clone(), region: meta.region.clone(), name: meta.name.clone() };
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        match tables.get_mut(&name) {
            Some(state) => state.meta = meta,
            None => {
                tables.insert(name, TableState { meta, item_count: 0, size_bytes: 0 });
            }
        }
        Ok(())
    }

    /// Deletes a table with its items and index entries. The caller holds the writer.
    pub fn delete_table(&self, name: &TableName) -> Result<()> {
        let Some(state) = self.table(name) else { return Err(DynamoError::not_found()) };
        let id = state.meta.id;
        self.storage
            .commit(vec![
                Write::Delete(layout::table_meta_key(id)),
                Write::Delete(layout::count_key(id)),
                Write::DeletePrefix(layout::table_items_prefix(id)),
            ])
            .map_err(storage_error)?;
        self.tables.write().unwrap_or_else(PoisonError::into_inner).remove(name);
        Ok(())
    }

    /// The item with the encoded table key `key`.
    pub fn get_item(&self, table: u64, key: &[u8]) -> Result<Option<Item>> {
        let mut full = layout::space_prefix(table, TABLE_SPACE);
        full.extend_from_slice(key);
        match self.storage.get(&full).map_err(storage_error)? {
            Some(bytes) => layout::decode_stored_item(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Visits the entries of one space (the table's items, or an index) whose keys (after the
    /// space prefix) lie after `after` (or before it, when `reverse`) and start with `within`,
    /// until `visit` returns `false`. Values are raw: items, or table keys for index entries.
    pub fn scan_space(
        &self,
        table: u64,
        space: u32,
        within: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        visit: EntryVisitor<'_>,
    ) -> Result<()> {
        let mut prefix = layout::space_prefix(table, space);
        let prefix_len = prefix.len();
        prefix.extend_from_slice(within);
        let end = prefix_end(&prefix);
        let after = after.map(|a| {
            let mut full = layout::space_prefix(table, space);
            full.extend_from_slice(a);
            full
        });
        let end_bound = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        // `after` may lie outside `within`: the range is clamped to it either way.
        let (from, to) = match &after {
            Some(a) if !reverse && a.as_slice() >= prefix.as_slice() => {
                (Bound::Excluded(a.as_slice()), end_bound)
            }
            Some(a) if reverse && end.as_ref().is_none_or(|e| a < e) => {
                (Bound::Included(prefix.as_slice()), Bound::Excluded(a.as_slice()))
            }
            _ => (Bound::Included(prefix.as_slice()), end_bound),
        };
        let mut failure = None;
        self.storage
            .scan(from, to, reverse, &mut |key, value| {
                if !key.starts_with(&prefix) {
                    return false;
                }
                match visit(&key[prefix_len..], value) {
                    Ok(go_on) => go_on,
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                }
            })
            .map_err(storage_error)?;
        failure.map_or(Ok(()), Err)
    }

    /// Commits item changes with their index entries and the tables' counts, atomically. The
    /// caller holds the writer and has read each `old` under it.
    pub fn write_items(&self, changes: &[ItemChange]) -> Result<()> {
        let mut writes = Vec::new();
        let mut counts: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
        let metas: BTreeMap<u64, TableMeta> = {
            let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
            tables.values().map(|t| (t.meta.id, t.meta.clone())).collect()
        };
        for change in changes {
            let Some(meta) = metas.get(&change.table) else { return Err(DynamoError::not_found()) };
            let mut item_key = layout::space_prefix(change.table, TABLE_SPACE);
            item_key.extend_from_slice(&change.key);
            match &change.new {
                Some(item) => writes.push(Write::Put(item_key, layout::encode_stored_item(item))),
                None => writes.push(Write::Delete(item_key)),
            }
            for index in &meta.indexes {
                let entry = |item: &Item| {
                    layout::encoded_key(&index.key, item).map(|mut k| {
                        let mut full = layout::space_prefix(change.table, index.id);
                        full.append(&mut k);
                        full.extend_from_slice(&change.key);
                        full
                    })
                };
                let old = change.old.as_ref().and_then(entry);
                let new = change.new.as_ref().and_then(entry);
                if let Some(old) = &old {
                    if new.as_ref() != Some(old) {
                        writes.push(Write::Delete(old.clone()));
                    }
                }
                if let Some(new) = new {
                    writes.push(Write::Put(new, change.key.clone()));
                }
            }
            let count = counts.entry(change.table).or_default();
            let size = |item: &Option<Item>| item.as_ref().map_or(0, |i| item_size(i) as i64);
            count.0 += i64::from(change.new.is_some()) - i64::from(change.old.is_some());
            count.1 += size(&change.new) - size(&change.old);
        }
        // Counts are read, then the commit (and its fsync) runs without holding the catalog's
        // lock, so readers are never kept waiting on the disk; the writer keeps them current.
        let mut updated = Vec::new();
        {
            let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
            for (&table, &(items, bytes)) in &counts {
                if let Some(state) = tables.values().find(|t| t.meta.id == table) {
                    let items = state.item_count.saturating_add_signed(items);
                    let bytes = state.size_bytes.saturating_add_signed(bytes);
                    writes.push(Write::Put(layout::count_key(table), layout::encode_count(items, bytes)));
                    updated.push((table, items, bytes));
                }
            }
        }
        self.storage.commit(writes).map_err(storage_error)?;
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        for state in tables.values_mut() {
            if let Some(&(_, items, bytes)) = updated.iter().find(|u| u.0 == state.meta.id) {
                state.item_count = items;
                state.size_bytes = bytes;
            }
        }
        Ok(())
    }

    /// Writes the entries of a new index for every item of its table (the caller holds the
    /// writer and stores the index's description in the same commit through `put_table`).
    pub fn index_entries(&self, meta: &TableMeta, index_id: u32) -> Result<Vec<Write>> {
        let Some(index) = meta.indexes.iter().find(|i| i.id == index_id) else { return Ok(Vec::new()) };
        let mut writes = Vec::new();
        self.scan_space(meta.id, TABLE_SPACE, &[], None, false, &mut |key, value| {
            let item = layout::decode_stored_item(value)?;
            if let Some(mut index_key) = layout::encoded_key(&index.key, &item) {
                let mut full = layout::space_prefix(meta.id, index_id);
                full.append(&mut index_key);
                full.extend_from_slice(key);
                writes.push(Write::Put(full, key.to_vec()));
            }
            Ok(true)
        })?;
        Ok(writes)
    }
}
