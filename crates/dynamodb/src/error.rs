//! DynamoDB's errors as its front end renders them: a type in a namespace, a message and an
//! HTTP status (`docs/dynamodb.md`, "Errors").

use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::codec::encode_item;
use crate::Item;

/// The namespace DynamoDB puts before an error's code in `__type`: validation and protocol
/// errors come from its request framework, the rest from DynamoDB itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    /// `com.amazon.coral.validate#`
    Validate,
    /// `com.amazon.coral.service#`
    Service,
    /// `com.amazonaws.dynamodb.v20120810#`
    DynamoDb,
}

/// Why a transaction item did not run, in the order of `TransactItems`.
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed`, `TransactionConflict`, `ValidationError`, ...
    pub code: &'static str,
    pub message: Option<String>,
    /// The item as it was, for `ReturnValuesOnConditionCheckFailure=ALL_OLD`.
    pub item: Option<Item>,
}

/// One error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoError {
    namespace: Namespace,
    pub code: &'static str,
    /// `None` for the framework errors that carry no message (a body that is not JSON).
    pub message: Option<String>,
    /// `Message` instead of `message`: DynamoDB spells type errors of the request that way.
    capital_message: bool,
    pub status: StatusCode,
    /// The item of a `ConditionalCheckFailedException` when ALL_OLD was asked for.
    pub item: Option<Item>,
    pub cancellation_reasons: Vec<CancellationReason>,
}

pub type Result<T, E = DynamoError> = std::result::Result<T, E>;

impl DynamoError {
    fn new(namespace: Namespace, code: &'static str, message: Option<String>) -> DynamoError {
        DynamoError {
            namespace,
            code,
            message,
            capital_message: false,
            status: StatusCode::BAD_REQUEST,
            item: None,
            cancellation_reasons: Vec::new(),
        }
    }

    /// `ValidationException` (400) with `message`.
    pub fn validation(message: impl Into<String>) -> DynamoError {
        DynamoError::new(Namespace::Validate, "ValidationException", Some(message.into()))
    }

    /// `SerializationException` (400): the body is not JSON (no message), or a member has the
    /// wrong JSON type (a message, spelt `Message`).
    pub fn serialization(message: Option<String>) -> DynamoError {
        let mut error = DynamoError::new(Namespace::Service, "SerializationException", message);
        error.capital_message = true;
        error
    }

    /// `UnknownOperationException` (400), no message.
    pub fn unknown_operation() -> DynamoError {
        DynamoError::new(Namespace::Service, "UnknownOperationException", None)
    }

    /// `ResourceNotFoundException` (400) with DynamoDB's usual message.
    pub fn not_found() -> DynamoError {
        DynamoError::resource_not_found("Requested resource not found".to_owned())
    }

    /// `ResourceNotFoundException` (400) with `message`.
    pub fn resource_not_found(message: String) -> DynamoError {
        DynamoError::new(Namespace::DynamoDb, "ResourceNotFoundException", Some(message))
    }

    /// `TableNotFoundException` (400), which the backup operations answer for a missing table.
    pub fn table_not_found(name: &str) -> DynamoError {
        DynamoError::new(
            Namespace::DynamoDb,
            "TableNotFoundException",
            Some(format!("Table not found: {name}")),
        )
    }

    /// `ResourceInUseException` (400).
    pub fn in_use(message: impl Into<String>) -> DynamoError {
        DynamoError::new(Namespace::DynamoDb, "ResourceInUseException", Some(message.into()))
    }

    /// `LimitExceededException` (400).
    pub fn limit_exceeded(message: impl Into<String>) -> DynamoError {
        DynamoError::new(Namespace::DynamoDb, "LimitExceededException", Some(message.into()))
    }

    /// `ConditionalCheckFailedException` (400), with the item as it was when asked for.
    pub fn conditional_check_failed(item: Option<Item>) -> DynamoError {
        let mut error = DynamoError::new(
            Namespace::DynamoDb,
            "ConditionalCheckFailedException",
            Some("The conditional request failed".to_owned()),
        );
        error.item = item;
        error
    }

    /// `TransactionCanceledException` (400): the message lists each item's reason code.
    pub fn transaction_canceled(reasons: Vec<CancellationReason>) -> DynamoError {
        let codes: Vec<&str> = reasons.iter().map(|r| r.code).collect();
        let message = format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        );
        let mut error = DynamoError::new(Namespace::DynamoDb, "TransactionCanceledException", Some(message));
        error.cancellation_reasons = reasons;
        error
    }

    /// `InternalServerError` (500): storage failed; nothing was changed.
    pub fn internal(message: impl Into<String>) -> DynamoError {
        let mut error = DynamoError::new(Namespace::DynamoDb, "InternalServerError", Some(message.into()));
        error.status = StatusCode::INTERNAL_SERVER_ERROR;
        error
    }

    /// An error found by the front door (authentication), in DynamoDB's framework namespace.
    pub fn front_door(code: &'static str, message: String, status: StatusCode) -> DynamoError {
        let mut error = DynamoError::new(Namespace::Service, code, Some(message));
        error.status = status;
        error
    }

    /// The `__type` member: namespace and code.
    pub fn type_name(&self) -> String {
        let namespace = match self.namespace {
            Namespace::Validate => "com.amazon.coral.validate",
            Namespace::Service => "com.amazon.coral.service",
            Namespace::DynamoDb => "com.amazonaws.dynamodb.v20120810",
        };
        format!("{namespace}#{}", self.code)
    }

    /// The JSON body of the answer.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("__type".into(), Value::String(self.type_name()));
        if let Some(message) = &self.message {
            let key = if self.capital_message { "Message" } else { "message" };
            body.insert(key.into(), Value::String(message.clone()));
        }
        if let Some(item) = &self.item {
            body.insert("Item".into(), encode_item(item));
        }
        if !self.cancellation_reasons.is_empty() {
            let reasons = self
                .cancellation_reasons
                .iter()
                .map(|reason| {
                    let mut entry = Map::new();
                    if let Some(item) = &reason.item {
                        entry.insert("Item".into(), encode_item(item));
                    }
                    entry.insert("Code".into(), json!(reason.code));
                    if let Some(message) = &reason.message {
                        entry.insert("Message".into(), json!(message));
                    }
                    Value::Object(entry)
                })
                .collect();
            body.insert("CancellationReasons".into(), Value::Array(reasons));
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for DynamoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message.as_deref().unwrap_or(""))
    }
}

impl std::error::Error for DynamoError {}
