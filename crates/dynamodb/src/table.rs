//! A table's description as it is stored: key schema, attribute definitions, billing, global
//! secondary indexes, settings, and the times its statuses end (`docs/dynamodb.md`, "Tables").

use serde::{Deserialize, Serialize};

use crate::error::{DynamoError, Result};
use crate::{AttributeValue, Item};

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn parse(text: &str) -> Option<ScalarType> {
        match text {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn matches(self, value: &AttributeValue) -> bool {
        value.type_name() == self.name()
    }
}

/// One key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    pub name: String,
    pub scalar: ScalarType,
}

/// A table's or an index's key: a hash key and an optional range key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
}

impl KeySchema {
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.hash).chain(&self.range)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.attributes().any(|a| a.name == name)
    }

    /// Only the key attributes of `item`.
    pub fn key_of(&self, item: &Item) -> Item {
        self.attributes().filter_map(|a| item.get(&a.name).map(|v| (a.name.clone(), v.clone()))).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

impl ProjectionType {
    pub fn name(self) -> &'static str {
        match self {
            ProjectionType::All => "ALL",
            ProjectionType::KeysOnly => "KEYS_ONLY",
            ProjectionType::Include => "INCLUDE",
        }
    }
}

/// Which attributes an index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexProjection {
    pub kind: ProjectionType,
    pub non_key: Vec<String>,
}

/// Read and write capacity units (0 and 0 on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Throughput {
    pub read: i64,
    pub write: i64,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    /// Its keyspace in storage (`layout.rs`); never reused within a table.
    pub id: u32,
    pub key: KeySchema,
    pub projection: IndexProjection,
    pub throughput: Throughput,
    /// CREATING until then (milliseconds since the epoch).
    pub creating_until_ms: i64,
}

impl IndexMeta {
    /// The attributes the index holds of `item`: the table's and the index's keys, and what
    /// its projection names.
    pub fn project(&self, table_key: &KeySchema, item: &Item) -> Item {
        match self.projection.kind {
            ProjectionType::All => item.clone(),
            _ => item
                .iter()
                .filter(|(name, _)| {
                    table_key.contains(name)
                        || self.key.contains(name)
                        || self.projection.non_key.contains(name)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeToLive {
    pub attribute: String,
    pub enabled: bool,
}

/// A table as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Its keyspace in storage (`layout.rs`).
    pub id: u64,
    pub account: String,
    pub region: String,
    pub name: String,
    /// The `TableId` DynamoDB answers: a UUID.
    pub uuid: String,
    pub key: KeySchema,
    /// `AttributeDefinitions`, in the order given.
    pub attributes: Vec<KeyAttribute>,
    pub on_demand: bool,
    pub throughput: Throughput,
    pub indexes: Vec<IndexMeta>,
    pub next_index_id: u32,
    pub created_ms: i64,
    /// CREATING until then.
    pub creating_until_ms: i64,
    /// UPDATING until then.
    pub updating_until_ms: i64,
    pub deletion_protection: bool,
    pub tags: Vec<(String, String)>,
    pub ttl: Option<TimeToLive>,
    pub point_in_time_recovery: bool,
}

impl TableMeta {
    pub fn arn(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}", self.region, self.account, self.name)
    }

    pub fn status(&self, now_ms: i64) -> &'static str {
        if now_ms < self.creating_until_ms {
            "CREATING"
        } else if now_ms < self.updating_until_ms || self.indexes.iter().any(|i| now_ms < i.creating_until_ms)
        {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }

    pub fn index(&self, name: &str) -> Option<&IndexMeta> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The definition of an attribute named in `AttributeDefinitions`.
    pub fn attribute(&self, name: &str) -> Option<ScalarType> {
        self.attributes.iter().find(|a| a.name == name).map(|a| a.scalar)
    }

    /// Checks an item's key attributes and its index key attributes (an index attribute of the
    /// wrong type is refused; a missing one leaves the item out of that index).
    pub fn check_item(&self, item: &Item) -> Result<()> {
        for attribute in self.key.attributes() {
            let Some(value) = item.get(&attribute.name) else {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attribute.name
                )));
            };
            if !attribute.scalar.matches(value) {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                    attribute.name,
                    attribute.scalar.name(),
                    value.type_name()
                )));
            }
            check_key_value(attribute, value)?;
        }
        check_key_sizes(&self.key, item)?;
        for index in &self.indexes {
            for attribute in index.key.attributes() {
                match item.get(&attribute.name) {
                    Some(value) if !attribute.scalar.matches(value) => {
                        return Err(DynamoError::validation(format!(
                            "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                            attribute.name,
                            attribute.scalar.name(),
                            value.type_name(),
                            index.name
                        )))
                    }
                    Some(value) if is_empty_scalar(value) => {
                        return Err(DynamoError::validation(format!(
                            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                            empty_kind(value),
                            index.name,
                            attribute.name
                        )))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Checks a `Key` parameter: exactly the table's key attributes, of their types.
    pub fn check_key(&self, key: &Item) -> Result<()> {
        let mismatch = || DynamoError::validation("The provided key element does not match the schema");
        if key.len() != self.key.attributes().count() {
            return Err(mismatch());
        }
        for attribute in self.key.attributes() {
            let value = key.get(&attribute.name).ok_or_else(mismatch)?;
            if !attribute.scalar.matches(value) {
                return Err(mismatch());
            }
            check_key_value(attribute, value)?;
        }
        check_key_sizes(&self.key, key)
    }
}

fn is_empty_scalar(value: &AttributeValue) -> bool {
    matches!(value, AttributeValue::S(s) if s.is_empty())
        || matches!(value, AttributeValue::B(b) if b.is_empty())
}

fn empty_kind(value: &AttributeValue) -> &'static str {
    if matches!(value, AttributeValue::B(_)) {
        "binary"
    } else {
        "string"
    }
}

/// Key values may not be empty strings or binaries.
fn check_key_value(attribute: &KeyAttribute, value: &AttributeValue) -> Result<()> {
    if is_empty_scalar(value) {
        return Err(DynamoError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
            empty_kind(value),
            attribute.name
        )));
    }
    Ok(())
}

/// The hash key may be at most 2048 bytes and the range key 1024.
fn check_key_sizes(key: &KeySchema, item: &Item) -> Result<()> {
    let size = |name: &str| item.get(name).map_or(0, crate::codec::value_size);
    if size(&key.hash.name) > 2048 {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if key.range.as_ref().is_some_and(|r| size(&r.name) > 1024) {
        return Err(DynamoError::validation(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}
