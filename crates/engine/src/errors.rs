//! The operation-level error messages AWS sends, in one place so every operation words them
//! the same way.

use kinesin_wire::shard_id::shard_id;
use kinesin_wire::ApiError;

use crate::model::{StreamMeta, StreamStatus};

pub fn stream_not_found(name: &str, account: &str) -> ApiError {
    ApiError::resource_not_found(format!("Stream {name} under account {account} not found."))
}

/// CreateStream of a name the account already uses in the region.
pub fn stream_exists(name: &str, account: &str) -> ApiError {
    ApiError::resource_in_use(format!("Stream {name} under account {account} already exists."))
}

pub fn stream_not_active(stream: &StreamMeta) -> ApiError {
    ApiError::resource_in_use(format!(
        "Stream {} under account {} not ACTIVE, instead in state {}",
        stream.name,
        stream.account,
        stream.status.as_str()
    ))
}

/// Changes that need the stream ACTIVE refuse it otherwise.
pub fn require_active(stream: &StreamMeta) -> Result<(), ApiError> {
    match stream.status {
        StreamStatus::Active => Ok(()),
        _ => Err(stream_not_active(stream)),
    }
}

/// A shard the reading operations (GetShardIterator, GetRecords, SubscribeToShard) cannot find,
/// in a stream that may no longer exist.
pub fn shard_not_found(index: u32, stream_name: &str, account: &str) -> ApiError {
    ApiError::resource_not_found(format!(
        "Shard {} in stream {stream_name} under account {account} does not exist",
        shard_id(index)
    ))
}

/// A shard id that names no shard, as SplitShard and MergeShards word it (and every operation
/// for an id that does not read as one): `shard` is the normalised id, or the id as sent when
/// it does not read (docs/protocol/corners.md, "Which check comes first").
pub fn could_not_find_shard(shard: &str, stream_name: &str, account: &str) -> ApiError {
    ApiError::resource_not_found(format!(
        "Could not find shard {shard} in stream {stream_name} under account {account}."
    ))
}

/// More open shards than the account may have.
pub fn shard_limit_exceeded(ctx: &crate::RequestContext, open: u32, limit: u32, added: u32) -> ApiError {
    ApiError::limit_exceeded(format!(
        "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: \
         {open}. Limit: {limit}. Number of additional shards that would have resulted from this request: {added}. \
         Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) \
         for current limits and how to request higher limits.",
        ctx.account, ctx.region
    ))
}

/// Streams, and consumers, an account may have CREATING at once (`docs/protocol/operations.md`,
/// "Status and timing").
pub const MAX_CREATING: usize = 5;

/// A create while the account already has [`MAX_CREATING`] `things` ("streams", "consumers") in
/// CREATING. AWS's wording is not recorded; this follows the other limit messages.
pub fn too_many_creating(things: &str, account: &str) -> ApiError {
    ApiError::limit_exceeded(format!(
        "Account {account} already has {MAX_CREATING} {things} in CREATING state, the most an account can \
         have at once."
    ))
}

pub fn invalid_shard_iterator() -> ApiError {
    ApiError::invalid_argument("Invalid ShardIterator.")
}

/// The date format of AWS's iterator-expiry message, e.g. `Thu Jan 22 01:22:02 UTC 2015`.
pub fn aws_date(epoch_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (year, month, day) = kinesin_sigv4::date::civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        year
    )
}

/// Operations of the model this server does not serve yet.
pub fn not_implemented(op: kinesin_wire::Operation) -> ApiError {
    ApiError::new(
        "UnknownOperationException",
        format!("{} is not supported by this kinesin server yet.", op.name()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_like_aws() {
        assert_eq!(aws_date(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
        assert_eq!(aws_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(aws_date(1_709_164_800_000), "Thu Feb 29 00:00:00 UTC 2024");
    }
}
