//! The admin port (`--admin-port`, 4568 by default): `GET /health` and `GET /ready` for
//! probes, with JSON bodies, `GET /metrics` for Prometheus, and the web console at `/`
//! (`console.rs`, docs/console.md). It is apart from the API port so that probes never queue behind
//! API traffic and can be exposed (or firewalled) on their own.
//!
//! It answers from the moment the data directory is locked, so that `/health` says the
//! process is alive during a long recovery while `/ready` says what it is waiting for.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kinesin_store_local::{WriteHealth, WriteProblem};
use tokio::net::TcpListener;

use crate::console::{self, ConsoleConfigCell};
use crate::metrics::Metrics;

/// `--admin-port`: a port (0 picks a free one) or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPort {
    Off,
    Port(u16),
}

impl std::str::FromStr for AdminPort {
    type Err = String;

    fn from_str(text: &str) -> Result<AdminPort, String> {
        match text {
            "off" => Ok(AdminPort::Off),
            _ => text
                .parse()
                .map(AdminPort::Port)
                .map_err(|_| "expected a port (0 to 65535; 0 picks a free one) or off".to_owned()),
        }
    }
}

/// Where the server is in its life, as `/ready` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Opening the storage: the embedded store's recovery runs, or in cluster mode the metadata
    /// database is migrated and the catalog loaded.
    Opening,
    /// Creating the streams of `--create-stream` and `[[streams]]`.
    CreatingStreams,
    Serving,
    /// SIGTERM or SIGINT came: in-flight requests are finishing.
    Stopping,
}

/// What `/ready` answers from: the phase, and once the store is open, its write health.
#[derive(Default)]
pub struct Readiness {
    phase: AtomicU8,
    writes: OnceLock<WriteHealth>,
    /// What opening the storage does, when it is not the data directory's recovery.
    opening: OnceLock<&'static str>,
}

impl Readiness {
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Says what `/ready` reports while the storage opens, instead of the data directory's
    /// recovery (cluster mode).
    pub fn opening(&self, what: &'static str) {
        let _ = self.opening.set(what);
    }

    pub fn watch_writes(&self, health: WriteHealth) {
        let _ = self.writes.set(health);
    }

    /// Whether the server is in `phase`.
    pub fn is(&self, phase: Phase) -> bool {
        self.phase.load(Ordering::Acquire) == phase as u8
    }

    /// Why the server is not ready, if it is not.
    pub fn not_ready_because(&self) -> Option<&'static str> {
        if self.is(Phase::Opening) {
            return Some(
                self.opening.get().copied().unwrap_or("opening the data directory (recovery is running)"),
            );
        }
        if self.is(Phase::CreatingStreams) {
            return Some("creating the start-up streams");
        }
        if self.is(Phase::Stopping) {
            return Some("shutting down");
        }
        match self.writes.get().and_then(WriteHealth::problem) {
            Some(WriteProblem::DiskFull) => {
                Some("the disk is full: writes fail until space is freed in the data directory's file system")
            }
            Some(WriteProblem::SyncFailed) => Some(
                "a shard's data failed to sync to disk: that shard refuses writes until kinesin is restarted",
            ),
            None => None,
        }
    }
}

/// Binds the admin port.
pub async fn bind(host: &str, port: u16) -> Result<(TcpListener, SocketAddr), String> {
    let address = format!("{host}:{port}");
    let listener = TcpListener::bind(&address).await.map_err(|e| {
        format!(
            "cannot listen on {address} for the admin port: {e}. Pick another with --admin-port (0 picks a free one, off turns it off)."
        )
    })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, bound))
}

/// What the admin port answers from.
pub struct AdminState {
    pub readiness: Arc<Readiness>,
    pub metrics: Arc<Metrics>,
    /// Where the console finds the API; empty until the API port is bound.
    pub console: Arc<ConsoleConfigCell>,
}

/// Serves the admin port on `listener` for as long as the runtime runs.
pub fn spawn(listener: TcpListener, state: Arc<AdminState>) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, most likely: the API matters more than probes.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let state = state.clone();
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let state = state.clone();
                async move {
                    let (method, path) = (request.method(), request.uri().path());
                    let response = match path {
                        "/metrics" if method == Method::GET || method == Method::HEAD => metrics(state).await,
                        _ => respond(method, path, &state),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "admin connection ended with an error");
                }
            });
        }
    });
}

fn respond(method: &Method, path: &str, state: &AdminState) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return json(StatusCode::METHOD_NOT_ALLOWED, serde_json::json!({ "error": "use GET" }));
    }
    match path {
        "/health" => json(StatusCode::OK, serde_json::json!({ "status": "ok" })),
        "/console/config.json" => match state.console.get() {
            Some(config) => json(StatusCode::OK, serde_json::json!(config)),
            None => json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "the API port is not open yet" }),
            ),
        },
        "/ready" => match state.readiness.not_ready_because() {
            None => json(StatusCode::OK, serde_json::json!({ "status": "ready" })),
            Some(reason) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "not ready", "reason": reason }),
            ),
        },
        _ => match console::asset(path) {
            Some((content_type, bytes)) => console_file(content_type, bytes),
            None => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({ "error": "not found; try / (the console), /health, /ready or /metrics" }),
            ),
        },
    }
}

