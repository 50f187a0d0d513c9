//! The change feed of a [`PgCatalog`](crate::PgCatalog): every stream change committed by any
//! node, from PostgreSQL's `LISTEN/NOTIFY` (docs/cluster.md, "The catalog in PostgreSQL").
//!
//! Each change notifies channel `kinesin_streams` in its own transaction, so notices arrive in
//! commit order, and only once committed. A notice carries the stream's metadata when it fits
//! in a notification (8000 bytes at most); otherwise the listener reads the row, and skips the
//! notice if the row moved on (the newer version's notice follows).
//!
//! One dedicated connection per catalog listens. When it drops, the listener reconnects, reads
//! every stream again and sends what its subscribers missed, repeated past the channel's
//! capacity: a subscriber not reading at that moment gets `RecvError::Lagged` and reads every
//! stream again (the engine's view does, crates/engine/src/view.rs); one reading meanwhile gets
//! each changed stream at its newest version (versions in between folded into it) and every
//! removal.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{ChangeFeed, StoreError, StreamChange};
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, Client};

use crate::catalog::{load_streams, parse_stream, to_sql};
use crate::pg::Metadata;

/// Changes the feed holds for a subscriber that has not taken them yet (as the memory
/// catalog's).
const FEED_CAPACITY: usize = 1024;
/// The largest notice that carries the metadata itself: PostgreSQL refuses payloads of 8000
/// bytes or more.
const INLINE_MAX_BYTES: usize = 7_900;
/// How the listening connection shows in `pg_stat_activity`.
pub const LISTENER_NAME: &str = "kinesin-feed";
/// Waits between attempts to reconnect: the first, and the longest.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The payload of a notification: `put ID VERSION`, then a newline and the metadata's JSON
/// when it fits; or `del ID`.
pub(crate) struct Notice;

impl Notice {
    pub fn put(stream_id: u64, version: u64, json: &str) -> String {
        let head = format!("put {stream_id} {version}");
        if head.len() + 1 + json.len() < INLINE_MAX_BYTES {
            format!("{head}\n{json}")
        } else {
            head
        }
    }

    pub fn deleted(stream_id: u64) -> String {
        format!("del {stream_id}")
    }
}

enum Parsed<'a> {
    Put { stream_id: u64, version: u64, json: Option<&'a str> },
    Deleted { stream_id: u64 },
}

fn parse(payload: &str) -> Option<Parsed<'_>> {
    let (head, json) = payload.split_once('\n').map_or((payload, None), |(h, j)| (h, Some(j)));
    let mut words = head.split(' ');
    let (op, stream_id) = (words.next()?, words.next()?.parse().ok()?);
    match op {
        "put" => Some(Parsed::Put { stream_id, version: words.next()?.parse().ok()?, json }),
        "del" => Some(Parsed::Deleted { stream_id }),
        _ => None,
    }
}

/// The feed: subscribers, and the task that listens. Dropping it stops the task.
pub(crate) struct Feed {
    sender: broadcast::Sender<StreamChange>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Feed {
    /// Listens, then starts following; resolves once notices of every later commit will
    /// arrive.
    pub async fn start(metadata: Metadata) -> Result<Feed, StoreError> {
        let sender = broadcast::channel(FEED_CAPACITY).0;
        let mut listener = Listener { metadata, sender: sender.clone(), reported: HashMap::new() };
        let session = listener.listen().await?;
        // What subscribers will load at start-up, so that a reconnect knows what they hold.
        for stream in load_streams(&listener.metadata).await? {
            listener.reported.insert(stream.id, Reported::Version(stream.version));
        }
        let task = tokio::spawn(listener.run(session));
        Ok(Feed { sender, task })
    }

    pub fn subscribe(&self) -> ChangeFeed {
        self.sender.subscribe()
    }
}

/// The last change of a stream the feed reported (or found at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    Version(u64),
    Deleted,
}

struct Listener {
    metadata: Metadata,
    sender: broadcast::Sender<StreamChange>,
    /// Per stream ever seen (ids are never reused): keeps the feed from reporting a version
    /// older than one it reported, and tells a reconnect which streams subscribers may hold.
    reported: HashMap<u64, Reported>,
}

