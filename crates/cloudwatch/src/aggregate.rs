//! What a stored datapoint keeps and how datapoints combine: the statistic set (count, sum,
//! minimum, maximum) and, while it is exact and small, the distribution of values that
//! percentiles need.

use crate::model::{Sample, Statistic};

/// The distinct values one datapoint keeps for percentiles; past this, percentiles of that
/// datapoint are no longer answered (its statistic set still is).
pub const MAX_DISTINCT_VALUES: usize = 150;

/// A statistic set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Summary {
    pub fn merge(&mut self, other: &Summary) {
        self.sample_count += other.sample_count;
        self.sum += other.sum;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn statistic(&self, statistic: Statistic) -> f64 {
        match statistic {
            Statistic::SampleCount => self.sample_count,
            Statistic::Average => self.sum / self.sample_count,
            Statistic::Sum => self.sum,
            Statistic::Minimum => self.minimum,
            Statistic::Maximum => self.maximum,
        }
    }
}

/// Statistics of some values, with their distribution when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub summary: Summary,
    /// Distinct values, ascending, each with how often it occurred. `None` when the values are
    /// not known (a statistic set of several different values) or too many to keep.
    pub distribution: Option<Vec<(f64, f64)>>,
}

impl Aggregate {
    /// The aggregate of one datum's sample; `None` for a datum with no values (empty `Values`,
    /// or counts of zero).
    pub fn of(sample: &Sample) -> Option<Aggregate> {
        match sample {
            Sample::Value(value) => Some(Aggregate {
                summary: Summary { sample_count: 1.0, sum: *value, minimum: *value, maximum: *value },
                distribution: Some(vec![(*value, 1.0)]),
            }),
            // A set whose values are all equal says exactly which values occurred.
            Sample::Statistics { sample_count, sum, minimum, maximum } => Some(Aggregate {
                summary: Summary {
                    sample_count: *sample_count,
                    sum: *sum,
                    minimum: *minimum,
                    maximum: *maximum,
                },
                distribution: (minimum == maximum).then(|| vec![(*minimum, *sample_count)]),
            }),
            Sample::Values(pairs) => {
                let mut aggregate: Option<Aggregate> = None;
                for &(value, count) in pairs.iter().filter(|(_, count)| *count > 0.0) {
                    let one = Aggregate {
                        summary: Summary {
                            sample_count: count,
                            sum: value * count,
                            minimum: value,
                            maximum: value,
                        },
                        distribution: Some(vec![(value, count)]),
                    };
                    match &mut aggregate {
                        Some(aggregate) => aggregate.merge(&one),
                        None => aggregate = Some(one),
                    }
                }
                aggregate
            }
        }
    }

    pub fn merge(&mut self, other: &Aggregate) {
        self.summary.merge(&other.summary);
        self.distribution = match (self.distribution.take(), &other.distribution) {
            (Some(mine), Some(theirs)) => merge_distributions(&mine, theirs),
            _ => None,
        };
    }

    /// How much of the store's per-series budget this takes: one, plus its distinct values.
    pub fn entries(&self) -> usize {
        1 + self.distribution.as_ref().map_or(0, Vec::len)
    }

    /// The nearest-rank percentile (`rank` from 0 to 100), when the distribution is known.
    pub fn percentile(&self, rank: f64) -> Option<f64> {
        let distribution = self.distribution.as_ref()?;
        let total: f64 = distribution.iter().map(|(_, count)| count).sum();
        let wanted = (rank / 100.0 * total).ceil().max(1.0);
        let mut seen = 0.0;
        for (value, count) in distribution {
            seen += count;
            if seen >= wanted {
                return Some(*value);
            }
        }
        distribution.last().map(|(value, _)| *value)
    }
}

fn merge_distributions(mine: &[(f64, f64)], theirs: &[(f64, f64)]) -> Option<Vec<(f64, f64)>> {
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(mine.len() + theirs.len());
    let (mut left, mut right) = (mine.iter().peekable(), theirs.iter().peekable());
    loop {
        let next = match (left.peek(), right.peek()) {
            (Some(a), Some(b)) if a.0 <= b.0 => left.next(),
            (Some(_), Some(_)) => right.next(),
            (Some(_), None) => left.next(),
            (None, Some(_)) => right.next(),
            (None, None) => break,
        };
        let &(value, count) = next.expect("peeked");
        match merged.last_mut() {
            Some(last) if last.0 == value => last.1 += count,
            _ => merged.push((value, count)),
        }
    }
    (merged.len() <= MAX_DISTINCT_VALUES).then_some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn of_values(values: &[f64]) -> Aggregate {
        let mut aggregate = Aggregate::of(&Sample::Value(values[0])).unwrap();
        for value in &values[1..] {
            aggregate.merge(&Aggregate::of(&Sample::Value(*value)).unwrap());
        }
        aggregate
    }

    #[test]
    fn statistic_sets_keep_a_distribution_only_when_exact() {
        let equal = Sample::Statistics { sample_count: 3.0, sum: 6.0, minimum: 2.0, maximum: 2.0 };
        assert_eq!(Aggregate::of(&equal).unwrap().percentile(50.0), Some(2.0));
        let spread = Sample::Statistics { sample_count: 3.0, sum: 6.0, minimum: 1.0, maximum: 3.0 };
        let mut aggregate = Aggregate::of(&spread).unwrap();
        assert_eq!(aggregate.percentile(50.0), None);
        aggregate.merge(&Aggregate::of(&Sample::Value(9.0)).unwrap());
        assert_eq!(aggregate.summary, Summary { sample_count: 4.0, sum: 15.0, minimum: 1.0, maximum: 9.0 });
        assert_eq!(aggregate.distribution, None);
    }

    #[test]
    fn values_with_counts() {
        let aggregate = Aggregate::of(&Sample::Values(vec![(1.0, 3.0), (10.0, 1.0), (5.0, 0.0)])).unwrap();
        assert_eq!(aggregate.summary, Summary { sample_count: 4.0, sum: 13.0, minimum: 1.0, maximum: 10.0 });
        assert_eq!(aggregate.percentile(75.0), Some(1.0));
        assert_eq!(aggregate.percentile(76.0), Some(10.0));
        assert_eq!(Aggregate::of(&Sample::Values(vec![])), None);
    }

    #[test]
    fn too_many_distinct_values_drop_the_distribution() {
        let values: Vec<f64> = (0..=MAX_DISTINCT_VALUES).map(|v| v as f64).collect();
        let aggregate = of_values(&values);
        assert_eq!(aggregate.distribution, None);
        assert_eq!(aggregate.summary.sample_count, values.len() as f64);
    }

    proptest! {
        #[test]
        fn percentiles_are_nearest_rank(mut values in proptest::collection::vec(-1000i32..1000, 1..100), rank in 0.0f64..=100.0) {
            let floats: Vec<f64> = values.iter().map(|v| f64::from(*v)).collect();
            let aggregate = of_values(&floats);
            values.sort();
            let index = ((rank / 100.0 * values.len() as f64).ceil() as usize).max(1) - 1;
            prop_assert_eq!(aggregate.percentile(rank), Some(f64::from(values[index])));
            prop_assert_eq!(aggregate.summary.minimum, f64::from(values[0]));
            prop_assert_eq!(aggregate.summary.maximum, f64::from(*values.last().unwrap()));
        }
    }
}
