use super::*;
use crate::model::{Dimension, Sample};

const HOUR: Millis = 3_600_000;
const NOW: Millis = 1_700_000_000_000;

fn store(max_series: usize) -> MetricStore {
    MetricStore::new(StoreLimits { retention_ms: 3 * HOUR, max_series })
}

fn metric(name: &str) -> MetricId {
    MetricId::new("app", name, vec![Dimension { name: "ShardId".into(), value: "shardId-0".into() }])
}

fn datum(name: &str, at: Millis, value: f64) -> MetricDatum {
    MetricDatum {
        metric: metric(name),
        timestamp: Some(at),
        sample: Sample::Value(value),
        unit: Unit::COUNT,
        storage_resolution: 60,
    }
}

fn read(
    store: &MetricStore,
    scope: (&str, &str),
    name: &str,
    window: (Millis, Millis),
    period: u32,
    unit: Option<Unit>,
    now: Millis,
) -> Vec<PeriodAggregate> {
    let id = metric(name);
    let query = PeriodQuery { metric: &id, start: window.0, end: window.1, period_seconds: period, unit };
    store.aggregate(scope.0, scope.1, &query, now)
}

fn sums(
    store: &MetricStore,
    name: &str,
    window: (Millis, Millis),
    period: u32,
    now: Millis,
) -> Vec<(Millis, f64)> {
    read(store, ("a", "r"), name, window, period, None, now)
        .into_iter()
        .map(|period| (period.start, period.aggregate.summary.sum))
        .collect()
}

#[test]
fn aggregates_by_period_from_the_rounded_start() {
    let store = store(10);
    let minute = 60_000;
    let base = NOW - NOW % minute - 10 * minute;
    store
        .put(
            "a",
            "r",
            &[datum("m", base + 1000, 1.0), datum("m", base + 59_000, 2.0), datum("m", base + minute, 4.0)],
            NOW,
        )
        .unwrap();
    store.put("a", "r", &[datum("m", base + 5 * minute, 8.0)], NOW).unwrap();
    assert_eq!(
        sums(&store, "m", (base + 30_000, NOW), 60, NOW),
        vec![(base, 3.0), (base + minute, 4.0), (base + 5 * minute, 8.0)]
    );
    assert_eq!(sums(&store, "m", (base, NOW), 300, NOW), vec![(base, 7.0), (base + 5 * minute, 8.0)]);
    // The end is exclusive.
    assert_eq!(sums(&store, "m", (base, base + minute), 60, NOW), vec![(base, 3.0)]);
}

#[test]
fn accounts_regions_and_units_are_kept_apart() {
    let store = store(10);
    let mut bytes = datum("m", NOW, 5.0);
    bytes.unit = Unit::BYTES;
    store.put("a", "r", &[datum("m", NOW, 1.0), bytes], NOW).unwrap();
    store.put("b", "r", &[datum("m", NOW, 100.0)], NOW).unwrap();
    let periods = read(&store, ("a", "r"), "m", (NOW - HOUR, NOW + HOUR), 60, None, NOW);
    assert_eq!(periods.len(), 2);
    let only_bytes = read(&store, ("a", "r"), "m", (NOW - HOUR, NOW + HOUR), 60, Some(Unit::BYTES), NOW);
    assert_eq!(only_bytes.iter().map(|p| p.aggregate.summary.sum).collect::<Vec<_>>(), vec![5.0]);
    assert!(read(&store, ("a", "other"), "m", (NOW - HOUR, NOW + HOUR), 60, None, NOW).is_empty());
    assert_eq!(store.series_count(), 2);
}

