//! The engine's in-memory view of the streams, kept current from two sides: the engine's own
//! committed changes, installed at once (a request reads its own writes), and the catalog's
//! change feed, which brings every change committed by anyone sharing the catalog (other
//! nodes, in cluster mode) without polling. A version is installed only if it is newer than the
//! one in view, so the two sides can arrive in any order.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast::error::RecvError;

use crate::fanout::Fanout;
use crate::model::StreamMeta;
use crate::registry::Registry;
use crate::storage::{Catalog, ChangeFeed, StreamChange};

/// What a change of a stream's metadata updates.
#[derive(Clone)]
pub(crate) struct StreamView {
    pub registry: Arc<RwLock<Registry>>,
    pub fanout: Arc<Fanout>,
    /// Earliest pending status transition (epoch ms), `i64::MAX` when none: lets every
    /// request check for due transitions with one atomic load.
    pub next_transition_ms: Arc<AtomicI64>,
}

impl StreamView {
    pub fn new(registry: Registry, next_transition_ms: i64) -> Self {
        StreamView {
            registry: Arc::new(RwLock::new(registry)),
            fanout: Arc::default(),
            next_transition_ms: Arc::new(AtomicI64::new(next_transition_ms)),
        }
    }

    /// Makes a stored version of a stream visible, unless a newer one already is (which it
    /// then returns). The stream's figures carry over from the version it replaces.
    pub fn install(&self, meta: Arc<StreamMeta>) -> Arc<StreamMeta> {
        let mut registry = self.registry.write().unwrap_or_else(|e| e.into_inner());
        let meta = match registry.by_id(meta.id) {
            Some(old) if old.version >= meta.version => return old.clone(),
            Some(old) if !Arc::ptr_eq(&old.metrics, &meta.metrics) => {
                Arc::new(StreamMeta { metrics: old.metrics.clone(), ..(*meta).clone() })
            }
            _ => meta,
        };
        registry.insert(meta.clone());
        drop(registry);
        if let Some(due) = meta.next_transition_ms() {
            self.next_transition_ms.fetch_min(due, Ordering::SeqCst);
        }
        self.fanout.stream_changed(meta.id);
        meta
    }

    /// A stream is gone from the catalog: it disappears from view.
    pub fn forget(&self, stream_id: u64) {
        self.registry.write().unwrap_or_else(|e| e.into_inner()).remove(stream_id);
        self.fanout.stream_changed(stream_id);
    }

    /// Every stream as the catalog holds it now (after the feed lagged): the ones it no
    /// longer holds disappear. (One created after the snapshot was read disappears too, until
    /// its change, still queued in the feed behind the lag, installs it again.)
    fn replace_all(&self, streams: Vec<StreamMeta>) {
        let stored: std::collections::HashSet<u64> = streams.iter().map(|s| s.id).collect();
        let gone: Vec<u64> = {
            let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
            registry.all().map(|s| s.id).filter(|id| !stored.contains(id)).collect()
        };
        for stream_id in gone {
            self.forget(stream_id);
        }
        for meta in streams {
            self.install(Arc::new(meta));
        }
    }

    /// Follows the catalog's change feed until the catalog closes it (the engine aborts the
    /// task when it is dropped).
    pub async fn follow<C: Catalog>(self, catalog: Arc<C>, mut feed: ChangeFeed) {
        loop {
            match feed.recv().await {
                Ok(StreamChange::Put(meta)) => {
                    self.install(meta);
                }
                Ok(StreamChange::Deleted { stream_id }) => self.forget(stream_id),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "the catalog's change feed fell behind; reading every stream again"
                    );
                    match catalog.load_streams().await {
                        Ok(streams) => self.replace_all(streams),
                        Err(e) => tracing::error!(error = %e, "could not read the streams again"),
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}
