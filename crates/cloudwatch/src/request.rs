//! The four operations' inputs, read from a [`Document`] and validated as CloudWatch does
//! (`docs/cloudwatch.md`, "Validation"). Nothing is stored unless the whole request is valid.

use std::collections::HashSet;

use crate::document::Document;
use crate::error::{CloudWatchError, ErrorKind};
use crate::fields::{element, join, Fields};
use crate::model::{Dimension, MetricDatum, MetricId, Percentile, Sample, Stat, Statistic, Unit};
use crate::time::Millis;

/// CloudWatch's limits (the model's documentation).
pub const MAX_DATUMS: usize = 1000;
pub const MAX_DIMENSIONS: usize = 30;
pub const MAX_VALUES: usize = 150;
pub const MAX_DIMENSION_FILTERS: usize = 10;
pub const MAX_QUERIES: usize = 500;
pub const MAX_STATISTICS: usize = 5;
pub const MAX_EXTENDED_STATISTICS: usize = 10;
/// Values must lie within ±2^360.
const VALUE_LIMIT: f64 = 2.3485425827738332e108;

#[derive(Debug, Clone, PartialEq)]
pub struct PutMetricData {
    pub namespace: String,
    pub data: Vec<MetricDatum>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetMetricStatistics {
    pub metric: MetricId,
    pub start: Millis,
    pub end: Millis,
    pub period: u32,
    pub statistics: Vec<Statistic>,
    pub percentiles: Vec<Percentile>,
    pub unit: Option<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub label: Option<String>,
    pub return_data: bool,
    pub metric: MetricId,
    pub period: u32,
    pub stat: Stat,
    pub unit: Option<Unit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetMetricData {
    pub queries: Vec<MetricQuery>,
    pub start: Millis,
    pub end: Millis,
    pub next_token: Option<String>,
    pub ascending: bool,
    pub max_datapoints: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DimensionFilter {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListMetrics {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<DimensionFilter>,
    pub next_token: Option<String>,
    pub recently_active: bool,
}

/// Reads requests encoded by one protocol.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub fields: Fields,
}

fn required<'a>(input: &'a Document, path: &str, name: &str) -> Result<&'a Document, CloudWatchError> {
    input.member(name).ok_or_else(|| CloudWatchError::missing(&join(path, name)))
}

/// The bounds of a string member (the model's `min`/`max`).
fn check_length(value: &str, path: &str, max: usize) -> Result<(), CloudWatchError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(CloudWatchError::invalid_value(value, path));
    }
    Ok(())
}

impl Reader {
    fn string(
        &self,
        input: &Document,
        path: &str,
        name: &str,
        max: usize,
    ) -> Result<Option<String>, CloudWatchError> {
        let path = join(path, name);
        input
            .member(name)
            .map(|value| {
                let text = self.fields.string(value, &path)?;
                check_length(&text, &path, max)?;
                Ok(text)
            })
            .transpose()
    }

    fn required_string(
        &self,
        input: &Document,
        path: &str,
        name: &str,
        max: usize,
    ) -> Result<String, CloudWatchError> {
        self.string(input, path, name, max)?.ok_or_else(|| CloudWatchError::missing(&join(path, name)))
    }

