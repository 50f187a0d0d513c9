//! The metric store: in memory, per account and region, bounded (`docs/cloudwatch.md`,
//! "Storage and its bounds").
//!
//! A series is one metric (namespace, name, dimensions). It keeps one [`Aggregate`] per unit and
//! storage-resolution slot (the second, or the minute, the datum's timestamp falls in), so
//! repeated puts into one slot cost no memory. Slots older than the retention are dropped; a
//! series with none left is removed. The number of series is bounded: a put that would create
//! more is refused whole. Each series's slots are bounded too, oldest dropped first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::aggregate::Aggregate;
use crate::model::{MetricDatum, MetricId, Unit};
use crate::time::Millis;

/// How much one series keeps: slots plus the distinct values they hold for percentiles. Three
/// hours of one-minute slots with a distinct value each take 360; a full series takes about
/// 140 KiB (docs/cloudwatch.md, "Storage and its bounds").
pub const MAX_SERIES_ENTRIES: usize = 1024;

/// How often, at most, a put sweeps every series for expired slots.
const SWEEP_INTERVAL_MS: Millis = 60_000;

/// What a [`MetricStore`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Datapoints older than this are dropped.
    pub retention_ms: Millis,
    /// The most series kept, across all accounts and regions.
    pub max_series: usize,
}

/// A put would create more series than [`StoreLimits::max_series`] allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLimitReached {
    pub max_series: usize,
    pub new_series: usize,
}

/// What [`MetricStore::aggregate`] reads: a metric, a window, a period and optionally a unit.
#[derive(Debug, Clone, Copy)]
pub struct PeriodQuery<'a> {
    pub metric: &'a MetricId,
    pub start: Millis,
    /// Exclusive.
    pub end: Millis,
    pub period_seconds: u32,
    pub unit: Option<Unit>,
}

/// One period's aggregate of one unit, as queries answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodAggregate {
    pub start: Millis,
    pub unit: Unit,
    pub aggregate: Aggregate,
}

/// The metrics of every account and region.
#[derive(Debug)]
pub struct MetricStore {
    limits: StoreLimits,
    state: Mutex<State>,
}

type Scope = (String, String);

#[derive(Debug, Default)]
struct State {
    scopes: HashMap<Scope, BTreeMap<MetricId, Series>>,
    series: usize,
    last_sweep: Millis,
}

#[derive(Debug, Default)]
struct Series {
    /// By slot start and unit.
    slots: BTreeMap<(Millis, Unit), Aggregate>,
    entries: usize,
    last_put: Millis,
}

impl Series {
    fn add(&mut self, slot: (Millis, Unit), aggregate: Aggregate) {
        match self.slots.get_mut(&slot) {
            Some(existing) => {
                self.entries -= existing.entries();
                existing.merge(&aggregate);
                self.entries += existing.entries();
            }
            None => {
                self.entries += aggregate.entries();
                self.slots.insert(slot, aggregate);
            }
        }
        while self.entries > MAX_SERIES_ENTRIES {
            let Some((_, oldest)) = self.slots.pop_first() else { break };
            self.entries -= oldest.entries();
        }
    }

    /// Drops slots that start before `cutoff`.
    fn expire(&mut self, cutoff: Millis) {
        while let Some(entry) = self.slots.first_entry() {
            if entry.key().0 >= cutoff {
                break;
            }
            self.entries -= entry.remove().entries();
        }
    }
}

