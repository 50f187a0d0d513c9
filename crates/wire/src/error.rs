//! Errors as the client sees them: an AWS error type, an optional message and an HTTP status.

use std::fmt;

/// An error answered to the client as `{"__type": code, "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The `__type` sent on the wire, e.g. `ResourceNotFoundException`.
    pub code: &'static str,
    /// `None` leaves the message member out entirely (whole-body serialization errors do).
    pub message: Option<String>,
    /// Member-type SerializationExceptions spell the member `Message`; everything else `message`.
    pub capitalized_message: bool,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, message: Some(message.into()), capitalized_message: false }
    }

    /// An error with no message member at all.
    pub fn bare(code: &'static str) -> ApiError {
        ApiError { code, message: None, capitalized_message: false }
    }

    /// HTTP status: every Kinesis error is a client error (400) except internal failures.
    pub fn status(&self) -> u16 {
        match self.code {
            "InternalFailure" | "InternalFailureException" => 500,
            _ => 400,
        }
    }

    pub fn resource_not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("ResourceNotFoundException", message)
    }
    pub fn resource_in_use(message: impl Into<String>) -> ApiError {
        ApiError::new("ResourceInUseException", message)
    }
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidArgumentException", message)
    }
    pub fn limit_exceeded(message: impl Into<String>) -> ApiError {
        ApiError::new("LimitExceededException", message)
    }
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }
    pub fn expired_iterator(message: impl Into<String>) -> ApiError {
        ApiError::new("ExpiredIteratorException", message)
    }
    pub fn expired_next_token(message: impl Into<String>) -> ApiError {
        ApiError::new("ExpiredNextTokenException", message)
    }
    /// The body of a storage failure: AWS answers `{"__type":"InternalFailure"}` with status 500.
    pub fn internal_failure() -> ApiError {
        ApiError::bare("InternalFailure")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {}", self.code, m),
            None => f.write_str(self.code),
        }
    }
}

impl std::error::Error for ApiError {}
