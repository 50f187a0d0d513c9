//! Finding the stream (and shard) a request names, by StreamName, StreamARN or both.

use std::sync::Arc;

pub use kinesin_wire::shard_id::{parse_shard_id, shard_id};
use kinesin_wire::{ApiError, Value};

use crate::errors;
use crate::model::{ShardMeta, StreamMeta};
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
        self.resolve_stream_or(ctx, input, errors::stream_not_found)
    }

    /// Like [`Self::resolve_stream`], answering `not_found(name, account)` when there is no
    /// such stream.
    pub(crate) fn resolve_stream_or(
        &self,
        ctx: &RequestContext,
        input: &Value,
        not_found: impl FnOnce(&str, &str) -> ApiError,
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
                    return Err(not_found(parsed.name, parsed.account));
                }
                parsed.name
            }
        };
        self.registry()
            .by_name(&ctx.account, &ctx.region, name)
            .cloned()
            .ok_or_else(|| not_found(name, &ctx.account))
    }

    /// Like [`Self::resolve_stream`], for changes that need the stream ACTIVE.
    pub(crate) fn resolve_active_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Arc<StreamMeta>, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        errors::require_active(&stream)?;
        Ok(stream)
    }
}

/// The stream name a request gives (StreamName, else the name inside StreamARN), for the
/// messages of checks made before the stream is looked up.
pub fn requested_stream_name(input: &Value) -> &str {
    let from_arn =
        || input.str("StreamARN").map(|arn| parse_stream_arn(arn).map_or(arn, |parsed| parsed.name));
    input.str("StreamName").or_else(from_arn).unwrap_or_default()
}

/// The shard index a shard-id member names, aliases included; an id that does not read as one
/// is not found, whether or not the stream exists (docs/protocol/corners.md, "Shard-id
/// aliases" and "Which check comes first").
pub fn requested_shard(sent: &str, stream_name: &str, account: &str) -> Result<u32, ApiError> {
    parse_shard_id(sent).ok_or_else(|| errors::could_not_find_shard(sent, stream_name, account))
}

/// How an operation words a shard id that reads as an index but names none of the stream's
/// shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingShard {
    /// `Shard <id> in stream … does not exist`: GetShardIterator and SubscribeToShard.
    DoesNotExist,
    /// `Could not find shard <id> in stream ….`: SplitShard and MergeShards.
    CouldNotFind,
}

/// The shard with `index`, among those clients can see (none while the stream is CREATING).
pub fn find_shard(stream: &StreamMeta, index: u32, missing: MissingShard) -> Result<&ShardMeta, ApiError> {
    stream.visible_shard(index).ok_or_else(|| match missing {
        MissingShard::DoesNotExist => errors::shard_not_found(index, &stream.name, &stream.account),
        MissingShard::CouldNotFind => {
            errors::could_not_find_shard(&shard_id(index), &stream.name, &stream.account)
        }
    })
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

    #[test]
    fn the_requested_stream_name_comes_from_the_name_or_the_arn() {
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s1";
        assert_eq!(requested_stream_name(&Value::object().with("StreamARN", arn)), "s1");
        assert_eq!(
            requested_stream_name(&Value::object().with("StreamName", "s2").with("StreamARN", arn)),
            "s2"
        );
        assert_eq!(requested_stream_name(&Value::object().with("StreamARN", "odd")), "odd");
    }

    #[test]
    fn missing_shards_are_worded_per_operation() {
        let message = |stream: &StreamMeta, index, missing| {
            find_shard(stream, index, missing).map(|s| s.index).map_err(|e| e.message.unwrap_or_default())
        };
        let mut stream = crate::model::test_stream(3);
        assert_eq!(message(&stream, 2, MissingShard::DoesNotExist), Ok(2));
        assert_eq!(
            message(&stream, 5, MissingShard::DoesNotExist),
            Err("Shard shardId-000000000005 in stream s under account 000000000000 does not exist".into())
        );
        assert_eq!(
            message(&stream, 5, MissingShard::CouldNotFind),
            Err("Could not find shard shardId-000000000005 in stream s under account 000000000000.".into())
        );
        // A CREATING stream has none yet.
        stream.status = crate::model::StreamStatus::Creating;
        assert!(message(&stream, 0, MissingShard::CouldNotFind).is_err());
        assert_eq!(
            requested_shard("2147483648", "nosuch", "000000000000")
                .map_err(|e| e.message.unwrap_or_default()),
            Err("Could not find shard 2147483648 in stream nosuch under account 000000000000.".into())
        );
    }
}
