//! Event-stream answers (SubscribeToShard) over HTTP/1.1 (chunked) and h2c, against the stub
//! API: the frames, their order and encoding, and the end of open streams at shutdown.

mod common;

use std::time::Duration;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::{Buf, BytesMut};
use common::*;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;

const SUBSCRIBE: &str = "Kinesis_20131202.SubscribeToShard";
const INPUT: &str = r#"{"ConsumerARN":"arn:aws:kinesis:eu-west-3:123456789012:stream/s/consumer/c:1700000000","ShardId":"shardId-000000000000","StartingPosition":{"Type":"LATEST"}}"#;

/// Sends a request and returns the response with its body still streaming.
async fn open(
    server: &TestServer,
    protocol: Protocol,
    content_type: &str,
    body: Vec<u8>,
) -> http::Response<Incoming> {
    let mut request = signed(SUBSCRIBE, content_type, body);
    match Client::connect(server.addr, protocol).await {
        Client::Http1(mut sender, addr) => {
            let host = addr.to_string().parse().unwrap();
            request.headers_mut().insert("host", host);
            sender.send_request(request).await.unwrap()
        }
        Client::H2c(mut sender, addr) => {
            *request.uri_mut() = format!("http://{addr}/").parse().unwrap();
            sender.send_request(request).await.unwrap()
        }
    }
}

/// Reads event-stream messages off a streaming body.
struct Messages {
    body: Incoming,
    buffer: BytesMut,
    decoder: MessageFrameDecoder,
}

impl Messages {
    fn new(body: Incoming) -> Messages {
        Messages { body, buffer: BytesMut::new(), decoder: MessageFrameDecoder::new() }
    }

    /// The next message, or `None` when the body ends.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let DecodedFrame::Complete(message) = self.decoder.decode_frame(&mut self.buffer).unwrap() {
                return Some(message);
            }
            match self.body.frame().await {
                Some(frame) => {
                    if let Ok(data) = frame.unwrap().into_data() {
                        self.buffer.extend_from_slice(data.chunk());
                    }
                }
                None => {
                    assert!(self.buffer.is_empty(), "the body ended inside a message");
                    return None;
                }
            }
        }
    }
}

fn header(message: &Message, name: &str) -> String {
    let header = message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .unwrap_or_else(|| panic!("no {name} header"));
    header.value().as_string().unwrap().as_str().to_owned()
}

#[tokio::test]
async fn event_streams_start_with_the_initial_response_and_end_at_shutdown() {
    for protocol in PROTOCOLS {
        for cbor in [false, true] {
            let server = TestServer::start().await;
            let (content_type, body) =
                if cbor { (CBOR, cbor_body(INPUT)) } else { (JSON, INPUT.as_bytes().to_vec()) };
            let response = open(&server, protocol, content_type, body).await;
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers["content-type"], "application/vnd.amazon.eventstream");
            assert!(headers.contains_key("x-amzn-requestid"));
            assert!(!headers.contains_key("content-length"));
            if protocol == Protocol::Http1 {
                assert_eq!(headers["transfer-encoding"], "chunked");
            }
            let payload_type = if cbor { "application/x-amz-cbor-1.1" } else { "application/json" };

            let mut messages = Messages::new(response.into_body());
            let initial = messages.next().await.expect("initial-response");
            assert_eq!(header(&initial, ":message-type"), "event");
            assert_eq!(header(&initial, ":event-type"), "initial-response");
            assert_eq!(header(&initial, ":content-type"), payload_type);
            let empty: &[u8] = if cbor { b"\xa0" } else { b"{}" };
            assert_eq!(&initial.payload()[..], empty);

            let event = messages.next().await.expect("the echo event");
            assert_eq!(header(&event, ":event-type"), "SubscribeToShardEvent");
            assert_eq!(header(&event, ":content-type"), payload_type);
            let echoed: serde_json::Value = if cbor {
                ciborium::from_reader(&event.payload()[..]).unwrap()
            } else {
                serde_json::from_slice(event.payload()).unwrap()
            };
            assert_eq!(echoed["ShardId"], "shardId-000000000000", "{protocol:?}");

            // The stub keeps the stream open: only shutdown ends it, cleanly.
            let pending = tokio::time::timeout(Duration::from_millis(100), messages.next()).await;
            assert!(pending.is_err(), "the stream ended early");
            let stopped = tokio::spawn(server.stop());
            let end = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
            assert!(end.expect("shutdown ends the stream").is_none());
            tokio::time::timeout(Duration::from_secs(5), stopped)
                .await
                .expect("shutdown completes")
                .unwrap()
                .unwrap();
        }
    }
}
