//! An HTTP proxy in front of kinesin that fails a random part of every PutRecords, anywhere in
//! the request: it removes the chosen entries before forwarding, then answers them with
//! `ProvisionedThroughputExceededException` at their positions, as Kinesis answers throttled
//! records. Unlike the server's own throttling (which fails a request from some record on), this
//! fails records before ones that pass — the case where PutRecords alone would reorder a key.
//! kinesin verifies signatures only with `--credentials`, so rewriting a signed body is fine.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;

type Upstream = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Starts the proxy for `upstream` (an `http://host:port` endpoint); each PutRecords entry fails
/// with probability `failure_rate`. Returns the proxy's endpoint; it runs until the runtime ends.
pub async fn start(upstream: &str, failure_rate: f64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream_authority = upstream.trim_start_matches("http://").to_owned();
    let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.expect("accept");
            let (client, upstream) = (client.clone(), upstream_authority.clone());
            let service = hyper::service::service_fn(move |request| {
                forward(client.clone(), upstream.clone(), request, failure_rate)
            });
            tokio::spawn(
                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .into_owned(),
            );
        }
    });
    endpoint
}

async fn forward(
    client: Upstream,
    upstream: String,
    request: Request<Incoming>,
    failure_rate: f64,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (mut parts, body) = request.into_parts();
    let mut body = body.collect().await?.to_bytes();
    let is_put_records =
        parts.headers.get("x-amz-target").is_some_and(|t| t == "Kinesis_20131202.PutRecords");
    // Which entries fail, in request order.
    let mut failing = Vec::new();
    if is_put_records {
        let mut input: Value = serde_json::from_slice(&body).expect("a JSON PutRecords body");
        let entries = input["Records"].as_array_mut().expect("Records");
        failing = entries.iter().map(|_| rand::random::<f64>() < failure_rate).collect();
        let mut fails = failing.iter();
        entries.retain(|_| !fails.next().unwrap());
        if entries.is_empty() {
            return Ok(json_response(merge(&failing, Vec::new())));
        }
        body = Bytes::from(serde_json::to_vec(&input).unwrap());
        parts.headers.insert(hyper::header::CONTENT_LENGTH, body.len().into());
    }
    parts.uri = format!("http://{upstream}{}", parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .parse()
        .unwrap();
    let response =
        client.request(Request::from_parts(parts, Full::new(body))).await.expect("kinesin answers");
    let (mut parts, body) = response.into_parts();
    let mut body = body.collect().await?.to_bytes();
    if is_put_records && parts.status.is_success() {
        let output: Value = serde_json::from_slice(&body).expect("a JSON PutRecords answer");
        body = Bytes::from(
            serde_json::to_vec(&merge(&failing, output["Records"].as_array().unwrap().clone())).unwrap(),
        );
        parts.headers.insert(hyper::header::CONTENT_LENGTH, body.len().into());
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// The answer for the whole request: the server's results for the entries it saw, failures for
/// the others, in request order.
fn merge(failing: &[bool], mut passed: Vec<Value>) -> Value {
    passed.reverse();
    let records: Vec<Value> = failing
        .iter()
        .map(|&failed| match failed {
            true => json!({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected by the test proxy"}),
            false => passed.pop().expect("one result per forwarded entry"),
        })
        .collect();
    let failed = records.iter().filter(|r| r.get("ErrorCode").is_some()).count();
    json!({"FailedRecordCount": failed, "Records": records})
}

fn json_response(body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "application/x-amz-json-1.1")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
        .unwrap()
}
