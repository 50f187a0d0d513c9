//! Which leases a worker should take, by the KCL 2.x's lease taker (docs/client.md#the-lease-algorithm):
//! expiry judged by a counter that has not moved for the failover time *as observed locally*
//! (so no clocks need to agree), available leases first, otherwise stealing from the most loaded
//! worker to even out the counts.

use std::collections::HashMap;
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::time::Instant;

use super::lease::Lease;

/// When this worker last saw each lease's counter change.
#[derive(Debug, Default)]
pub(crate) struct Observations {
    seen: HashMap<String, (u64, Option<Instant>)>,
}

impl Observations {
    /// Records a scan of the table taken at `now`. A lease seen for the first time counts as
    /// just changed if it has an owner (it may be alive) and as long expired if it has none.
    pub fn observe(&mut self, leases: &[Lease], now: Instant) {
        self.seen.retain(|key, _| leases.iter().any(|lease| &lease.key == key));
        for lease in leases {
            let entry = self.seen.entry(lease.key.clone());
            let sighting = (lease.counter, lease.owner.as_ref().map(|_| now));
            entry
                .and_modify(|seen| {
                    if seen.0 != lease.counter {
                        *seen = sighting;
                    }
                })
                .or_insert(sighting);
        }
    }

    /// Unowned, or its counter has not moved for longer than `failover`.
    pub fn is_available(&self, lease: &Lease, now: Instant, failover: Duration) -> bool {
        self.expires_at(lease, failover).is_none_or(|expiry| now > expiry)
    }

    /// When an owned lease expires unless its counter moves first; `None` if it is available
    /// already for want of an owner or of an observation.
    pub fn expires_at(&self, lease: &Lease, failover: Duration) -> Option<Instant> {
        lease.owner.as_ref()?;
        match self.seen.get(&lease.key) {
            Some((_, Some(changed_at))) => Some(*changed_at + failover),
            _ => None,
        }
    }
}