    fn list<'a>(
        &self,
        input: &'a Document,
        path: &str,
        name: &str,
        max: usize,
    ) -> Result<&'a [Document], CloudWatchError> {
        let path = join(path, name);
        let items = match input.member(name) {
            Some(value) => self.fields.list(value, &path)?,
            None => &[],
        };
        if items.len() > max {
            return Err(CloudWatchError::too_many(&path, max));
        }
        Ok(items)
    }

    fn namespace(&self, input: &Document, required: bool) -> Result<Option<String>, CloudWatchError> {
        let namespace = self.string(input, "", "Namespace", 255)?;
        if namespace.as_deref().is_some_and(|namespace| namespace.starts_with(':')) {
            return Err(CloudWatchError::invalid_value(namespace.unwrap_or_default(), "Namespace"));
        }
        match namespace {
            None if required => Err(CloudWatchError::missing("Namespace")),
            namespace => Ok(namespace),
        }
    }

    fn dimensions(&self, input: &Document, path: &str) -> Result<Vec<Dimension>, CloudWatchError> {
        let list_path = join(path, "Dimensions");
        let mut dimensions = Vec::new();
        let mut names = HashSet::new();
        for (index, item) in self.list(input, path, "Dimensions", MAX_DIMENSIONS)?.iter().enumerate() {
            let item_path = element(&list_path, index);
            let item = self.fields.structure(item, &item_path)?;
            let name = self.required_string(item, &item_path, "Name", 255)?;
            let value = self.required_string(item, &item_path, "Value", 1024)?;
            if !names.insert(name.clone()) {
                return Err(CloudWatchError::invalid("No Metric may specify the same dimension twice."));
            }
            dimensions.push(Dimension { name, value });
        }
        Ok(dimensions)
    }

    fn unit(&self, input: &Document, path: &str) -> Result<Option<Unit>, CloudWatchError> {
        let path = join(path, "Unit");
        let Some(value) = input.member("Unit") else { return Ok(None) };
        let name = self.fields.string(value, &path)?;
        Unit::parse(&name).map(Some).ok_or_else(|| {
            CloudWatchError::invalid(format!(
                "The parameter {path} must be a value in the set {}.",
                Unit::all_names()
            ))
        })
    }

    /// A datapoint value: finite and within ±2^360.
    fn value(&self, value: &Document, path: &str) -> Result<f64, CloudWatchError> {
        let number = self.fields.double(value, path)?;
        if !number.is_finite() || number.abs() > VALUE_LIMIT {
            return Err(CloudWatchError::invalid_value(number, path));
        }
        Ok(number)
    }

    fn period(&self, input: &Document, path: &str) -> Result<u32, CloudWatchError> {
        let path = join(path, "Period");
        let value = input.member("Period").ok_or_else(|| CloudWatchError::missing(&path))?;
        let period = self.fields.integer(value, &path)?;
        if period <= 0 {
            return Err(CloudWatchError::invalid(format!("The parameter {path} must be greater than 0.")));
        }
        // High-resolution periods below a minute; otherwise whole minutes.
        if period < 60 && ![1, 5, 10, 20, 30].contains(&period) || period >= 60 && period % 60 != 0 {
            return Err(CloudWatchError::invalid(format!("The parameter {path} must be a multiple of 60.")));
        }
        u32::try_from(period).map_err(|_| CloudWatchError::invalid_value(period, &path))
    }

    fn time(&self, input: &Document, name: &str) -> Result<Millis, CloudWatchError> {
        self.fields.timestamp(required(input, "", name)?, name)
    }

    pub fn put_metric_data(&self, input: &Document, now: Millis) -> Result<PutMetricData, CloudWatchError> {
        let namespace = self.namespace(input, true)?.unwrap_or_default();
        // AWS's own namespaces; the message names the prefix, not the namespace.
        if namespace.starts_with("AWS/") {
            return Err(CloudWatchError::invalid_value("AWS/", "Namespace"));
        }
        let mut data = Vec::new();
        for (index, item) in self.list(input, "", "MetricData", MAX_DATUMS)?.iter().enumerate() {
            data.push(self.datum(item, &element("MetricData", index), &namespace, now)?);
        }
        // Datums grouped with an entity (EntityMetricData) are stored like the others; the
        // entity itself is not kept.
        for (entity_index, entity) in self.list(input, "", "EntityMetricData", 2)?.iter().enumerate() {
            let entity_path = element("EntityMetricData", entity_index);
            let entity = self.fields.structure(entity, &entity_path)?;
            let list_path = join(&entity_path, "MetricData");
            for (index, item) in self.list(entity, &entity_path, "MetricData", MAX_DATUMS)?.iter().enumerate()
            {
                data.push(self.datum(item, &element(&list_path, index), &namespace, now)?);
            }
        }
        if data.is_empty() {
            return Err(CloudWatchError::missing("MetricData"));
        }
        if data.len() > MAX_DATUMS {
            return Err(CloudWatchError::too_many("MetricData", MAX_DATUMS));
        }
        Ok(PutMetricData { namespace, data })
    }

    fn datum(
        &self,
        item: &Document,
        path: &str,
        namespace: &str,
        now: Millis,
    ) -> Result<MetricDatum, CloudWatchError> {
        let item = self.fields.structure(item, path)?;
        let metric_name = self.required_string(item, path, "MetricName", 255)?;
        let dimensions = self.dimensions(item, path)?;
        let timestamp = match item.member("Timestamp") {
            Some(value) => {
                let timestamp_path = join(path, "Timestamp");
                let timestamp = self.fields.timestamp(value, &timestamp_path)?;
                // Two weeks back to two hours ahead.
                if timestamp < now - 14 * 86_400_000 || timestamp > now + 2 * 3_600_000 {
                    return Err(CloudWatchError::invalid(format!(
                        "The parameter {timestamp_path} must specify a time within the past two weeks."
                    )));
                }
                Some(timestamp)
            }
            None => None,
        };
        let sample = self.sample(item, path)?;
        let unit = self.unit(item, path)?.unwrap_or(Unit::NONE);
        let storage_resolution = match item.member("StorageResolution") {
            None => 60,
            Some(value) => {
                let resolution_path = join(path, "StorageResolution");
                match self.fields.integer(value, &resolution_path)? {
                    1 => 1,
                    60 => 60,
                    other => return Err(CloudWatchError::invalid_value(other, &resolution_path)),
                }
            }
        };
        Ok(MetricDatum {
            metric: MetricId::new(namespace, metric_name, dimensions),
            timestamp,
            sample,
            unit,
            storage_resolution,
        })
    }

    /// Exactly one of Value, StatisticValues and Values.
    fn sample(&self, item: &Document, path: &str) -> Result<Sample, CloudWatchError> {
        let name = |member: &str| join(path, member);
        let given = ["Value", "StatisticValues", "Values"].map(|member| item.member(member).is_some());
        for (first, second) in [(0, 1), (0, 2), (2, 1)] {
            if given[first] && given[second] {
                let names = ["Value", "StatisticValues", "Values"];
                return Err(CloudWatchError::exclusive(
                    ErrorKind::InvalidParameterCombination,
                    &name(names[first]),
                    &name(names[second]),
                ));
            }
        }
        if let Some(value) = item.member("Value") {
            return Ok(Sample::Value(self.value(value, &name("Value"))?));
        }
        if let Some(set) = item.member("StatisticValues") {
            return self.statistic_set(set, &name("StatisticValues"));
        }
        if item.member("Values").is_some() {
            return self.values(item, path);
        }
        Err(CloudWatchError::new(
            ErrorKind::MissingParameter,
            format!(
                "At least one of the parameters {} or {} must be specified.",
                name("Value"),
                name("StatisticValues")
            ),
        ))
    }

    fn statistic_set(&self, set: &Document, path: &str) -> Result<Sample, CloudWatchError> {
        let set = self.fields.structure(set, path)?;
        let missing: Vec<String> = ["Maximum", "Minimum", "SampleCount", "Sum"]
            .iter()
            .filter(|member| set.member(member).is_none())
            .map(|member| format!("The parameter {} is required.", join(path, member)))
            .collect();
        if !missing.is_empty() {
            return Err(CloudWatchError::new(ErrorKind::MissingParameter, missing.join("\n")));
        }
        let read =
            |member: &str| self.value(set.member(member).unwrap_or(&Document::Null), &join(path, member));
        let (sample_count, sum, minimum, maximum) =
            (read("SampleCount")?, read("Sum")?, read("Minimum")?, read("Maximum")?);
        if sample_count <= 0.0 {
            return Err(CloudWatchError::invalid(format!(
                "The parameter {path}.SampleCount must be greater than 0."
            )));
        }
        if maximum < minimum {
            return Err(CloudWatchError::invalid(format!(
                "The parameter {path}.Maximum must be greater than {path}.Minimum."
            )));
        }
        Ok(Sample::Statistics { sample_count, sum, minimum, maximum })
    }

    fn values(&self, item: &Document, path: &str) -> Result<Sample, CloudWatchError> {
        let values = self.list(item, path, "Values", MAX_VALUES)?;
        let counts = self.list(item, path, "Counts", MAX_VALUES)?;
        if item.member("Counts").is_some() && counts.len() != values.len() {
            return Err(CloudWatchError::invalid(format!(
                "The parameters {} and {} must be of the same size.",
                join(path, "Values"),
                join(path, "Counts")
            )));
        }
        let (values_path, counts_path) = (join(path, "Values"), join(path, "Counts"));
        let mut pairs = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let value = self.value(value, &element(&values_path, index))?;
            let count = match counts.get(index) {
                Some(count) => self.value(count, &element(&counts_path, index))?,
                None => 1.0,
            };
            if count < 0.0 {
                return Err(CloudWatchError::invalid_value(count, &element(&counts_path, index)));
            }
            pairs.push((value, count));
        }
        Ok(Sample::Values(pairs))
    }

    /// The requested window, and that it is not empty.
    fn window(&self, input: &Document, kind: ErrorKind) -> Result<(Millis, Millis), CloudWatchError> {
        let (start, end) = (self.time(input, "StartTime")?, self.time(input, "EndTime")?);
        if start >= end {
            return Err(CloudWatchError::new(
                kind,
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        Ok((start, end))
    }

    pub fn get_metric_statistics(&self, input: &Document) -> Result<GetMetricStatistics, CloudWatchError> {
        let namespace = self.namespace(input, true)?.unwrap_or_default();
        let metric_name = self.required_string(input, "", "MetricName", 255)?;
        let dimensions = self.dimensions(input, "")?;
        required(input, "", "StartTime")?;
        required(input, "", "EndTime")?;
        let period = self.period(input, "")?;
        let (start, end) = self.window(input, ErrorKind::InvalidParameterValue)?;
        let mut statistics = Vec::new();
        for (index, item) in self.list(input, "", "Statistics", MAX_STATISTICS)?.iter().enumerate() {
            let path = element("Statistics", index);
            let name = self.fields.string(item, &path)?;
            statistics.push(Statistic::parse(&name).ok_or_else(|| {
                CloudWatchError::invalid(format!(
                    "The parameter {path} must be a value in the set [ SampleCount, Average, Sum, Minimum, Maximum ]."
                ))
            })?);
        }
        let mut percentiles = Vec::new();
        for (index, item) in
            self.list(input, "", "ExtendedStatistics", MAX_EXTENDED_STATISTICS)?.iter().enumerate()
        {
            let name = self.fields.string(item, &element("ExtendedStatistics", index))?;
            percentiles.push(
                Percentile::parse(&name)
                    .ok_or_else(|| CloudWatchError::invalid_value(&name, "ExtendedStatistics"))?,
            );
        }
        match (statistics.is_empty(), percentiles.is_empty()) {
            (true, true) => {
                return Err(CloudWatchError::new(
                    ErrorKind::InvalidParameterCombination,
                    "Must specify either Statistics or ExtendedStatistics, but not both.",
                ))
            }
            (false, false) => {
                return Err(CloudWatchError::exclusive(
                    ErrorKind::InvalidParameterCombination,
                    "Statistics",
                    "ExtendedStatistics",
                ))
            }
            _ => {}
        }
        check_datapoint_count(start, end, period)?;
        let unit = self.unit(input, "")?;
        Ok(GetMetricStatistics {
            metric: MetricId::new(namespace, metric_name, dimensions),
            start,
            end,
            period,
            statistics,
            percentiles,
            unit,
        })
    }

    pub fn get_metric_data(&self, input: &Document) -> Result<GetMetricData, CloudWatchError> {
        let items = self.list(input, "", "MetricDataQueries", MAX_QUERIES)?;
        if input.member("MetricDataQueries").is_none() {
            return Err(CloudWatchError::missing("MetricDataQueries"));
        }
        required(input, "", "StartTime")?;
        required(input, "", "EndTime")?;
        let (start, end) = self.window(input, ErrorKind::ValidationError)?;
        let mut queries = Vec::new();
        let mut ids = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let query = self.metric_query(item, &element("MetricDataQueries", index))?;
            if !ids.insert(query.id.clone()) {
                return Err(CloudWatchError::new(
                    ErrorKind::ValidationError,
                    "The values for parameter id in MetricDataQueries are not unique.",
                ));
            }
            queries.push(query);
        }
        let next_token =
            input.member("NextToken").map(|token| self.fields.string(token, "NextToken")).transpose()?;
        let ascending = match input.member("ScanBy") {
            None => false,
            Some(value) => match self.fields.string(value, "ScanBy")?.as_str() {
                "TimestampAscending" => true,
                "TimestampDescending" => false,
                other => return Err(CloudWatchError::invalid_value(other, "ScanBy")),
            },
        };
        let max_datapoints = match input.member("MaxDatapoints") {
            None => None,
            Some(value) => {
                let max = self.fields.integer(value, "MaxDatapoints")?;
                Some(
                    usize::try_from(max)
                        .ok()
                        .filter(|max| *max > 0)
                        .ok_or_else(|| CloudWatchError::invalid_value(max, "MaxDatapoints"))?,
                )
            }
        };
        Ok(GetMetricData { queries, start, end, next_token, ascending, max_datapoints })
    }

    fn metric_query(&self, item: &Document, path: &str) -> Result<MetricQuery, CloudWatchError> {
        let item = self.fields.structure(item, path)?;
        let validation = |message: String| CloudWatchError::new(ErrorKind::ValidationError, message);
        let id = self.required_string(item, path, "Id", 255)?;
        let mut chars = id.chars();
        let id_ok = chars.next().is_some_and(|first| first.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !id_ok {
            return Err(validation(format!(
                "The value {id} for parameter {} is invalid. It must start with a lowercase letter and contain only letters, numbers and underscores.",
                join(path, "Id")
            )));
        }
        let (has_stat, has_expression) =
            (item.member("MetricStat").is_some(), item.member("Expression").is_some());
        if has_stat && has_expression {
            return Err(CloudWatchError::exclusive(
                ErrorKind::ValidationError,
                &join(path, "Expression"),
                &join(path, "MetricStat"),
            ));
        }
        if has_expression {
            return Err(validation(format!(
                "{}: kinesin does not evaluate metric math or Metrics Insights expressions; use MetricStat.",
                join(path, "Expression")
            )));
        }
        if item.member("Period").is_some() && has_stat {
            return Err(CloudWatchError::exclusive(
                ErrorKind::ValidationError,
                &join(path, "Period"),
                &join(path, "MetricStat"),
            ));
        }
        let stat_path = join(path, "MetricStat");
        let stat_item = item
            .member("MetricStat")
            .ok_or_else(|| validation(format!("The parameter {stat_path} is required.")))?;
        let stat_item = self.fields.structure(stat_item, &stat_path)?;
        let metric_path = join(&stat_path, "Metric");
        let metric = required(stat_item, &stat_path, "Metric")?;
        let metric = self.fields.structure(metric, &metric_path)?;
        let namespace = self.required_string(metric, &metric_path, "Namespace", 255)?;
        let metric_name = self.required_string(metric, &metric_path, "MetricName", 255)?;
        let dimensions = self.dimensions(metric, &metric_path)?;
        let period = self.period(stat_item, &stat_path)?;
        let stat_name =
            self.fields.string(required(stat_item, &stat_path, "Stat")?, &join(&stat_path, "Stat"))?;
        let stat = match (Statistic::parse(&stat_name), Percentile::parse(&stat_name)) {
            (Some(statistic), _) => Stat::Statistic(statistic),
            (None, Some(percentile)) => Stat::Percentile(percentile),
            (None, None) => {
                return Err(validation(format!(
                    "The value {stat_name} for parameter {} is not supported by kinesin: use SampleCount, Average, Sum, Minimum, Maximum or a percentile pNN.",
                    join(&stat_path, "Stat")
                )))
            }
        };
        let unit = self.unit(stat_item, &stat_path)?;
        let label =
            item.member("Label").map(|label| self.fields.string(label, &join(path, "Label"))).transpose()?;
        let return_data = item
            .member("ReturnData")
            .map(|flag| self.fields.boolean(flag, &join(path, "ReturnData")))
            .transpose()?
            .unwrap_or(true);
        Ok(MetricQuery {
            id,
            label,
            return_data,
            metric: MetricId::new(namespace, metric_name, dimensions),
            period,
            stat,
            unit,
        })
    }

    pub fn list_metrics(&self, input: &Document) -> Result<ListMetrics, CloudWatchError> {
        let namespace = self.namespace(input, false)?;
        let metric_name = self.string(input, "", "MetricName", 255)?;
        let mut dimensions = Vec::new();
        for (index, item) in self.list(input, "", "Dimensions", MAX_DIMENSION_FILTERS)?.iter().enumerate() {
            let path = element("Dimensions", index);
            let item = self.fields.structure(item, &path)?;
            let name = self.required_string(item, &path, "Name", 255)?;
            let value = self.string(item, &path, "Value", 1024)?;
            dimensions.push(DimensionFilter { name, value });
        }
        let next_token =
            input.member("NextToken").map(|token| self.fields.string(token, "NextToken")).transpose()?;
        let recently_active = match input.member("RecentlyActive") {
            None => false,
            Some(value) => match self.fields.string(value, "RecentlyActive")?.as_str() {
                "PT3H" => true,
                other => return Err(CloudWatchError::invalid_value(other, "RecentlyActive")),
            },
        };
        Ok(ListMetrics { namespace, metric_name, dimensions, next_token, recently_active })
    }
}

/// GetMetricStatistics answers at most 1,440 datapoints.
fn check_datapoint_count(start: Millis, end: Millis, period: u32) -> Result<(), CloudWatchError> {
    let requested = (end - start) / (i64::from(period) * 1000);
    if requested > 1440 {
        return Err(CloudWatchError::new(
            ErrorKind::InvalidParameterCombination,
            format!(
                "You have requested up to {} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
                with_thousands_separators(requested)
            ),
        ));
    }
    Ok(())
}

fn with_thousands_separators(number: i64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests;
