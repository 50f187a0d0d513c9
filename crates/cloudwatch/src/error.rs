//! CloudWatch's errors: the model's error shapes with their awsQuery codes and statuses
//! (botocore `cloudwatch/2010-08-01/service-2.json`), and the messages of `docs/cloudwatch.md`,
//! "Errors".

use http::StatusCode;

/// The kinds of error this subset answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidParameterValue,
    MissingParameter,
    InvalidParameterCombination,
    /// The model's `ValidationException`, which GetMetricData's query checks answer with.
    ValidationError,
    InvalidNextToken,
    /// The model's `LimitExceededFault`: kinesin's bound on stored series is reached.
    LimitExceeded,
    /// The body is not JSON or CBOR, or a member has the wrong type.
    Serialization,
    /// An operation this service does not serve.
    UnknownOperation,
    /// A body too large once decompressed.
    RequestEntityTooLarge,
}

impl ErrorKind {
    /// The awsQuery code, which `x-amzn-query-error` also carries.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidParameterValue => "InvalidParameterValue",
            ErrorKind::MissingParameter => "MissingParameter",
            ErrorKind::InvalidParameterCombination => "InvalidParameterCombination",
            ErrorKind::ValidationError => "ValidationError",
            ErrorKind::InvalidNextToken => "InvalidNextToken",
            ErrorKind::LimitExceeded => "LimitExceeded",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "InvalidAction",
            ErrorKind::RequestEntityTooLarge => "RequestEntityTooLarge",
        }
    }

    /// The model's shape name: what `__type` names in JSON and CBOR errors.
    pub fn shape(self) -> &'static str {
        match self {
            ErrorKind::InvalidParameterValue => "InvalidParameterValueException",
            ErrorKind::MissingParameter => "MissingRequiredParameterException",
            ErrorKind::InvalidParameterCombination => "InvalidParameterCombinationException",
            ErrorKind::ValidationError => "ValidationException",
            ErrorKind::InvalidNextToken => "InvalidNextToken",
            ErrorKind::LimitExceeded => "LimitExceededFault",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::RequestEntityTooLarge => "RequestEntityTooLarge",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error answer: what kind, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CloudWatchError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CloudWatchError { kind, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    /// `The parameter X is required.`
    pub fn missing(parameter: &str) -> Self {
        Self::new(ErrorKind::MissingParameter, format!("The parameter {parameter} is required."))
    }

    /// `The value V for parameter X is invalid.`
    pub fn invalid_value(value: impl std::fmt::Display, parameter: &str) -> Self {
        Self::invalid(format!("The value {value} for parameter {parameter} is invalid."))
    }

    /// `The parameters A and B are mutually exclusive and you have specified both.`
    pub fn exclusive(kind: ErrorKind, first: &str, second: &str) -> Self {
        Self::new(
            kind,
            format!(
                "The parameters {first} and {second} are mutually exclusive and you have specified both."
            ),
        )
    }

    /// `The collection X must not have a size greater than N.`
    pub fn too_many(collection: &str, limit: usize) -> Self {
        Self::invalid(format!("The collection {collection} must not have a size greater than {limit}."))
    }
}
