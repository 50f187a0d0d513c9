use super::*;
use crate::form;

const NOW: Millis = 1_700_000_000_000;

fn query() -> Reader {
    Reader { fields: Fields { textual: true } }
}

fn json() -> Reader {
    Reader { fields: Fields { textual: false } }
}

fn form_input(body: &str) -> Document {
    form::decode(body.as_bytes()).unwrap().parameters
}

fn json_input(body: serde_json::Value) -> Document {
    crate::json::decode(body.to_string().as_bytes()).unwrap()
}

fn put_error(body: &str) -> CloudWatchError {
    query().put_metric_data(&form_input(body), NOW).unwrap_err()
}

#[test]
fn reads_a_kcl_put_from_a_form() {
    let request = query()
        .put_metric_data(
            &form_input(
                "Namespace=app&MetricData.member.1.MetricName=Time\
                 &MetricData.member.1.Dimensions.member.1.Name=Operation&MetricData.member.1.Dimensions.member.1.Value=ProcessTask\
                 &MetricData.member.1.Dimensions.member.2.Name=ShardId&MetricData.member.1.Dimensions.member.2.Value=shardId-0\
                 &MetricData.member.1.StatisticValues.SampleCount=2&MetricData.member.1.StatisticValues.Sum=5\
                 &MetricData.member.1.StatisticValues.Minimum=1&MetricData.member.1.StatisticValues.Maximum=4\
                 &MetricData.member.1.Unit=Milliseconds",
            ),
            NOW,
        )
        .unwrap();
    assert_eq!(request.namespace, "app");
    let datum = &request.data[0];
    assert_eq!(datum.metric.metric_name, "Time");
    assert_eq!(datum.metric.dimensions.len(), 2);
    assert_eq!(datum.sample, Sample::Statistics { sample_count: 2.0, sum: 5.0, minimum: 1.0, maximum: 4.0 });
    assert_eq!(datum.unit, Unit::MILLISECONDS);
    assert_eq!((datum.timestamp, datum.storage_resolution), (None, 60));
}

#[test]
fn reads_values_counts_and_timestamps_from_json() {
    let input = json_input(serde_json::json!({
        "Namespace": "app",
        "MetricData": [{"MetricName": "m", "Values": [1, 2.5], "Counts": [3, 1], "Timestamp": 1_699_999_990, "StorageResolution": 1}]
    }));
    let datum = &json().put_metric_data(&input, NOW).unwrap().data[0];
    assert_eq!(datum.sample, Sample::Values(vec![(1.0, 3.0), (2.5, 1.0)]));
    assert_eq!(datum.timestamp, Some(1_699_999_990_000));
    assert_eq!(datum.storage_resolution, 1);
}

#[test]
fn put_errors_carry_cloudwatch_codes_and_texts() {
    let cases: [(&str, ErrorKind, &str); 12] = [
        ("MetricData.member.1.MetricName=m&MetricData.member.1.Value=1", ErrorKind::MissingParameter, "The parameter Namespace is required."),
        ("Namespace=n", ErrorKind::MissingParameter, "The parameter MetricData is required."),
        ("Namespace=AWS/Kinesis&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1", ErrorKind::InvalidParameterValue, "The value AWS/ for parameter Namespace is invalid."),
        ("Namespace=n&MetricData.member.1.Value=1", ErrorKind::MissingParameter, "The parameter MetricData.member.1.MetricName is required."),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.Values.member.1=1",
            ErrorKind::InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.StatisticValues.Sum=1",
            ErrorKind::InvalidParameterCombination,
            "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Values.member.1=1&MetricData.member.1.Counts.member.1=1&MetricData.member.1.Counts.member.2=1",
            ErrorKind::InvalidParameterValue,
            "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.StatisticValues.Sum=1&MetricData.member.1.StatisticValues.Minimum=1",
            ErrorKind::MissingParameter,
            "The parameter MetricData.member.1.StatisticValues.Maximum is required.\nThe parameter MetricData.member.1.StatisticValues.SampleCount is required.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.Unit=Parsecs",
            ErrorKind::InvalidParameterValue,
            "The parameter MetricData.member.1.Unit must be a value in the set [Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None].",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.Dimensions.member.1.Name=a&MetricData.member.1.Dimensions.member.1.Value=1&MetricData.member.1.Dimensions.member.2.Name=a&MetricData.member.1.Dimensions.member.2.Value=2",
            ErrorKind::InvalidParameterValue,
            "No Metric may specify the same dimension twice.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.Timestamp=2000-01-01T00:00:00Z",
            ErrorKind::InvalidParameterValue,
            "The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.",
        ),
        (
            "Namespace=n&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.StorageResolution=30",
            ErrorKind::InvalidParameterValue,
            "The value 30 for parameter MetricData.member.1.StorageResolution is invalid.",
        ),
    ];
    for (body, kind, message) in cases {
        let error = put_error(body);
        assert_eq!((error.kind, error.message.as_str()), (kind, message), "{body}");
    }
}

