//! The Kinesis wire format, with no I/O: the typed [`Value`] tree, JSON and CBOR request
//! decoding with the API model's type checks and validation messages, response encoding,
//! sequence numbers and shard iterators.

pub mod decode;
pub mod encode;
pub mod error;
pub mod input;
pub mod iterator;
pub mod operation;
pub mod put_records_answer;
pub mod seqnum;
pub mod shard_id;
pub mod token;
pub mod validate;
pub mod value;

mod model;
mod raw;

pub use decode::{check_types, parse_body, RawBody};
pub use encode::{encode, encode_error};
pub use error::ApiError;
pub use input::Input;
pub use operation::Operation;
pub use validate::validate;
pub use value::Value;

/// The two body encodings Kinesis speaks. Answers use the request's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-amz-json-1.1`
    Json,
    /// `application/x-amz-cbor-1.1`
    Cbor,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/x-amz-json-1.1",
            Format::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}
