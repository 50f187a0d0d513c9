use super::*;
use crate::model::{MetricDatum, Percentile, Sample, Statistic, Unit};
use crate::request::{DimensionFilter, MetricQuery};
use crate::store::StoreLimits;

const NOW: Millis = 1_700_000_040_000; // a whole minute
const MINUTE: Millis = 60_000;
const SCOPE: Scope<'static> = Scope { account: "a", region: "r", now: NOW };

fn store_with(points: &[(&str, Millis, f64)]) -> MetricStore {
    let store = MetricStore::new(StoreLimits { retention_ms: 3 * 3_600_000, max_series: 1000 });
    let data: Vec<MetricDatum> = points
        .iter()
        .map(|(name, at, value)| MetricDatum {
            metric: MetricId::new(
                "app",
                *name,
                vec![Dimension { name: "ShardId".into(), value: "s-0".into() }],
            ),
            timestamp: Some(*at),
            sample: Sample::Value(*value),
            unit: Unit::COUNT,
            storage_resolution: 60,
        })
        .collect();
    store.put("a", "r", &data, NOW).unwrap();
    store
}

fn metric(name: &str) -> MetricId {
    MetricId::new("app", name, vec![Dimension { name: "ShardId".into(), value: "s-0".into() }])
}

#[test]
fn get_metric_statistics_answers_the_requested_statistics() {
    let store =
        store_with(&[("m", NOW - 2 * MINUTE, 1.0), ("m", NOW - 2 * MINUTE, 3.0), ("m", NOW - MINUTE, 10.0)]);
    let request = GetMetricStatistics {
        metric: metric("m"),
        start: NOW - 10 * MINUTE,
        end: NOW,
        period: 60,
        statistics: vec![Statistic::Average, Statistic::SampleCount],
        percentiles: Vec::new(),
        unit: None,
    };
    let answer = output_json(get_metric_statistics(&store, SCOPE, &request));
    assert_eq!(
        answer,
        serde_json::json!({"Label": "m", "Datapoints": [
            {"Timestamp": (NOW - 2 * MINUTE) / 1000, "Average": 2.0, "SampleCount": 2.0, "Unit": "Count"},
            {"Timestamp": (NOW - MINUTE) / 1000, "Average": 10.0, "SampleCount": 1.0, "Unit": "Count"},
        ]})
    );
    let percentiles = GetMetricStatistics {
        statistics: Vec::new(),
        percentiles: vec![Percentile::parse("p50").unwrap(), Percentile::parse("p100").unwrap()],
        ..request
    };
    let answer = output_json(get_metric_statistics(&store, SCOPE, &percentiles));
    assert_eq!(answer["Datapoints"][0]["ExtendedStatistics"], serde_json::json!({"p50": 1.0, "p100": 3.0}));
}

fn output_json(node: Node) -> serde_json::Value {
    crate::output::to_json(&node)
}

fn data_request(queries: Vec<MetricQuery>) -> GetMetricData {
    GetMetricData {
        queries,
        start: NOW - 10 * MINUTE,
        end: NOW,
        next_token: None,
        ascending: false,
        max_datapoints: None,
    }
}

fn sum_query(id: &str, name: &str) -> MetricQuery {
    MetricQuery {
        id: id.into(),
        label: None,
        return_data: true,
        metric: metric(name),
        period: 60,
        stat: Stat::Statistic(Statistic::Sum),
        unit: None,
    }
}

#[test]
fn get_metric_data_answers_newest_first_and_pages() {
    let store = store_with(&[
        ("m", NOW - 3 * MINUTE, 1.0),
        ("m", NOW - 2 * MINUTE, 2.0),
        ("m", NOW - MINUTE, 3.0),
        ("n", NOW - MINUTE, 9.0),
    ]);
    let mut request = data_request(vec![sum_query("a", "m"), sum_query("b", "n")]);
    let answer = output_json(get_metric_data(&store, SCOPE, &request).unwrap());
    assert_eq!(answer["MetricDataResults"][0]["Values"], serde_json::json!([3.0, 2.0, 1.0]));
    assert_eq!(answer["MetricDataResults"][0]["Label"], "m");
    assert_eq!(answer["MetricDataResults"][1]["Values"], serde_json::json!([9.0]));
    assert!(answer.get("NextToken").is_none());

    request.ascending = true;
    request.max_datapoints = Some(2);
    let first = output_json(get_metric_data(&store, SCOPE, &request).unwrap());
    assert_eq!(first["MetricDataResults"][0]["Values"], serde_json::json!([1.0, 2.0]));
    assert_eq!(first["MetricDataResults"][0]["StatusCode"], "PartialData");
    assert_eq!(first["MetricDataResults"][1]["Values"], serde_json::json!([]));
    request.next_token = first["NextToken"].as_str().map(str::to_string);
    let second = output_json(get_metric_data(&store, SCOPE, &request).unwrap());
    assert_eq!(second["MetricDataResults"][0]["Values"], serde_json::json!([3.0]));
    assert_eq!(second["MetricDataResults"][1]["Values"], serde_json::json!([9.0]));
    assert_eq!(second["MetricDataResults"][1]["StatusCode"], "Complete");
    assert!(second.get("NextToken").is_none());

    request.next_token = Some("junk".into());
    assert_eq!(get_metric_data(&store, SCOPE, &request).unwrap_err().kind, ErrorKind::InvalidNextToken);
}

