//! Where things are in [`Storage`](crate::storage::Storage) (`docs/dynamodb.md`, "Storage"):
//!
//! ```text
//! 'T' table-id(u64 BE)                              -> the table's TableMeta (JSON)
//! 'C' table-id                                      -> item count and bytes (u64 BE each)
//! 'I' table-id space(u32 BE) key                    -> space 0: the item (DynamoDB JSON)
//!                                                      space n: an entry of the index with id n,
//!                                                      valued the item's table key
//! ```
//!
//! Item keys are the key values encoded by `keys.rs`, hash then range; index entry keys are
//! the index's key values then the table's, so that entries with equal index keys stay apart.

use crate::codec::{decode_item, encode_item};
use crate::error::{DynamoError, Result};
use crate::keys::encode_key_value;
use crate::table::KeySchema;
use crate::Item;

pub const TABLE_PREFIX: u8 = b'T';
pub const COUNT_PREFIX: u8 = b'C';
pub const ITEM_PREFIX: u8 = b'I';

/// The space of the table's own items; indexes have ids from 1.
pub const TABLE_SPACE: u32 = 0;

pub fn table_meta_key(table: u64) -> Vec<u8> {
    let mut key = vec![TABLE_PREFIX];
    key.extend_from_slice(&table.to_be_bytes());
    key
}

pub fn count_key(table: u64) -> Vec<u8> {
    let mut key = vec![COUNT_PREFIX];
    key.extend_from_slice(&table.to_be_bytes());
    key
}

/// Every key of a table's items and index entries starts with this.
pub fn table_items_prefix(table: u64) -> Vec<u8> {
    let mut key = vec![ITEM_PREFIX];
    key.extend_from_slice(&table.to_be_bytes());
    key
}

/// Every key of one space (the table's items, or one index) starts with this.
pub fn space_prefix(table: u64, space: u32) -> Vec<u8> {
    let mut key = table_items_prefix(table);
    key.extend_from_slice(&space.to_be_bytes());
    key
}

/// The encoded key values of `schema` in `item`, hash then range; `None` if one is missing
/// (an item out of a sparse index) or not of its type.
pub fn encoded_key(schema: &KeySchema, item: &Item) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for attribute in schema.attributes() {
        let value = item.get(&attribute.name)?;
        if !attribute.scalar.matches(value) {
            return None;
        }
        encode_key_value(&mut out, value);
    }
    Some(out)
}

pub fn encode_stored_item(item: &Item) -> Vec<u8> {
    serde_json::to_vec(&encode_item(item)).unwrap_or_default()
}

pub fn decode_stored_item(bytes: &[u8]) -> Result<Item> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| DynamoError::internal(format!("a stored item is damaged: {e}")))?;
    decode_item(&json)
}

pub fn encode_count(items: u64, bytes: u64) -> Vec<u8> {
    let mut out = items.to_be_bytes().to_vec();
    out.extend_from_slice(&bytes.to_be_bytes());
    out
}

pub fn decode_count(bytes: &[u8]) -> (u64, u64) {
    let word = |range: std::ops::Range<usize>| {
        bytes.get(range).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
    };
    (word(0..8), word(8..16))
}
