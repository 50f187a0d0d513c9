use std::io::Write;

use ciborium::value::Value as Cbor;
use http::{HeaderMap, HeaderValue, StatusCode};
use kinesin_service::RequestContext;

use super::*;
use crate::store::StoreLimits;

const NOW: Millis = 1_700_000_040_000;

fn service() -> CloudWatch {
    CloudWatch::new(Arc::new(MetricStore::new(StoreLimits { retention_ms: 3 * 3_600_000, max_series: 100 })))
}

fn context() -> RequestContext {
    RequestContext { account: "123456789012".into(), region: "us-east-1".into() }
}

fn call_with<'a>(
    context: &'a RequestContext,
    headers: &'a HeaderMap,
    protocol: Protocol,
    operation: &'a str,
    body: Vec<u8>,
) -> Call<'a> {
    Call { context, protocol, operation, headers, body: Bytes::from(body), request_id: "test-request" }
}

fn run(service: &CloudWatch, protocol: Protocol, operation: &str, body: Vec<u8>) -> Answer {
    let (context, headers) = (context(), HeaderMap::new());
    service.answer(&call_with(&context, &headers, protocol, operation, body), NOW)
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.to_str().unwrap())
}

fn text(answer: &Answer) -> &str {
    std::str::from_utf8(&answer.body).unwrap()
}

fn cbor(value: Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(&value, &mut bytes).unwrap();
    bytes
}

fn cbor_text(text: &str) -> Cbor {
    Cbor::Text(text.into())
}

const KCL_FORM: &str = "Action=PutMetricData&Version=2010-08-01&Namespace=app\
    &MetricData.member.1.MetricName=RecordsProcessed\
    &MetricData.member.1.Dimensions.member.1.Name=ShardId&MetricData.member.1.Dimensions.member.1.Value=shardId-000000000000\
    &MetricData.member.1.StatisticValues.SampleCount=1&MetricData.member.1.StatisticValues.Sum=7\
    &MetricData.member.1.StatisticValues.Minimum=7&MetricData.member.1.StatisticValues.Maximum=7\
    &MetricData.member.1.Unit=Count";

