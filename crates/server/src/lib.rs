//! The HTTP front door of kinesin: HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one
//! port, each request taken through the checks of FRONT-DOOR §1.1 (routing, auth-header checks,
//! CORS, type checks and validation) to the [`Api`], and the answer encoded in the request's
//! format.

mod auth;
mod cors;
mod front_door;
mod response;
mod routing;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use kinesin_engine::Api;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::front_door::FrontDoor;

/// Who the server is and how much it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The account every stream belongs to (it appears in ARNs).
    pub account_id: String,
    /// The region used when a request's credential scope names none.
    pub region: String,
    /// Larger request bodies get 413. The default, 16 MiB, leaves room for a 10 MiB PutRecords
    /// payload after base64 (about 13.4 MiB of JSON).
    pub max_body_bytes: usize,
}

impl ServerConfig {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            account_id: "000000000000".to_owned(),
            region: "us-east-1".to_owned(),
            max_body_bytes: ServerConfig::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Serves `api` on every connection accepted from `listener` until `shutdown` completes. Then it
/// stops accepting, lets each connection finish the requests it has in flight (HTTP/1.1 closes
/// after the current response, HTTP/2 sends GOAWAY) and returns once all have closed. Callers
/// that need a bound on that wait can wrap this future in a timeout.
pub async fn serve(
    listener: TcpListener,
    api: Arc<dyn Api>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let front_door = Arc::new(FrontDoor::new(api, config));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer lets HTTP/1.1 drop clients that never finish their request head.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    backoff_after(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(err) = stream.set_nodelay(true) {
            debug!(%peer, error = %err, "could not set TCP_NODELAY");
        }
        let front_door = Arc::clone(&front_door);
        let service = service_fn(move |request| {
            let front_door = Arc::clone(&front_door);
            async move { front_door.handle(request).await }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }

    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Accept errors concern one connection (it was reset before we took it) or are a shortage of
/// resources, such as file descriptors, that only time can fix; neither should stop the server.
async fn backoff_after(err: io::Error) {
    match err.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
            debug!(error = %err, "connection failed before it was accepted");
        }
        _ => {
            warn!(error = %err, "accept failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
