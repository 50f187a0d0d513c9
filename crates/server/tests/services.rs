//! The services seam: requests reach the service their route names (target prefix, RPC v2 path,
//! awsQuery form), with the shared authentication and account steps before, and Kinesis requests
//! never leave the Kinesis path.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{HeaderValue, StatusCode};
use kinesin_server::{ServerConfig, Services};
use kinesin_service::{
    Answer, BoxFuture, Call, FrontDoorError, Protocol as Wire, RequestContext, Routes, Service,
};

/// What one test service saw of a call.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    context: RequestContext,
    protocol: Wire,
    operation: String,
    body: Bytes,
}

/// A service that records each call and answers with its operation's name; errors it is asked
/// to render come back as `<code>|<message>` with their status.
struct Recording {
    routes: Routes,
    signing_name: &'static str,
    seen: Mutex<Vec<Seen>>,
    request_ids: Mutex<Vec<String>>,
}

impl Recording {
    fn new(routes: Routes, signing_name: &'static str) -> Arc<Recording> {
        Arc::new(Recording { routes, signing_name, seen: Mutex::default(), request_ids: Mutex::default() })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Service for Recording {
    fn routes(&self) -> Routes {
        self.routes
    }

    fn signing_name(&self) -> &'static str {
        self.signing_name
    }

    fn handle<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Answer> {
        self.seen.lock().unwrap().push(Seen {
            context: call.context.clone(),
            protocol: call.protocol,
            operation: call.operation.to_owned(),
            body: call.body.clone(),
        });
        let answer = Answer {
            status: StatusCode::OK,
            content_type: Some("text/plain"),
            headers: vec![("x-test".parse().unwrap(), HeaderValue::from_static("yes"))],
            body: Bytes::from(format!("{} ran", call.operation)),
        };
        self.request_ids.lock().unwrap().push(call.request_id.to_owned());
        Box::pin(async move { answer })
    }

    fn render_error(&self, _: Wire, error: &FrontDoorError) -> Answer {
        Answer {
            status: error.status,
            content_type: None,
            headers: Vec::new(),
            body: Bytes::from(format!("{}|{}|{}", error.code, error.message, error.request_id)),
        }
    }
}

const DYNAMODB: Routes = Routes { target_prefix: "DynamoDB_20120810", rpc_v2_name: None, aws_query: false };
const CLOUDWATCH: Routes = Routes {
    target_prefix: "GraniteServiceVersion20100801",
    rpc_v2_name: Some("GraniteServiceVersion20100801"),
    aws_query: true,
};

async fn server_with(services: Vec<Arc<dyn Service>>) -> TestServer {
    let services = Services::new(services).unwrap();
    TestServer::with_config(ServerConfig { services, ..ServerConfig::default() }).await
}

fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-3/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
    )
}

