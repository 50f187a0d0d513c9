//! The values CloudWatch's metric operations are about: units, dimensions, datums and
//! statistics. These are also the types of the plain Rust [`crate::MetricStore::put`] API that
//! kinesin's own metrics use.

use crate::time::Millis;

/// The model's `StandardUnit` values, in its order.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A `StandardUnit`. Datums without one have the unit `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit(u8);

impl Unit {
    /// The first unit in order, to start ranges of `(time, Unit)` keys at.
    pub const MIN: Unit = Unit(0);
    pub const NONE: Unit = Unit(26);
    pub const COUNT: Unit = Unit(14);
    pub const BYTES: Unit = Unit(3);
    pub const MILLISECONDS: Unit = Unit(2);

    pub fn parse(name: &str) -> Option<Unit> {
        UNITS.iter().position(|unit| *unit == name).map(|index| Unit(index as u8))
    }

    pub fn name(self) -> &'static str {
        UNITS[usize::from(self.0)]
    }

    /// `[Seconds, Microseconds, ..., None]`, as error messages list them.
    pub fn all_names() -> String {
        format!("[{}]", UNITS.join(", "))
    }
}

/// A dimension: part of a metric's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// A metric's identity. Dimensions are kept sorted by name, so the order a client lists them
/// in does not make another metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricId {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
}

impl MetricId {
    pub fn new(
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        mut dimensions: Vec<Dimension>,
    ) -> Self {
        dimensions.sort();
        MetricId { namespace: namespace.into(), metric_name: metric_name.into(), dimensions }
    }
}

/// What a datum reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// One value.
    Value(f64),
    /// A statistic set, as the KCL sends.
    Statistics { sample_count: f64, sum: f64, minimum: f64, maximum: f64 },
    /// Distinct values with how often each occurred.
    Values(Vec<(f64, f64)>),
}

/// One datum to store. [`crate::MetricStore::put`] trusts it: the request decoders validate
/// what clients send, and the server's own metrics are valid by construction.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    pub metric: MetricId,
    /// When the value was measured; `None` is the time it is stored.
    pub timestamp: Option<Millis>,
    pub sample: Sample,
    pub unit: Unit,
    /// 1 (high resolution: kept per second) or 60 (kept per minute).
    pub storage_resolution: u32,
}

/// The statistics of `Statistics` and `Stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const ALL: [Statistic; 5] =
        [Statistic::SampleCount, Statistic::Average, Statistic::Sum, Statistic::Minimum, Statistic::Maximum];

    pub fn parse(name: &str) -> Option<Statistic> {
        Self::ALL.into_iter().find(|statistic| statistic.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
        }
    }
}

/// A percentile statistic, `p0` to `p100` with up to two decimals (`p99.9`).
#[derive(Debug, Clone, PartialEq)]
pub struct Percentile {
    /// As the request spelt it; answers use it as the key.
    pub name: String,
    /// 0 to 100.
    pub rank: f64,
}

impl Percentile {
    pub fn parse(name: &str) -> Option<Percentile> {
        let number = name.strip_prefix('p')?;
        let (whole, decimals) = number.split_once('.').unwrap_or((number, ""));
        let digits_ok =
            |part: &str, most: usize| part.len() <= most && part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_ok(whole, 3) || !digits_ok(decimals, 2) || number.ends_with('.') {
            return None;
        }
        let rank: f64 = number.parse().ok()?;
        (0.0..=100.0).contains(&rank).then(|| Percentile { name: name.to_string(), rank })
    }
}

/// A `Stat` of GetMetricData: a statistic or a percentile.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    Statistic(Statistic),
    Percentile(Percentile),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_and_name() {
        assert_eq!(Unit::parse("Count"), Some(Unit::COUNT));
        assert_eq!(Unit::parse("None"), Some(Unit::NONE));
        assert_eq!(Unit::parse("Bytes").map(Unit::name), Some("Bytes"));
        assert_eq!(Unit::MILLISECONDS.name(), "Milliseconds");
        assert_eq!(Unit::parse("count"), None);
        assert!(Unit::all_names().starts_with("[Seconds, Microseconds,"));
    }

    #[test]
    fn percentiles_parse() {
        assert_eq!(Percentile::parse("p99").map(|p| p.rank), Some(99.0));
        assert_eq!(Percentile::parse("p99.9").map(|p| p.rank), Some(99.9));
        assert_eq!(Percentile::parse("p0.0").map(|p| p.rank), Some(0.0));
        assert_eq!(Percentile::parse("p100").map(|p| p.rank), Some(100.0));
        for bad in ["p", "p100.1", "p99.999", "p-1", "99", "p9.", "pp9", "p1e2", "tm99"] {
            assert_eq!(Percentile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn metric_identity_ignores_dimension_order() {
        let dimension = |name: &str| Dimension { name: name.into(), value: "v".into() };
        assert_eq!(
            MetricId::new("n", "m", vec![dimension("b"), dimension("a")]),
            MetricId::new("n", "m", vec![dimension("a"), dimension("b")])
        );
    }
}
