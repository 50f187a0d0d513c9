//! The producer of the latency workloads: PutRecord at a fixed rate (open loop: a slow answer
//! does not delay the next record), each record's data starting with the time it was sent, so
//! that a consumer can tell how long the record took to reach it.
//!
//! It keeps apart from the consumers that time it, as a producer in another process would: a
//! thread of its own sets the pace, and the puts run on a runtime and connections of their own.
//! tokio fires timers on 1 ms ticks, and only when something wakes its runtime. Paced by a tokio
//! timer in the consumers' runtime, every put went out at the instant the consumers' due polls
//! did (its wake-up fired their sleeps) and raced them: a server that made the record visible a
//! few tens of microseconds after reading for those polls lost a whole poll cycle (about 2.5 ms)
//! on it, so the latency measured the race more than the server. Here each record goes out at a
//! random point of its 1/rate slot, timed by a thread's sleep rather than a timer tick, and falls
//! anywhere in a consumer's poll cycle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::calls::{count_error, Entry, Errors};
use super::client::Client;

/// Sends `rate` records per second for `seconds` (fewer if the endpoint cannot keep up); answers
/// records acknowledged and errors.
pub async fn produce(
    client: &Client,
    stream: &str,
    rate: u64,
    seconds: f64,
    record_bytes: usize,
    epoch: Instant,
) -> (u64, Errors) {
    let client = client.apart().expect("the endpoint was accepted before");
    let stream = stream.to_owned();
    let (done, outcome) = tokio::sync::oneshot::channel();
    // A thread rather than `spawn_blocking`: an interrupted run does not wait for it to finish.
    std::thread::Builder::new()
        .name("bench-producer-pace".into())
        .spawn(move || {
            let _ = done.send(produce_apart(client, stream, rate, seconds, record_bytes, epoch));
        })
        .expect("cannot start the producer's thread");
    outcome.await.expect("the producer's thread panicked")
}

/// When to send each of `total` records at `rate` per second from `started`: one in each
/// 1/`rate` slot, at a random point of it, none from `deadline` on.
fn send_times(rate: u64, total: u64, started: Instant, deadline: Instant) -> impl Iterator<Item = Instant> {
    let slot = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut rng = rand::thread_rng();
    (0..total)
        .map(move |i| started + slot.mul_f64(i as f64 + rng.gen::<f64>()))
        .take_while(move |at| *at < deadline)
}

/// [`produce`], on the calling thread and a runtime of its own.
fn produce_apart(
    client: Client,
    stream: String,
    rate: u64,
    seconds: f64,
    record_bytes: usize,
    epoch: Instant,
) -> (u64, Errors) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-producer")
        .enable_all()
        .build()
        .expect("cannot start the producer's runtime");
    let _in_runtime = runtime.enter();
    let permits = Arc::new(Semaphore::new(512));
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new(Errors::new()));
    let started = Instant::now();
    let total = (rate as f64 * seconds).round() as u64;
    // An endpoint slower than the rate gets fewer records, not a longer run.
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = JoinSet::new();
    for at in send_times(rate, total, started, deadline) {
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match runtime
                .block_on(tokio::time::timeout_at(deadline.into(), permits.clone().acquire_owned()))
            {
                Ok(Ok(permit)) => permit,
                _ => break,
            },
        };
        let (client, stream, acked, errors) = (client.clone(), stream.clone(), acked.clone(), errors.clone());
        tasks.spawn(async move {
            let mut data = vec![0u8; record_bytes.max(8)];
            rand::thread_rng().fill(&mut data[8..]);
            let key = format!("{:016x}", rand::random::<u64>());
            let stamp = epoch.elapsed().as_nanos() as u64;
            data[..8].copy_from_slice(&stamp.to_le_bytes());
            match client.put_record(&stream, &Entry { key, data: data.into() }).await {
                Ok(()) => {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) => count_error(&mut errors.lock().unwrap(), &err),
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    // Puts still in flight get 10 s more; then they are abandoned (and count as not acked).
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    });
    let errors = std::mem::take(&mut *errors.lock().unwrap());
    (acked.load(Ordering::Relaxed), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_send_per_slot_anywhere_in_it() {
        let started = Instant::now();
        let slot = Duration::from_millis(10);
        let times: Vec<Instant> = send_times(100, 1000, started, started + Duration::from_secs(10)).collect();
        assert_eq!(times.len(), 1000);
        let offsets: Vec<f64> = times
            .iter()
            .enumerate()
            .map(|(i, at)| (*at - started).as_secs_f64() / slot.as_secs_f64() - i as f64)
            .collect();
        assert!(offsets.iter().all(|o| (0.0..1.0).contains(o)), "every send falls in its own slot");
        // Not in step with anything: the points are spread over the slot (a whole number of
        // milliseconds), so sends fall anywhere between two ticks of a 1 ms timer.
        for tenth in 0..10 {
            let n = offsets.iter().filter(|o| (**o * 10.0) as usize == tenth).count();
            assert!(n > 40, "{n} of 1,000 sends in tenth {tenth} of their slots");
        }
    }

    #[test]
    fn no_send_from_the_deadline_on() {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(500);
        let times: Vec<Instant> = send_times(100, 1000, started, deadline).collect();
        assert!((49..=50).contains(&times.len()), "{}", times.len());
        assert!(times.iter().all(|at| *at < deadline));
    }
}
