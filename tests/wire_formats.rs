//! Wire-level end-to-end tests: CBOR exactly as the Java SDK v2 sends it, h2c (HTTP/2 with prior
//! knowledge) for JSON and CBOR, and the front-door answers to malformed or misrouted requests
//! (`docs/protocol/front-door.md`, `docs/protocol/encodings.md`; the checklist of
//! `docs/protocol/operations.md`, "What real clients break on").

mod common;

use std::time::Duration;

use bytes::Bytes;
use ciborium::Value as C;
use common::*;
use http_body_util::{BodyExt, Full};
use serde_json::json;

fn cint(i: i64) -> C {
    C::Integer(i.into())
}

fn cbytes(b: &[u8]) -> C {
    C::Bytes(b.to_vec())
}

/// Epoch milliseconds in a CBOR response timestamp: a plain integer (tag 1 around it tolerated,
/// ⚠ `docs/protocol/encodings.md`, "Timestamps"), never a float.
fn cbor_ts_ms(v: &C) -> i64 {
    match v {
        C::Integer(i) => i128::from(*i) as i64,
        C::Tag(1, inner) => match &**inner {
            C::Integer(i) => i128::from(*i) as i64,
            other => panic!("tag-1 timestamp must wrap an integer of ms, got {other:?}"),
        },
        other => panic!("CBOR timestamp must be an integer of epoch ms, got {other:?}"),
    }
}

fn assert_cbor_error(resp: &RawResponse, code: &str) -> Option<String> {
    assert_eq!(resp.status, 400, "status for {code}: body {:02x?}", &resp.body[..resp.body.len().min(100)]);
    assert_eq!(resp.header("content-type").as_deref(), Some(CBOR), "errors use the request's content type");
    let v = resp.cbor();
    assert_eq!(cget(&v, "__type").and_then(ctext_of), Some(code), "error body {v:?}");
    cget(&v, "message").and_then(ctext_of).map(str::to_string)
}

