//! The four operations: a validated request and the store in, the answer's [`Node`] out
//! (`docs/cloudwatch.md`, "Operations").

use std::collections::BTreeMap;

use crate::aggregate::Aggregate;
use crate::error::{CloudWatchError, ErrorKind};
use crate::model::{Dimension, MetricId, Stat};
use crate::output::Node;
use crate::request::{GetMetricData, GetMetricStatistics, ListMetrics, PutMetricData};
use crate::store::{MetricStore, PeriodQuery, SeriesLimitReached};
use crate::time::Millis;

/// ListMetrics answers at most this many metrics a call.
pub const LIST_METRICS_PAGE: usize = 500;
/// GetMetricData's default MaxDatapoints.
const DEFAULT_MAX_DATAPOINTS: usize = 100_800;
/// `RecentlyActive=PT3H`.
const RECENTLY_ACTIVE_MS: Millis = 3 * 3_600_000;

/// Where the operation acts: an account and region, at a time.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub now: Millis,
}

pub fn put_metric_data(
    store: &MetricStore,
    scope: Scope<'_>,
    request: &PutMetricData,
) -> Result<(), CloudWatchError> {
    store.put(scope.account, scope.region, &request.data, scope.now).map_err(|SeriesLimitReached { max_series, new_series }| {
        CloudWatchError::new(
            ErrorKind::LimitExceeded,
            format!(
                "kinesin keeps at most {max_series} metrics (--cloudwatch-max-series) and this request would add {new_series}; nothing was stored. Metrics without data newer than the retention are dropped."
            ),
        )
    })
}

pub fn get_metric_statistics(store: &MetricStore, scope: Scope<'_>, request: &GetMetricStatistics) -> Node {
    let query = PeriodQuery {
        metric: &request.metric,
        start: request.start,
        end: request.end,
        period_seconds: request.period,
        unit: request.unit,
    };
    let periods = store.aggregate(scope.account, scope.region, &query, scope.now);
    let datapoints = periods
        .iter()
        .map(|period| {
            let mut members = vec![("Timestamp", Node::Time(period.start))];
            for statistic in &request.statistics {
                members
                    .push((statistic.name(), Node::Double(period.aggregate.summary.statistic(*statistic))));
            }
            members.push(("Unit", Node::Text(period.unit.name().to_string())));
            if !request.percentiles.is_empty() {
                let values = request
                    .percentiles
                    .iter()
                    .filter_map(|p| {
                        Some((p.name.clone(), Node::Double(period.aggregate.percentile(p.rank)?)))
                    })
                    .collect();
                members.push(("ExtendedStatistics", Node::Map(values)));
            }
            Node::Struct(members)
        })
        .collect();
    Node::Struct(vec![
        ("Label", Node::Text(request.metric.metric_name.clone())),
        ("Datapoints", Node::List(datapoints)),
    ])
}

/// One query's datapoints, in the requested order.
fn query_series(
    store: &MetricStore,
    scope: Scope<'_>,
    request: &GetMetricData,
    index: usize,
) -> Vec<(Millis, f64)> {
    let query = &request.queries[index];
    let period_query = PeriodQuery {
        metric: &query.metric,
        start: request.start,
        end: request.end,
        period_seconds: query.period,
        unit: query.unit,
    };
    let periods = store.aggregate(scope.account, scope.region, &period_query, scope.now);
    // GetMetricData answers one value per period, whatever units the data came with.
    let mut merged: BTreeMap<Millis, Aggregate> = BTreeMap::new();
    for period in periods {
        match merged.get_mut(&period.start) {
            Some(aggregate) => aggregate.merge(&period.aggregate),
            None => {
                merged.insert(period.start, period.aggregate);
            }
        }
    }
    let mut points: Vec<(Millis, f64)> = merged
        .into_iter()
        .filter_map(|(start, aggregate)| {
            let value = match &query.stat {
                Stat::Statistic(statistic) => aggregate.summary.statistic(*statistic),
                Stat::Percentile(percentile) => aggregate.percentile(percentile.rank)?,
            };
            Some((start, value))
        })
        .collect();
    if !request.ascending {
        points.reverse();
    }
    points
}