/// `GET /metrics`, rendered on a blocking thread: it reads the data directory.
async fn metrics(state: Arc<AdminState>) -> Response<Full<Bytes>> {
    let text = match tokio::task::spawn_blocking(move || state.metrics.render()).await {
        Ok(text) => text,
        Err(_) => {
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "error": "could not render" }),
            )
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn console_file(content_type: &'static str, bytes: &'static [u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(bytes)));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    // The files change only with the binary; revalidating keeps an upgraded server's page fresh.
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(console::CONTENT_SECURITY_POLICY),
    );
    headers.insert(http::header::X_CONTENT_TYPE_OPTIONS, http::HeaderValue::from_static("nosniff"));
    response
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AdminState {
        AdminState {
            readiness: Arc::default(),
            metrics: Arc::new(Metrics::new(Arc::default(), Some(std::path::PathBuf::from("/nonexistent")))),
            console: Arc::default(),
        }
    }

    fn ready(state: &AdminState) -> (StatusCode, String) {
        let response = respond(&Method::GET, "/ready", state);
        (response.status(), body_text(response))
    }

    fn body_text(response: Response<Full<Bytes>>) -> String {
        use http_body_util::BodyExt;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(response.into_body().collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn ready_only_while_serving() {
        let state = state();
        let readiness = &state.readiness;
        let (status, body) = ready(&state);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("recovery"), "{body}");
        readiness.opening("joining the cluster");
        assert!(ready(&state).1.contains("joining the cluster"));
        readiness.set_phase(Phase::CreatingStreams);
        assert!(ready(&state).1.contains("start-up streams"));
        readiness.set_phase(Phase::Serving);
        assert_eq!(ready(&state), (StatusCode::OK, r#"{"status":"ready"}"#.to_owned()));
        readiness.set_phase(Phase::Stopping);
        assert_eq!(ready(&state).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// Not ready while the disk is full, ready again once an append succeeds.
    #[test]
    fn not_ready_while_the_disk_is_full() {
        use kinesin_engine::storage::{NewRecord, ShardKey, ShardLog, SystemClock};
        use kinesin_store_local::{open_store_with_fs, SimFs, StoreOptions};

        let fs = SimFs::new();
        let options = StoreOptions::default();
        let (log, _catalog) = open_store_with_fs(
            Arc::new(fs.clone()),
            std::path::Path::new("/data"),
            options,
            Arc::new(SystemClock),
        )
        .unwrap();
        let shard = ShardKey { stream_id: 1, shard_index: 0 };
        log.create_shard(shard).unwrap();
        let state = state();
        let readiness = &state.readiness;
        readiness.set_phase(Phase::Serving);
        readiness.watch_writes(log.write_health());
        let record = || {
            vec![NewRecord { partition_key: "k".into(), data: Bytes::from_static(b"d"), encrypted: false }]
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();

        fs.fail_writes(true);
        runtime.block_on(log.append(shard, record())).unwrap_err();
        let (status, body) = ready(&state);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("the disk is full"), "{body}");
        fs.fail_writes(false);
        runtime.block_on(log.append(shard, record())).unwrap();
        assert_eq!(ready(&state).0, StatusCode::OK);
    }

    #[test]
    fn health_and_unknown_paths() {
        let state = state();
        let health = respond(&Method::GET, "/health", &state);
        assert_eq!(health.status(), StatusCode::OK, "alive even while not ready");
        assert_eq!(body_text(health), r#"{"status":"ok"}"#);
        assert_eq!(respond(&Method::GET, "/nope", &state).status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&Method::POST, "/health", &state).status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn console_page_and_its_config() {
        let state = state();
        let page = respond(&Method::GET, "/", &state);
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[http::header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("'self'"));
        assert!(body_text(page).contains("/console/app.js"));
        assert_eq!(
            respond(&Method::GET, "/console/config.json", &state).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        state
            .console
            .set(console::ConsoleConfig {
                api_port: 4567,
                account: "000000000000".into(),
                region: "us-east-1".into(),
                credentials_required: true,
            })
            .unwrap();
        let config = body_text(respond(&Method::GET, "/console/config.json", &state));
        assert_eq!(
            config,
            r#"{"account":"000000000000","apiPort":4567,"credentialsRequired":true,"region":"us-east-1"}"#
        );
    }

    #[test]
    fn admin_port_values() {
        assert_eq!("off".parse(), Ok(AdminPort::Off));
        assert_eq!("0".parse(), Ok(AdminPort::Port(0)));
        assert_eq!("4568".parse(), Ok(AdminPort::Port(4568)));
        assert!("70000".parse::<AdminPort>().unwrap_err().contains("or off"));
    }
}
