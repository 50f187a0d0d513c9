//! kinesin's SigV4 against the AWS SDK's own signer (`aws-sigv4`), on generated requests: what
//! the SDK signs, `verify` accepts (header and query mode), and `Signer` writes the very
//! `Authorization` header the SDK writes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue};
use kinesin_sigv4::{verify, CredentialStore, Request, SignedRequest, Signer};
use proptest::prelude::*;

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ACCOUNT: &str = "123456789012";
const HOST: &str = "127.0.0.1:4567";

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    region: String,
    service: &'static str,
    time: SystemTime,
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9._~-]{1,8}",
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just("a%20b".to_owned()),
        1 => Just("%2F".to_owned()),
    ]
}

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[A-Za-z0-9._~-]{0,6}", 1 => Just("a%2Fb".to_owned()), 1 => Just("%20".to_owned())]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
        prop::collection::vec(path_segment(), 0..4),
        any::<bool>(),
        prop::collection::vec((query_text(), query_text()), 0..4),
        prop::collection::vec(("x-custom-[a-z]{1,4}", "[ -~]{0,12}"), 0..3),
        prop::collection::vec(any::<u8>(), 0..64),
        prop_oneof![Just("us-east-1".to_owned()), Just("eu-west-2".to_owned()), "[a-z]{2}-[a-z]{4}-[1-9]"],
        prop_oneof![Just("kinesis"), Just("dynamodb"), Just("monitoring")],
        1_600_000_000u64..2_000_000_000,
    )
        .prop_map(|(method, segments, trailing, query, custom, body, region, service, secs)| {
            let mut path = format!("/{}", segments.join("/"));
            if trailing && !segments.is_empty() {
                path.push('/');
            }
            let query = query.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
            let mut headers = vec![
                ("host".to_owned(), HOST.to_owned()),
                ("content-type".to_owned(), "application/x-amz-json-1.1".to_owned()),
                ("x-amz-target".to_owned(), "Kinesis_20131202.PutRecord".to_owned()),
            ];
            for (name, value) in custom {
                if headers.iter().all(|(n, _)| *n != name) {
                    headers.push((name, value.trim().to_owned()));
                }
            }
            Case {
                method,
                path,
                query,
                headers,
                body,
                region,
                service,
                time: UNIX_EPOCH + Duration::from_secs(secs),
            }
        })
}

/// The SDK's signature of `case`: the headers it adds and the URI it sends.
fn sdk_sign(case: &Case, presigned: bool) -> (Vec<(String, String)>, String) {
    let identity = Credentials::new(KEY_ID, SECRET, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.region)
        .name(case.service)
        .time(case.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = uri_of(case);
    let signable = SignableRequest::new(
        case.method,
        &uri,
        case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&case.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method(case.method).uri(&uri);
    for (name, value) in &case.headers {
        request = request.header(name, value);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    (headers, request.uri().to_string())
}

fn uri_of(case: &Case) -> String {
    if case.query.is_empty() {
        format!("http://{HOST}{}", case.path)
    } else {
        format!("http://{HOST}{}?{}", case.path, case.query)
    }
}

fn header_map(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    map
}

fn verify_sent(case: &Case, headers: &[(String, String)], uri: &str) -> Result<String, String> {
    let store = CredentialStore::parse(&format!("{KEY_ID} {SECRET} {ACCOUNT}")).unwrap();
    let uri: http::Uri = uri.parse().unwrap();
    let headers = header_map(headers);
    let request = SignedRequest {
        method: case.method,
        path: uri.path(),
        query: uri.query(),
        headers: &headers,
        authority: None,
        body: &case.body,
    };
    verify(&store, &request, case.service, case.time).map(str::to_owned).map_err(|e| format!("{e:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_accepts_what_the_sdk_signs(case in case()) {
        let (headers, uri) = sdk_sign(&case, false);
        prop_assert_eq!(verify_sent(&case, &headers, &uri), Ok(ACCOUNT.to_owned()));
        let (headers, uri) = sdk_sign(&case, true);
        prop_assert_eq!(verify_sent(&case, &headers, &uri), Ok(ACCOUNT.to_owned()));
    }

    #[test]
    fn signer_writes_what_the_sdk_writes(case in case()) {
        let (sdk_headers, _) = sdk_sign(&case, false);
        let sdk = |name: &str| sdk_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
        let amz_date = sdk("x-amz-date");
        prop_assert_eq!(&amz_date, &kinesin_sigv4::amz_date(case.time));
        let headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = Request { method: case.method, path: &case.path, query: &case.query, headers: &headers, body: &case.body };
        let signer = Signer::new(KEY_ID, SECRET, &case.region, case.service);
        prop_assert_eq!(signer.authorization(&request, &amz_date), sdk("authorization"));
    }
}
