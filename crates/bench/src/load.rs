//! Load shapes shared by the workloads: a closed loop of N workers (each sends its next request as
//! soon as the previous one is answered) and an open-loop producer at a fixed rate; plus the
//! statistics they report.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::calls::{count_error, CallError, Errors};
use super::procfs;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a closed-loop worker does once per request (see [`closed_loop`]).
pub type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<Result<u64, CallError>> + Send + Sync>;

/// What one closed-loop measurement saw inside its window (after the warm-up).
#[derive(Debug, Default)]
pub struct LoopResult {
    pub records: u64,
    pub bytes: u64,
    pub requests: u64,
    pub seconds: f64,
    pub errors: Errors,
    /// Request latencies in microseconds.
    pub latencies_us: Vec<u32>,
    /// Server CPU seconds spent in the window.
    pub server_cpu_s: Option<f64>,
}

/// Runs `workers` closed-loop workers for `warmup + seconds`; counts what completes within the
/// window after the warm-up. `op(worker, n)` sends one request and answers the records it carried.
pub async fn closed_loop(
    workers: usize,
    warmup: Duration,
    window: Duration,
    server_pid: Option<u32>,
    record_bytes: u64,
    op: Op,
) -> LoopResult {
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + window;
    let cpu = server_cpu_between(server_pid, window_start, window_end);
    let mut tasks = Vec::with_capacity(workers);
    for worker in 0..workers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = LoopResult::default();
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= window_end {
                    break;
                }
                let outcome = op(worker, n).await;
                n += 1;
                let done = Instant::now();
                if sent < window_start || done > window_end {
                    continue;
                }
                match outcome {
                    Ok(records) => {
                        result.records += records;
                        result.requests += 1;
                        result
                            .latencies_us
                            .push(done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                    }
                    Err(err) => {
                        count_error(&mut result.errors, &err);
                        // Do not spin on a failing endpoint.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            result
        }));
    }
    let mut total = LoopResult { seconds: window.as_secs_f64(), ..LoopResult::default() };
    for task in tasks {
        let r = task.await.expect("a load worker panicked");
        total.records += r.records;
        total.requests += r.requests;
        total.latencies_us.extend(r.latencies_us);
        for (code, n) in r.errors {
            *total.errors.entry(code).or_default() += n;
        }
    }
    total.bytes = total.records * record_bytes;
    total.server_cpu_s = cpu.await.ok().flatten();
    total
}

/// The server's CPU seconds between `start` and `end` (read at those instants, in the
/// background); `None` without a PID or once the process is gone.
pub fn server_cpu_between(
    server_pid: Option<u32>,
    start: Instant,
    end: Instant,
) -> tokio::task::JoinHandle<Option<f64>> {
    tokio::spawn(async move {
        let pid = server_pid?;
        tokio::time::sleep_until(start.into()).await;
        let before = procfs::cpu_seconds(pid)?;
        tokio::time::sleep_until(end.into()).await;
        Some(procfs::cpu_seconds(pid)? - before)
    })
}

/// The `q` quantile (0..=1) of sorted values, nearest-rank.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_medians() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(quantile(&v, 0.5), Some(500));
        assert_eq!(quantile(&v, 0.99), Some(990));
        assert_eq!(quantile(&v, 0.999), Some(999));
        assert_eq!(quantile::<u32>(&[], 0.5), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
