//! `docs/protocol/front-door.md` (the request pipeline, routing, response headers and bodies, CORS,
//! authentication-header checks), driven over HTTP/1.1 and h2c against a stub API.

mod common;

use base64::Engine as _;
use common::*;
use http::StatusCode;
use kinesin_engine::RequestContext;
use kinesin_wire::{Operation, Value};

const ACCESS_DENIED: &str = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";
const LIST_STREAMS: &str = "Kinesis_20131202.ListStreams";
const EXPOSE: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// The headers every answer after the body has arrived carries (`docs/protocol/front-door.md`,
/// "Response headers"): both request ids and an
/// exact Content-Length.
fn assert_standard_headers(reply: &Reply) {
    let id = reply.header("x-amzn-requestid").expect("x-amzn-RequestId");
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "request id {id}");
    assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let id_2 = reply.header("x-amz-id-2").expect("x-amz-id-2");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(id_2).unwrap().len(), 72);
    assert_eq!(reply.header("content-length"), Some(reply.body.len().to_string().as_str()));
}

fn assert_xml(reply: &Reply, status: StatusCode, body: &str) {
    assert_eq!(reply.status, status);
    assert_eq!(reply.text(), body);
    assert_eq!(reply.header("content-type"), None);
    assert_standard_headers(reply);
}

fn assert_json(reply: &Reply, status: StatusCode, body: &str) {
    assert_eq!(reply.status, status);
    assert_eq!(reply.header("content-type"), Some(JSON));
    assert_eq!(reply.text(), body);
    assert_standard_headers(reply);
}

fn assert_cbor(reply: &Reply, status: StatusCode, body: ciborium::Value) {
    assert_eq!(reply.status, status);
    assert_eq!(reply.header("content-type"), Some(CBOR));
    assert_eq!(reply.cbor(), body);
    assert_standard_headers(reply);
}

#[tokio::test]
async fn non_post_methods_are_denied_in_xml() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let headers =
                [("x-amz-target", LIST_STREAMS), ("content-type", JSON), ("authorization", AUTHORIZATION)];
            let reply = server.send(protocol, request(method, "/", &headers, full("{}"))).await;
            assert_xml(&reply, StatusCode::FORBIDDEN, ACCESS_DENIED);
        }
        let reply = server.send(protocol, request("GET", "/whatever?x=1", &[], full(""))).await;
        assert_xml(&reply, StatusCode::FORBIDDEN, ACCESS_DENIED);
    }
    assert!(server.calls().is_empty());
}

/// The indefinite-length maps of `docs/protocol/front-door.md`, "Front-door error bodies", as
/// observed from AWS.
fn aws_cbor_bytes(code: &str) -> Vec<u8> {
    let hex = match code {
        "UnknownOperationException" => {
            "bf 66 5f5f74797065 78 19 556e6b6e6f776e4f7065726174696f6e457863657074696f6e ff"
        }
        "SerializationException" => "bf 66 5f5f74797065 76 53657269616c697a6174696f6e457863657074696f6e ff",
        _ => unreachable!(),
    };
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn empty_body_is_answered_in_cbor_unless_json_1_1() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for content_type in [
            None,
            Some("application/json"),
            Some("application/x-amz-json-1.0"),
            Some("application/x-amz-json-1.1asdf"),
            Some("text/plain"),
            Some(CBOR),
        ] {
            for (target, code) in [
                (None, "UnknownOperationException"),
                (Some("Kinesis_20131202.Whatever"), "UnknownOperationException"),
                (Some(LIST_STREAMS), "SerializationException"),
            ] {
                let mut headers = Vec::new();
                headers.extend(content_type.map(|ct| ("content-type", ct)));
                headers.extend(target.map(|t| ("x-amz-target", t)));
                let reply = server.send(protocol, request("POST", "/", &headers, full(""))).await;
                assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error(code, None));
                assert_eq!(reply.body, aws_cbor_bytes(code), "the bytes AWS sent in 2018");
            }
        }
        let json = [("content-type", "  application/x-amz-json-1.1 ; charset=utf-8")];
        let reply = server.send(protocol, request("POST", "/", &json, full(""))).await;
        assert_json(&reply, StatusCode::BAD_REQUEST, r#"{"__type":"UnknownOperationException"}"#);
        let reply = server.send(protocol, signed(LIST_STREAMS, JSON, "")).await;
        assert_json(&reply, StatusCode::BAD_REQUEST, r#"{"__type":"SerializationException"}"#);
    }
    assert!(server.calls().is_empty());
}