#[test]
fn data_older_than_the_retention_is_dropped() {
    let store = store(10);
    store.put("a", "r", &[datum("old", NOW - 4 * HOUR, 1.0)], NOW).unwrap();
    assert_eq!(store.series_count(), 0, "an expired datum creates nothing");
    store.put("a", "r", &[datum("m", NOW, 1.0)], NOW).unwrap();
    let later = NOW + 3 * HOUR + 120_000;
    assert!(sums(&store, "m", (NOW - HOUR, later), 60, later).is_empty());
    assert!(store.metrics("a", "r", later).is_empty());
    // The next put sweeps the expired series away.
    store.put("a", "r", &[datum("n", later, 1.0)], later).unwrap();
    assert_eq!(store.series_count(), 1);
}

#[test]
fn the_series_bound_refuses_whole_puts() {
    let store = store(2);
    store.put("a", "r", &[datum("x", NOW, 1.0), datum("x", NOW, 2.0)], NOW).unwrap();
    let refused =
        store.put("a", "r", &[datum("x", NOW, 3.0), datum("y", NOW, 1.0), datum("z", NOW, 1.0)], NOW);
    assert_eq!(refused, Err(SeriesLimitReached { max_series: 2, new_series: 2 }));
    assert_eq!(
        sums(&store, "x", (NOW - HOUR, NOW + HOUR), 60, NOW)[0].1,
        3.0,
        "nothing of the refused put was stored"
    );
    store.put("b", "r", &[datum("y", NOW, 1.0)], NOW).unwrap();
    assert!(store.put("a", "r", &[datum("x", NOW, 1.0)], NOW).is_ok(), "existing series still take data");
    // Once the old series expire, there is room again.
    let later = NOW + 4 * HOUR;
    assert!(store.put("a", "r", &[datum("y", later, 1.0), datum("z", later, 1.0)], later).is_ok());
}

#[test]
fn a_series_keeps_a_bounded_number_of_entries() {
    let store = store(1);
    let data: Vec<MetricDatum> = (0..(MAX_SERIES_ENTRIES as i64 + 100))
        .map(|second| MetricDatum {
            storage_resolution: 1,
            ..datum("m", NOW - 3 * HOUR + 1000 + second * 1000, 1.0)
        })
        .collect();
    store.put("a", "r", &data, NOW).unwrap();
    let periods = read(&store, ("a", "r"), "m", (NOW - 3 * HOUR, NOW), 1, None, NOW);
    // Each one-value slot takes two entries (the slot and its one distinct value).
    assert_eq!(periods.len(), MAX_SERIES_ENTRIES / 2);
    assert_eq!(periods.last().unwrap().start, data.last().unwrap().timestamp.unwrap(), "the newest are kept");
}

#[test]
fn metrics_are_listed_in_a_stable_order_with_their_last_put() {
    let store = store(10);
    store.put("a", "r", &[datum("b", NOW, 1.0), datum("a", NOW, 1.0)], NOW).unwrap();
    let listed = store.metrics("a", "r", NOW);
    assert_eq!(listed.iter().map(|(id, _)| id.metric_name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(listed[0].1, NOW);
}

/// The memory a full series takes: `cargo test -p kinesin-cloudwatch --release -- --ignored
/// --nocapture full_series_memory` (docs/cloudwatch.md, "Storage and its bounds").
#[test]
#[ignore = "a measurement; run explicitly in release mode"]
fn full_series_memory() {
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
    }
    let series = 2000;
    let store = store(series);
    let before = resident_bytes();
    for index in 0..series {
        let name = format!("m{index}");
        let data: Vec<MetricDatum> = (0..MAX_SERIES_ENTRIES as i64)
            .map(|second| MetricDatum {
                storage_resolution: 1,
                sample: Sample::Statistics { sample_count: 2.0, sum: 3.0, minimum: 1.0, maximum: 2.0 },
                ..datum(&name, NOW - 3 * HOUR + 1000 + second * 1000, 1.0)
            })
            .collect();
        store.put("a", "r", &data, NOW).unwrap();
    }
    let per_series = (resident_bytes() - before) / series;
    println!("{per_series} bytes per full series ({} per entry)", per_series / MAX_SERIES_ENTRIES);
}
