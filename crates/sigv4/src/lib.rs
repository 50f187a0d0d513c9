//! AWS Signature Version 4, both sides: [`Signer`] signs requests the way the AWS SDKs do, and
//! [`verify`] checks a received request's signature against the keys of a [`CredentialStore`],
//! answering with the error types and messages AWS uses. Both build the canonical request with
//! the same code, so what one signs the other accepts.
//!
//! The algorithm, the order of the checks and the messages are described in
//! `docs/protocol/sigv4.md`.

mod canonical;
pub mod date;
pub mod hex;
mod key;
mod sign;
mod verify;

pub use canonical::query_pairs;
pub use date::{amz_date, parse_amz_date};
pub use sign::{Request, Signer};
pub use verify::{verify, CredentialStore, SignatureError, SignedRequest};

/// The one algorithm SigV4 names.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";
