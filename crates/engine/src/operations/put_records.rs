//! PutRecords: up to 500 records across shards; per-record results in request order.

use std::time::{Duration, Instant};

use kinesin_wire::input::{PutRecordsInput, RecordInput};
use kinesin_wire::put_records_answer::PutRecordsAnswer;
use kinesin_wire::{ApiError, Value};

use crate::model::StreamMeta;
use crate::operations::check_dry_run;
use crate::render;
use crate::routing::{check_writable, route_entry, Routed, Router, MAX_REQUEST_BYTES};
use crate::storage::{Catalog, ShardLog};
use crate::stream_metrics::StreamMetrics;
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn put_records(
        &self,
        ctx: &RequestContext,
        input: PutRecordsInput,
    ) -> Result<PutRecordsAnswer, ApiError> {
        // Held from routing until the records are durable (see `Engine::write_gate`).
        let _gate = self.write_gate.read().await;
        let PutRecordsInput { members, records } = input;
        let stream = self.resolve_stream(ctx, &members)?;
        let started = Instant::now();
        let result = self.put_many(&stream, &members, records).await;
        count_put_records(&stream, result.as_ref().ok(), started.elapsed());
        result.map(|(answer, _)| answer)
    }

    /// PutRecords once its stream is known: the answer, and each record's size.
    async fn put_many(
        &self,
        stream: &StreamMeta,
        members: &Value,
        records: Vec<RecordInput>,
    ) -> Result<(PutRecordsAnswer, Vec<usize>), ApiError> {
        check_writable(stream)?;
        let total: usize = records.iter().map(|r| r.size()).sum();
        if total > MAX_REQUEST_BYTES {
            return Err(ApiError::invalid_argument(format!(
                "Records size {total} bytes exceeds the PutRecords limit of {MAX_REQUEST_BYTES} bytes \
                 (data plus partition keys) for stream {} under account {}.",
                stream.name, stream.account
            )));
        }
        // Any invalid entry fails the whole request before anything is written.
        let router = Router::new(stream);
        let routed =
            records.into_iter().map(|r| route_entry(stream, &router, r)).collect::<Result<Vec<_>, _>>()?;
        check_dry_run(members)?;
        let sizes = routed.iter().map(Routed::size).collect();
        let answer = PutRecordsAnswer {
            records: self.append_routed(stream, &router, routed).await,
            encryption_type: stream.encryption_key_id.as_ref().map(|_| render::encryption_type(stream)),
        };
        Ok((answer, sizes))
    }
}

/// A PutRecords call in the stream's figures: the call (a success if the request was accepted,
/// whatever became of its records), the records written and their bytes, and what became of the
/// rest: throttled, or failed inside.
fn count_put_records(
    stream: &StreamMeta,
    result: Option<&(PutRecordsAnswer, Vec<usize>)>,
    elapsed: Duration,
) {
    let figures = &stream.metrics;
    let Some((answer, sizes)) = result else {
        figures.put_records.record(None, elapsed);
        return;
    };
    let (mut written, mut bytes, mut throttled) = (0, 0, 0);
    for (entry, size) in answer.records.iter().zip(sizes) {
        match entry {
            Ok(_) => (written, bytes) = (written + 1, bytes + *size as u64),
            Err(error) if error.code == "ProvisionedThroughputExceededException" => throttled += 1,
            Err(_) => {}
        }
    }
    let total = answer.records.len() as u64;
    figures.put_records.record(Some((written, bytes)), elapsed);
    StreamMetrics::add(&figures.put_records_total_records, total);
    StreamMetrics::add(&figures.put_records_throttled_records, throttled);
    StreamMetrics::add(&figures.put_records_failed_records, total - written - throttled);
}
