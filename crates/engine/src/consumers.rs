//! Enhanced fan-out consumers: their ARNs, finding the consumer a request names, their response
//! shapes, and their status transitions (CREATING → ACTIVE, DELETING → gone), which
//! `settle_transitions` completes when they fall due.

use std::sync::Arc;

use kinesin_wire::{ApiError, Value};

use crate::lookup::parse_stream_arn;
use crate::model::{ConsumerMeta, ConsumerStatus, StreamMeta};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME/consumer/CONSUMER:CREATION_EPOCH_SECONDS`.
pub fn consumer_arn(stream: &StreamMeta, consumer: &ConsumerMeta) -> String {
    format!("{}/consumer/{}:{}", stream.arn(), consumer.name, consumer.created_ms.div_euclid(1000))
}

/// The parts of a consumer ARN.
#[derive(Debug, PartialEq, Eq)]
pub struct ConsumerArn<'a> {
    pub stream_arn: &'a str,
    pub name: &'a str,
    pub created_secs: i64,
}

pub fn parse_consumer_arn(arn: &str) -> Option<ConsumerArn<'_>> {
    // Stream names cannot contain '/', nor consumer names ':'.
    let (stream_arn, rest) = arn.split_once("/consumer/")?;
    parse_stream_arn(stream_arn)?;
    let (name, secs) = rest.rsplit_once(':')?;
    if name.is_empty() || name.contains('/') || secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ConsumerArn { stream_arn, name, created_secs: secs.parse().ok()? })
}

impl ConsumerMeta {
    fn has_arn_secs(&self, created_secs: i64) -> bool {
        self.created_ms.div_euclid(1000) == created_secs
    }
}

/// The `Consumer` shape.
pub fn consumer(stream: &StreamMeta, consumer: &ConsumerMeta) -> Value {
    Value::object()
        .with("ConsumerName", &consumer.name)
        .with("ConsumerARN", consumer_arn(stream, consumer))
        .with("ConsumerStatus", consumer.status.as_str())
        .with("ConsumerCreationTimestamp", Value::Timestamp(consumer.created_ms))
}

/// The `ConsumerDescription` shape: a `Consumer` and its stream's ARN.
pub fn description(stream: &StreamMeta, c: &ConsumerMeta) -> Value {
    consumer(stream, c).with("StreamARN", stream.arn())
}

pub fn consumer_not_found(arn: &str, account: &str) -> ApiError {
    ApiError::resource_not_found(format!("Consumer {arn} under account {account} not found."))
}

pub fn consumer_not_active(stream: &StreamMeta, consumer: &ConsumerMeta) -> ApiError {
    ApiError::resource_in_use(format!(
        "Consumer {} is not ACTIVE, instead in state {}.",
        consumer_arn(stream, consumer),
        consumer.status.as_str()
    ))
}

/// Completes the transitions due by `now_ms`: CREATING consumers become ACTIVE, DELETING ones
/// are gone.
pub fn settle(consumers: &mut Vec<ConsumerMeta>, now_ms: i64) {
    consumers.retain_mut(|c| match c.transition_due_ms {
        Some(due) if due <= now_ms => {
            c.transition_due_ms = None;
            match c.status {
                ConsumerStatus::Deleting => false,
                ConsumerStatus::Creating | ConsumerStatus::Active => {
                    c.status = ConsumerStatus::Active;
                    true
                }
            }
        }
        _ => true,
    });
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The consumer a `ConsumerARN` names, with its stream. The ARN's creation second must
    /// match too: a consumer registered again under the same name has a new ARN.
    pub(crate) fn consumer_by_arn(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<(Arc<StreamMeta>, ConsumerMeta), ApiError> {
        let not_found = || consumer_not_found(arn, &ctx.account);
        let parsed = parse_consumer_arn(arn).ok_or_else(not_found)?;
        let stream = self
            .resolve_stream(ctx, &Value::object().with("StreamARN", parsed.stream_arn))
            .map_err(|_| not_found())?;
        let consumer = stream
            .consumers
            .iter()
            .find(|c| c.name == parsed.name && c.has_arn_secs(parsed.created_secs))
            .cloned()
            .ok_or_else(not_found)?;
        Ok((stream, consumer))
    }

    /// The consumer named by `ConsumerARN`, or by `StreamARN` + `ConsumerName`, or by all three
    /// as long as they agree (DescribeStreamConsumer, DeregisterStreamConsumer).
    pub(crate) fn resolve_consumer(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<(Arc<StreamMeta>, ConsumerMeta), ApiError> {
        let stream_arn = input.str("StreamARN");
        let name = input.str("ConsumerName");
        match (input.str("ConsumerARN"), stream_arn, name) {
            (Some(arn), _, _) => {
                if let Some(parsed) = parse_consumer_arn(arn) {
                    if stream_arn.is_some_and(|s| s != parsed.stream_arn)
                        || name.is_some_and(|n| n != parsed.name)
                    {
                        return Err(ApiError::invalid_argument(format!(
                            "ConsumerARN {arn} does not name the consumer that StreamARN and ConsumerName name."
                        )));
                    }
                }
                self.consumer_by_arn(ctx, arn)
            }
            (None, Some(_), Some(name)) => {
                let stream = self.resolve_stream(ctx, input)?;
                let consumer =
                    stream.consumers.iter().find(|c| c.name == name).cloned().ok_or_else(|| {
                        ApiError::resource_not_found(format!(
                            "Consumer {name} under stream {} under account {} not found.",
                            stream.name, stream.account
                        ))
                    })?;
                Ok((stream, consumer))
            }
            _ => Err(ApiError::invalid_argument(
                "ConsumerARN or both ConsumerName and StreamARN are required for this request.",
            )),
        }
    }

    /// Completes the consumer transitions of `stream` that are due (from `settle_transitions`).
    pub(crate) async fn settle_consumers(&self, stream: &StreamMeta, now_ms: i64) -> Result<(), ApiError> {
        self.update_stream(stream, |meta| {
            settle(&mut meta.consumers, now_ms);
            Ok(())
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(name: &str, status: ConsumerStatus, due: Option<i64>) -> ConsumerMeta {
        ConsumerMeta {
            name: name.into(),
            created_ms: 1_700_000_000_123,
            status,
            transition_due_ms: due,
            tags: vec![],
            resource_policy: None,
        }
    }

    #[test]
    fn parses_consumer_arns() {
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/app-1.x:1700000000";
        assert_eq!(
            parse_consumer_arn(arn),
            Some(ConsumerArn {
                stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s1",
                name: "app-1.x",
                created_secs: 1_700_000_000
            })
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/c",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/c:",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/:12",
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/c:-1",
            "arn:aws:sqs:us-east-1:000000000000:stream/s1/consumer/c:1",
        ] {
            assert_eq!(parse_consumer_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn settling_activates_created_and_drops_deleted_consumers() {
        let mut consumers = vec![
            consumer("a", ConsumerStatus::Creating, Some(10)),
            consumer("b", ConsumerStatus::Deleting, Some(10)),
            consumer("c", ConsumerStatus::Creating, Some(11)),
            consumer("d", ConsumerStatus::Active, None),
        ];
        settle(&mut consumers, 10);
        let states: Vec<_> =
            consumers.iter().map(|c| (c.name.as_str(), c.status, c.transition_due_ms)).collect();
        assert_eq!(
            states,
            [
                ("a", ConsumerStatus::Active, None),
                ("c", ConsumerStatus::Creating, Some(11)),
                ("d", ConsumerStatus::Active, None)
            ]
        );
    }
}