#[test]
fn get_metric_data_leaves_out_queries_not_returned() {
    let store = store_with(&[("m", NOW - MINUTE, 1.0)]);
    let hidden = MetricQuery { return_data: false, ..sum_query("a", "m") };
    let answer = output_json(
        get_metric_data(&store, SCOPE, &data_request(vec![hidden, sum_query("b", "m")])).unwrap(),
    );
    assert_eq!(answer["MetricDataResults"].as_array().unwrap().len(), 1);
    assert_eq!(answer["MetricDataResults"][0]["Id"], "b");
}

#[test]
fn list_metrics_filters_and_pages() {
    let names: Vec<String> = (0..LIST_METRICS_PAGE + 1).map(|i| format!("m{i:04}")).collect();
    let points: Vec<(&str, Millis, f64)> = names.iter().map(|name| (name.as_str(), NOW, 1.0)).collect();
    let store = store_with(&points);
    let all = ListMetrics {
        namespace: None,
        metric_name: None,
        dimensions: Vec::new(),
        next_token: None,
        recently_active: false,
    };
    let first = output_json(list_metrics(&store, SCOPE, &all).unwrap());
    assert_eq!(first["Metrics"].as_array().unwrap().len(), LIST_METRICS_PAGE);
    assert_eq!(
        first["Metrics"][0],
        serde_json::json!({"Namespace": "app", "MetricName": "m0000", "Dimensions": [{"Name": "ShardId", "Value": "s-0"}]})
    );
    let next = ListMetrics { next_token: first["NextToken"].as_str().map(str::to_string), ..all.clone() };
    let second = output_json(list_metrics(&store, SCOPE, &next).unwrap());
    assert_eq!(second["Metrics"].as_array().unwrap().len(), 1);
    assert!(second.get("NextToken").is_none());

    let by_name = ListMetrics { metric_name: Some("m0003".into()), ..all.clone() };
    assert_eq!(
        output_json(list_metrics(&store, SCOPE, &by_name).unwrap())["Metrics"].as_array().unwrap().len(),
        1
    );
    let by_dimension = ListMetrics {
        dimensions: vec![DimensionFilter { name: "ShardId".into(), value: Some("other".into()) }],
        ..all.clone()
    };
    assert!(output_json(list_metrics(&store, SCOPE, &by_dimension).unwrap())["Metrics"]
        .as_array()
        .unwrap()
        .is_empty());
    let other_namespace = ListMetrics { namespace: Some("x".into()), ..all.clone() };
    assert!(output_json(list_metrics(&store, SCOPE, &other_namespace).unwrap())["Metrics"]
        .as_array()
        .unwrap()
        .is_empty());
    let recent = ListMetrics { recently_active: true, ..all.clone() };
    let later = Scope { now: NOW + 3 * 3_600_000 - MINUTE, ..SCOPE };
    assert_eq!(
        output_json(list_metrics(&store, later, &recent).unwrap())["Metrics"].as_array().unwrap().len(),
        LIST_METRICS_PAGE
    );
    let bad = ListMetrics { next_token: Some("99999".into()), ..all };
    assert_eq!(list_metrics(&store, SCOPE, &bad).unwrap_err().kind, ErrorKind::InvalidParameterValue);
}

#[test]
fn the_series_bound_is_a_limit_exceeded_error() {
    let store = MetricStore::new(StoreLimits { retention_ms: 3_600_000, max_series: 0 });
    let request = PutMetricData {
        namespace: "app".into(),
        data: vec![MetricDatum {
            metric: metric("m"),
            timestamp: None,
            sample: Sample::Value(1.0),
            unit: Unit::NONE,
            storage_resolution: 60,
        }],
    };
    let error = put_metric_data(&store, SCOPE, &request).unwrap_err();
    assert_eq!(error.kind, ErrorKind::LimitExceeded);
    assert!(error.message.contains("--cloudwatch-max-series"));
}