#[test]
fn put_bounds() {
    let many: String = (1..=MAX_DATUMS + 1)
        .map(|i| format!("&MetricData.member.{i}.MetricName=m&MetricData.member.{i}.Value=1"))
        .collect();
    let error = put_error(&format!("Namespace=n{many}"));
    assert_eq!(error.message, "The collection MetricData must not have a size greater than 1000.");
    let too_long = "x".repeat(256);
    assert_eq!(
        put_error(&format!(
            "Namespace={too_long}&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1"
        ))
        .kind,
        ErrorKind::InvalidParameterValue
    );
    let error = json()
        .put_metric_data(
            &Document::Map(vec![
                ("Namespace".into(), Document::Text("n".into())),
                (
                    "MetricData".into(),
                    Document::List(vec![Document::Map(vec![
                        ("MetricName".into(), Document::Text("m".into())),
                        ("Value".into(), Document::Float(f64::NAN)),
                    ])]),
                ),
            ]),
            NOW,
        )
        .unwrap_err();
    assert_eq!(error.message, "The value NaN for parameter MetricData.member.1.Value is invalid.");
}

#[test]
fn json_members_of_the_wrong_type_are_serialization_errors() {
    let input = json_input(serde_json::json!({"Namespace": 5, "MetricData": []}));
    assert_eq!(json().put_metric_data(&input, NOW).unwrap_err().kind, ErrorKind::Serialization);
}

fn statistics_form(extra: &str) -> Document {
    form_input(&format!(
        "Namespace=n&MetricName=m&StartTime=2023-11-14T00:00:00Z&EndTime=2023-11-14T01:00:00Z&Period=60{extra}"
    ))
}

#[test]
fn get_metric_statistics_reads_and_checks() {
    let request = query()
        .get_metric_statistics(&statistics_form(
            "&Statistics.member.1=Sum&Statistics.member.2=Average&Unit=Count",
        ))
        .unwrap();
    assert_eq!(request.statistics, vec![Statistic::Sum, Statistic::Average]);
    assert_eq!((request.period, request.unit), (60, Some(Unit::COUNT)));
    assert_eq!(request.end - request.start, 3_600_000);
    let percentiles =
        query().get_metric_statistics(&statistics_form("&ExtendedStatistics.member.1=p99.9")).unwrap();
    assert_eq!(percentiles.percentiles[0].rank, 99.9);

    let cases: [(&str, ErrorKind, &str); 6] = [
        ("", ErrorKind::InvalidParameterCombination, "Must specify either Statistics or ExtendedStatistics, but not both."),
        ("&Statistics.member.1=Median", ErrorKind::InvalidParameterValue, "The parameter Statistics.member.1 must be a value in the set [ SampleCount, Average, Sum, Minimum, Maximum ]."),
        ("&ExtendedStatistics.member.1=p101", ErrorKind::InvalidParameterValue, "The value p101 for parameter ExtendedStatistics is invalid."),
        (
            "&Statistics.member.1=Sum&ExtendedStatistics.member.1=p50",
            ErrorKind::InvalidParameterCombination,
            "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.",
        ),
        ("&Statistics.member.1=Sum&Period=61", ErrorKind::InvalidParameterValue, "The parameter Period must be a multiple of 60."),
        ("&Statistics.member.1=Sum&Period=0", ErrorKind::InvalidParameterValue, "The parameter Period must be greater than 0."),
    ];
    for (extra, kind, message) in cases {
        let error = query().get_metric_statistics(&statistics_form(extra)).unwrap_err();
        assert_eq!((error.kind, error.message.as_str()), (kind, message), "{extra}");
    }
    let missing =
        query().get_metric_statistics(&form_input("Namespace=n&MetricName=m&Period=60")).unwrap_err();
    assert_eq!(missing.message, "The parameter StartTime is required.");
    let backwards = query()
        .get_metric_statistics(&form_input("Namespace=n&MetricName=m&StartTime=2023-11-14T01:00:00Z&EndTime=2023-11-14T00:00:00Z&Period=60&Statistics.member.1=Sum"))
        .unwrap_err();
    assert_eq!(backwards.message, "The parameter StartTime must be less than the parameter EndTime.");
    let too_many = query()
        .get_metric_statistics(&form_input("Namespace=n&MetricName=m&StartTime=2023-01-01T00:00:00Z&EndTime=2023-01-12T13:40:00Z&Period=60&Statistics.member.1=Sum"))
        .unwrap_err();
    assert_eq!(
        (too_many.kind, too_many.message.as_str()),
        (
            ErrorKind::InvalidParameterCombination,
            "You have requested up to 16,660 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )
    );
}

fn data_query(query_member: serde_json::Value) -> Result<GetMetricData, CloudWatchError> {
    json().get_metric_data(&json_input(serde_json::json!({
        "MetricDataQueries": [query_member],
        "StartTime": 1_700_000_000,
        "EndTime": 1_700_003_600,
    })))
}

#[test]
fn get_metric_data_reads_metric_stat_queries() {
    let request = data_query(serde_json::json!({
        "Id": "m1",
        "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m", "Dimensions": [{"Name": "a", "Value": "b"}]}, "Period": 60, "Stat": "p90"},
        "ReturnData": false
    }))
    .unwrap();
    let query = &request.queries[0];
    assert!(!query.return_data);
    assert_eq!(query.stat, Stat::Percentile(Percentile::parse("p90").unwrap()));
    assert!(!request.ascending);
}