/// The leases `me` should try to take now, given the table's leases (finished ones left out by
/// the caller). At most `max_steal` are stolen from a live worker at a time.
pub(crate) fn leases_to_take<'a>(
    leases: &'a [Lease],
    observations: &Observations,
    me: &str,
    now: Instant,
    failover: Duration,
    max_steal: usize,
) -> Vec<&'a Lease> {
    if leases.is_empty() {
        return Vec::new();
    }
    let (available, live): (Vec<&Lease>, Vec<&Lease>) =
        leases.iter().partition(|lease| observations.is_available(lease, now, failover));
    let mut counts: HashMap<&str, usize> = HashMap::from([(me, 0)]);
    for lease in &live {
        *counts.entry(lease.owner.as_deref().unwrap_or_default()).or_default() += 1;
    }
    let target = leases.len().div_ceil(counts.len());
    let needed = target.saturating_sub(counts[me]);
    if needed == 0 {
        return Vec::new();
    }
    let mut rng = rand::thread_rng();
    if !available.is_empty() {
        // Shuffled, so that workers starting together do not all race for the same leases.
        let mut available = available;
        available.shuffle(&mut rng);
        available.truncate(needed);
        return available;
    }
    // Nothing free: steal from the most loaded worker, if that evens things out.
    let Some((victim, victim_count)) =
        counts.iter().filter(|(owner, _)| **owner != me).max_by_key(|(owner, count)| (**count, **owner))
    else {
        return Vec::new();
    };
    let to_steal = match victim_count.cmp(&target) {
        std::cmp::Ordering::Greater => needed.min(victim_count - target),
        std::cmp::Ordering::Equal if needed > 1 => 1,
        _ => 0,
    }
    .min(max_steal);
    let mut theirs: Vec<&Lease> =
        live.into_iter().filter(|lease| lease.owner.as_deref() == Some(*victim)).collect();
    theirs.shuffle(&mut rng);
    theirs.truncate(to_steal);
    theirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::lease::Checkpoint;

    const FAILOVER: Duration = Duration::from_secs(10);

    fn lease(key: &str, owner: Option<&str>, counter: u64) -> Lease {
        Lease { owner: owner.map(str::to_owned), counter, ..Lease::new(key, Checkpoint::TrimHorizon) }
    }

    fn keys(leases: &[&Lease]) -> Vec<String> {
        let mut keys: Vec<String> = leases.iter().map(|l| l.key.clone()).collect();
        keys.sort();
        keys
    }

    #[tokio::test(start_paused = true)]
    async fn unowned_leases_are_shared_out_evenly() {
        let leases: Vec<Lease> = (0..4).map(|i| lease(&format!("s{i}"), None, 0)).collect();
        let mut seen = Observations::default();
        let now = Instant::now();
        seen.observe(&leases, now);
        assert_eq!(leases_to_take(&leases, &seen, "a", now, FAILOVER, 1).len(), 4, "alone: all");
        let mut half = leases.clone();
        for taken in &mut half[..2] {
            taken.owner = Some("b".into());
            taken.counter += 1;
        }
        seen.observe(&half, now);
        assert_eq!(keys(&leases_to_take(&half, &seen, "a", now, FAILOVER, 1)), ["s2", "s3"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_expires_when_its_counter_stands_still_for_the_failover_time() {
        let mut leases = vec![lease("s0", Some("b"), 5), lease("s1", Some("a"), 9)];
        let mut seen = Observations::default();
        let start = Instant::now();
        seen.observe(&leases, start);
        assert!(!seen.is_available(&leases[0], start, FAILOVER), "first sight of an owned lease: alive");
        tokio::time::advance(Duration::from_secs(6)).await;
        leases[0].counter = 6; // b renewed
        seen.observe(&leases, Instant::now());
        tokio::time::advance(Duration::from_secs(6)).await;
        let now = Instant::now();
        seen.observe(&leases, now);
        assert!(!seen.is_available(&leases[0], now, FAILOVER), "renewed 6 s ago");
        assert!(seen.is_available(&leases[1], now, FAILOVER), "not moved for 12 s");
        tokio::time::advance(Duration::from_secs(5)).await;
        let now = Instant::now();
        assert_eq!(
            keys(&leases_to_take(&leases, &seen, "c", now, FAILOVER, 1)),
            ["s0", "s1"],
            "both expired"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_worker_steals_one_lease_at_a_time_from_the_most_loaded() {
        let leases: Vec<Lease> =
            (0..6).map(|i| lease(&format!("s{i}"), Some(if i < 4 { "a" } else { "b" }), 1)).collect();
        let mut seen = Observations::default();
        let now = Instant::now();
        seen.observe(&leases, now);
        let stolen = leases_to_take(&leases, &seen, "c", now, FAILOVER, 1);
        assert_eq!(stolen.len(), 1);
        assert_eq!(stolen[0].owner.as_deref(), Some("a"), "a holds 4 > target 2");
        assert_eq!(leases_to_take(&leases, &seen, "c", now, FAILOVER, 5).len(), 2, "needs 2, a has 2 extra");
        let for_b = leases_to_take(&leases, &seen, "b", now, FAILOVER, 1);
        assert_eq!(for_b[0].owner.as_deref(), Some("a"), "b sees two workers: target 3, a has one extra");
        assert!(leases_to_take(&leases, &seen, "a", now, FAILOVER, 1).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn balanced_workers_steal_nothing() {
        let leases: Vec<Lease> =
            (0..5).map(|i| lease(&format!("s{i}"), Some(["a", "b", "c"][i % 3]), 1)).collect();
        let mut seen = Observations::default();
        let now = Instant::now();
        seen.observe(&leases, now);
        for me in ["a", "b", "c"] {
            assert!(leases_to_take(&leases, &seen, me, now, FAILOVER, 1).is_empty(), "{me}");
        }
    }
}
