//! Stopping on SIGTERM or SIGINT: the server stops accepting, ends every SubscribeToShard
//! subscription (their responses end as a subscription that ran out does), and waits for the
//! requests in flight — at most [`GRACE`], so that a stuck client cannot hold the stop up. The
//! store's clean stop follows once the runtime is gone (see `serve::run`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::admin::{Phase, Readiness};

/// How long in-flight requests get to finish after a stop signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// The future a server stops accepting on.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `server`, handing it the future that completes on SIGTERM or SIGINT, and returns once
/// it has stopped, or [`GRACE`] after the signal.
pub async fn serve_until_signalled<S>(
    readiness: Arc<Readiness>,
    server: impl FnOnce(StopSignal) -> S,
) -> io::Result<()>
where
    S: Future<Output = io::Result<()>>,
{
    let (stopping, mut stop_seen) = watch::channel(false);
    let signal: StopSignal = Box::pin(async move {
        let name = stop_signal().await;
        tracing::info!(signal = name, "shutting down: finishing the requests in flight");
        readiness.set_phase(Phase::Stopping);
        stopping.send_replace(true);
    });
    let grace_over = async {
        // An error means the server returned before any signal: its result wins below.
        if stop_seen.wait_for(|stopping| *stopping).await.is_ok() {
            tokio::time::sleep(GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        biased;
        served = server(signal) => served,
        () = grace_over => {
            tracing::warn!(grace = ?GRACE, "stopping with requests still in flight: they did not finish in time");
            Ok(())
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM, with the signal's name.
async fn stop_signal() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate => "SIGTERM",
    }
}
