//! ListShards, every page: the stream's shards, closed ones included, oldest first.

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kinesis::types::Shard;
use aws_sdk_kinesis::Client;

/// Every shard of `stream`; the error is the service's code and message.
pub(crate) async fn list_shards(client: &Client, stream: &str) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut next_token = None;
    loop {
        // A call with a NextToken must not name the stream.
        let call = match &next_token {
            Some(token) => client.list_shards().next_token(token),
            None => client.list_shards().stream_name(stream),
        };
        let page = call.send().await.map_err(describe_error)?;
        shards.extend(page.shards.unwrap_or_default());
        next_token = page.next_token;
        if next_token.is_none() {
            return Ok(shards);
        }
    }
}

/// An SDK error as `Code: message`, or the whole error context when the service gave no code.
pub(crate) fn describe_error<E, R>(e: aws_sdk_kinesis::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
        None => DisplayErrorContext(e).to_string(),
    }
}
