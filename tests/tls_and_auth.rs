//! Transport and identity end to end: HTTPS on `--tls-port` (the SDK trusting the self-signed
//! certificate, h2 and HTTP/1.1 chosen by ALPN, a certificate given with `--tls-cert`), SigV4
//! verification with `--credentials` (good, unknown key, wrong secret, stale and future dates,
//! scope errors, presigned requests, HTTP/2's `:authority`), and streams kept apart by account
//! and region (`docs/protocol/front-door.md`, "Transport"; `docs/protocol/sigv4.md`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const ALPHA: (&str, &str, &str) = ("AKIDALPHA", "alpha-secret/with+chars", "111111111111");
const BETA: (&str, &str, &str) = ("AKIDBETA", "beta-secret", "222222222222");
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
     Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The SDK's own HTTPS client (rustls, as the SDK ships it) trusting only `pem`.
fn https_client(pem: &[u8]) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(pem.to_vec()))
                .build()
                .unwrap(),
        )
        .build_https()
}

/// An SDK client with the given key and region, retries off (errors are seen as they happen).
fn sdk(endpoint: &str, key: (&str, &str), region: &str, http: Option<SharedHttpClient>) -> Client {
    let mut config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key.0, key.1, None, None, "test"))
        .retry_config(RetryConfig::disabled());
    if let Some(http) = http {
        config = config.http_client(http);
    }
    Client::from_conf(config.build())
}

/// A server with `--credentials` listing ALPHA and BETA (and comments), and HTTPS.
fn server_with_credentials() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    std::fs::write(
        &path,
        format!(
            "# kinesin credentials\n\n{} {} {}\n   # indented comment\n{}\t{}\t{}\n",
            ALPHA.0, ALPHA.1, ALPHA.2, BETA.0, BETA.1, BETA.2
        ),
    )
    .unwrap();
    let server = TestServer::start_with(
        ServerOptions::default().arg("--credentials").arg(path.to_str().unwrap()).arg("--tls-port").arg("0"),
    );
    // The file is read at start-up only.
    drop(dir);
    server
}

/// A JSON request for `op`, not yet signed.
fn request(url: &str, op: &str, content_type: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(format!("{url}/"))
        .header("content-type", content_type)
        .header("x-amz-target", format!("Kinesis_20131202.{op}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn json_request(url: &str, op: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    request(url, op, JSON, serde_json::to_vec(&body).unwrap())
}

/// How to sign with `aws-sigv4`.
#[derive(Clone, Copy)]
struct Signer<'a> {
    key: (&'a str, &'a str),
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    presigned: bool,
}

impl<'a> Signer<'a> {
    fn new(key: (&'a str, &'a str)) -> Signer<'a> {
        Signer { key, region: REGION, service: "kinesis", time: SystemTime::now(), presigned: false }
    }

    /// Signs `req` in place, as the SDKs do (the host comes from the URI).
    fn sign(self, mut req: Request<Full<Bytes>>) -> Request<Full<Bytes>> {
        let identity = Credentials::new(self.key.0, self.key.1, None, None, "test").into();
        let mut settings = SigningSettings::default();
        if self.presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name(self.service)
            .time(self.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let body = futures_body(&req);
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let uri = req.uri().to_string();
        let signable = SignableRequest::new(
            req.method().as_str(),
            &uri,
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }
}

/// The bytes of a `Full` body, without consuming the request.
fn futures_body(req: &Request<Full<Bytes>>) -> Bytes {
    let body = req.body().clone();
    futures_lite_block_on(async move { body.collect().await.unwrap().to_bytes() })
}

/// `Full` is ready at once: poll it on the spot.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("a Full body is always ready"),
    }
}

async fn into_raw(response: hyper::Response<hyper::body::Incoming>) -> (RawResponse, Version) {
    let version = response.version();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("read response body").to_bytes();
    (RawResponse { status, headers, body }, version)
}

