//! The connection level: body limit (`docs/protocol/front-door.md`, "Body size limit"),
//! keep-alive, HTTP/2 multiplexing, misbehaving clients and graceful shutdown.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: usize = 1024;

/// A 413 is empty, has no Content-Length and no request ids (`docs/protocol/front-door.md`, "Body
/// size limit"); HTTP/1.1 sends it chunked.
fn assert_too_large(reply: &Reply, protocol: Protocol) {
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("content-length"), None);
    assert_eq!(reply.header("x-amzn-requestid"), None);
    assert_eq!(reply.header("x-amz-id-2"), None);
    if protocol == Protocol::Http1 {
        assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let server = TestServer::with_limit(LIMIT).await;
    for protocol in PROTOCOLS {
        // Announced by Content-Length.
        let reply =
            server.send(protocol, signed("Kinesis_20131202.ListStreams", JSON, vec![b' '; LIMIT + 1])).await;
        assert_too_large(&reply, protocol);

        // Discovered while reading a body of unannounced length.
        let chunks = vec![Bytes::from(vec![b' '; LIMIT / 2]); 3];
        let reply = server
            .send(protocol, request("POST", "/", &[("content-type", JSON)], unsized_body(chunks)))
            .await;
        assert_too_large(&reply, protocol);

        // Exactly the limit is accepted: here it is read and found not to parse.
        let mut body = vec![b' '; LIMIT];
        body[0] = b'x';
        let reply = server.send(protocol, signed("Kinesis_20131202.ListStreams", JSON, body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.text(), r#"{"__type":"SerializationException"}"#);

        let mut body = vec![b' '; LIMIT];
        body[..2].copy_from_slice(b"{}");
        let chunks = body.chunks(100).map(Bytes::copy_from_slice).collect();
        let headers = [("content-type", JSON), ("x-amz-target", "Whatever")];
        let reply = server.send(protocol, request("POST", "/", &headers, unsized_body(chunks))).await;
        assert_eq!(reply.text(), r#"{"__type":"UnknownOperationException"}"#);
    }
    assert!(server.calls().is_empty());
}

#[tokio::test]
async fn connections_are_kept_alive() {
    let server = TestServer::start().await;
    for protocol in PROTOCOLS {
        let mut client = Client::connect(server.addr, protocol).await;
        for _ in 0..5 {
            let reply = client.send(signed("Kinesis_20131202.ListStreams", JSON, "{}")).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.header("connection"), None);
            // Error answers keep the connection too.
            let reply = client.send(request("GET", "/", &[], full(""))).await.unwrap();
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(server.calls().len(), 10);
}

#[tokio::test]
async fn h2c_streams_are_served_concurrently() {
    let server = TestServer::start().await;
    let client = Client::connect(server.addr, Protocol::H2c).await;
    let Client::H2c(sender, addr) = client else { unreachable!() };
    let replies = (0..50).map(|i| {
        let mut client = Client::H2c(sender.clone(), addr);
        async move {
            let body = format!(r#"{{"Limit":{}}}"#, i + 1);
            let reply =
                client.send(signed("Kinesis_20131202.ListStreams", JSON, body.clone())).await.unwrap();
            (body, reply)
        }
    });
    let handles: Vec<_> = replies.map(tokio::spawn).collect();
    for handle in handles {
        let (body, reply) = handle.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), body);
    }
    assert_eq!(server.calls().len(), 50);
}

#[tokio::test]
async fn a_broken_connection_does_not_affect_others() {
    let server = TestServer::start().await;
    let mut healthy = Client::connect(server.addr, Protocol::Http1).await;

    for garbage in [
        &b"\x00\x01\x02 not http at all\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff",
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
    ] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(garbage).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
    }

    let reply = healthy.send(signed("Kinesis_20131202.ListStreams", JSON, "{}")).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server.send(Protocol::H2c, signed("Kinesis_20131202.ListStreams", JSON, "{}")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn plain_http_1_1_on_the_wire() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("\r\ncontent-length: 130\r\n"), "{head}");
    assert!(!head.contains("content-type"), "{head}");
    assert!(head.contains("\r\nx-amzn-requestid: "), "{head}");
    assert_eq!(
        body,
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
    );
}

#[tokio::test]
async fn shutdown_finishes_open_connections_and_stops_accepting() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut idle = Client::connect(addr, Protocol::Http1).await;
    assert_eq!(idle.send(request("GET", "/", &[], full(""))).await.unwrap().status, StatusCode::FORBIDDEN);
    let mut h2 = Client::connect(addr, Protocol::H2c).await;
    assert_eq!(h2.send(request("GET", "/", &[], full(""))).await.unwrap().status, StatusCode::FORBIDDEN);

    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("serve returns once idle connections are closed")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