#[test]
fn a_query_put_is_read_back_in_every_protocol() {
    let service = service();
    let put = run(&service, Protocol::AwsQuery, "PutMetricData", KCL_FORM.as_bytes().to_vec());
    assert_eq!(put.status, StatusCode::OK, "{}", text(&put));
    assert_eq!(put.content_type, Some("text/xml"));
    assert!(text(&put).starts_with("<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>"));

    let window = "&StartTime=2023-11-14T21:00:00Z&EndTime=2023-11-14T23:00:00Z&Period=60";
    let query = run(
        &service,
        Protocol::AwsQuery,
        "GetMetricStatistics",
        format!("Action=GetMetricStatistics&Version=2010-08-01&Namespace=app&MetricName=RecordsProcessed&Dimensions.member.1.Name=ShardId&Dimensions.member.1.Value=shardId-000000000000&Statistics.member.1=Sum{window}").into_bytes(),
    );
    assert!(
        text(&query).contains("<GetMetricStatisticsResult><Label>RecordsProcessed</Label><Datapoints><member><Timestamp>2023-11-14T22:14:00Z</Timestamp><Sum>7.0</Sum><Unit>Count</Unit></member></Datapoints></GetMetricStatisticsResult>"),
        "{}",
        text(&query)
    );

    let json = run(
        &service,
        Protocol::AwsJson1_0,
        "GetMetricStatistics",
        serde_json::json!({
            "Namespace": "app", "MetricName": "RecordsProcessed",
            "Dimensions": [{"Name": "ShardId", "Value": "shardId-000000000000"}],
            "StartTime": 1_699_995_600, "EndTime": 1_700_002_800, "Period": 60, "Statistics": ["Maximum"]
        })
        .to_string()
        .into_bytes(),
    );
    let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(
        body["Datapoints"],
        serde_json::json!([{"Timestamp": 1_700_000_040, "Maximum": 7.0, "Unit": "Count"}])
    );

    let request = Cbor::Map(vec![
        (
            cbor_text("MetricDataQueries"),
            Cbor::Array(vec![Cbor::Map(vec![
                (cbor_text("Id"), cbor_text("q")),
                (
                    cbor_text("MetricStat"),
                    Cbor::Map(vec![
                        (
                            cbor_text("Metric"),
                            Cbor::Map(vec![
                                (cbor_text("Namespace"), cbor_text("app")),
                                (cbor_text("MetricName"), cbor_text("RecordsProcessed")),
                                (
                                    cbor_text("Dimensions"),
                                    Cbor::Array(vec![Cbor::Map(vec![
                                        (cbor_text("Name"), cbor_text("ShardId")),
                                        (cbor_text("Value"), cbor_text("shardId-000000000000")),
                                    ])]),
                                ),
                            ]),
                        ),
                        (cbor_text("Period"), Cbor::Integer(300.into())),
                        (cbor_text("Stat"), cbor_text("SampleCount")),
                    ]),
                ),
            ])]),
        ),
        (cbor_text("StartTime"), Cbor::Tag(1, Box::new(Cbor::Float(1_699_995_600.0)))),
        (cbor_text("EndTime"), Cbor::Tag(1, Box::new(Cbor::Integer(1_700_002_800.into())))),
    ]);
    let answer = run(&service, Protocol::RpcV2Cbor, "GetMetricData", cbor(request));
    assert_eq!(header(&answer, "smithy-protocol"), Some("rpc-v2-cbor"));
    let body: Cbor = ciborium::de::from_reader(&answer.body[..]).unwrap();
    let results = &body.as_map().unwrap()[0].1.as_array().unwrap()[0];
    let member = |name: &str| {
        results.as_map().unwrap().iter().find(|(k, _)| k.as_text() == Some(name)).unwrap().1.clone()
    };
    assert_eq!(member("Values"), Cbor::Array(vec![Cbor::Float(1.0)]));
    assert_eq!(member("Timestamps"), Cbor::Array(vec![Cbor::Tag(1, Box::new(Cbor::Float(1_699_999_800.0)))]));
}

#[test]
fn cbor_and_json_puts_without_timestamps_land_now() {
    let service = service();
    let put = Cbor::Map(vec![
        (cbor_text("Namespace"), cbor_text("app")),
        (
            cbor_text("MetricData"),
            Cbor::Array(vec![Cbor::Map(vec![
                (cbor_text("MetricName"), cbor_text("m")),
                (cbor_text("Value"), Cbor::Float(2.5)),
            ])]),
        ),
    ]);
    let answer = run(&service, Protocol::RpcV2Cbor, "PutMetricData", cbor(put));
    assert_eq!((answer.status, answer.body.len()), (StatusCode::OK, 0));
    let json_put = serde_json::json!({"Namespace": "app", "MetricData": [{"MetricName": "m", "Value": 1.5}]});
    let answer = run(&service, Protocol::AwsJson1_0, "PutMetricData", json_put.to_string().into_bytes());
    assert_eq!((answer.status, text(&answer)), (StatusCode::OK, "{}"));
    let listed = run(&service, Protocol::AwsJson1_0, "ListMetrics", b"{}".to_vec());
    let body: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"Metrics": [{"Namespace": "app", "MetricName": "m", "Dimensions": []}]})
    );
    let metric = crate::MetricId::new("app", "m", vec![]);
    let query = crate::store::PeriodQuery {
        metric: &metric,
        start: NOW - 60_000,
        end: NOW + 60_000,
        period_seconds: 60,
        unit: None,
    };
    let periods = service.store().aggregate("123456789012", "us-east-1", &query, NOW);
    assert_eq!(periods[0].aggregate.summary.sum, 4.0);
}

