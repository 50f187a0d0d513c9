//! ListStreams: names and summaries in name order, paged by ExclusiveStartStreamName or NextToken.

use kinesin_wire::{ApiError, Value};

use crate::pagination::Cursor;
use crate::render;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// AWS returns at most 100 streams per call.
const MAX_STREAMS_PER_CALL: usize = 100;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn list_streams(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let limit =
            input.int("Limit").map_or(MAX_STREAMS_PER_CALL, |l| (l as usize).min(MAX_STREAMS_PER_CALL));
        let after = match input.str("NextToken") {
            Some(token) => Some(Cursor::decode(&self.signer, token)?.after),
            None => input.str("ExclusiveStartStreamName").map(str::to_owned),
        };
        let registry = self.registry();
        let mut streams = registry.in_account_after(&ctx.account, &ctx.region, after.as_deref());
        let page: Vec<_> = streams.by_ref().take(limit).collect();
        let has_more = streams.next().is_some();
        let names: Vec<Value> = page.iter().map(|s| Value::from(&s.name)).collect();
        let summaries: Vec<Value> = page
            .iter()
            .map(|s| {
                Value::object()
                    .with("StreamName", &s.name)
                    .with("StreamARN", s.arn())
                    .with("StreamStatus", s.status.as_str())
                    .with("StreamModeDetails", render::stream_mode_details(s))
                    .with("StreamCreationTimestamp", Value::Timestamp(s.created_ms))
            })
            .collect();
        let next_token = match (has_more, page.last()) {
            (true, Some(last)) => Some(
                Cursor { stream_id: 0, after: last.name.clone(), issued_ms: self.now_ms() }
                    .encode(&self.signer),
            ),
            _ => None,
        };
        Ok(Value::object()
            .with("StreamNames", names)
            .with("HasMoreStreams", has_more)
            .with_opt("NextToken", next_token)
            .with("StreamSummaries", summaries))
    }
}