/// A full produce/consume round in CBOR; `http2` picks h2c.
async fn cbor_round_trip(server: &TestServer, stream: &str, http2: bool) {
    let ep = server.endpoint();

    // CreateStream: 200, empty body, CBOR content type.
    let r = cbor_call(
        &ep,
        "CreateStream",
        &cmap(vec![("StreamName", ctext(stream)), ("ShardCount", cint(1))]),
        http2,
    )
    .await;
    assert_eq!(r.status, 200, "CreateStream: {:?}", r.body);
    assert!(r.body.is_empty(), "no modeled output → empty body, got {:02x?}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some(CBOR));
    wait_active(&server.client(), stream).await;

    // DescribeStreamSummary: timestamps are integer milliseconds.
    let r = cbor_call(&ep, "DescribeStreamSummary", &cmap(vec![("StreamName", ctext(stream))]), http2).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some(CBOR));
    let v = r.cbor();
    let sum = cget(&v, "StreamDescriptionSummary").expect("StreamDescriptionSummary");
    let created = cbor_ts_ms(cget(sum, "StreamCreationTimestamp").expect("StreamCreationTimestamp"));
    assert!((created - now_ms()).abs() < 60_000, "StreamCreationTimestamp {created} is ms");
    assert_eq!(cget(sum, "OpenShardCount").and_then(cint_of), Some(1));
    assert_eq!(cget(sum, "StreamName").and_then(ctext_of), Some(stream));

    // PutRecord with Data as a byte string.
    let payload: Vec<u8> = (0..=255u8).collect();
    let before = now_ms();
    let r = cbor_call(
        &ep,
        "PutRecord",
        &cmap(vec![
            ("StreamName", ctext(stream)),
            ("Data", cbytes(&payload)),
            ("PartitionKey", ctext("pk-1")),
        ]),
        http2,
    )
    .await;
    assert_eq!(r.status, 200, "PutRecord: {:?}", r.cbor());
    let v = r.cbor();
    assert_eq!(cget(&v, "ShardId").and_then(ctext_of), Some("shardId-000000000000"));
    let seq1 =
        cget(&v, "SequenceNumber").and_then(ctext_of).expect("SequenceNumber is a text string").to_string();
    assert!(seq1.bytes().all(|b| b.is_ascii_digit()));

    tokio::time::sleep(Duration::from_millis(50)).await;
    let t_mid = now_ms();
    tokio::time::sleep(Duration::from_millis(50)).await;

    // PutRecords: an array of maps.
    let r = cbor_call(
        &ep,
        "PutRecords",
        &cmap(vec![
            ("StreamName", ctext(stream)),
            (
                "Records",
                C::Array(vec![
                    cmap(vec![("Data", cbytes(b"two")), ("PartitionKey", ctext("a"))]),
                    cmap(vec![("Data", cbytes(b"")), ("PartitionKey", ctext("b"))]),
                ]),
            ),
        ]),
        http2,
    )
    .await;
    assert_eq!(r.status, 200, "PutRecords: {:?}", r.cbor());
    let v = r.cbor();
    assert_eq!(cget(&v, "FailedRecordCount").and_then(cint_of), Some(0));
    match cget(&v, "Records") {
        Some(C::Array(a)) => {
            assert_eq!(a.len(), 2);
            for e in a {
                assert!(cget(e, "SequenceNumber").and_then(ctext_of).is_some(), "{e:?}");
            }
        }
        other => panic!("Records: {other:?}"),
    }
    let after = now_ms();

    // GetShardIterator TRIM_HORIZON, then GetRecords.
    let r = cbor_call(
        &ep,
        "GetShardIterator",
        &cmap(vec![
            ("StreamName", ctext(stream)),
            ("ShardId", ctext("shardId-000000000000")),
            ("ShardIteratorType", ctext("TRIM_HORIZON")),
        ]),
        http2,
    )
    .await;
    assert_eq!(r.status, 200);
    let it = cget(&r.cbor(), "ShardIterator").and_then(ctext_of).expect("ShardIterator").to_string();
    let r =
        cbor_call(&ep, "GetRecords", &cmap(vec![("ShardIterator", ctext(&it)), ("Limit", cint(10))]), http2)
            .await;
    assert_eq!(r.status, 200, "GetRecords: {:?}", r.cbor());
    let v = r.cbor();
    let recs = match cget(&v, "Records") {
        Some(C::Array(a)) => a.clone(),
        other => panic!("Records: {other:?}"),
    };
    assert_eq!(recs.len(), 3);
    assert_eq!(cget(&recs[0], "Data"), Some(&C::Bytes(payload.clone())), "Data is a CBOR byte string");
    assert_eq!(cget(&recs[1], "Data"), Some(&C::Bytes(b"two".to_vec())));
    assert_eq!(cget(&recs[2], "Data"), Some(&C::Bytes(Vec::new())));
    assert_eq!(cget(&recs[0], "PartitionKey").and_then(ctext_of), Some("pk-1"));
    assert_eq!(cget(&recs[0], "SequenceNumber").and_then(ctext_of), Some(seq1.as_str()));
    for rec in &recs {
        let ts = cbor_ts_ms(cget(rec, "ApproximateArrivalTimestamp").expect("ApproximateArrivalTimestamp"));
        assert!(ts >= before - 2000 && ts <= after + 2000, "arrival {ts} ms not in [{before}, {after}]");
    }
    assert_eq!(cget(&v, "MillisBehindLatest").and_then(cint_of), Some(0));
    assert!(cget(&v, "NextShardIterator").and_then(ctext_of).is_some());

    // AT_TIMESTAMP with tag 1 + integer epoch milliseconds, as the Java SDK sends it.
    let r = cbor_call(
        &ep,
        "GetShardIterator",
        &cmap(vec![
            ("StreamName", ctext(stream)),
            ("ShardId", ctext("shardId-000000000000")),
            ("ShardIteratorType", ctext("AT_TIMESTAMP")),
            ("Timestamp", C::Tag(1, Box::new(cint(t_mid)))),
        ]),
        http2,
    )
    .await;
    assert_eq!(r.status, 200, "AT_TIMESTAMP with tag-1 ms: {:?}", r.cbor());
    let it = cget(&r.cbor(), "ShardIterator").and_then(ctext_of).unwrap().to_string();
    let r = cbor_call(&ep, "GetRecords", &cmap(vec![("ShardIterator", ctext(&it))]), http2).await;
    let v = r.cbor();
    match cget(&v, "Records") {
        Some(C::Array(a)) => {
            let datas: Vec<_> = a.iter().map(|x| cget(x, "Data").cloned()).collect();
            assert_eq!(
                datas,
                vec![Some(C::Bytes(b"two".to_vec())), Some(C::Bytes(Vec::new()))],
                "AT_TIMESTAMP {t_mid} must start after the first record (tag 1 = milliseconds, not seconds)"
            );
        }
        other => panic!("Records: {other:?}"),
    }

    // Errors come back as CBOR maps.
    let r = cbor_call(&ep, "DescribeStream", &cmap(vec![("StreamName", ctext("ghost"))]), http2).await;
    let msg = assert_cbor_error(&r, "ResourceNotFoundException");
    assert_eq!(msg.as_deref(), Some(format!("Stream ghost under account {ACCOUNT} not found.").as_str()));
    let r = cbor_call(
        &ep,
        "CreateStream",
        &cmap(vec![("StreamName", ctext("")), ("ShardCount", cint(1))]),
        http2,
    )
    .await;
    let msg = assert_cbor_error(&r, "ValidationException");
    // Pattern and length both fail for an empty name (kinesalite test/createStream.js, from AWS).
    assert_eq!(
        msg.as_deref(),
        Some(
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' \
             failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
}

#[tokio::test]
async fn cbor_java_sdk_style_over_http1() {
    let server = TestServer::start();
    cbor_round_trip(&server, "cbor-h1", false).await;
}

#[tokio::test]
async fn cbor_java_sdk_style_over_h2c() {
    let server = TestServer::start();
    cbor_round_trip(&server, "cbor-h2", true).await;
}

#[tokio::test]
async fn cbor_definite_lengths_and_exact_java_bytes() {
    let server = TestServer::start();
    let ep = server.endpoint();
    create_stream_and_wait(&server.client(), "defn", 1).await;
    // Definite-length encoding (what ciborium and most CBOR libraries emit) is accepted too.
    let mut body = Vec::new();
    ciborium::ser::into_writer(
        &cmap(vec![("StreamName", ctext("defn")), ("Data", cbytes(b"hello")), ("PartitionKey", ctext("pk"))]),
        &mut body,
    )
    .unwrap();
    assert_eq!(body[0], 0xa3, "definite map of 3");
    let r = raw(&ep, RawRequest::op("PutRecord", CBOR, body)).await;
    assert_eq!(r.status, 200, "{:?}", r.cbor());

    // The exact AT_TIMESTAMP bytes captured from an unmodified Java KinesisClient
    // (`docs/protocol/encodings.md`, "Timestamps"):
    // `…54696d657374616d70 c1 1b 000001a013accc38` (an instant in the past here).
    let mut java = Vec::new();
    java.push(0xbf);
    for (k, v) in
        [("StreamName", "defn"), ("ShardId", "shardId-000000000000"), ("ShardIteratorType", "AT_TIMESTAMP")]
    {
        java.push(0x60 + k.len() as u8);
        java.extend_from_slice(k.as_bytes());
        java.push(0x60 + v.len() as u8);
        java.extend_from_slice(v.as_bytes());
    }
    java.push(0x69);
    java.extend_from_slice(b"Timestamp");
    java.extend_from_slice(&[0xc1, 0x1b, 0x00, 0x00, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38]);
    java.push(0xff);
    let r = raw(&ep, RawRequest::op("GetShardIterator", CBOR, java)).await;
    assert_eq!(r.status, 200, "{:?}", r.cbor());
    let it = cget(&r.cbor(), "ShardIterator").and_then(ctext_of).unwrap().to_string();
    let r = cbor_call(&ep, "GetRecords", &cmap(vec![("ShardIterator", ctext(&it))]), false).await;
    match cget(&r.cbor(), "Records") {
        Some(C::Array(a)) => assert_eq!(a.len(), 1, "a timestamp in the past starts at the trim horizon"),
        other => panic!("{other:?}"),
    }

    // Malformed CBOR: SerializationException, in CBOR.
    let r = raw(&ep, RawRequest::op("ListStreams", CBOR, vec![0xbf, 0x61])).await;
    assert_cbor_error(&r, "SerializationException");
    // A CBOR body that is not a map.
    let r = raw(&ep, RawRequest::op("ListStreams", CBOR, vec![0x01])).await;
    assert_cbor_error(&r, "SerializationException");
}

#[tokio::test]
async fn json_over_h2c() {
    let server = TestServer::start();
    let ep = server.endpoint();
    let r = json_call_h2(&ep, "CreateStream", &json!({"StreamName": "h2", "ShardCount": 2})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.is_empty());
    wait_active(&server.client(), "h2").await;
    let r = json_call_h2(&ep, "ListStreams", &json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some(JSON));
    assert_eq!(r.json()["StreamNames"], json!(["h2"]));
    let r = json_call_h2(
        &ep,
        "PutRecord",
        &json!({"StreamName": "h2", "Data": "aGVsbG8=", "PartitionKey": "pk-1"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let shard = r.json()["ShardId"].as_str().unwrap().to_string();
    // pk-1 hashes to 273922656776327812788301823748127981641, in the upper half
    // (`docs/protocol/sequence-numbers.md`, "Hash keys and routing").
    assert_eq!(shard, "shardId-000000000001");
    let r = json_call_h2(
        &ep,
        "GetShardIterator",
        &json!({"StreamName": "h2", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    let it = r.json()["ShardIterator"].as_str().unwrap().to_string();
    let r = json_call_h2(&ep, "GetRecords", &json!({"ShardIterator": it})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Records"][0]["Data"], json!("aGVsbG8="));
    let r = json_call_h2(&ep, "DescribeStream", &json!({"StreamName": "nope"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], json!("ResourceNotFoundException"));

    // Many concurrent streams on one h2c connection.
    let client = {
        let mut b = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
        b.http2_only(true);
        b.build_http::<Full<Bytes>>()
    };
    let mut tasks = Vec::new();
    for i in 0..32 {
        let client = client.clone();
        let ep = ep.clone();
        tasks.push(tokio::spawn(async move {
            let body = serde_json::to_vec(&json!({
                "StreamName": "h2", "Data": "AAEC", "PartitionKey": format!("k{i}")
            }))
            .unwrap();
            let (amz, date) = amz_date();
            let req = hyper::Request::builder()
                .method("POST")
                .uri(format!("{ep}/"))
                .header("x-amz-target", "Kinesis_20131202.PutRecord")
                .header("content-type", JSON)
                .header("x-amz-date", amz)
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/us-east-1/kinesis/aws4_request, \
                         SignedHeaders=host;x-amz-date, Signature=00"
                    ),
                )
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            let resp = client.request(req).await.expect("h2c request");
            assert_eq!(resp.version(), hyper::Version::HTTP_2);
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
}

#[tokio::test]
async fn front_door_errors() {
    let server = TestServer::start();
    let ep = server.endpoint();
    let xml_denied = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be \
                      authorized</Message>\n</AccessDeniedException>\n";

    // Non-POST methods: 403 XML AccessDeniedException, no Content-Type (`docs/protocol/front-door.md`,
    // "Methods other than POST").
    for (method, h2) in [("GET", false), ("PUT", false), ("DELETE", false), ("GET", true)] {
        let r = raw(&ep, RawRequest::op("ListStreams", JSON, Vec::new()).method(method).http2(h2)).await;
        assert_eq!(r.status, 403, "{method} (h2 {h2})");
        assert_eq!(String::from_utf8_lossy(&r.body), xml_denied, "{method}");
        assert_eq!(r.header("content-type"), None, "{method}");
        assert!(r.header("x-amzn-requestid").is_some(), "x-amzn-RequestId on every response");
    }
    let bare_get =
        raw(&ep, RawRequest::op("ListStreams", JSON, Vec::new()).method("GET").unsigned().target(None)).await;
    assert_eq!(bare_get.status, 403);

    // Unknown operation / service: 400 UnknownOperationException without a message.
    for target in ["Kinesis_20131202.Whatever", "Kinesis_20131202.ListStream", "Whatever.ListStreams"] {
        let r = raw(&ep, RawRequest::op("ListStreams", JSON, b"{}".to_vec()).target(Some(target))).await;
        assert_eq!(r.status, 400, "{target}");
        assert_eq!(r.header("content-type").as_deref(), Some(JSON));
        assert_eq!(r.json(), json!({"__type": "UnknownOperationException"}), "{target}");
    }
    // No target at all, JSON body: UnknownOperationException too.
    let r = raw(&ep, RawRequest::op("ListStreams", JSON, b"{}".to_vec()).target(None)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], json!("UnknownOperationException"));

    // Malformed JSON and non-object bodies: SerializationException without a message.
    for body in [&b"hello"[..], b"{\"StreamName\":", b"true", b"null", b"[1"] {
        let r = raw(&ep, RawRequest::op("ListStreams", JSON, body.to_vec())).await;
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(
            r.json(),
            json!({"__type": "SerializationException"}),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Empty body: SerializationException for a valid target, UnknownOperationException otherwise.
    let r = raw(&ep, RawRequest::op("ListStreams", JSON, Vec::new())).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"__type": "SerializationException"}));
    let r = raw(&ep, RawRequest::op("Nope", JSON, Vec::new())).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"__type": "UnknownOperationException"}));

    // A member of the wrong type: SerializationException with a capital-M Message
    // (`docs/protocol/front-door.md`, "Member type errors").
    let r = json_call(&ep, "DescribeStreamSummary", &json!({"StreamName": true})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"__type": "SerializationException", "Message": "class java.lang.Boolean can not be converted to an String"})
    );

    // Unsigned: MissingAuthenticationTokenException (`docs/protocol/front-door.md`,
    // "Authentication-header checks").
    let r = raw(&ep, RawRequest::op("ListStreams", JSON, b"{}".to_vec()).unsigned()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})
    );

    // The deprecated application/json protocol: 404 legacy envelope.
    let r = raw(&ep, RawRequest::op("ListStreams", "application/json", b"{}".to_vec())).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"Output": {"__type": "com.amazon.coral.service#UnknownOperationException"}, "Version": "1.0"})
    );
}