/// Sends over plain HTTP: HTTP/1.1, or h2c with prior knowledge.
async fn send_plain(req: Request<Full<Bytes>>, http2: bool) -> RawResponse {
    let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
    builder.http2_only(http2);
    let client = builder.build_http::<Full<Bytes>>();
    let response = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("request timed out")
        .expect("request failed");
    into_raw(response).await.0
}

/// Opens a TLS connection to `port` trusting only `pem`, offering `alpn`. Returns the
/// protocol the server chose.
async fn tls_connect(
    port: u16,
    pem: &[u8],
    alpn: &[&[u8]],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let negotiated = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (stream, negotiated)
}

/// Sends one request over a fresh TLS connection with `alpn`, speaking whatever the server
/// chose (h2, else HTTP/1.1). Returns the response and the HTTP version it came in.
async fn send_tls(
    port: u16,
    pem: &[u8],
    alpn: &[&[u8]],
    req: Request<Full<Bytes>>,
) -> (RawResponse, Version) {
    let (stream, negotiated) = tls_connect(port, pem, alpn).await;
    let io = TokioIo::new(stream);
    let response = if negotiated.as_deref() == Some(b"h2") {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        sender.send_request(req).await.unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        let mut req = req;
        let host = req.uri().authority().unwrap().to_string();
        req.headers_mut().insert("host", host.parse().unwrap());
        sender.send_request(req).await.unwrap()
    };
    into_raw(response).await
}