#[test]
fn get_metric_data_errors() {
    let stat =
        serde_json::json!({"Metric": {"Namespace": "n", "MetricName": "m"}, "Period": 60, "Stat": "Sum"});
    let expression = data_query(serde_json::json!({"Id": "e1", "Expression": "SUM(METRICS())"})).unwrap_err();
    assert_eq!(expression.kind, ErrorKind::ValidationError);
    assert!(expression.message.contains("does not evaluate metric math"), "{}", expression.message);
    let both =
        data_query(serde_json::json!({"Id": "e1", "Expression": "m1", "MetricStat": stat})).unwrap_err();
    assert_eq!(
        both.message,
        "The parameters MetricDataQueries.member.1.Expression and MetricDataQueries.member.1.MetricStat are mutually exclusive and you have specified both."
    );
    let neither = data_query(serde_json::json!({"Id": "e1"})).unwrap_err();
    assert_eq!(neither.message, "The parameter MetricDataQueries.member.1.MetricStat is required.");
    let bad_id = data_query(serde_json::json!({"Id": "M1", "MetricStat": stat})).unwrap_err();
    assert_eq!(bad_id.kind, ErrorKind::ValidationError);
    let duplicate = json()
        .get_metric_data(&json_input(serde_json::json!({
            "MetricDataQueries": [{"Id": "a", "MetricStat": stat}, {"Id": "a", "MetricStat": stat}],
            "StartTime": 1, "EndTime": 2,
        })))
        .unwrap_err();
    assert_eq!(duplicate.message, "The values for parameter id in MetricDataQueries are not unique.");
    let missing =
        json().get_metric_data(&json_input(serde_json::json!({"StartTime": 1, "EndTime": 2}))).unwrap_err();
    assert_eq!(missing.message, "The parameter MetricDataQueries is required.");
}

#[test]
fn list_metrics_reads_filters() {
    let request = query()
        .list_metrics(&form_input("Namespace=n&Dimensions.member.1.Name=ShardId&Dimensions.member.2.Name=Operation&Dimensions.member.2.Value=x&RecentlyActive=PT3H"))
        .unwrap();
    assert_eq!(request.namespace.as_deref(), Some("n"));
    assert_eq!(request.dimensions[0], DimensionFilter { name: "ShardId".into(), value: None });
    assert_eq!(request.dimensions[1].value.as_deref(), Some("x"));
    assert!(request.recently_active);
    assert_eq!(
        query().list_metrics(&form_input("RecentlyActive=PT1H")).unwrap_err().kind,
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        query().list_metrics(&form_input("Dimensions.member.1.Value=x")).unwrap_err().message,
        "The parameter Dimensions.member.1.Name is required."
    );
    assert!(query().list_metrics(&Document::Map(Vec::new())).is_ok());
}