pub fn get_metric_data(
    store: &MetricStore,
    scope: Scope<'_>,
    request: &GetMetricData,
) -> Result<Node, CloudWatchError> {
    let returned: Vec<usize> =
        (0..request.queries.len()).filter(|index| request.queries[*index].return_data).collect();
    let series: Vec<Vec<(Millis, f64)>> =
        returned.iter().map(|index| query_series(store, scope, request, *index)).collect();
    let total: usize = series.iter().map(Vec::len).sum();
    // The token is how many datapoints earlier pages returned, across the results in order.
    let offset = match &request.next_token {
        None => 0,
        Some(token) => token.parse::<usize>().ok().filter(|offset| *offset <= total).ok_or_else(|| {
            CloudWatchError::new(ErrorKind::InvalidNextToken, "The service cannot process the NextToken.")
        })?,
    };
    let page_end = offset.saturating_add(request.max_datapoints.unwrap_or(DEFAULT_MAX_DATAPOINTS)).min(total);
    let mut seen = 0;
    let mut results = Vec::new();
    for (index, points) in returned.iter().zip(&series) {
        let query = &request.queries[*index];
        let (from, to) = (
            offset.clamp(seen, seen + points.len()) - seen,
            page_end.clamp(seen, seen + points.len()) - seen,
        );
        seen += points.len();
        let page = &points[from..to];
        let status = if to < points.len() { "PartialData" } else { "Complete" };
        results.push(Node::Struct(vec![
            ("Id", Node::Text(query.id.clone())),
            ("Label", Node::Text(query.label.clone().unwrap_or_else(|| query.metric.metric_name.clone()))),
            ("Timestamps", Node::List(page.iter().map(|(time, _)| Node::Time(*time)).collect())),
            ("Values", Node::List(page.iter().map(|(_, value)| Node::Double(*value)).collect())),
            ("StatusCode", Node::Text(status.to_string())),
        ]));
    }
    let mut members = vec![("MetricDataResults", Node::List(results))];
    if page_end < total {
        members.push(("NextToken", Node::Text(page_end.to_string())));
    }
    members.push(("Messages", Node::List(Vec::new())));
    Ok(Node::Struct(members))
}

fn matches(id: &MetricId, request: &ListMetrics) -> bool {
    request.namespace.as_ref().is_none_or(|namespace| *namespace == id.namespace)
        && request.metric_name.as_ref().is_none_or(|name| *name == id.metric_name)
        && request.dimensions.iter().all(|filter| {
            id.dimensions.iter().any(|dimension| {
                dimension.name == filter.name
                    && filter.value.as_ref().is_none_or(|value| *value == dimension.value)
            })
        })
}

fn dimensions_node(dimensions: &[Dimension]) -> Node {
    Node::List(
        dimensions
            .iter()
            .map(|d| {
                Node::Struct(vec![
                    ("Name", Node::Text(d.name.clone())),
                    ("Value", Node::Text(d.value.clone())),
                ])
            })
            .collect(),
    )
}

pub fn list_metrics(
    store: &MetricStore,
    scope: Scope<'_>,
    request: &ListMetrics,
) -> Result<Node, CloudWatchError> {
    let metrics: Vec<MetricId> = store
        .metrics(scope.account, scope.region, scope.now)
        .into_iter()
        .filter(|(id, last_put)| {
            matches(id, request) && (!request.recently_active || *last_put >= scope.now - RECENTLY_ACTIVE_MS)
        })
        .map(|(id, _)| id)
        .collect();
    // The token is how many metrics earlier pages listed.
    let offset = match &request.next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= metrics.len())
            .ok_or_else(|| CloudWatchError::invalid_value(token, "NextToken"))?,
    };
    let end = (offset + LIST_METRICS_PAGE).min(metrics.len());
    let listed = metrics[offset..end]
        .iter()
        .map(|id| {
            Node::Struct(vec![
                ("Namespace", Node::Text(id.namespace.clone())),
                ("MetricName", Node::Text(id.metric_name.clone())),
                ("Dimensions", dimensions_node(&id.dimensions)),
            ])
        })
        .collect();
    let mut members = vec![("Metrics", Node::List(listed))];
    if end < metrics.len() {
        members.push(("NextToken", Node::Text(end.to_string())));
    }
    Ok(Node::Struct(members))
}

#[cfg(test)]
mod tests;