#[tokio::test]
async fn front_door_success_shapes() {
    let server = TestServer::start();
    let ep = server.endpoint();

    // No modeled output: 200, empty body, Content-Length 0, Content-Type still sent.
    let r = json_call(&ep, "CreateStream", &json!({"StreamName": "fd", "ShardCount": 1})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length").as_deref(), Some("0"));
    assert_eq!(r.header("content-type").as_deref(), Some(JSON));
    let id = r.header("x-amzn-requestid").expect("x-amzn-RequestId");
    assert_eq!(id.len(), 36, "UUID: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-'), "{id}");
    assert!(r.header("x-amz-id-2").is_some(), "x-amz-id-2");
    wait_active(&server.client(), "fd").await;

    // Content-Type parameters and whitespace are ignored; the path is ignored.
    let mut req =
        RawRequest::op("ListStreams", "  application/x-amz-json-1.1 ; charset=utf-8", b"{}".to_vec());
    req.path = "/whatever?x=1".into();
    let r = raw(&ep, req).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some(JSON), "the answer's type has no parameters");
    assert_eq!(r.json()["StreamNames"], json!(["fd"]));
    assert_eq!(r.header("content-length"), Some(r.body.len().to_string()));

    // Unknown members are ignored; null members count as absent.
    let r = json_call(&ep, "ListStreams", &json!({"Limit": null, "Bogus": {"x": 1}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["HasMoreStreams"], json!(false));

    // Errors: 400 + {"__type", "message"} with the bare shape name.
    let r = json_call(&ep, "DescribeStream", &json!({"StreamName": "nope"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"__type": "ResourceNotFoundException", "message": format!("Stream nope under account {ACCOUNT} not found.")})
    );
    assert!(r.header("x-amzn-requestid").is_some());

    // Sequence numbers and hash keys are JSON strings, never numbers.
    let r = json_call(&ep, "PutRecord", &json!({"StreamName": "fd", "Data": "", "PartitionKey": "p"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.json()["SequenceNumber"].is_string());
    let r = json_call(&ep, "ListShards", &json!({"StreamName": "fd"})).await;
    let shard = &r.json()["Shards"][0];
    assert_eq!(shard["HashKeyRange"]["EndingHashKey"], json!("340282366920938463463374607431768211455"));
    assert!(shard["SequenceNumberRange"]["StartingSequenceNumber"].is_string());

    // JSON timestamps may come as epoch seconds with a fraction or in exponent form.
    for ts in ["1.441215410867E9", "1000000000.123", "1000000000"] {
        let body = format!(
            r#"{{"StreamName":"fd","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":{ts}}}"#
        );
        let r = raw(&ep, RawRequest::op("GetShardIterator", JSON, body.into_bytes())).await;
        assert_eq!(r.status, 200, "Timestamp {ts}: {:?}", String::from_utf8_lossy(&r.body));
    }
}

#[test]
fn harness_amz_date_matches_system_clock() {
    let (amz, date) = amz_date();
    let out = std::process::Command::new("date").args(["-u", "+%Y%m%dT%H%M%SZ"]).output().unwrap();
    let sys = String::from_utf8(out.stdout).unwrap();
    assert_eq!(&amz[..8], &date[..]);
    // Same minute (the seconds may tick between the two reads).
    assert_eq!(&amz[..13], &sys.trim()[..13], "{amz} vs {sys}");
}
