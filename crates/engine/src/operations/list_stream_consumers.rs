//! ListStreamConsumers: a stream's consumers in name order, paged with MaxResults and NextToken.

use kinesin_wire::{ApiError, Value};

use crate::consumers;
use crate::errors;
use crate::model::ConsumerMeta;
use crate::pagination::Cursor;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// AWS returns at most 100 consumers per call, whatever MaxResults says.
const MAX_CONSUMERS_PER_CALL: usize = 100;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn list_stream_consumers(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        if input.timestamp("StreamCreationTimestamp").is_some_and(|created| created != stream.created_ms) {
            return Err(errors::stream_not_found(&stream.name, &stream.account));
        }
        let now = self.now_ms();
        // The cursor holds the last name returned, so consumers deregistered between pages
        // shift nothing.
        let after = match input.str("NextToken") {
            Some(token) => {
                let cursor = Cursor::decode(&self.signer, token)?;
                cursor.check_fresh(now)?;
                if cursor.stream_id != stream.id {
                    return Err(ApiError::invalid_argument(format!("Invalid NextToken: {token}")));
                }
                Some(cursor.after)
            }
            None => None,
        };
        let limit = input
            .int("MaxResults")
            .map_or(MAX_CONSUMERS_PER_CALL, |l| (l as usize).min(MAX_CONSUMERS_PER_CALL));
        let mut listed: Vec<&ConsumerMeta> = stream
            .consumers
            .iter()
            .filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a))
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let next_token = match (listed.len() > limit, listed.get(limit.saturating_sub(1))) {
            (true, Some(last)) => Some(
                Cursor { stream_id: stream.id, after: last.name.clone(), issued_ms: now }
                    .encode(&self.signer),
            ),
            _ => None,
        };
        listed.truncate(limit);
        let page: Vec<Value> = listed.into_iter().map(|c| consumers::consumer(&stream, c)).collect();
        Ok(Value::object().with("Consumers", page).with_opt("NextToken", next_token))
    }
}