#[test]
fn errors_in_each_protocol() {
    let service = service();
    let json = run(&service, Protocol::AwsJson1_0, "PutMetricData", br#"{"MetricData":[]}"#.to_vec());
    assert_eq!(json.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&json, "x-amzn-query-error"), Some("MissingParameter;Sender"));
    let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"__type": "com.amazonaws.cloudwatch#MissingRequiredParameterException", "message": "The parameter Namespace is required."})
    );

    let query =
        run(&service, Protocol::AwsQuery, "PutMetricData", b"Action=PutMetricData&Namespace=n".to_vec());
    assert!(text(&query).contains("<Error><Type>Sender</Type><Code>MissingParameter</Code><Message>The parameter MetricData is required.</Message></Error>"));

    let cbor_answer = run(&service, Protocol::RpcV2Cbor, "PutMetricData", vec![0xbf]);
    assert_eq!(cbor_answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&cbor_answer, "smithy-protocol"), Some("rpc-v2-cbor"));
    let body: Cbor = ciborium::de::from_reader(&cbor_answer.body[..]).unwrap();
    assert_eq!(body.as_map().unwrap()[0], (cbor_text("__type"), cbor_text("SerializationException")));

    let unknown = run(&service, Protocol::AwsQuery, "PutMetricAlarm", b"Action=PutMetricAlarm".to_vec());
    assert!(text(&unknown).contains("<Code>InvalidAction</Code><Message>Could not find operation PutMetricAlarm for version 2010-08-01</Message>"));
    let not_a_structure = run(&service, Protocol::AwsJson1_0, "ListMetrics", b"[]".to_vec());
    assert_eq!(not_a_structure.status, StatusCode::BAD_REQUEST);
}

#[test]
fn gzipped_bodies_are_inflated() {
    let service = service();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(KCL_FORM.as_bytes()).unwrap();
    let (context, mut headers) = (context(), HeaderMap::new());
    headers.insert(http::header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let call = call_with(&context, &headers, Protocol::AwsQuery, "PutMetricData", encoder.finish().unwrap());
    assert_eq!(service.answer(&call, NOW).status, StatusCode::OK);
    assert_eq!(service.store().series_count(), 1);
    let garbage = call_with(&context, &headers, Protocol::AwsQuery, "PutMetricData", b"not gzip".to_vec());
    assert_eq!(service.answer(&garbage, NOW).status, StatusCode::BAD_REQUEST);
}

#[test]
fn front_door_errors_use_query_codes_where_query_services_do() {
    let service = service();
    let error = FrontDoorError {
        code: "MissingAuthenticationTokenException",
        message: "Missing Authentication Token".into(),
        status: StatusCode::FORBIDDEN,
        request_id: "front-door-id".into(),
    };
    let query = service.render_error(Protocol::AwsQuery, &error);
    assert!(text(&query).contains("<RequestId>front-door-id</RequestId>"), "{}", text(&query));
    assert_eq!(query.status, StatusCode::FORBIDDEN);
    assert!(text(&query).contains("<Code>MissingAuthenticationToken</Code>"));
    let json = service.render_error(Protocol::AwsJson1_0, &error);
    assert_eq!(header(&json, "x-amzn-query-error"), Some("MissingAuthenticationToken;Sender"));
    let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
}

#[test]
fn routes_and_signing_name() {
    let service = service();
    assert_eq!(
        service.routes(),
        Routes {
            target_prefix: "GraniteServiceVersion20100801",
            rpc_v2_name: Some("GraniteServiceVersion20100801"),
            aws_query: true
        }
    );
    assert_eq!(service.signing_name(), "monitoring");
}

#[test]
fn query_answers_repeat_the_calls_request_id() {
    let answer =
        run(&service(), Protocol::AwsQuery, "ListMetrics", b"Action=ListMetrics&Version=2010-08-01".to_vec());
    assert!(text(&answer).contains("<RequestId>test-request</RequestId>"), "{}", text(&answer));
}
