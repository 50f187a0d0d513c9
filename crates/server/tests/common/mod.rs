//! A server on 127.0.0.1:0 in front of a recording stub API, and a raw hyper client that speaks
//! HTTP/1.1 or h2c (prior knowledge) to it.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kinesin_engine::{Api, BoxFuture, Event, RequestContext};
use kinesin_server::{serve, ServerConfig};
use kinesin_wire::{ApiError, Input, Operation, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub type RequestBody = BoxBody<Bytes, Infallible>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    H2c,
}

pub const PROTOCOLS: [Protocol; 2] = [Protocol::Http1, Protocol::H2c];

/// One call the stub API received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub ctx: RequestContext,
    pub op: Operation,
    pub input: Value,
}

/// Records every call. DeleteStream answers nothing (empty 200), SplitShard fails,
/// MergeShards panics, SubscribeToShard answers with an event stream whose one event echoes the
/// input and which stays open until the server shuts down, and everything else echoes its input
/// back.
#[derive(Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<Call>>,
    /// The senders of the event streams SubscribeToShard opened, kept so they stay open.
    pub open_streams: Mutex<Vec<mpsc::Sender<Event>>>,
}

impl Api for Recorder {
    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        op: Operation,
        input: Input,
    ) -> BoxFuture<'a, Result<kinesin_engine::Reply, ApiError>> {
        use kinesin_engine::Reply as R;
        let input = input.into_tree();
        self.calls.lock().unwrap().push(Call { ctx: ctx.clone(), op, input: input.clone() });
        Box::pin(async move {
            match op {
                Operation::DeleteStream => Ok(R::Value(Value::Null)),
                Operation::SplitShard => Err(ApiError::resource_not_found("Stream s not found.")),
                Operation::MergeShards => panic!("stub panics on MergeShards"),
                Operation::SubscribeToShard => {
                    let (events, receiver) = mpsc::channel(4);
                    let echo = Event::Event { event_type: "SubscribeToShardEvent", payload: input };
                    events.send(echo).await.unwrap();
                    self.open_streams.lock().unwrap().push(events);
                    Ok(R::Events(receiver))
                }
                _ => Ok(R::Value(input)),
            }
        })
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub api: Arc<Recorder>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

pub const ACCOUNT: &str = "123456789012";
pub const DEFAULT_REGION: &str = "ap-south-1";

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with_limit(ServerConfig::DEFAULT_MAX_BODY_BYTES).await
    }

    pub async fn with_limit(max_body_bytes: usize) -> TestServer {
        TestServer::with_config(ServerConfig { max_body_bytes, ..ServerConfig::default() }).await
    }

    /// A server with `config`, but always the test account and default region.
    pub async fn with_config(config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let api = Arc::new(Recorder::default());
        let config =
            ServerConfig { account_id: ACCOUNT.to_owned(), region: DEFAULT_REGION.to_owned(), ..config };
        let (tx, rx) = oneshot::channel();
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(serve(listener, api.clone(), config, shutdown));
        TestServer { addr, api, shutdown: Some(tx), task: Some(task) }
    }

    /// Sends one request on a fresh connection.
    pub async fn send(&self, protocol: Protocol, request: Request<RequestBody>) -> Reply {
        let mut client = Client::connect(self.addr, protocol).await;
        client.send(request).await.expect("request failed")
    }

    pub fn calls(&self) -> Vec<Call> {
        self.api.calls.lock().unwrap().clone()
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap()
    }
}

pub enum Client {
    Http1(hyper::client::conn::http1::SendRequest<RequestBody>, SocketAddr),
    H2c(hyper::client::conn::http2::SendRequest<RequestBody>, SocketAddr),
}

impl Client {
    pub async fn connect(addr: SocketAddr, protocol: Protocol) -> Client {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        match protocol {
            Protocol::Http1 => {
                let (sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                Client::Http1(sender, addr)
            }
            Protocol::H2c => {
                let (sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
                tokio::spawn(conn);
                Client::H2c(sender, addr)
            }
        }
    }

    /// Requests are built with a path-and-query URI; HTTP/1.1 gets a Host header and HTTP/2 an
    /// absolute URI (for its `:scheme` and `:authority`).
    pub async fn send(&mut self, mut request: Request<RequestBody>) -> hyper::Result<Reply> {
        let response = match self {
            Client::Http1(sender, addr) => {
                request.headers_mut().insert("host", addr.to_string().parse().unwrap());
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Client::H2c(sender, addr) => {
                let uri = format!("http://{addr}{}", request.uri());
                *request.uri_mut() = uri.parse().unwrap();
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn cbor(&self) -> ciborium::Value {
        ciborium::from_reader(&self.body[..]).unwrap()
    }
}

pub fn full(body: impl Into<Bytes>) -> RequestBody {
    Full::new(body.into()).boxed()
}

/// A body sent in several frames without announcing its length (chunked over HTTP/1.1).
pub fn unsized_body(chunks: Vec<Bytes>) -> RequestBody {
    Chunks(chunks.into()).boxed()
}

struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// A request with the given method, path, headers and body.
pub fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: RequestBody,
) -> Request<RequestBody> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap()
}

pub const JSON: &str = "application/x-amz-json-1.1";
pub const CBOR: &str = "application/x-amz-cbor-1.1";
pub const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-3/kinesis/aws4_request, \
     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef";

/// A POST signed in header mode, for the given operation and content type.
pub fn signed(target: &str, content_type: &str, body: impl Into<Bytes>) -> Request<RequestBody> {
    request(
        "POST",
        "/",
        &[
            ("x-amz-target", target),
            ("content-type", content_type),
            ("authorization", AUTHORIZATION),
            ("x-amz-date", "20261125T182526Z"),
        ],
        full(body),
    )
}

/// A JSON document re-encoded as a CBOR request body.
pub fn cbor_body(json: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).unwrap();
    out
}

/// `{"__type": code}` (and `message` when given) as CBOR, for comparing decoded answers.
pub fn cbor_error(code: &str, message: Option<&str>) -> ciborium::Value {
    let mut entries = vec![(ciborium::Value::Text("__type".into()), ciborium::Value::Text(code.into()))];
    if let Some(message) = message {
        entries.push((ciborium::Value::Text("message".into()), ciborium::Value::Text(message.into())));
    }
    ciborium::Value::Map(entries)
}
