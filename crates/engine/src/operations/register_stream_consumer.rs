//! RegisterStreamConsumer: a new enhanced fan-out consumer, CREATING until the engine's create
//! delay has passed.

use kinesin_wire::{ApiError, Value};

use crate::consumers;
use crate::errors;
use crate::model::{ConsumerMeta, ConsumerStatus, StreamMeta, StreamStatus};
use crate::operations::tags::{check_new_tags, parse_tags};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// Consumers a stream may have (provisioned and on-demand standard streams).
const MAX_CONSUMERS_PER_STREAM: usize = 20;

/// Consumers are registered on ACTIVE and UPDATING streams.
fn check_status(stream: &StreamMeta) -> Result<(), ApiError> {
    if !matches!(stream.status, StreamStatus::Active | StreamStatus::Updating) {
        return Err(errors::stream_not_active(stream));
    }
    Ok(())
}

/// Whether `stream` can take a new consumer called `name`.
fn check_room(stream: &StreamMeta, name: &str) -> Result<(), ApiError> {
    check_status(stream)?;
    if stream.consumers.iter().any(|c| c.name == name) {
        return Err(ApiError::resource_in_use(format!(
            "Consumer {name} under stream {} under account {} already exists.",
            stream.name, stream.account
        )));
    }
    if stream.consumers.len() >= MAX_CONSUMERS_PER_STREAM {
        return Err(ApiError::limit_exceeded(format!(
            "Stream {} under account {} already has {MAX_CONSUMERS_PER_STREAM} registered consumers, the \
             most a stream can have.",
            stream.name, stream.account
        )));
    }
    Ok(())
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn register_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let name = input.str("ConsumerName").unwrap_or_default();
        let tags = parse_tags(input.map("Tags").unwrap_or_default());
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        check_status(&stream)?;
        check_new_tags("consumer", name, &stream.account, &[], &tags)?;
        let creating = self
            .registry()
            .in_account(&ctx.account, &ctx.region)
            .flat_map(|s| &s.consumers)
            .filter(|c| c.status == ConsumerStatus::Creating)
            .count();
        let consumer = ConsumerMeta {
            name: name.to_owned(),
            created_ms: self.now_ms(),
            status: ConsumerStatus::Creating,
            transition_due_ms: self.due_after(self.config.create_stream_ms),
            tags,
            resource_policy: None,
        };
        let (meta, ()) = self
            .update_stream(&stream, |meta| {
                check_room(meta, name)?;
                if creating >= errors::MAX_CREATING {
                    return Err(errors::too_many_creating("consumers", &ctx.account));
                }
                meta.consumers.push(consumer.clone());
                Ok(())
            })
            .await?;
        Ok(Value::object().with("Consumer", consumers::consumer(&meta, &consumer)))
    }
}
