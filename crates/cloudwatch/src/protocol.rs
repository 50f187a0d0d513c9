//! Writing answers and errors in each protocol (`docs/cloudwatch.md`, "Protocols"):
//!
//! * AWS JSON 1.0: `application/x-amz-json-1.0`; errors `{"__type": shape id, "message"}`.
//! * Smithy RPC v2 CBOR: `application/cbor` with `smithy-protocol: rpc-v2-cbor` on every
//!   answer; errors a map with `__type` and `message`; an operation without output answers an
//!   empty body.
//! * awsQuery: `text/xml`, `<OpResponse><OpResult>..</OpResult><ResponseMetadata>` and
//!   `<ErrorResponse><Error><Type>/<Code>/<Message>`.
//!
//! The model is `awsQueryCompatible`, so JSON and CBOR errors also carry
//! `x-amzn-query-error: <awsQuery code>;<Sender|Receiver>`, from which SDKs take the code.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use kinesin_service::{Answer, Protocol};

use crate::output::{self, Node};

pub const XML_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The Smithy namespace of CloudWatch's shapes, for `__type`.
const SHAPE_NAMESPACE: &str = "com.amazonaws.cloudwatch";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const CBOR_CONTENT_TYPE: &str = "application/cbor";
const XML_CONTENT_TYPE: &str = "text/xml";

/// An error as every protocol needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<'a> {
    /// The awsQuery code (`InvalidParameterValue`).
    pub code: &'a str,
    /// The model's shape name (`InvalidParameterValueException`), or the code for errors the
    /// model has no shape for.
    pub shape: &'a str,
    /// Whether the shape is one of CloudWatch's own (so `__type` is namespaced).
    pub modeled: bool,
    pub message: &'a str,
    pub status: StatusCode,
}

fn smithy_protocol_header() -> (HeaderName, HeaderValue) {
    (HeaderName::from_static("smithy-protocol"), HeaderValue::from_static("rpc-v2-cbor"))
}

/// A successful answer to `operation`; `output` is `None` for operations without output.
pub fn success(protocol: Protocol, operation: &str, output: Option<&Node>, request_id: &str) -> Answer {
    match protocol {
        Protocol::AwsJson1_0 => {
            let body = output.map_or_else(|| serde_json::json!({}), output::to_json);
            answer(StatusCode::OK, Some(JSON_CONTENT_TYPE), Vec::new(), body.to_string().into_bytes())
        }
        Protocol::RpcV2Cbor => match output {
            Some(node) => answer(
                StatusCode::OK,
                Some(CBOR_CONTENT_TYPE),
                vec![smithy_protocol_header()],
                output::cbor_bytes(&output::to_cbor(node)),
            ),
            None => answer(StatusCode::OK, None, vec![smithy_protocol_header()], Vec::new()),
        },
        Protocol::AwsQuery => {
            let mut xml = format!("<{operation}Response xmlns=\"{XML_NAMESPACE}\">");
            if let Some(node) = output {
                xml.push_str(&format!("<{operation}Result>"));
                output::write_xml(node, &mut xml);
                xml.push_str(&format!("</{operation}Result>"));
            }
            xml.push_str(&format!("<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"));
            answer(StatusCode::OK, Some(XML_CONTENT_TYPE), Vec::new(), xml.into_bytes())
        }
    }
}

pub fn error(protocol: Protocol, failure: &Failure<'_>, request_id: &str) -> Answer {
    let fault = if failure.status.is_server_error() { "Receiver" } else { "Sender" };
    let type_name = if failure.modeled {
        format!("{SHAPE_NAMESPACE}#{}", failure.shape)
    } else {
        failure.shape.to_string()
    };
    let query_error = || {
        let value = HeaderValue::from_str(&format!("{};{fault}", failure.code))
            .unwrap_or_else(|_| HeaderValue::from_static("InternalFailure;Receiver"));
        (HeaderName::from_static("x-amzn-query-error"), value)
    };
    match protocol {
        Protocol::AwsJson1_0 => {
            let body = serde_json::json!({"__type": type_name, "message": failure.message});
            answer(
                failure.status,
                Some(JSON_CONTENT_TYPE),
                vec![query_error()],
                body.to_string().into_bytes(),
            )
        }
        Protocol::RpcV2Cbor => {
            let body = output::to_cbor(&Node::Struct(vec![
                ("__type", Node::Text(type_name)),
                ("message", Node::Text(failure.message.to_string())),
            ]));
            answer(
                failure.status,
                Some(CBOR_CONTENT_TYPE),
                vec![smithy_protocol_header(), query_error()],
                output::cbor_bytes(&body),
            )
        }
        Protocol::AwsQuery => {
            let mut xml =
                format!("<ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>{fault}</Type><Code>");
            output::escape_into(failure.code, &mut xml);
            xml.push_str("</Code><Message>");
            output::escape_into(failure.message, &mut xml);
            xml.push_str(&format!("</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"));
            answer(failure.status, Some(XML_CONTENT_TYPE), Vec::new(), xml.into_bytes())
        }
    }
}

fn answer(
    status: StatusCode,
    content_type: Option<&'static str>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> Answer {
    Answer { status, content_type, headers, body: Bytes::from(body) }
}

/// The awsQuery code of an error the front door found, whose code is in the AWS JSON style
/// that Kinesis uses. Query services name these differently.
pub fn query_code(front_door_code: &str) -> &str {
    match front_door_code {
        "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
        "UnrecognizedClientException" => "InvalidClientTokenId",
        "InvalidSignatureException" => "SignatureDoesNotMatch",
        "IncompleteSignatureException" => "IncompleteSignature",
        "AccessDeniedException" => "AccessDenied",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILURE: Failure<'static> = Failure {
        code: "InvalidParameterValue",
        shape: "InvalidParameterValueException",
        modeled: true,
        message: "bad <value>",
        status: StatusCode::BAD_REQUEST,
    };

    fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
        answer.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.to_str().unwrap())
    }

    #[test]
    fn json_errors_name_the_shape_and_the_query_code() {
        let answer = error(Protocol::AwsJson1_0, &FAILURE, "id");
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(header(&answer, "x-amzn-query-error"), Some("InvalidParameterValue;Sender"));
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["__type"], "com.amazonaws.cloudwatch#InvalidParameterValueException");
        assert_eq!(body["message"], "bad <value>");
    }

    #[test]
    fn cbor_answers_echo_the_protocol() {
        let answer = error(Protocol::RpcV2Cbor, &FAILURE, "id");
        assert_eq!(header(&answer, "smithy-protocol"), Some("rpc-v2-cbor"));
        assert_eq!(answer.content_type, Some("application/cbor"));
        let empty = success(Protocol::RpcV2Cbor, "PutMetricData", None, "id");
        assert_eq!(header(&empty, "smithy-protocol"), Some("rpc-v2-cbor"));
        assert!(empty.body.is_empty());
    }

    #[test]
    fn query_answers_are_xml() {
        let answer = error(Protocol::AwsQuery, &FAILURE, "rid");
        assert_eq!(
            std::str::from_utf8(&answer.body).unwrap(),
            "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>bad &lt;value&gt;</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
        let ok = success(Protocol::AwsQuery, "PutMetricData", None, "rid");
        assert_eq!(
            std::str::from_utf8(&ok.body).unwrap(),
            "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></PutMetricDataResponse>"
        );
    }
}
