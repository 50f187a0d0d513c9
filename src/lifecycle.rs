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

/// Which stop signal came (SIGTERM or SIGINT), once one has.
pub type StopRequest = watch::Receiver<Option<&'static str>>;

/// Listens for SIGTERM and SIGINT from start-up on, and returns what names the first.
///
/// A signal while the data directory is being opened ends the process at once, with status 0:
/// recovery may take long with much to replay, and it is safe to cut short, as a crash during
/// it is (the next start replays again; `docs/storage.md`, "Recovery"). A later one stops the
/// server through [`serve_until_signalled`]. Listening from the start also keeps the signal's
/// default action — death without the clean-stop mark — from ever applying.
pub fn watch_stop_signals(readiness: Arc<Readiness>) -> StopRequest {
    let (stopping, stop_seen) = watch::channel(None);
    tokio::spawn(async move {
        let name = stop_signal().await;
        if readiness.is(Phase::Opening) {
            tracing::info!(signal = name, "stopping during recovery: the next start takes it up again");
            std::process::exit(0);
        }
        stopping.send_replace(Some(name));
    });
    stop_seen
}

/// Runs `server`, handing it the future that completes once `stop` (from
/// [`watch_stop_signals`]) names a signal, and returns once it has stopped, or [`GRACE`] after.
pub async fn serve_until_signalled<S>(
    readiness: Arc<Readiness>,
    mut stop: StopRequest,
    server: impl FnOnce(StopSignal) -> S,
) -> io::Result<()>
where
    S: Future<Output = io::Result<()>>,
{
    let mut stop_seen = stop.clone();
    let signal: StopSignal = Box::pin(async move {
        let name = stop.wait_for(Option::is_some).await.ok().and_then(|name| *name);
        // None: the listener is gone without a signal, so none will come.
        let Some(name) = name else { return std::future::pending().await };
        tracing::info!(signal = name, "shutting down: finishing the requests in flight");
        readiness.set_phase(Phase::Stopping);
    });
    let grace_over = async {
        // An error means the server returned before any signal: its result wins below.
        if stop_seen.wait_for(Option::is_some).await.is_ok() {
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