#[tokio::test]
async fn unsupported_content_type_gets_xml() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for content_type in [None, Some("application/x-amz-json-1.0"), Some("Application/X-Amz-Json-1.1")] {
            for (target, status, body) in [
                (None, StatusCode::FORBIDDEN, ACCESS_DENIED),
                (Some("Whatever"), StatusCode::FORBIDDEN, ACCESS_DENIED),
                (Some(".ListStreams"), StatusCode::FORBIDDEN, ACCESS_DENIED),
                (Some("Kinesis_20131202."), StatusCode::FORBIDDEN, ACCESS_DENIED),
                (Some("whatever.ListStreams"), StatusCode::NOT_FOUND, "<UnknownOperationException/>\n"),
                (Some(LIST_STREAMS), StatusCode::NOT_FOUND, "<UnknownOperationException/>\n"),
            ] {
                let mut headers = vec![("authorization", AUTHORIZATION), ("x-amz-date", "a")];
                headers.extend(content_type.map(|ct| ("content-type", ct)));
                headers.extend(target.map(|t| ("x-amz-target", t)));
                let reply = server.send(protocol, request("POST", "/", &headers, full("{}"))).await;
                assert_xml(&reply, status, body);
            }
        }
    }
}

#[tokio::test]
async fn unparsable_or_non_object_bodies_are_serialization_errors() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for body in ["hello", "true", "null", "[1"] {
            // Before target and auth checks: the target here is unknown and nothing is signed.
            let headers = [("content-type", JSON), ("x-amz-target", "Whatever.Whatever")];
            let reply = server.send(protocol, request("POST", "/", &headers, full(body))).await;
            assert_json(&reply, StatusCode::BAD_REQUEST, r#"{"__type":"SerializationException"}"#);
        }
        let headers = [("content-type", CBOR), ("x-amz-target", LIST_STREAMS)];
        let reply = server.send(protocol, request("POST", "/", &headers, full(&[0xffu8, 0x00][..]))).await;
        assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error("SerializationException", None));
    }
}

#[tokio::test]
async fn application_json_gets_legacy_envelopes() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for content_type in ["application/json", "     application/json     ;"] {
            let reply = server.send(protocol, signed(LIST_STREAMS, content_type, "hello")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(
                reply.text(),
                r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException"},"Version":"1.0"}"#
            );
            assert_standard_headers(&reply);

            for target in [LIST_STREAMS, "Whatever"] {
                let headers = [("content-type", content_type), ("x-amz-target", target)];
                let reply = server.send(protocol, request("POST", "/", &headers, full("{}"))).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND);
                assert_eq!(reply.header("content-type"), Some("application/json"));
                assert_eq!(
                    reply.text(),
                    r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}"#
                );
                assert_standard_headers(&reply);
            }
        }
    }
    assert!(server.calls().is_empty());
}

#[tokio::test]
async fn unknown_target_with_a_parsed_body_is_unknown_operation() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        for target in [
            None,
            Some("Whatever"),
            Some("Kinesis_20131202.Whatever"),
            Some("Kinesis_20131202.listStreams"),
            Some("whatever.ListStreams"),
        ] {
            let mut headers = vec![("content-type", JSON)];
            headers.extend(target.map(|t| ("x-amz-target", t)));
            let reply = server.send(protocol, request("POST", "/", &headers, full("{}"))).await;
            assert_json(&reply, StatusCode::BAD_REQUEST, r#"{"__type":"UnknownOperationException"}"#);
        }
        let headers = [("content-type", CBOR), ("x-amz-target", "Kinesis_20131202.Nope")];
        let reply = server.send(protocol, request("POST", "/", &headers, full(&[0xa0u8][..]))).await;
        assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error("UnknownOperationException", None));
    }
}

