//! The lease tables of consumer applications, as the tests look into them: a DynamoDB client for
//! the server, and each lease's owner and checkpoint.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{TestServer, REGION};

pub fn dynamodb_client(server: &TestServer) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(server.endpoint())
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .build(),
    )
}

/// Each leased shard's owner, from the lease table `table`.
pub async fn owners(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> HashMap<String, String> {
    string_attribute(dynamodb, table, "leaseOwner").await
}

/// Each shard's checkpoint (a sequence number, TRIM_HORIZON, SHARD_END…), from `table`.
pub async fn checkpoints(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> HashMap<String, String> {
    string_attribute(dynamodb, table, "checkpoint").await
}

async fn string_attribute(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    attribute: &str,
) -> HashMap<String, String> {
    let page = match dynamodb.scan().table_name(table).send().await {
        Ok(page) => page,
        // Not created yet: no leases.
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            return HashMap::new()
        }
        Err(e) => panic!("Scan of {table}: {e:?}"),
    };
    page.items()
        .iter()
        .filter_map(|item| match (item.get("leaseKey"), item.get(attribute)) {
            (Some(AttributeValue::S(key)), Some(AttributeValue::S(value))) => {
                Some((key.clone(), value.clone()))
            }
            _ => None,
        })
        .collect()
}
