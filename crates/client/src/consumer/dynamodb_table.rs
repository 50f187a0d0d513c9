//! The lease table in DynamoDB, written exactly as the KCL 2.x writes it, so that operators see
//! the same table as for a Java application and a Java worker can take over from a Rust one
//! (docs/client.md#the-lease-table): the legacy `Expected` / `AttributeUpdates` parameters, the
//! same conditions, numbers as plain integers.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeDefinition, AttributeValue, AttributeValueUpdate, BillingMode,
    ExpectedAttributeValue, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;

use super::lease::{Checkpoint, Lease};
use super::lease_table::{BoxFuture, LeaseTable, TableError, TableResult};
use crate::list_shards::describe_error;

const LEASE_KEY: &str = "leaseKey";
const LEASE_OWNER: &str = "leaseOwner";
const LEASE_COUNTER: &str = "leaseCounter";
const CHECKPOINT: &str = "checkpoint";
const CHECKPOINT_SUB_SEQUENCE_NUMBER: &str = "checkpointSubSequenceNumber";
const OWNER_SWITCHES_SINCE_CHECKPOINT: &str = "ownerSwitchesSinceCheckpoint";
const PARENT_SHARD_ID: &str = "parentShardId";
const CHILD_SHARD_IDS: &str = "childShardIds";
const STARTING_HASH_KEY: &str = "startingHashKey";
const ENDING_HASH_KEY: &str = "endingHashKey";
const PENDING_CHECKPOINT: &str = "pendingCheckpoint";
const PENDING_CHECKPOINT_SUB_SEQUENCE_NUMBER: &str = "pendingCheckpointSubSequenceNumber";
const PENDING_CHECKPOINT_STATE: &str = "pendingCheckpointState";

/// How often a table being created is described until it is ACTIVE, and for how long.
const TABLE_POLL_INTERVAL: Duration = Duration::from_millis(500);
const TABLE_WAIT_LIMIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub(crate) struct DynamoDbLeaseTable {
    client: Client,
    table: String,
}

impl DynamoDbLeaseTable {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDbLeaseTable {
        DynamoDbLeaseTable { client, table: table.into() }
    }

    /// The table's status; `None` if it does not exist.
    async fn status(&self) -> TableResult<Option<TableStatus>> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(answer) => Ok(answer.table.and_then(|t| t.table_status)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(table_error(e)),
        }
    }

    /// CreateTable as the KCL sends it: `leaseKey` (S) the hash key, on demand, no deletion
    /// protection. Another worker creating it first is fine.
    async fn create_table(&self) -> TableResult<()> {
        let key_schema =
            KeySchemaElement::builder().attribute_name(LEASE_KEY).key_type(KeyType::Hash).build();
        let key_type = AttributeDefinition::builder()
            .attribute_name(LEASE_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build();
        let request = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key_schema.map_err(|e| TableError(e.to_string()))?)
            .attribute_definitions(key_type.map_err(|e| TableError(e.to_string()))?)
            .billing_mode(BillingMode::PayPerRequest)
            .deletion_protection_enabled(false);
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(table_error(e)),
        }
    }

    /// UpdateItem with the legacy parameters; `Ok(false)` when the condition failed.
    async fn conditional_update(
        &self,
        key: &str,
        expected: HashMap<String, ExpectedAttributeValue>,
        updates: HashMap<String, AttributeValueUpdate>,
    ) -> TableResult<bool> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(LEASE_KEY, AttributeValue::S(key.to_owned()))
            .set_expected(Some(expected))
            .set_attribute_updates(Some(updates));
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(table_error(e)),
        }
    }
}

