//! Building responses: the bodies and headers of `docs/protocol/front-door.md` ("Response
//! Content-Type", "Front-door error bodies", "Body size limit", "Response headers").

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use kinesin_wire::{encode, ApiError, Format, Value};
use rand::RngCore;

use kinesin_sigv4::hex;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response. Boxed so that a streamed body (SubscribeToShard's event stream)
/// can sit beside the buffered ones.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

const LEGACY_JSON: &str = "application/json";

/// A complete body with an exact `Content-Length` (AWS always sends one, 0 included) and, when
/// given, a `Content-Type`. XML bodies have none.
fn buffered(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: impl Into<Bytes>,
) -> Response<ResponseBody> {
    let body = body.into();
    let length = body.len();
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A service's answer as it rendered it; the length is added here.
pub fn service_answer(answer: kinesin_service::Answer) -> Response<ResponseBody> {
    let mut response = buffered(answer.status, answer.content_type, answer.body);
    for (name, value) in answer.headers {
        response.headers_mut().append(name, value);
    }
    response
}

/// An operation's answer in the request's encoding: 200 (an empty body for `Value::Null`), or
/// the error with its own status.
pub fn answer(format: Format, result: Result<Value, ApiError>) -> Response<ResponseBody> {
    match result {
        Ok(value) => encoded(format, encode::encode(format, &value)),
        Err(err) => error(format, &err),
    }
}

/// A 200 answer whose body is already encoded in `format`.
pub fn encoded(format: Format, body: Vec<u8>) -> Response<ResponseBody> {
    buffered(StatusCode::OK, Some(format.content_type()), body)
}

pub fn error(format: Format, err: &ApiError) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    buffered(status, Some(format.content_type()), encode::encode_error(format, err))
}

/// 403 for a method other than POST, or an unsupported content type without a full target.
pub fn access_denied() -> Response<ResponseBody> {
    buffered(
        StatusCode::FORBIDDEN,
        None,
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
    )
}

/// 404 for an unsupported content type with both target parts.
pub fn unknown_operation_xml() -> Response<ResponseBody> {
    buffered(StatusCode::NOT_FOUND, None, "<UnknownOperationException/>\n")
}

/// The deprecated `application/json` protocol's answer to a body that does not parse.
pub fn legacy_serialization() -> Response<ResponseBody> {
    buffered(
        StatusCode::BAD_REQUEST,
        Some(LEGACY_JSON),
        r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException"},"Version":"1.0"}"#,
    )
}

/// The deprecated `application/json` protocol's answer to every body that parses.
pub fn legacy_unknown_operation() -> Response<ResponseBody> {
    buffered(
        StatusCode::NOT_FOUND,
        Some(LEGACY_JSON),
        r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}"#,
    )
}

/// 200 with an empty body and no Content-Type (the CORS preflight).
pub fn empty_ok() -> Response<ResponseBody> {
    buffered(StatusCode::OK, None, Bytes::new())
}

/// 413 for a body over the limit (`docs/protocol/front-door.md`, "Body size limit"): chunked and
/// empty, with no Content-Length and no request ids.
pub fn payload_too_large() -> Response<ResponseBody> {
    let mut response = Response::new(UnsizedEmpty.boxed_unsync());
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// An empty body that does not announce its size, so HTTP/1.1 sends it chunked.
struct UnsizedEmpty;

impl Body for UnsizedEmpty {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(None)
    }
}

/// Adds `x-amzn-RequestId` (a random UUID, version-4 layout, lowercase) and, unless this is a
/// CORS preflight, `x-amz-id-2` (base64 of 72 random bytes, as AWS sends).
pub fn add_request_ids(headers: &mut HeaderMap, with_id_2: bool) {
    // A service answer already names the id its body carries.
    if !headers.contains_key(REQUEST_ID) {
        headers.insert(REQUEST_ID, new_request_id());
    }
    if with_id_2 {
        let mut rng = rand::thread_rng();
        let mut id_2 = [0u8; 72];
        rng.fill_bytes(&mut id_2);
        let id_2 = base64::engine::general_purpose::STANDARD.encode(id_2);
        headers.insert("x-amz-id-2", HeaderValue::from_str(&id_2).expect("base64 is visible ASCII"));
    }
}

/// The header that names a request's id.
pub const REQUEST_ID: &str = "x-amzn-requestid";

/// A fresh request id: a version-4 UUID.
pub fn new_request_id() -> HeaderValue {
    let mut uuid = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut uuid);
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    HeaderValue::from_bytes(&uuid_text(&uuid)).expect("hex and dashes")
}

/// `uuid` as 8-4-4-4-12 lowercase hex digits, written into a buffer.
fn uuid_text(uuid: &[u8; 16]) -> [u8; 36] {
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (i, &byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1; // past a dash
        }
        text[at..at + 2].copy_from_slice(&hex::digits(byte));
        at += 2;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_is_the_hyphenated_lowercase_form() {
        let uuid =
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10];
        assert_eq!(&uuid_text(&uuid), b"01234567-89ab-cdef-fedc-ba9876543210");
    }

    #[test]
    fn request_ids_have_the_aws_shapes() {
        let mut headers = HeaderMap::new();
        add_request_ids(&mut headers, true);
        let id = headers["x-amzn-requestid"].to_str().unwrap();
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));

        let id_2 = headers["x-amz-id-2"].to_str().unwrap();
        assert_eq!(id_2.len(), 96);
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(id_2).unwrap().len(), 72);

        let mut preflight = HeaderMap::new();
        add_request_ids(&mut preflight, false);
        assert!(preflight.contains_key("x-amzn-requestid"));
        assert!(!preflight.contains_key("x-amz-id-2"));
    }
}