/// `(__type, message)` of a JSON error answer.
fn json_error(response: &RawResponse) -> (String, String) {
    assert_eq!(response.status, 400, "{:?}", String::from_utf8_lossy(&response.body));
    let body = response.json();
    (
        body["__type"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn summary_arn(client: &Client, name: &str) -> (String, i32) {
    let out = client.describe_stream_summary().stream_name(name).send().await.unwrap();
    let summary = out.stream_description_summary().unwrap();
    (summary.stream_arn().to_owned(), summary.open_shard_count())
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sdk_over_tls_trusting_the_self_signed_certificate() {
    let mut server = TestServer::start_with(ServerOptions::default().arg("--tls-port").arg("0"));
    let tls = TlsEndpoint::of(&server);
    assert_ne!(tls.port, server.port());
    assert_eq!(tls.certificate, server.data_dir().join("tls/self-signed-cert.pem").canonicalize().unwrap());
    assert!(server.data_dir().join("tls/self-signed-key.pem").exists());
    assert!(String::from_utf8_lossy(&tls.pem).starts_with("-----BEGIN CERTIFICATE-----"));

    let client = sdk(&tls.url(), ("AKIDEXAMPLE", "secret"), REGION, Some(https_client(&tls.pem)));
    let name = unique_name("tls");
    create_stream_and_wait(&client, &name, 1).await;
    let put = client
        .put_record()
        .stream_name(&name)
        .partition_key("pk")
        .data(Blob::new(b"over tls".to_vec()))
        .send()
        .await
        .unwrap();
    let iterator = get_iterator(&client, &name, put.shard_id(), ShardIteratorType::TrimHorizon).await;
    let records = client.get_records().shard_iterator(iterator).send().await.unwrap();
    assert_eq!(records.records()[0].data().as_ref(), b"over tls");
    // The plain port serves the same streams.
    let plain = server.client();
    let listed = plain.list_streams().send().await.unwrap();
    assert!(listed.stream_names().contains(&name));

    // A client that does not trust the certificate is refused: the TLS is real.
    let untrusting = sdk(
        &tls.url(),
        ("AKIDEXAMPLE", "secret"),
        REGION,
        Some(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(TlsContext::builder().with_trust_store(TrustStore::empty()).build().unwrap())
                .build_https(),
        ),
    );
    assert!(untrusting.list_streams().send().await.is_err());

    // After a restart the same certificate is served, so clients that trust it keep working.
    server.restart();
    let again = TlsEndpoint::of(&server);
    assert_eq!(again.pem, tls.pem);
    let client = sdk(&again.url(), ("AKIDEXAMPLE", "secret"), REGION, Some(https_client(&again.pem)));
    assert!(client.list_streams().send().await.unwrap().stream_names().contains(&name));
    assert!(server.stderr().contains("self-signed TLS certificate for localhost reused"));
}

#[tokio::test]
async fn alpn_picks_h2_or_http1_over_tls() {
    let server = TestServer::start_with(ServerOptions::default().arg("--tls-port").arg("0"));
    let tls = TlsEndpoint::of(&server);
    let url = format!("https://localhost:{}", tls.port);

    // h2 offered first: the server takes it.
    let (_, negotiated) = tls_connect(tls.port, &tls.pem, &[b"h2", b"http/1.1"]).await;
    assert_eq!(negotiated.as_deref(), Some(&b"h2"[..]));
    let signed = |req: Request<Full<Bytes>>| Signer::new(("AKIDEXAMPLE", "secret")).sign(req);

    let (response, version) = send_tls(
        tls.port,
        &tls.pem,
        &[b"h2", b"http/1.1"],
        signed(json_request(&url, "ListStreams", json!({}))),
    )
    .await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(response.status, 200);
    assert!(response.json()["StreamNames"].is_array());

    // Only http/1.1 offered, or no ALPN at all: HTTP/1.1.
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let (response, version) =
            send_tls(tls.port, &tls.pem, alpn, signed(json_request(&url, "ListStreams", json!({})))).await;
        assert_eq!(version, Version::HTTP_11);
        assert_eq!(response.status, 200);
    }

    // The same front door: CBOR in, CBOR out, and its errors.
    let name = unique_name("tls-h2");
    let create = cbor_java_style(&cmap(vec![
        ("StreamName", ctext(&name)),
        ("ShardCount", ciborium::Value::Integer(1.into())),
    ]));
    let (response, version) =
        send_tls(tls.port, &tls.pem, &[b"h2"], signed(request(&url, "CreateStream", CBOR, create))).await;
    assert_eq!((response.status, version), (200, Version::HTTP_2));
    assert_eq!(response.header("content-type").as_deref(), Some(CBOR));
    let (response, _) =
        send_tls(tls.port, &tls.pem, &[b"h2"], signed(json_request(&url, "NoSuchOperation", json!({}))))
            .await;
    assert_eq!(json_error(&response).0, "UnknownOperationException");
    let unsigned = json_request(&url, "ListStreams", json!({}));
    let (response, _) = send_tls(tls.port, &tls.pem, &[b"h2"], unsigned).await;
    assert_eq!(json_error(&response).0, "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn certificate_and_key_given_as_files() {
    // A certificate made by another server stands in for one an operator would bring.
    let donor = TestServer::start_with(ServerOptions::default().arg("--tls-port").arg("0"));
    let donated = TlsEndpoint::of(&donor);
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("my cert.pem");
    let key = dir.path().join("my key.pem");
    std::fs::copy(&donated.certificate, &cert).unwrap();
    std::fs::copy(donated.certificate.with_file_name("self-signed-key.pem"), &key).unwrap();
    drop(donor);

    let server = TestServer::start_with(
        ServerOptions::default()
            .arg("--tls-port")
            .arg("0")
            .arg("--tls-cert")
            .arg(cert.to_str().unwrap())
            .arg("--tls-key")
            .arg(key.to_str().unwrap()),
    );
    let tls = TlsEndpoint::of(&server);
    assert_eq!(tls.certificate, cert.canonicalize().unwrap());
    assert!(!server.data_dir().join("tls").exists(), "no self-signed certificate is made");
    let client = sdk(&tls.url(), ("AKIDEXAMPLE", "secret"), REGION, Some(https_client(&tls.pem)));
    client.list_streams().send().await.unwrap();

    // Mistakes stop start-up with a message.
    let err = start_fails(&["--tls-port", "0", "--tls-cert", cert.to_str().unwrap()], &[]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = start_fails(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()], &[]);
    assert!(err.contains("need --tls-port"), "{err}");
    let err = start_fails(
        &["--tls-port", "0", "--tls-cert", key.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        &[],
    );
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = start_fails(
        &["--tls-port", "0", "--tls-cert", cert.to_str().unwrap(), "--tls-key", missing.to_str().unwrap()],
        &[],
    );
    assert!(err.contains("cannot read a private key"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// SigV4
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sdk_signatures_are_verified_and_keys_select_accounts() {
    let server = server_with_credentials();
    let alpha = sdk(&server.endpoint(), (ALPHA.0, ALPHA.1), REGION, None);
    let beta = sdk(&server.endpoint(), (BETA.0, BETA.1), REGION, None);
    let name = unique_name("signed");

    // Good signatures: each key acts for its own account.
    create_stream_and_wait(&alpha, &name, 1).await;
    assert_eq!(
        summary_arn(&alpha, &name).await,
        (format!("arn:aws:kinesis:{REGION}:{}:stream/{name}", ALPHA.2), 1)
    );
    let err = beta.describe_stream_summary().stream_name(&name).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{}", show(&err));
    create_stream_and_wait(&beta, &name, 2).await;
    assert_eq!(
        summary_arn(&beta, &name).await,
        (format!("arn:aws:kinesis:{REGION}:{}:stream/{name}", BETA.2), 2)
    );

    // Over TLS too (the Host header carries the port).
    let tls = TlsEndpoint::of(&server);
    let alpha_tls = sdk(&tls.url(), (ALPHA.0, ALPHA.1), REGION, Some(https_client(&tls.pem)));
    assert_eq!(summary_arn(&alpha_tls, &name).await.1, 1);

    // An unknown key.
    let stranger = sdk(&server.endpoint(), ("AKIDNOBODY", ALPHA.1), REGION, None);
    let err = stranger.list_streams().send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"), "{}", show(&err));
    assert_eq!(err.message(), Some("The security token included in the request is invalid."));

    // A known key with the wrong secret.
    let wrong = sdk(&server.endpoint(), (ALPHA.0, "not-the-secret"), REGION, None);
    let err = wrong.list_streams().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"), "{}", show(&err));
    assert_eq!(err.message(), Some(MISMATCH));
}

#[tokio::test]
async fn hand_signed_requests() {
    let server = server_with_credentials();
    let url = server.endpoint();
    let alpha = Signer::new((ALPHA.0, ALPHA.1));
    let list = || json_request(&url, "ListStreams", json!({}));

    // Signed by aws-sigv4 now: accepted, over HTTP/1.1 and h2c (`:authority`, no Host header).
    for http2 in [false, true] {
        let response = send_plain(alpha.sign(list()), http2).await;
        assert_eq!(response.status, 200, "{:?}", String::from_utf8_lossy(&response.body));
    }
    // CBOR over h2c.
    let body = cbor_java_style(&cmap(vec![]));
    let response = send_plain(alpha.sign(request(&url, "ListStreams", CBOR, body.clone())), true).await;
    assert_eq!(response.status, 200);

    // Ten minutes old: expired, with both times in the message.
    let stale = Signer { time: SystemTime::now() - Duration::from_secs(600), ..alpha };
    let req = stale.sign(list());
    let sent = req.headers()["x-amz-date"].to_str().unwrap().to_owned();
    let (code, message) = json_error(&send_plain(req, false).await);
    assert_eq!(code, "InvalidSignatureException");
    let rest = message
        .strip_prefix(&format!("Signature expired: {sent} is now earlier than "))
        .unwrap_or_else(|| panic!("{message}"));
    let (limit, rest) = rest.split_once(" (").unwrap();
    let server_now = rest.strip_suffix(" - 5 min.)").unwrap_or_else(|| panic!("{message}"));
    assert_eq!((limit.len(), server_now.len()), (16, 16), "{message}");
    assert!(sent.as_str() < limit && limit < server_now, "{message}");
    let (now, _) = amz_date();
    assert_eq!(&server_now[..11], &now[..11], "server clock: {message}");
    // The same in CBOR, answered in CBOR.
    let response = send_plain(stale.sign(request(&url, "ListStreams", CBOR, body)), true).await;
    assert_eq!(response.status, 400);
    let answer = response.cbor();
    assert_eq!(ctext_of(cget(&answer, "__type").unwrap()), Some("InvalidSignatureException"));
    assert!(ctext_of(cget(&answer, "message").unwrap()).unwrap().starts_with("Signature expired: "));

    // Ten minutes ahead: not yet current.
    let ahead = Signer { time: SystemTime::now() + Duration::from_secs(600), ..alpha };
    let (code, message) = json_error(&send_plain(ahead.sign(list()), false).await);
    assert_eq!(code, "InvalidSignatureException");
    assert!(
        message.starts_with("Signature not yet current: ") && message.ends_with(" + 5 min.)"),
        "{message}"
    );
    // Four minutes old is fine.
    let recent = Signer { time: SystemTime::now() - Duration::from_secs(240), ..alpha };
    assert_eq!(send_plain(recent.sign(list()), false).await.status, 200);

    // A body changed after signing.
    let mut req = alpha.sign(list());
    *req.body_mut() = Full::new(Bytes::from_static(br#"{"Limit":1}"#));
    assert_eq!(
        json_error(&send_plain(req, false).await),
        ("InvalidSignatureException".into(), MISMATCH.into())
    );

    // A scope for another service.
    let s3 = Signer { service: "s3", ..alpha };
    assert_eq!(
        json_error(&send_plain(s3.sign(list()), false).await),
        (
            "InvalidSignatureException".into(),
            "Credential should be scoped to correct service: 'kinesis'. ".into()
        )
    );

    // Unsigned requests still get the front door's answer.
    let (code, _) = json_error(&send_plain(list(), false).await);
    assert_eq!(code, "MissingAuthenticationTokenException");

    // Presigned (query-string) requests.
    let presigned = Signer { presigned: true, ..alpha };
    let req = presigned.sign(list());
    assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
    assert_eq!(send_plain(req, false).await.status, 200);
    let req = presigned.sign(list());
    let tampered = req.uri().to_string().replace("X-Amz-Expires=300", "X-Amz-Expires=301");
    let (mut parts, body) = req.into_parts();
    parts.uri = tampered.parse().unwrap();
    let (code, message) = json_error(&send_plain(Request::from_parts(parts, body), false).await);
    assert_eq!((code.as_str(), message.as_str()), ("InvalidSignatureException", MISMATCH));
    let stranger = Signer { key: ("AKIDNOBODY", "x"), ..presigned };
    assert_eq!(json_error(&send_plain(stranger.sign(list()), false).await).0, "UnrecognizedClientException");

    // Over TLS with h2: the signature covers `:authority`.
    let tls = TlsEndpoint::of(&server);
    let tls_url = format!("https://localhost:{}", tls.port);
    let req = alpha.sign(json_request(&tls_url, "ListStreams", json!({})));
    let (response, version) = send_tls(tls.port, &tls.pem, &[b"h2"], req).await;
    assert_eq!((response.status, version), (200, Version::HTTP_2));
    let req =
        Signer { key: (ALPHA.0, "wrong"), ..alpha }.sign(json_request(&tls_url, "ListStreams", json!({})));
    let (response, _) = send_tls(tls.port, &tls.pem, &[b"h2"], req).await;
    assert_eq!(json_error(&response).1, MISMATCH);
}

#[test]
fn a_malformed_credentials_file_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    std::fs::write(&path, "# ok\nAKID1 secret1 111111111111\n\nAKID2 secret2\n").unwrap();
    let err = start_fails(&["--credentials", path.to_str().unwrap()], &[]);
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID"), "{err}");

    std::fs::write(&path, "AKID1 secret1 1111\n").unwrap();
    let err = start_fails(&["--credentials", path.to_str().unwrap()], &[]);
    assert!(err.contains("line 1") && err.contains("12 digits"), "{err}");

    let err = start_fails(&["--credentials", dir.path().join("missing").to_str().unwrap()], &[]);
    assert!(err.contains("cannot read the credentials file"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Accounts and regions
// ---------------------------------------------------------------------------------------------

/// Without a credentials file a 12-digit access key id names the account (other keys get
/// `--account-id`), and the credential scope names the region: the same stream name in each
/// (account, region) is a stream of its own.
#[tokio::test]
async fn same_name_in_other_accounts_and_regions_is_another_stream() {
    let server = TestServer::start_with(ServerOptions::default().account_id("333333333333"));
    let url = server.endpoint();
    let name = unique_name("isolated");
    // (key, account, region, shards)
    let places = [
        ("111111111111", "111111111111", "us-east-1", 1),
        ("111111111111", "111111111111", "eu-west-1", 2),
        ("222222222222", "222222222222", "us-east-1", 3),
        ("AKIDEXAMPLE", "333333333333", "us-east-1", 4),
    ];
    let clients: Vec<Client> =
        places.iter().map(|(key, _, region, _)| sdk(&url, (key, "any"), region, None)).collect();
    for (client, (_, _, _, shards)) in clients.iter().zip(&places) {
        create_stream_and_wait(client, &name, *shards).await;
    }
    for (client, (_, account, region, shards)) in clients.iter().zip(&places) {
        assert_eq!(
            summary_arn(client, &name).await,
            (format!("arn:aws:kinesis:{region}:{account}:stream/{name}"), *shards)
        );
        let listed = client.list_streams().send().await.unwrap();
        assert_eq!(listed.stream_names().iter().filter(|n| **n == name).count(), 1);
    }

    // Records put in one are not in another.
    let put = clients[0]
        .put_record()
        .stream_name(&name)
        .partition_key("pk")
        .data(Blob::new(b"first".to_vec()))
        .send()
        .await
        .unwrap();
    let shard = put.shard_id().to_owned();
    for (i, client) in clients.iter().enumerate() {
        let iterator = get_iterator(client, &name, &shard, ShardIteratorType::TrimHorizon).await;
        let records = client.get_records().shard_iterator(iterator).send().await.unwrap();
        assert_eq!(records.records().len(), usize::from(i == 0), "place {i}");
    }
    // A shard iterator from one place does not read another's stream.
    let iterator = get_iterator(&clients[0], &name, &shard, ShardIteratorType::TrimHorizon).await;
    let err = clients[2].get_records().shard_iterator(iterator).send().await;
    assert!(err.is_err(), "an iterator crossed accounts: {err:?}");

    // Addressed by another place's ARN: not found.
    let foreign_arn = format!("arn:aws:kinesis:us-east-1:111111111111:stream/{name}");
    let err = clients[2].describe_stream_summary().stream_arn(&foreign_arn).send().await.unwrap_err();
    assert!(
        matches!(err.code(), Some("ResourceNotFoundException") | Some("AccessDeniedException")),
        "{}",
        show(&err)
    );

    // Deleting one leaves the others.
    clients[0].delete_stream().stream_name(&name).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while clients[0].describe_stream_summary().stream_name(&name).send().await.is_ok() {
        assert!(Instant::now() < deadline, "stream not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (client, (_, _, _, shards)) in clients.iter().zip(&places).skip(1) {
        assert_eq!(summary_arn(client, &name).await.1, *shards);
    }
}