#[tokio::test]
async fn each_route_reaches_its_service_with_the_callers_context() {
    let dynamodb = Recording::new(DYNAMODB, "dynamodb");
    let cloudwatch = Recording::new(CLOUDWATCH, "monitoring");
    let server = server_with(vec![dynamodb.clone(), cloudwatch.clone()]).await;
    let auth = authorization("dynamodb");
    let headers = |extra: &[(&'static str, &'static str)]| {
        let mut headers = vec![("authorization", auth.as_str()), ("x-amz-date", "20261125T182526Z")];
        headers.extend_from_slice(extra);
        headers
    };

    for protocol in PROTOCOLS {
        let reply = server
            .send(
                protocol,
                request(
                    "POST",
                    "/",
                    &headers(&[
                        ("x-amz-target", "DynamoDB_20120810.GetItem"),
                        ("content-type", "application/x-amz-json-1.0"),
                    ]),
                    full("{}"),
                ),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.text(), "GetItem ran");
        assert_eq!(reply.header("x-test"), Some("yes"));
        assert_eq!(reply.header("content-length"), Some("11"));
        let id = reply.header("x-amzn-requestid").expect("request ids are the front door's");
        assert_eq!(
            dynamodb.request_ids.lock().unwrap().last().map(String::as_str),
            Some(id),
            "the call's id"
        );
    }
    let cbor = server
        .send(
            Protocol::Http1,
            request(
                "POST",
                "/service/GraniteServiceVersion20100801/operation/PutMetricData",
                &headers(&[("content-type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]),
                full(vec![0xa0]),
            ),
        )
        .await;
    assert_eq!(cbor.text(), "PutMetricData ran");
    let form = server
        .send(
            Protocol::Http1,
            request(
                "POST",
                "/",
                &headers(&[("content-type", "application/x-www-form-urlencoded; charset=utf-8")]),
                full("Version=2010-08-01&Action=List%4Detrics"),
            ),
        )
        .await;
    assert_eq!(form.text(), "ListMetrics ran");

    let seen = dynamodb.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].protocol, Wire::AwsJson1_0);
    assert_eq!(seen[0].context, RequestContext { account: ACCOUNT.into(), region: "eu-west-3".into() });
    assert_eq!(seen[0].body, Bytes::from_static(b"{}"));
    let protocols: Vec<_> = cloudwatch.seen().iter().map(|s| s.protocol).collect();
    assert_eq!(protocols, [Wire::RpcV2Cbor, Wire::AwsQuery]);
    assert!(server.calls().is_empty(), "nothing reached Kinesis");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn kinesis_and_unclaimed_requests_stay_on_the_kinesis_path() {
    let cloudwatch = Recording::new(CLOUDWATCH, "monitoring");
    let server = server_with(vec![cloudwatch.clone()]).await;
    let reply = server.send(Protocol::Http1, signed("Kinesis_20131202.ListStreams", JSON, "{}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(server.calls().len(), 1);

    // No DynamoDB here: its target is an unknown Kinesis operation, as without services.
    let reply = server
        .send(Protocol::Http1, signed("DynamoDB_20120810.GetItem", "application/x-amz-json-1.0", "{}"))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // An RPC v2 path of another service, and a form without Action, are not CloudWatch's.
    for (path, content_type, body) in [
        ("/service/Other/operation/PutMetricData", "application/cbor", "x"),
        ("/", "application/x-www-form-urlencoded", "Version=2010-08-01"),
    ] {
        let reply = server
            .send(Protocol::Http1, request("POST", path, &[("content-type", content_type)], full(body)))
            .await;
        assert_ne!(reply.status, StatusCode::OK, "{path} {body}");
    }
    assert!(cloudwatch.seen().is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn authentication_errors_are_rendered_by_the_service() {
    let dynamodb = Recording::new(DYNAMODB, "dynamodb");
    let server = server_with(vec![dynamodb.clone()]).await;
    let reply = server
        .send(
            Protocol::Http1,
            request("POST", "/", &[("x-amz-target", "DynamoDB_20120810.ListTables")], full("{}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let id = reply.header("x-amzn-requestid").unwrap();
    assert_eq!(
        reply.text(),
        format!("MissingAuthenticationTokenException|Missing Authentication Token|{id}")
    );
    assert!(dynamodb.seen().is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn signatures_are_checked_against_the_services_signing_name() {
    let store = kinesin_server::CredentialStore::parse("AKIDEXAMPLE secret 111122223333\n").unwrap();
    let services = Services::new(vec![Recording::new(DYNAMODB, "dynamodb")]).unwrap();
    let server = TestServer::with_config(ServerConfig {
        services,
        credentials: Some(Arc::new(store)),
        ..ServerConfig::default()
    })
    .await;
    // Signed for `kinesis` (the scope names the wrong service): refused before the service runs.
    let reply = server
        .send(Protocol::Http1, signed("DynamoDB_20120810.ListTables", "application/x-amz-json-1.0", "{}"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().starts_with(
            "InvalidSignatureException|Credential should be scoped to correct service: 'dynamodb'."
        ),
        "{}",
        reply.text()
    );
    server.stop().await.unwrap();
}

#[test]
fn two_services_on_one_route_are_refused() {
    let a: Arc<dyn Service> = Recording::new(CLOUDWATCH, "monitoring");
    let b: Arc<dyn Service> =
        Recording::new(Routes { target_prefix: "Other", rpc_v2_name: None, aws_query: true }, "other");
    assert!(Services::new(vec![a, b]).is_err());
}
