//! The two headers that route a request, read as `docs/protocol/front-door.md`, "Content-Type and
//! X-Amz-Target" describes: `Content-Type` picks the encoding and `X-Amz-Target` the operation. The
//! path is ignored, as AWS does.

use http::header::CONTENT_TYPE;
use http::HeaderMap;
use kinesin_wire::{Format, Operation};

/// The service part of every valid `X-Amz-Target`.
const SERVICE: &[u8] = b"Kinesis_20131202";

/// The request's content type: the text before the first `;`, trimmed, compared exactly
/// (case-sensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `application/x-amz-json-1.1` or `application/x-amz-cbor-1.1`: the two real protocols.
    Kinesis(Format),
    /// `application/json`: the deprecated protocol, which only ever gets legacy envelopes.
    LegacyJson,
    /// Missing, or anything else (`application/x-amz-json-1.0` included).
    Unsupported,
}

impl ContentType {
    pub fn of(headers: &HeaderMap) -> ContentType {
        let Some(value) = headers.get(CONTENT_TYPE) else {
            return ContentType::Unsupported;
        };
        let essence = value.as_bytes().split(|&b| b == b';').next().unwrap_or_default();
        match essence.trim_ascii() {
            b"application/x-amz-json-1.1" => ContentType::Kinesis(Format::Json),
            b"application/x-amz-cbor-1.1" => ContentType::Kinesis(Format::Cbor),
            b"application/json" => ContentType::LegacyJson,
            _ => ContentType::Unsupported,
        }
    }
}

/// What `X-Amz-Target` names. The service is the text before the first `.`, the operation the
/// text between the first and second (anything after that is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The service or the operation part is missing or empty. Differs from [`Target::Unknown`]
    /// only for unsupported content types, where it gets a 403 instead of a 404.
    Incomplete,
    /// Both parts are there but do not name a Kinesis operation.
    Unknown,
    Valid(Operation),
}

/// The service part of `X-Amz-Target`: the text before the first `.` (empty when absent).
pub fn target_prefix(headers: &HeaderMap) -> &[u8] {
    let raw = headers.get("x-amz-target").map(|v| v.as_bytes()).unwrap_or_default();
    raw.split(|&b| b == b'.').next().unwrap_or_default()
}

impl Target {
    pub fn of(headers: &HeaderMap) -> Target {
        let raw = headers.get("x-amz-target").map(|v| v.as_bytes()).unwrap_or_default();
        let mut parts = raw.split(|&b| b == b'.');
        let service = parts.next().unwrap_or_default();
        let operation = parts.next().unwrap_or_default();
        if service.is_empty() || operation.is_empty() {
            return Target::Incomplete;
        }
        if service != SERVICE {
            return Target::Unknown;
        }
        std::str::from_utf8(operation)
            .ok()
            .and_then(Operation::from_name)
            .map_or(Target::Unknown, Target::Valid)
    }

    pub fn operation(self) -> Option<Operation> {
        match self {
            Target::Valid(op) => Some(op),
            Target::Incomplete | Target::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, value.parse().unwrap());
        headers
    }

    #[test]
    fn content_type_keeps_text_before_semicolon_trimmed() {
        let ct = |v| ContentType::of(&headers("content-type", v));
        assert_eq!(ct("   application/x-amz-json-1.1   ;whatever"), ContentType::Kinesis(Format::Json));
        assert_eq!(ct("application/x-amz-cbor-1.1"), ContentType::Kinesis(Format::Cbor));
        assert_eq!(ct("     application/json     ;"), ContentType::LegacyJson);
        assert_eq!(ct("application/x-amz-json-1.0"), ContentType::Unsupported);
        assert_eq!(ct("application/x-amz-json-1.1asdf"), ContentType::Unsupported);
        assert_eq!(ct("Application/X-Amz-Json-1.1"), ContentType::Unsupported);
        assert_eq!(ContentType::of(&HeaderMap::new()), ContentType::Unsupported);
    }

    #[test]
    fn target_classes_follow_the_table() {
        let target = |v| Target::of(&headers("x-amz-target", v));
        assert_eq!(Target::of(&HeaderMap::new()), Target::Incomplete);
        assert_eq!(target(""), Target::Incomplete);
        assert_eq!(target("Whatever"), Target::Incomplete);
        assert_eq!(target("Kinesis_20131202."), Target::Incomplete);
        assert_eq!(target(".ListStreams"), Target::Incomplete);
        assert_eq!(target("Kinesis_20131202.Whatever"), Target::Unknown);
        assert_eq!(target("Kinesis_20131202.ListStream"), Target::Unknown);
        assert_eq!(target("Whatever.Whatever"), Target::Unknown);
        assert_eq!(target("whatever.ListStreams"), Target::Unknown);
        assert_eq!(target("kinesis_20131202.ListStreams"), Target::Unknown);
        assert_eq!(target("Kinesis_20131202.ListStreams"), Target::Valid(Operation::ListStreams));
        assert_eq!(target("Kinesis_20131202.ListStreams.extra"), Target::Valid(Operation::ListStreams));
    }
}
