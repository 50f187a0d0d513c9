//! Finding the stream (and shard) a request names, by StreamName, StreamARN or both.

use std::sync::Arc;

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

const SHARD_ID_PREFIX: &str = "shardId-";

/// `shardId-000000000007` → 7. Like AWS, the zero padding is not required.
pub fn parse_shard_id(shard_id: &str) -> Option<u32> {
    let digits = shard_id.strip_prefix(SHARD_ID_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|i| *i <= i32::MAX as u32)
}

/// `7` → `shardId-000000000007`. Written by hand: every record a PutRecords puts is answered
/// with one, and `format!` with padding costs several times as much.
pub fn shard_id(index: u32) -> String {
    // Twelve digits hold any u32 (at most ten), so the padding is never cut.
    let mut id = *b"shardId-000000000000";
    let mut rest = index;
    for digit in id[SHARD_ID_PREFIX.len()..].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    String::from_utf8(id.to_vec()).expect("ASCII")
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

    #[test]
    fn parses_shard_ids() {
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("shardId-7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("7"), None);
        assert_eq!(shard_id(12), "shardId-000000000012");
        assert_eq!(shard_id(0), "shardId-000000000000");
        assert_eq!(shard_id(u32::MAX), "shardId-004294967295");
    }
}