impl MetricStore {
    pub fn new(limits: StoreLimits) -> Self {
        MetricStore { limits, state: Mutex::new(State::default()) }
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the maps half-updated in a way that matters here.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cutoff(&self, now: Millis) -> Millis {
        now - self.limits.retention_ms
    }

    /// Stores datums for an account and region: all of them, or none when they would create
    /// more series than the bound allows. Datums older than the retention are dropped at once.
    /// This is also the API for kinesin's own metrics.
    pub fn put(
        &self,
        account: &str,
        region: &str,
        data: &[MetricDatum],
        now: Millis,
    ) -> Result<(), SeriesLimitReached> {
        let cutoff = self.cutoff(now);
        let mut state = self.state();
        if now - state.last_sweep >= SWEEP_INTERVAL_MS {
            state.sweep(cutoff);
            state.last_sweep = now;
        }
        // What will be stored: datums with values, in slots not already expired.
        let storable: Vec<(&MetricId, (Millis, Unit), Aggregate)> = data
            .iter()
            .filter_map(|datum| {
                let timestamp = datum.timestamp.unwrap_or(now);
                let resolution_ms = Millis::from(datum.storage_resolution.max(1)) * 1000;
                let slot_start = timestamp.div_euclid(resolution_ms) * resolution_ms;
                let aggregate = Aggregate::of(&datum.sample)?;
                (slot_start >= cutoff).then_some((&datum.metric, (slot_start, datum.unit), aggregate))
            })
            .collect();
        let scope = (account.to_string(), region.to_string());
        let new_series = {
            let existing = state.scopes.get(&scope);
            let mut new: Vec<&MetricId> = storable
                .iter()
                .map(|(id, _, _)| *id)
                .filter(|id| existing.is_none_or(|series| !series.contains_key(*id)))
                .collect();
            new.sort();
            new.dedup();
            new.len()
        };
        if state.series + new_series > self.limits.max_series {
            state.sweep(cutoff);
            if state.series + new_series > self.limits.max_series {
                return Err(SeriesLimitReached { max_series: self.limits.max_series, new_series });
            }
        }
        let State { scopes, series: series_count, .. } = &mut *state;
        let scope = scopes.entry(scope).or_default();
        for (id, slot, aggregate) in storable {
            let series = scope.entry(id.clone()).or_insert_with(|| {
                *series_count += 1;
                Series::default()
            });
            series.last_put = series.last_put.max(now);
            series.add(slot, aggregate);
        }
        Ok(())
    }

    /// The aggregates of one metric by period, from `start` (rounded down to the second, or to
    /// the minute for periods of whole minutes) up to `end` (exclusive), one per unit present,
    /// in time order; only `unit` when given.
    pub fn aggregate(
        &self,
        account: &str,
        region: &str,
        query: &PeriodQuery<'_>,
        now: Millis,
    ) -> Vec<PeriodAggregate> {
        let PeriodQuery { metric, start, end, period_seconds, unit } = *query;
        let period = Millis::from(period_seconds) * 1000;
        let alignment = if period % 60_000 == 0 { 60_000 } else { 1000 };
        let aligned_start = start.div_euclid(alignment) * alignment;
        let from = aligned_start.max(self.cutoff(now));
        let state = self.state();
        let Some(series) =
            state.scopes.get(&(account.to_string(), region.to_string())).and_then(|scope| scope.get(metric))
        else {
            return Vec::new();
        };
        let mut periods: BTreeMap<(Millis, Unit), Aggregate> = BTreeMap::new();
        for ((slot_start, slot_unit), aggregate) in series.slots.range((from, Unit::MIN)..) {
            if *slot_start >= end {
                break;
            }
            if *slot_start < from || unit.is_some_and(|unit| unit != *slot_unit) {
                continue;
            }
            let period_start = aligned_start + (slot_start - aligned_start).div_euclid(period) * period;
            match periods.get_mut(&(period_start, *slot_unit)) {
                Some(existing) => existing.merge(aggregate),
                None => {
                    periods.insert((period_start, *slot_unit), aggregate.clone());
                }
            }
        }
        periods
            .into_iter()
            .map(|((start, unit), aggregate)| PeriodAggregate { start, unit, aggregate })
            .collect()
    }

    /// The metrics of an account and region with data still retained, in a stable order
    /// (namespace, name, dimensions), with when each was last put to.
    pub fn metrics(&self, account: &str, region: &str, now: Millis) -> Vec<(MetricId, Millis)> {
        let cutoff = self.cutoff(now);
        let state = self.state();
        let Some(scope) = state.scopes.get(&(account.to_string(), region.to_string())) else {
            return Vec::new();
        };
        scope
            .iter()
            .filter(|(_, series)| {
                series.slots.last_key_value().is_some_and(|((start, _), _)| *start >= cutoff)
            })
            .map(|(id, series)| (id.clone(), series.last_put))
            .collect()
    }

    /// How many series are kept, across all accounts and regions.
    pub fn series_count(&self) -> usize {
        self.state().series
    }
}

impl State {
    /// Drops expired slots everywhere, and the series left empty.
    fn sweep(&mut self, cutoff: Millis) {
        let mut removed = 0;
        for scope in self.scopes.values_mut() {
            scope.retain(|_, series| {
                series.expire(cutoff);
                let keep = !series.slots.is_empty();
                removed += usize::from(!keep);
                keep
            });
        }
        self.scopes.retain(|_, scope| !scope.is_empty());
        self.series -= removed;
    }
}

#[cfg(test)]
mod tests;
