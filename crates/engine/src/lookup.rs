//! Finding the stream (and shard) a request names, by StreamName, StreamARN or both.

use std::sync::Arc;

pub use kinesin_wire::shard_id::{parse_shard_id, shard_id};
use kinesin_wire::{ApiError, Value};

use crate::errors;
use crate::model::{ShardMeta, StreamMeta, StreamStatus};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// The parts of `arn:<partition>:kinesis:<region>:<account>:stream/<name>`.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

pub fn parse_stream_arn(arn: &str) -> Option<StreamArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if arn_word != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    let name = resource.strip_prefix("stream/")?;
    (!name.is_empty() && !name.contains('/')).then_some(StreamArn { region, account, name })
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The stream named by the request's StreamName and/or StreamARN, in the caller's account
    /// and region (including one still DELETING, which AWS keeps describing until it is gone).
    pub(crate) fn resolve_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Arc<StreamMeta>, ApiError> {
        let name = input.str("StreamName");
        let arn = input.str("StreamARN");
        let name = match (name, arn) {
            (None, None) => {
                return Err(ApiError::invalid_argument("Either StreamName or StreamARN must be provided."))
            }
            (Some(name), None) => name,
            (_, Some(arn)) => {
                let parsed = parse_stream_arn(arn)
                    .ok_or_else(|| ApiError::invalid_argument(format!("Invalid StreamARN {arn}.")))?;
                if let Some(name) = name {
                    if name != parsed.name {
                        return Err(ApiError::invalid_argument(format!(
                            "StreamARN {arn} and StreamName {name} do not identify the same stream."
                        )));
                    }
                }
                if parsed.account != ctx.account || parsed.region != ctx.region {
                    return Err(errors::stream_not_found(parsed.name, parsed.account));
                }
                parsed.name
            }
        };
        self.registry()
            .by_name(&ctx.account, &ctx.region, name)
            .cloned()
            .ok_or_else(|| errors::stream_not_found(name, &ctx.account))
    }

    /// Like [`Self::resolve_stream`], for changes that need the stream ACTIVE.
    pub(crate) fn resolve_active_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Arc<StreamMeta>, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        if stream.status != StreamStatus::Active {
            return Err(errors::stream_not_active(&stream));
        }
        Ok(stream)
    }
}

/// The shard a request names by id, with AWS's not-found messages.
pub fn find_shard<'a>(stream: &'a StreamMeta, requested: &str) -> Result<&'a ShardMeta, ApiError> {
    let index = parse_shard_id(requested).ok_or_else(|| {
        ApiError::resource_not_found(format!(
            "Could not find shard {requested} in stream {} under account {}.",
            stream.name, stream.account
        ))
    })?;
    stream
        .shards
        .iter()
        .find(|s| s.index == index)
        .ok_or_else(|| errors::shard_not_found(&shard_id(index), stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_arns() {
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s1"),
            Some(StreamArn { region: "us-east-1", account: "000000000000", name: "s1" })
        );
        assert_eq!(parse_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s1/consumer/c:1"), None);
        assert_eq!(parse_stream_arn("arn:aws:sqs:us-east-1:000000000000:stream/s1"), None);
        assert_eq!(parse_stream_arn("nope"), None);
    }
}
