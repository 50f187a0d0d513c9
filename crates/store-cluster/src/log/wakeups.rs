//! Waking readers that wait for a shard's next records (`ShardLog::wait_for`), whichever node
//! appends them: every commit sends the new tips of its shards with `pg_notify` in its own
//! transaction, and each node `LISTEN`s on one dedicated connection. A node's own commits wake
//! its waiters directly. No polling: after a lost connection the node reads the tips of the
//! shards it watches once, then listens again (docs/cluster.md, "Waking readers").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kinesin_engine::storage::{ShardKey, Tails};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client};

use crate::pg::Metadata;

/// The channel commits notify on.
pub(crate) const CHANNEL: &str = "kinesin_log";
/// Waiting before connecting again after the listening connection broke.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// Entries per `pg_notify` payload, which PostgreSQL limits to 8000 bytes.
pub(crate) const NOTIFY_ENTRIES: usize = 200;

/// The tips this node knows of the shards its readers wait on, and the waiters.
#[derive(Default)]
pub(crate) struct Wakeups {
    pub(crate) tails: Tails,
    /// Only shards waited on at some time (`watch`); others' notifications are ignored.
    known: Mutex<HashMap<ShardKey, u64>>,
}

impl Wakeups {
    /// From now on, keeps the tip of `shard` (at least `next_seq_ix`) from notifications.
    pub(crate) fn watch(&self, shard: ShardKey, next_seq_ix: u64) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let tip = known.entry(shard).or_insert(0);
        *tip = (*tip).max(next_seq_ix);
    }

    /// The tip of a watched shard as last heard of.
    pub(crate) fn known(&self, shard: ShardKey) -> u64 {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).get(&shard).copied().unwrap_or(0)
    }

    /// A commit moved `shard`'s tip to `next_seq_ix`: wakes its waiters.
    pub(crate) fn committed(&self, shard: ShardKey, next_seq_ix: u64) {
        {
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            match known.get_mut(&shard) {
                Some(tip) if *tip < next_seq_ix => *tip = next_seq_ix,
                _ => return,
            }
        }
        self.tails.notify(shard);
    }

    /// Forgets a deleted stream's shards.
    pub(crate) fn forget_stream(&self, stream_id: u64) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.retain(|key, _| key.stream_id != stream_id);
    }

    fn watched(&self) -> Vec<ShardKey> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect()
    }
}

/// A notification payload: `stream_id:shard_index:next_seq_ix` entries joined by `,`.
pub(crate) fn payload(tips: &[(ShardKey, u64)]) -> String {
    let entries: Vec<String> =
        tips.iter().map(|(key, next)| format!("{}:{}:{next}", key.stream_id, key.shard_index)).collect();
    entries.join(",")
}

fn parse(payload: &str) -> impl Iterator<Item = (ShardKey, u64)> + '_ {
    payload.split(',').filter_map(|entry| {
        let mut parts = entry.split(':');
        let stream_id = parts.next()?.parse().ok()?;
        let shard_index = parts.next()?.parse().ok()?;
        let next = parts.next()?.parse().ok()?;
        Some((ShardKey { stream_id, shard_index }, next))
    })
}

/// A connection listening on [`CHANNEL`], and its notifications' payloads.
pub(crate) struct Listening {
    _client: Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

/// Connects and `LISTEN`s; notifications committed after this returns are delivered.
pub(crate) async fn listen(metadata: &Metadata) -> Result<Listening, tokio_postgres::Error> {
    let (client, mut connection) = metadata.dedicated("kinesin-log-listener").await?;
    let (sender, payloads) = mpsc::unbounded_channel();
    // Drives the connection (which also answers the client) until it breaks or the client
    // is dropped.
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let AsyncMessage::Notification(note) = message {
                if sender.send(note.payload().to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(Listening { _client: client, payloads })
}

/// Applies notifications to `wakeups` for as long as it runs (the log aborts it when
/// dropped), listening again after a broken connection.
pub(crate) async fn follow(metadata: Metadata, wakeups: Arc<Wakeups>, mut listening: Listening) {
    loop {
        while let Some(payload) = listening.payloads.recv().await {
            for (shard, next) in parse(&payload) {
                wakeups.committed(shard, next);
            }
        }
        tracing::warn!("the log's notification connection to PostgreSQL broke; listening again");
        listening = loop {
            tokio::time::sleep(RECONNECT_DELAY).await;
            match listen(&metadata).await {
                Ok(listening) => break listening,
                Err(e) => tracing::warn!(error = %e, "cannot listen for the log's notifications"),
            }
        };
        // Commits made while nobody listened: read the watched shards' tips once.
        if let Err(e) = catch_up(&metadata, &wakeups).await {
            tracing::warn!(error = %e, "cannot read the watched shards' tips");
        }
    }
}

async fn catch_up(metadata: &Metadata, wakeups: &Wakeups) -> Result<(), kinesin_engine::storage::StoreError> {
    let watched = wakeups.watched();
    let (streams, shards): (Vec<i64>, Vec<i64>) =
        watched.iter().map(|key| (key.stream_id as i64, i64::from(key.shard_index))).unzip();
    let client = metadata.client().await?;
    let rows = client
        .query(
            "SELECT stream_id, shard_index, next_seq_ix FROM kinesin_shards
             WHERE (stream_id, shard_index) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
            &[&streams, &shards],
        )
        .await
        .map_err(|e| metadata.failed(e))?;
    for row in rows {
        let key =
            ShardKey { stream_id: row.get::<_, i64>(0) as u64, shard_index: row.get::<_, i64>(1) as u32 };
        wakeups.committed(key, row.get::<_, i64>(2) as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let tips = [
            (ShardKey { stream_id: u64::MAX, shard_index: 3 }, 17),
            (ShardKey { stream_id: 1, shard_index: 0 }, 0),
        ];
        assert_eq!(parse(&payload(&tips)).collect::<Vec<_>>(), tips);
        assert_eq!(parse("garbage,1:2").count(), 0);
    }

    #[test]
    fn only_watched_shards_are_kept() {
        let wakeups = Wakeups::default();
        let key = ShardKey { stream_id: 1, shard_index: 0 };
        wakeups.committed(key, 5);
        assert_eq!(wakeups.known(key), 0);
        wakeups.watch(key, 2);
        wakeups.committed(key, 5);
        wakeups.committed(key, 4); // an older notification arriving late
        assert_eq!(wakeups.known(key), 5);
        wakeups.forget_stream(1);
        assert_eq!(wakeups.known(key), 0);
    }
}
