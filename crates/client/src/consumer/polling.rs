//! Polling retrieval: GetShardIterator, then GetRecords in a loop (docs/client.md#retrieval).

use super::retrieval::{user_records, Fetched, ShardToRead, StartingPoint};
use crate::list_shards::describe_error;

pub(crate) struct PollingFetcher {
    shard: ShardToRead,
    max_records: i32,
    iterator: Option<String>,
}

impl PollingFetcher {
    pub fn new(shard: ShardToRead, max_records: i32) -> PollingFetcher {
        PollingFetcher { shard, max_records, iterator: None }
    }

    /// The next batch. An expired iterator is replaced (the batch is then empty); other errors
    /// are the caller's to retry after a pause.
    pub async fn fetch(&mut self) -> Result<Fetched, String> {
        let iterator = match self.iterator.take() {
            Some(iterator) => iterator,
            None => self.new_iterator().await?,
        };
        let answer =
            self.shard.kinesis.get_records().shard_iterator(&iterator).limit(self.max_records).send().await;
        let output = match answer {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_expired_iterator_exception()) => {
                return Ok(Fetched::default())
            }
            Err(e) => {
                self.iterator = Some(iterator);
                return Err(describe_error(e));
            }
        };
        // A new iterator, should this one expire, starts after the last record read.
        if let Some(last) = output.records.last() {
            self.shard.start = StartingPoint::AfterSequenceNumber(last.sequence_number.clone());
        }
        let hash_range = self.shard.hash_range.as_ref();
        let records = output.records.iter().flat_map(|record| user_records(record, hash_range)).collect();
        let shard_end = match output.next_shard_iterator {
            Some(next) => {
                self.iterator = Some(next);
                None
            }
            None => Some(output.child_shards.unwrap_or_default()),
        };
        Ok(Fetched { records, millis_behind_latest: output.millis_behind_latest, shard_end })
    }

    async fn new_iterator(&self) -> Result<String, String> {
        let shard = &self.shard;
        let (kind, sequence_number, timestamp) = shard.start.parts();
        let output = shard
            .kinesis
            .get_shard_iterator()
            .stream_name(&shard.stream)
            .shard_id(&shard.shard_id)
            .shard_iterator_type(kind)
            .set_starting_sequence_number(sequence_number.map(str::to_owned))
            .set_timestamp(timestamp)
            .send()
            .await
            .map_err(describe_error)?;
        output
            .shard_iterator
            .ok_or_else(|| format!("GetShardIterator gave no iterator for {}", shard.shard_id))
    }
}
