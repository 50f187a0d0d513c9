//! DescribeStreamConsumer: one consumer, by ConsumerARN or by StreamARN + ConsumerName.

use kinesin_wire::{ApiError, Value};

use crate::consumers;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn describe_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let (stream, consumer) = self.resolve_consumer(ctx, input)?;
        Ok(Value::object().with("ConsumerDescription", consumers::description(&stream, &consumer)))
    }
}