/// Path and query, auth-related headers, expected `__type` and `message`.
type AuthCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn authentication_errors_use_the_exact_messages() {
    let server = TestServer::start().await;
    let incomplete_header = "Authorization header requires 'Credential' parameter. \
        Authorization header requires 'Signature' parameter. \
        Authorization header requires 'SignedHeaders' parameter. \
        Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
        Authorization=X";
    let incomplete_query = "AWS query-string parameters must include 'X-Amz-Algorithm'. \
        AWS query-string parameters must include 'X-Amz-Credential'. \
        AWS query-string parameters must include 'X-Amz-Signature'. \
        AWS query-string parameters must include 'X-Amz-SignedHeaders'. \
        AWS query-string parameters must include 'X-Amz-Date'. \
        Re-examine the query-string parameters.";
    let cases: [AuthCase; 6] = [
        ("/", &[], "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ("/?X-Amz-Algorith", &[], "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ("/", &[("authorization", "X")], "IncompleteSignatureException", incomplete_header),
        (
            "/",
            &[("authorization", "AWS4- Signature=b, Credential=a"), ("date", "a")],
            "IncompleteSignatureException",
            "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b, Credential=a",
        ),
        ("/?X-Amz-Algorithm", &[], "IncompleteSignatureException", incomplete_query),
        (
            "/?X-Amz-Algorithm",
            &[("authorization", "X")],
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        ),
    ];
    for protocol in PROTOCOLS {
        for (path, auth_headers, code, message) in cases {
            let mut headers = vec![("content-type", JSON), ("x-amz-target", LIST_STREAMS)];
            headers.extend_from_slice(auth_headers);
            let reply = server.send(protocol, request("POST", path, &headers, full("{}"))).await;
            let body = serde_json::json!({ "__type": code, "message": message }).to_string();
            assert_json(&reply, StatusCode::BAD_REQUEST, &body);

            headers[0] = ("content-type", CBOR);
            let reply = server.send(protocol, request("POST", path, &headers, full(&[0xa0u8][..]))).await;
            assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error(code, Some(message)));
        }
    }
    assert!(server.calls().is_empty());
}

