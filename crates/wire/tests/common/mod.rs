//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test crate uses its own subset

use kinesin_wire::{check_types, parse_body, validate, ApiError, Format, Operation, Value};

/// Steps 6, 10 and 11 on a JSON body.
pub fn run_json(op: Operation, body: &str) -> Result<Value, ApiError> {
    run(Format::Json, op, body.as_bytes())
}

pub fn run(format: Format, op: Operation, body: &[u8]) -> Result<Value, ApiError> {
    let typed = check_types(op, parse_body(format, body)?)?;
    validate(op, &typed)?;
    Ok(typed)
}

/// The `Message` of a member type error, asserting that it is one.
pub fn type_error(op: Operation, body: &str) -> String {
    let err = run_json(op, body).expect_err(body);
    assert_eq!(err.code, "SerializationException", "{body}: {err}");
    assert!(err.capitalized_message, "{body}");
    err.message.expect("type errors carry a message")
}

/// The `message` of a validation error, asserting that it is one.
pub fn validation_error(op: Operation, body: &str) -> String {
    let err = run_json(op, body).expect_err(body);
    assert_eq!(err.code, "ValidationException", "{body}: {err}");
    assert!(!err.capitalized_message, "{body}");
    err.message.expect("validation errors carry a message")
}
