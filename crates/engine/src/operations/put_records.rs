//! PutRecords: up to 500 records across shards; per-record results in request order.

use kinesin_wire::input::PutRecordsInput;
use kinesin_wire::put_records_answer::PutRecordsAnswer;
use kinesin_wire::ApiError;

use crate::operations::check_dry_run;
use crate::render;
use crate::routing::{check_writable, route_entry, Router, MAX_REQUEST_BYTES};
use crate::storage::{Catalog, ShardLog};
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
        check_writable(&stream)?;
        let total: usize = records.iter().map(|r| r.size()).sum();
        if total > MAX_REQUEST_BYTES {
            return Err(ApiError::invalid_argument(format!(
                "Records size {total} bytes exceeds the PutRecords limit of {MAX_REQUEST_BYTES} bytes \
                 (data plus partition keys) for stream {} under account {}.",
                stream.name, stream.account
            )));
        }
        // Any invalid entry fails the whole request before anything is written.
        let router = Router::new(&stream);
        let routed =
            records.into_iter().map(|r| route_entry(&stream, &router, r)).collect::<Result<Vec<_>, _>>()?;
        check_dry_run(&members)?;
        Ok(PutRecordsAnswer {
            records: self.append_routed(&stream, &router, routed).await,
            encryption_type: stream.encryption_key_id.as_ref().map(|_| render::encryption_type(&stream)),
        })
    }
}