#[tokio::test]
async fn operations_run_with_account_and_credential_region() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        let reply = server.send(protocol, signed(LIST_STREAMS, JSON, r#"{"Limit":5}"#)).await;
        assert_json(&reply, StatusCode::OK, r#"{"Limit":5}"#);

        // Query-mode signing, with the region in a percent-encoded scope.
        let query = "/anything?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKID%2F20261125%2Fus-west-2%2Fkinesis%2Faws4_request\
            &X-Amz-Signature=c&X-Amz-SignedHeaders=host&X-Amz-Date=20261125T182526Z";
        let headers = [("content-type", "application/x-amz-cbor-1.1; x=y"), ("x-amz-target", LIST_STREAMS)];
        let reply = server.send(protocol, request("POST", query, &headers, full(&[0xa0u8][..]))).await;
        assert_cbor(&reply, StatusCode::OK, ciborium::Value::Map(vec![]));

        // A credential whose scope is not well formed falls back to the configured region.
        let headers = [
            ("content-type", JSON),
            ("x-amz-target", LIST_STREAMS),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=x"),
            ("date", "Wed, 25 Nov 2026 18:25:26 GMT"),
        ];
        let reply = server.send(protocol, request("POST", "/", &headers, full("{}"))).await;
        assert_json(&reply, StatusCode::OK, "{}");
    }
    let context = |region: &str| RequestContext { account: ACCOUNT.to_owned(), region: region.to_owned() };
    let calls = server.calls();
    assert_eq!(calls.len(), 6);
    for pair in calls.chunks(3) {
        assert_eq!(pair[0].ctx, context("eu-west-3"));
        assert_eq!(pair[0].op, Operation::ListStreams);
        assert_eq!(pair[0].input, Value::object().with("Limit", 5i64));
        assert_eq!(pair[1].ctx, context("us-west-2"));
        assert_eq!(pair[1].input, Value::object());
        assert_eq!(pair[2].ctx, context(DEFAULT_REGION));
    }
}

#[tokio::test]
async fn empty_answers_errors_and_panics() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        let reply = server
            .send(protocol, signed("Kinesis_20131202.DeleteStream", JSON, r#"{"StreamName":"s"}"#))
            .await;
        assert_json(&reply, StatusCode::OK, "");
        assert_eq!(reply.header("content-length"), Some("0"));

        let reply = server
            .send(protocol, signed("Kinesis_20131202.DeleteStream", CBOR, cbor_body(r#"{"StreamName":"s"}"#)))
            .await;
        assert_eq!(
            (reply.status, reply.header("content-type"), reply.body.len()),
            (StatusCode::OK, Some(CBOR), 0)
        );

        let body = r#"{"StreamName":"s","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1"}"#;
        let reply = server.send(protocol, signed("Kinesis_20131202.SplitShard", JSON, body)).await;
        assert_json(
            &reply,
            StatusCode::BAD_REQUEST,
            r#"{"__type":"ResourceNotFoundException","message":"Stream s not found."}"#,
        );

        let body = r#"{"StreamName":"s","ShardToMerge":"shardId-000000000000","AdjacentShardToMerge":"shardId-000000000001"}"#;
        let reply = server.send(protocol, signed("Kinesis_20131202.MergeShards", JSON, body)).await;
        assert_json(&reply, StatusCode::INTERNAL_SERVER_ERROR, r#"{"__type":"InternalFailure"}"#);
        let reply =
            server.send(protocol, signed("Kinesis_20131202.MergeShards", CBOR, cbor_body(body))).await;
        assert_cbor(&reply, StatusCode::INTERNAL_SERVER_ERROR, cbor_error("InternalFailure", None));
    }
}

#[tokio::test]
async fn cors_preflight_is_answered_before_everything() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        let headers = [
            ("origin", "https://example.com"),
            ("access-control-request-headers", "a, b, c"),
            ("access-control-request-method", "d"),
            ("content-type", "text/plain"),
        ];
        let reply = server.send(protocol, request("OPTIONS", "/", &headers, full(""))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("content-length"), Some("0"));
        assert_eq!(reply.header("content-type"), None);
        assert_eq!(reply.header("x-amz-id-2"), None);
        assert_eq!(reply.header("x-amzn-requestid").map(str::len), Some(36));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("access-control-max-age"), Some("172800"));
        assert_eq!(reply.header("access-control-allow-headers"), Some("a, b, c"));
        assert_eq!(reply.header("access-control-allow-methods"), Some("d"));
        assert_eq!(reply.header("access-control-expose-headers"), None);

        // Nothing asked, nothing echoed; signing does not matter.
        let headers = [("origin", "x"), ("authorization", "X")];
        let reply = server.send(protocol, request("OPTIONS", "/", &headers, full(""))).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("access-control-allow-headers"), None);
        assert_eq!(reply.header("access-control-allow-methods"), None);
    }
}

#[tokio::test]
async fn cors_headers_on_every_other_answer() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        let reply = server.send(protocol, request("POST", "/", &[("origin", "o")], full(""))).await;
        assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error("UnknownOperationException", None));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("access-control-expose-headers"), Some(EXPOSE));
        assert_eq!(reply.header("access-control-max-age"), None);

        let reply = server.send(protocol, request("GET", "/", &[("origin", "o")], full(""))).await;
        assert_xml(&reply, StatusCode::FORBIDDEN, ACCESS_DENIED);
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("access-control-expose-headers"), Some(EXPOSE));

        let mut ok = signed(LIST_STREAMS, JSON, "{}");
        ok.headers_mut().insert("origin", "o".parse().unwrap());
        let reply = server.send(protocol, ok).await;
        assert_json(&reply, StatusCode::OK, "{}");
        assert_eq!(reply.header("access-control-expose-headers"), Some(EXPOSE));

        // An empty Origin is no origin.
        let reply = server.send(protocol, request("OPTIONS", "/", &[("origin", "")], full(""))).await;
        assert_xml(&reply, StatusCode::FORBIDDEN, ACCESS_DENIED);
        assert_eq!(reply.header("access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn member_types_are_checked_after_auth_and_before_validation() {
    let server = TestServer::start().await;
    let describe = "Kinesis_20131202.DescribeStreamSummary";
    for protocol in PROTOCOLS {
        let reply = server.send(protocol, signed(describe, JSON, r#"{"StreamName":true}"#)).await;
        assert_json(
            &reply,
            StatusCode::BAD_REQUEST,
            r#"{"__type":"SerializationException","Message":"class java.lang.Boolean can not be converted to an String"}"#,
        );

        // Unsigned, the same body stops at authentication.
        let headers = [("content-type", JSON), ("x-amz-target", describe)];
        let reply =
            server.send(protocol, request("POST", "/", &headers, full(r#"{"StreamName":true}"#))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.text().contains("MissingAuthenticationTokenException"), "{}", reply.text());

        // Well typed but out of range: validation, in either encoding.
        let message = "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
                       Member must have value greater than or equal to 1";
        let reply = server.send(protocol, signed(LIST_STREAMS, JSON, r#"{"Limit":0}"#)).await;
        let body = serde_json::json!({ "__type": "ValidationException", "message": message }).to_string();
        assert_json(&reply, StatusCode::BAD_REQUEST, &body);
        let reply = server.send(protocol, signed(LIST_STREAMS, CBOR, cbor_body(r#"{"Limit":0}"#))).await;
        assert_cbor(&reply, StatusCode::BAD_REQUEST, cbor_error("ValidationException", Some(message)));
    }
    assert!(server.calls().is_empty());
}