/// A listening connection: its client (which keeps it open) and its notices' payloads, which
/// end when the connection does.
struct Session {
    _client: Client,
    notices: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    async fn listen(&self) -> Result<Session, StoreError> {
        let failed = |e| self.metadata.failed(format!("listening: {e}"));
        let (client, mut connection) = self.metadata.dedicated(LISTENER_NAME).await.map_err(failed)?;
        let (sender, notices) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(notice)) => {
                        if sender.send(notice.payload().to_owned()).is_err() {
                            return; // the listener is gone
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the catalog's change feed lost its connection");
                        return;
                    }
                }
            }
        });
        client.batch_execute("LISTEN kinesin_streams").await.map_err(failed)?;
        Ok(Session { _client: client, notices })
    }

    async fn run(mut self, mut session: Session) {
        loop {
            while let Some(payload) = session.notices.recv().await {
                if let Err(e) = self.deliver(&payload).await {
                    tracing::warn!(error = %e, "the catalog's change feed could not read a change; reconnecting");
                    break;
                }
            }
            drop(session);
            session = self.reconnect().await;
        }
    }

    /// Listens again, and sends subscribers what they missed meanwhile.
    async fn reconnect(&mut self) -> Session {
        let mut delay = RECONNECT_FIRST;
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_MAX);
            let session = match self.listen().await {
                Ok(session) => session,
                Err(e) => {
                    tracing::warn!(error = %e, "the catalog's change feed cannot reconnect yet");
                    continue;
                }
            };
            match self.resync().await {
                Ok(()) => return session,
                Err(e) => tracing::warn!(error = %e, "the catalog's change feed cannot read the streams yet"),
            }
        }
    }

    /// Reports one notice.
    async fn deliver(&mut self, payload: &str) -> Result<(), StoreError> {
        let Some(parsed) = parse(payload) else {
            tracing::warn!(payload, "ignoring a notice the catalog's change feed does not know");
            return Ok(());
        };
        match parsed {
            Parsed::Put { json: Some(json), .. } => self.report_put(parse_stream(json)?),
            Parsed::Put { stream_id, version, json: None } => {
                if let Some(meta) = self.read_version(stream_id, version).await? {
                    self.report_put(meta);
                }
            }
            Parsed::Deleted { stream_id } => self.report_deleted(stream_id),
        }
        Ok(())
    }

    /// The stream at `version`, `None` if it was changed or deleted since (and another notice
    /// follows).
    async fn read_version(&self, stream_id: u64, version: u64) -> Result<Option<StreamMeta>, StoreError> {
        let sql = "SELECT meta::text FROM kinesin_streams WHERE id = $1 AND version = $2";
        let rows = self.metadata.query(sql, &[&to_sql(stream_id), &to_sql(version)]).await?;
        rows.first().map(|row| parse_stream(row.get(0))).transpose()
    }

    /// Sends a change if it is news: a version newer than any reported, or a deletion.
    fn report(&mut self, change: StreamChange) -> Option<StreamChange> {
        let (stream_id, now) = match &change {
            StreamChange::Put(meta) => (meta.id, Reported::Version(meta.version)),
            StreamChange::Deleted { stream_id } => (*stream_id, Reported::Deleted),
        };
        let news = match (self.reported.get(&stream_id), now) {
            (Some(Reported::Deleted), _) => false,
            (Some(Reported::Version(old)), Reported::Version(new)) => new > *old,
            _ => true,
        };
        if !news {
            return None;
        }
        self.reported.insert(stream_id, now);
        // Nobody subscribed is fine.
        let _ = self.sender.send(change.clone());
        Some(change)
    }

    fn report_put(&mut self, meta: StreamMeta) {
        self.report(StreamChange::Put(Arc::new(meta)));
    }

    fn report_deleted(&mut self, stream_id: u64) {
        self.report(StreamChange::Deleted { stream_id });
    }

    /// After a reconnect: reports every change the notices of the lost connection would have
    /// brought, then repeats them until the channel overflows, so that every subscriber not
    /// reading right now lags and reads every stream again.
    async fn resync(&mut self) -> Result<(), StoreError> {
        let streams = load_streams(&self.metadata).await?;
        let stored: HashSet<u64> = streams.iter().map(|s| s.id).collect();
        let gone: Vec<u64> = self
            .reported
            .iter()
            .filter(|(id, reported)| matches!(reported, Reported::Version(_)) && !stored.contains(id))
            .map(|(id, _)| *id)
            .collect();
        let mut missed: Vec<StreamChange> = gone
            .into_iter()
            .filter_map(|stream_id| self.report(StreamChange::Deleted { stream_id }))
            .collect();
        missed.extend(streams.into_iter().filter_map(|meta| self.report(StreamChange::Put(Arc::new(meta)))));
        if missed.is_empty() {
            return Ok(()); // nothing happened meanwhile
        }
        tracing::info!(
            missed = missed.len(),
            "the catalog's change feed reconnected; its subscribers read every stream again"
        );
        // The changes were sent once by `report`; repeating them is harmless (the same
        // version again, or a deletion again).
        for change in missed.iter().cycle().take(FEED_CAPACITY + 1) {
            let _ = self.sender.send(change.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_carry_small_metadata_and_name_big_ones() {
        let small = Notice::put(u64::MAX, 3, "{}");
        assert!(matches!(
            parse(&small),
            Some(Parsed::Put { stream_id: u64::MAX, version: 3, json: Some("{}") })
        ));
        let big = Notice::put(7, 4, &"x".repeat(INLINE_MAX_BYTES));
        assert!(big.len() < 100);
        assert!(matches!(parse(&big), Some(Parsed::Put { stream_id: 7, version: 4, json: None })));
        assert!(matches!(parse(&Notice::deleted(9)), Some(Parsed::Deleted { stream_id: 9 })));
        assert!(parse("what 1").is_none());
    }
}
