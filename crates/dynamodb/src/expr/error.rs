//! The one error every expression module answers with: DynamoDB reports all of them as a
//! `ValidationException` (HTTP 400) carrying this message (`docs/dynamodb-expressions.md`).

use std::fmt;

/// Which request parameter an expression came from; DynamoDB names it in its messages
/// (`Invalid FilterExpression: ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExpressionKind {
    /// The request parameter's name.
    pub fn parameter(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }
}

/// A rejected expression, placeholder map, legacy parameter or update: the message of the
/// `ValidationException` DynamoDB answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    message: String,
}

impl ExprError {
    pub(crate) fn new(message: impl Into<String>) -> ExprError {
        ExprError { message: message.into() }
    }

    /// A problem with the text of one expression: `Invalid <parameter>: <detail>`.
    pub(crate) fn invalid(kind: ExpressionKind, detail: impl fmt::Display) -> ExprError {
        ExprError::new(format!("Invalid {}: {detail}", kind.parameter()))
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
