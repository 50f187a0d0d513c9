//! DynamoDB behind the front door: `X-Amz-Target: DynamoDB_20120810.<Operation>`, AWS JSON 1.0,
//! with the content-type handling and error rendering of DynamoDB's front end
//! (`docs/dynamodb.md`, "Protocol").

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use kinesin_service::{Answer, BoxFuture, Call, FrontDoorError, Protocol, Routes, Service};
use serde_json::Value;

use crate::error::{DynamoError, Result};
use crate::shape::Fields;
use crate::{items, reads, tables, transact, Context, Database};

const JSON_1_0: &str = "application/x-amz-json-1.0";
const JSON: &str = "application/json";

/// The DynamoDB service.
#[derive(Clone)]
pub struct DynamoDbService {
    db: Arc<Database>,
}

impl DynamoDbService {
    pub fn new(db: Arc<Database>) -> DynamoDbService {
        DynamoDbService { db }
    }
}

type Operation = fn(&Database, &Context, Fields<'_>) -> Result<Value>;

/// The operation a target names.
fn operation(name: &str) -> Option<Operation> {
    Some(match name {
        "CreateTable" => tables::create_table,
        "DescribeTable" => tables::describe_table,
        "DeleteTable" => tables::delete_table,
        "ListTables" => tables::list_tables,
        "UpdateTable" => tables::update_table,
        "UpdateTimeToLive" => tables::update_time_to_live,
        "DescribeTimeToLive" => tables::describe_time_to_live,
        "UpdateContinuousBackups" => tables::update_continuous_backups,
        "DescribeContinuousBackups" => tables::describe_continuous_backups,
        "TagResource" => tables::tag_resource,
        "UntagResource" => tables::untag_resource,
        "ListTagsOfResource" => tables::list_tags_of_resource,
        "GetItem" => items::get_item,
        "PutItem" => items::put_item,
        "DeleteItem" => items::delete_item,
        "UpdateItem" => items::update_item,
        "BatchGetItem" => items::batch_get_item,
        "BatchWriteItem" => items::batch_write_item,
        "TransactWriteItems" => transact::transact_write_items,
        "Scan" => reads::scan,
        "Query" => reads::query,
        _ => return None,
    })
}

/// The answer's content type: DynamoDB answers `application/x-amz-json-1.0` to requests of that
/// type and `application/json` otherwise.
fn answer_type(request_type: Option<&str>) -> &'static str {
    if request_type == Some(JSON_1_0) {
        JSON_1_0
    } else {
        JSON
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: &Value) -> Answer {
    Answer {
        status,
        content_type: Some(content_type),
        headers: Vec::new(),
        body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    }
}

fn error_answer(error: &DynamoError, content_type: &'static str) -> Answer {
    answer(error.status, content_type, &error.to_json())
}

impl DynamoDbService {
    /// Runs one request to completion (blocking: writes wait for their commit).
    pub fn run(
        &self,
        context: &Context,
        operation_name: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let reply_type = answer_type(content_type);
        // A body of another type is not DynamoDB's: its front end answers 404.
        if !body.is_empty() && content_type != Some(JSON_1_0) && content_type != Some(JSON) {
            return Answer {
                status: StatusCode::NOT_FOUND,
                content_type: None,
                headers: Vec::new(),
                body: Bytes::from_static(b"<UnknownOperationException/>\n"),
            };
        }
        let parsed: Option<Value> = match body {
            [] => None,
            _ => match serde_json::from_slice(body) {
                Ok(value) => Some(value),
                Err(_) => return error_answer(&DynamoError::serialization(None), reply_type),
            },
        };
        let Some(op) = operation(operation_name) else {
            return error_answer(&DynamoError::unknown_operation(), reply_type);
        };
        let Some(body) = parsed else {
            return error_answer(&DynamoError::serialization(None), reply_type);
        };
        let result = Fields::of(&body).and_then(|fields| op(&self.db, context, fields));
        match result {
            Ok(value) => answer(StatusCode::OK, reply_type, &value),
            Err(error) => error_answer(&error, reply_type),
        }
    }
}

impl Service for DynamoDbService {
    fn routes(&self) -> Routes {
        Routes { target_prefix: "DynamoDB_20120810", rpc_v2_name: None, aws_query: false }
    }

    fn signing_name(&self) -> &'static str {
        "dynamodb"
    }

    fn handle<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Answer> {
        let service = self.clone();
        let context = call.context.clone();
        let operation = call.operation.to_owned();
        let content_type =
            call.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = call.body;
        Box::pin(async move {
            let reply_type = answer_type(content_type.as_deref());
            tokio::task::spawn_blocking(move || {
                service.run(&context, &operation, content_type.as_deref(), &body)
            })
            .await
            .unwrap_or_else(|_| error_answer(&DynamoError::internal("The request failed."), reply_type))
        })
    }

    fn render_error(&self, protocol: Protocol, error: &FrontDoorError) -> Answer {
        let _ = protocol;
        error_answer(&DynamoError::front_door(error.code, error.message.clone(), error.status), JSON_1_0)
    }
}