impl LeaseTable for DynamoDbLeaseTable {
    fn ensure_exists(&self) -> BoxFuture<'_, TableResult<()>> {
        Box::pin(async move {
            if self.status().await?.is_none() {
                self.create_table().await?;
            }
            let deadline = tokio::time::Instant::now() + TABLE_WAIT_LIMIT;
            loop {
                match self.status().await? {
                    // The KCL counts UPDATING as usable too.
                    Some(TableStatus::Active | TableStatus::Updating) => return Ok(()),
                    _ if tokio::time::Instant::now() > deadline => {
                        return Err(TableError(format!("lease table {} did not become ACTIVE", self.table)))
                    }
                    _ => tokio::time::sleep(TABLE_POLL_INTERVAL).await,
                }
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, TableResult<Vec<Lease>>> {
        Box::pin(async move {
            let mut leases = Vec::new();
            let mut start_key = None;
            loop {
                let page = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .set_exclusive_start_key(start_key)
                    .send()
                    .await
                    .map_err(table_error)?;
                for item in page.items() {
                    leases.push(lease_from_item(item)?);
                }
                start_key = page.last_evaluated_key.filter(|key| !key.is_empty());
                if start_key.is_none() {
                    return Ok(leases);
                }
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, TableResult<Option<Lease>>> {
        Box::pin(async move {
            let answer = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(LEASE_KEY, AttributeValue::S(key.to_owned()))
                .consistent_read(true)
                .send()
                .await
                .map_err(table_error)?;
            answer.item.as_ref().map(lease_from_item).transpose()
        })
    }

    fn create<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        Box::pin(async move {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item_of(lease)))
                .expected(LEASE_KEY, ExpectedAttributeValue::builder().exists(false).build());
            match request.send().await {
                Ok(_) => Ok(true),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    Ok(false)
                }
                Err(e) => Err(table_error(e)),
            }
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        Box::pin(self.conditional_update(&lease.key, counter_is(lease), HashMap::from([next_counter(lease)])))
    }

    fn take<'a>(&'a self, lease: &'a Lease, new_owner: &'a str) -> BoxFuture<'a, TableResult<bool>> {
        let mut updates =
            HashMap::from([next_counter(lease), put(LEASE_OWNER, AttributeValue::S(new_owner.to_owned()))]);
        if lease.owner.as_deref() != Some(new_owner) {
            updates.insert(
                OWNER_SWITCHES_SINCE_CHECKPOINT.to_owned(),
                AttributeValueUpdate::builder().action(AttributeAction::Add).value(number(1)).build(),
            );
        }
        Box::pin(self.conditional_update(&lease.key, counter_is(lease), updates))
    }

    fn evict<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let owner_is = match &lease.owner {
            Some(owner) => ExpectedAttributeValue::builder().value(AttributeValue::S(owner.clone())).build(),
            None => ExpectedAttributeValue::builder().exists(false).build(),
        };
        let updates = HashMap::from([next_counter(lease), delete(LEASE_OWNER)]);
        Box::pin(self.conditional_update(
            &lease.key,
            HashMap::from([(LEASE_OWNER.to_owned(), owner_is)]),
            updates,
        ))
    }

    fn update<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, TableResult<bool>> {
        let (checkpoint, sub_sequence_number) = lease.checkpoint.to_attributes();
        let mut updates = HashMap::from([
            next_counter(lease),
            put(CHECKPOINT, AttributeValue::S(checkpoint.to_owned())),
            put(CHECKPOINT_SUB_SEQUENCE_NUMBER, number(sub_sequence_number)),
            put(OWNER_SWITCHES_SINCE_CHECKPOINT, number(lease.owner_switches_since_checkpoint)),
            // No two-phase checkpoints here: a committed checkpoint clears any prepared one, as
            // the KCL's does.
            delete(PENDING_CHECKPOINT),
            delete(PENDING_CHECKPOINT_SUB_SEQUENCE_NUMBER),
            delete(PENDING_CHECKPOINT_STATE),
        ]);
        if !lease.child_shard_ids.is_empty() {
            updates.extend([put(CHILD_SHARD_IDS, AttributeValue::Ss(lease.child_shard_ids.clone()))]);
        }
        if let Some((start, end)) = &lease.hash_range {
            updates.extend([
                put(STARTING_HASH_KEY, AttributeValue::S(start.clone())),
                put(ENDING_HASH_KEY, AttributeValue::S(end.clone())),
            ]);
        }
        Box::pin(self.conditional_update(&lease.key, counter_is(lease), updates))
    }
}

/// The item the KCL's serializer writes for a lease: absent attributes for no owner and for
/// empty sets (DynamoDB has no empty sets).
pub(crate) fn item_of(lease: &Lease) -> HashMap<String, AttributeValue> {
    let (checkpoint, sub_sequence_number) = lease.checkpoint.to_attributes();
    let mut item = HashMap::from([
        (LEASE_KEY.to_owned(), AttributeValue::S(lease.key.clone())),
        (LEASE_COUNTER.to_owned(), number(lease.counter)),
        (CHECKPOINT.to_owned(), AttributeValue::S(checkpoint.to_owned())),
        (CHECKPOINT_SUB_SEQUENCE_NUMBER.to_owned(), number(sub_sequence_number)),
        (OWNER_SWITCHES_SINCE_CHECKPOINT.to_owned(), number(lease.owner_switches_since_checkpoint)),
    ]);
    if let Some(owner) = &lease.owner {
        item.insert(LEASE_OWNER.to_owned(), AttributeValue::S(owner.clone()));
    }
    if !lease.parent_shard_ids.is_empty() {
        item.insert(PARENT_SHARD_ID.to_owned(), AttributeValue::Ss(lease.parent_shard_ids.clone()));
    }
    if !lease.child_shard_ids.is_empty() {
        item.insert(CHILD_SHARD_IDS.to_owned(), AttributeValue::Ss(lease.child_shard_ids.clone()));
    }
    if let Some((start, end)) = &lease.hash_range {
        item.insert(STARTING_HASH_KEY.to_owned(), AttributeValue::S(start.clone()));
        item.insert(ENDING_HASH_KEY.to_owned(), AttributeValue::S(end.clone()));
    }
    item
}

/// Reads a lease item, whoever wrote it (attributes of later KCL versions are ignored).
pub(crate) fn lease_from_item(item: &HashMap<String, AttributeValue>) -> TableResult<Lease> {
    let key =
        string(item, LEASE_KEY)?.ok_or_else(|| TableError("a lease item without leaseKey".to_owned()))?;
    let unreadable = |what: &str| TableError(format!("lease {key}: unreadable {what}"));
    let checkpoint_text = string(item, CHECKPOINT)?.unwrap_or_else(|| "TRIM_HORIZON".to_owned());
    let checkpoint = Checkpoint::from_attributes(
        &checkpoint_text,
        integer(item, CHECKPOINT_SUB_SEQUENCE_NUMBER)
            .map_err(|_| unreadable(CHECKPOINT_SUB_SEQUENCE_NUMBER))?,
    )
    .ok_or_else(|| unreadable(CHECKPOINT))?;
    let hash_range = match (string(item, STARTING_HASH_KEY)?, string(item, ENDING_HASH_KEY)?) {
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    };
    Ok(Lease {
        owner: string(item, LEASE_OWNER)?,
        counter: integer(item, LEASE_COUNTER).map_err(|_| unreadable(LEASE_COUNTER))?,
        checkpoint,
        owner_switches_since_checkpoint: integer(item, OWNER_SWITCHES_SINCE_CHECKPOINT)
            .map_err(|_| unreadable(OWNER_SWITCHES_SINCE_CHECKPOINT))?,
        parent_shard_ids: string_set(item, PARENT_SHARD_ID),
        child_shard_ids: string_set(item, CHILD_SHARD_IDS),
        hash_range,
        key,
    })
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> TableResult<Option<String>> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TableError(format!("lease attribute {name} is not a string"))),
    }
}

