//! Keeps a failure that repeats thousands of times a second (a full disk fails every append)
//! from flooding the log, which may well be on the same disk.
//!
//! A limit belongs to a log site, whatever the error: during a flood, a different error at the
//! same site is counted in `held_back`, not shown; and the count of the last burst is shown
//! with the next line that goes through, however much later.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lets one line of a log site through per interval and counts the ones it holds back.
pub struct LogLimit {
    interval: Duration,
    /// When a line last went through, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogLimit {
    pub const fn new(interval: Duration) -> LogLimit {
        LogLimit { interval, state: Mutex::new((None, 0)) }
    }

    /// `Some(held_back)` if this line is to be logged, with how many were held back since the
    /// last one; `None` if it is to be held back.
    pub fn pass(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held_back) = &mut *state;
        let now = Instant::now();
        if last.is_some_and(|last| now.duration_since(last) < self.interval) {
            *held_back += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_goes_through_with_the_count_held_back() {
        let hourly = LogLimit::new(Duration::from_secs(3600));
        assert_eq!(hourly.pass(), Some(0));
        assert_eq!((hourly.pass(), hourly.pass()), (None, None));

        let always = LogLimit::new(Duration::ZERO);
        assert_eq!((always.pass(), always.pass()), (Some(0), Some(0)));

        // Held back lines are counted into the next line that goes through.
        let limit = LogLimit::new(Duration::from_millis(20));
        assert_eq!(limit.pass(), Some(0));
        let mut held = 0;
        for _ in 0..3 {
            // (A stall of the machine longer than the interval lets one through.)
            held = if limit.pass().is_none() { held + 1 } else { 0 };
        }
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(limit.pass(), Some(held));
    }
}
