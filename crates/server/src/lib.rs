//! The HTTP front door of kinesin: HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one port, each
//! request taken through the checks of `docs/protocol/front-door.md`, "Request pipeline" (routing,
//! auth-header checks, CORS, type checks and validation) to the [`Api`], and the answer encoded in
//! the request's format. Optionally also HTTPS on a second port ([`serve_with_tls`]), and SigV4
//! signatures verified against a credentials file ([`ServerConfig::credentials`]).

mod auth;
mod cors;
mod event_stream;
mod front_door;
mod identity;
mod metrics;
mod response;
mod routing;
mod services;
mod tls;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use kinesin_engine::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::front_door::FrontDoor;
use crate::metrics::OpenConnection;
pub use crate::metrics::RequestMetrics;
pub use crate::services::Services;
pub use crate::tls::{SelfSigned, TlsConfig};
pub use kinesin_sigv4::CredentialStore;

/// A client that opens a TCP connection but does not finish its TLS handshake in this time is
/// dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who the server is and how much it accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The account every stream belongs to (it appears in ARNs).
    pub account_id: String,
    /// The region used when a request's credential scope names none.
    pub region: String,
    /// Larger request bodies get 413. The default, 16 MiB, leaves room for a 10 MiB PutRecords
    /// payload after base64 (about 13.4 MiB of JSON).
    pub max_body_bytes: usize,
    /// When set, every request's SigV4 signature is verified with these keys
    /// (`docs/protocol/sigv4.md`) and the key's account is the request's account. When `None`, any
    /// well-formed signature passes and a 12-digit numeric access key id names the account (else
    /// `account_id`).
    pub credentials: Option<Arc<CredentialStore>>,
    /// Where requests are counted, for `/metrics`.
    pub metrics: Arc<RequestMetrics>,
    /// The services served beside Kinesis (DynamoDB, CloudWatch); none by default.
    pub services: Services,
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
            credentials: None,
            metrics: Arc::default(),
            services: Services::default(),
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
    serve_with_tls(listener, None, api, config, shutdown).await
}

/// [`serve`], and when `tls` is given also HTTPS on its listener (ALPN `h2` or `http/1.1`),
/// with the same request handling. Shutdown covers both.
pub async fn serve_with_tls(
    listener: TcpListener,
    tls: Option<(TcpListener, TlsConfig)>,
    api: Arc<dyn Api>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (tls_listener, acceptor) = match tls {
        Some((listener, config)) => (Some(listener), Some(TlsAcceptor::from(config.server))),
        None => (None, None),
    };
    let metrics = Arc::clone(&config.metrics);
    let front_door = Arc::new(FrontDoor::new(api, config));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer lets HTTP/1.1 drop clients that never finish their request head.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, peer, secure) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer, false),
                Err(err) => {
                    backoff_after(err).await;
                    continue;
                }
            },
            accepted = accept_if_any(tls_listener.as_ref()) => match accepted {
                Ok((stream, peer)) => (stream, peer, true),
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
        // Moved into the connection's task, which drops it when the connection closes.
        let open = OpenConnection::new(&metrics);
        let front_door = Arc::clone(&front_door);
        let service = service_fn(move |request| {
            let front_door = Arc::clone(&front_door);
            async move { front_door.handle(request).await }
        });
        if let (true, Some(acceptor)) = (secure, &acceptor) {
            // The handshake runs in the connection's task, so a slow client holds up no one.
            let acceptor = acceptor.clone();
            let builder = builder.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _open = open;
                let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        debug!(%peer, error = %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                if let Err(err) = watcher.watch(connection).await {
                    debug!(%peer, error = %err, "connection ended with an error");
                }
            });
            continue;
        }
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _open = open;
            if let Err(err) = connection.await {
                debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }

    drop(listener);
    drop(tls_listener);
    front_door.close_event_streams();
    graceful.shutdown().await;
    Ok(())
}

/// Accepts from `listener`, or never completes when there is none.
async fn accept_if_any(listener: Option<&TcpListener>) -> io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Accept errors concern one connection (it was reset before we took it) or are a shortage of
/// resources, such as file descriptors, that only time can fix; neither should stop the server.
async fn backoff_after(err: io::Error) {
    match err.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
            debug!(error = %err, "connection failed before it was accepted");
        }
        // Out of descriptors: said once a minute, with what to do.
        _ if kinesin_engine::exhaustion::report(&err) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        _ => {
            warn!(error = %err, "accept failed; retrying shortly");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