/// A number attribute as the KCL reads it (`Long`); absent is 0. DynamoDB may hand back a
/// number in another form than it was written (`5.0`, `5E0`), so exact integers in any
/// notation are accepted.
fn integer(item: &HashMap<String, AttributeValue>, name: &str) -> Result<u64, ()> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(n)) => n.parse::<u64>().or_else(|_| {
            let value = n.parse::<f64>().map_err(|_| ())?;
            let exact = value.fract() == 0.0 && (0.0..9.0e15).contains(&value);
            exact.then_some(value as u64).ok_or(())
        }),
        Some(_) => Err(()),
    }
}

fn string_set(item: &HashMap<String, AttributeValue>, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::Ss(set)) => set.clone(),
        _ => Vec::new(),
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn counter_is(lease: &Lease) -> HashMap<String, ExpectedAttributeValue> {
    HashMap::from([(
        LEASE_COUNTER.to_owned(),
        ExpectedAttributeValue::builder().value(number(lease.counter)).build(),
    )])
}

fn next_counter(lease: &Lease) -> (String, AttributeValueUpdate) {
    put(LEASE_COUNTER, number(lease.counter + 1))
}

fn put(name: &str, value: AttributeValue) -> (String, AttributeValueUpdate) {
    (name.to_owned(), AttributeValueUpdate::builder().action(AttributeAction::Put).value(value).build())
}

fn delete(name: &str) -> (String, AttributeValueUpdate) {
    (name.to_owned(), AttributeValueUpdate::builder().action(AttributeAction::Delete).build())
}

fn table_error<E, R>(e: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    TableError(describe_error(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::lease::SequencePosition;

    #[test]
    fn a_lease_item_has_the_kcl_schema_and_reads_back() {
        let lease = Lease {
            key: "shardId-000000000002".to_owned(),
            owner: Some("worker-1".to_owned()),
            counter: 7,
            checkpoint: Checkpoint::At(SequencePosition::new(
                "49590338271490256608559692538361571095921575989136588898",
                3,
            )),
            owner_switches_since_checkpoint: 1,
            parent_shard_ids: vec!["shardId-000000000000".to_owned(), "shardId-000000000001".to_owned()],
            child_shard_ids: Vec::new(),
            hash_range: Some(("0".to_owned(), "170141183460469231731687303715884105727".to_owned())),
        };
        let item = item_of(&lease);
        assert_eq!(item[LEASE_COUNTER], AttributeValue::N("7".to_owned()));
        assert_eq!(item[CHECKPOINT_SUB_SEQUENCE_NUMBER], AttributeValue::N("3".to_owned()));
        assert!(matches!(item[PARENT_SHARD_ID], AttributeValue::Ss(_)));
        assert!(!item.contains_key(CHILD_SHARD_IDS), "no empty sets");
        assert_eq!(lease_from_item(&item), Ok(lease));
    }

    #[test]
    fn numbers_in_other_notations_read_as_integers() {
        let mut item = item_of(&Lease::new("shardId-000000000000", Checkpoint::TrimHorizon));
        item.insert(LEASE_COUNTER.to_owned(), AttributeValue::N("5E0".to_owned()));
        item.insert(LEASE_OWNER.to_owned(), AttributeValue::S("w".to_owned()));
        let lease = lease_from_item(&item).unwrap();
        assert_eq!((lease.counter, lease.owner.as_deref()), (5, Some("w")));
        item.insert(LEASE_COUNTER.to_owned(), AttributeValue::N("5.5".to_owned()));
        assert!(lease_from_item(&item).is_err());
    }
}
