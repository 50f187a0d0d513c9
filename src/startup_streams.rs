//! Streams created at start-up (`--create-stream NAME[:SHARDS[:MODE]]` and the config file's
//! `[[streams]]` tables), so that a CI job or a compose file needs no set-up script.
//!
//! A stream that exists is left as it is, whatever the spec says: restarts are idempotent, and
//! changes made through the API since are not undone. A missing one is made through the
//! engine's own operations (CreateStream, IncreaseStreamRetentionPeriod,
//! RegisterStreamConsumer), each request type-checked and validated as if it came over the
//! wire, so every rule applies and a bad spec fails with AWS's message. Each step waits for the
//! stream (or consumer) to be ACTIVE, so that the streams are usable once the server says it
//! is listening.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use kinesin_engine::{Api, Reply, RequestContext};
use kinesin_wire::{decode, ApiError, Format, Operation, Value};
use serde_json::json;

/// Shards of a provisioned stream whose spec names no count.
const DEFAULT_SHARDS: u32 = 1;
/// The retention CreateStream gives a stream; a spec's other value is set after creation.
const DEFAULT_RETENTION_HOURS: u32 = 24;
/// How often the status of a stream or consumer being made is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// One stream to have at start-up: a `[[streams]]` table, or a `--create-stream` value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    pub name: String,
    /// Provisioned streams only (1 if not given).
    pub shards: Option<u32>,
    #[serde(default)]
    pub mode: Mode,
    pub retention_hours: Option<u32>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Enhanced fan-out consumers to register.
    #[serde(default)]
    pub consumers: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Provisioned,
    OnDemand,
}

impl FromStr for StreamSpec {
    type Err = String;

    /// `NAME`, `NAME:SHARDS`, `NAME:SHARDS:MODE` or `NAME::on-demand`.
    fn from_str(text: &str) -> Result<StreamSpec, String> {
        let usage = "expected NAME[:SHARDS[:MODE]], as in orders, orders:4 or clicks::on-demand";
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let shards = parts.next().filter(|s| !s.is_empty());
        let mode = parts.next();
        if name.is_empty() || parts.next().is_some() {
            return Err(usage.to_owned());
        }
        let shards = match shards {
            Some(n) => Some(n.parse().map_err(|_| format!("SHARDS must be a number; {usage}"))?),
            None => None,
        };
        let mode = match mode {
            None | Some("provisioned") => Mode::Provisioned,
            Some("on-demand") => Mode::OnDemand,
            Some(_) => return Err(format!("MODE must be provisioned or on-demand; {usage}")),
        };
        Ok(StreamSpec {
            name: name.to_owned(),
            shards,
            mode,
            retention_hours: None,
            tags: BTreeMap::new(),
            consumers: Vec::new(),
        })
    }
}

/// Makes every stream of `specs` that does not exist yet, in `ctx`'s account and region.
pub async fn ensure(api: &dyn Api, ctx: &RequestContext, specs: &[StreamSpec]) -> Result<(), String> {
    if let Some(name) = first_duplicate(specs) {
        return Err(format!("stream {name} is listed twice among the streams to create at start-up"));
    }
    for spec in specs {
        let created = ensure_one(api, ctx, spec).await.map_err(|e| {
            format!(
                "cannot create the start-up stream {} (account {}, {}): {e}",
                spec.name, ctx.account, ctx.region
            )
        })?;
        if created {
            tracing::info!(stream = spec.name, "created at start-up");
        }
    }
    Ok(())
}

fn first_duplicate(specs: &[StreamSpec]) -> Option<&str> {
    specs.iter().enumerate().find_map(|(i, spec)| {
        specs[..i].iter().any(|earlier| earlier.name == spec.name).then_some(spec.name.as_str())
    })
}

/// Whether the stream had to be made.
async fn ensure_one(api: &dyn Api, ctx: &RequestContext, spec: &StreamSpec) -> Result<bool, ApiError> {
    let name = &spec.name;
    let summary = call(api, ctx, Operation::DescribeStreamSummary, json!({ "StreamName": name })).await;
    match summary {
        Ok(_) => return Ok(false),
        Err(e) if e.code == "ResourceNotFoundException" => {}
        Err(e) => return Err(e),
    }
    let mut create = json!({ "StreamName": name });
    match spec.mode {
        Mode::Provisioned => create["ShardCount"] = json!(spec.shards.unwrap_or(DEFAULT_SHARDS)),
        Mode::OnDemand => {
            create["StreamModeDetails"] = json!({ "StreamMode": "ON_DEMAND" });
            if let Some(shards) = spec.shards {
                // Refused, in AWS's words.
                create["ShardCount"] = json!(shards);
            }
        }
    }
    if !spec.tags.is_empty() {
        create["Tags"] = json!(spec.tags);
    }
    call(api, ctx, Operation::CreateStream, create).await?;
    wait_for_stream(api, ctx, name).await?;
    if let Some(hours) = spec.retention_hours.filter(|h| *h != DEFAULT_RETENTION_HOURS) {
        let change = json!({ "StreamName": name, "RetentionPeriodHours": hours });
        let op = if hours > DEFAULT_RETENTION_HOURS {
            Operation::IncreaseStreamRetentionPeriod
        } else {
            Operation::DecreaseStreamRetentionPeriod
        };
        call(api, ctx, op, change).await?;
        wait_for_stream(api, ctx, name).await?;
    }
    if !spec.consumers.is_empty() {
        let described =
            call(api, ctx, Operation::DescribeStreamSummary, json!({ "StreamName": name })).await?;
        let arn =
            described.get("StreamDescriptionSummary").and_then(|s| s.str("StreamARN")).unwrap_or_default();
        for consumer in &spec.consumers {
            let register = json!({ "StreamARN": arn, "ConsumerName": consumer });
            call(api, ctx, Operation::RegisterStreamConsumer, register).await?;
        }
        for consumer in &spec.consumers {
            wait_for_consumer(api, ctx, arn, consumer).await?;
        }
    }
    Ok(true)
}

async fn wait_for_stream(api: &dyn Api, ctx: &RequestContext, name: &str) -> Result<(), ApiError> {
    let request = json!({ "StreamName": name });
    wait_until_active(
        api,
        ctx,
        Operation::DescribeStreamSummary,
        request,
        ("StreamDescriptionSummary", "StreamStatus"),
    )
    .await
}

async fn wait_for_consumer(
    api: &dyn Api,
    ctx: &RequestContext,
    arn: &str,
    name: &str,
) -> Result<(), ApiError> {
    let request = json!({ "StreamARN": arn, "ConsumerName": name });
    wait_until_active(
        api,
        ctx,
        Operation::DescribeStreamConsumer,
        request,
        ("ConsumerDescription", "ConsumerStatus"),
    )
    .await
}

/// Describes with `op` until the answer's `description.status` is `ACTIVE`.
async fn wait_until_active(
    api: &dyn Api,
    ctx: &RequestContext,
    op: Operation,
    request: serde_json::Value,
    (description, status): (&str, &str),
) -> Result<(), ApiError> {
    loop {
        let described = call(api, ctx, op, request.clone()).await?;
        if described.get(description).and_then(|d| d.str(status)) == Some("ACTIVE") {
            return Ok(());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One operation, its input type-checked and validated as the front door does for a request.
async fn call(
    api: &dyn Api,
    ctx: &RequestContext,
    op: Operation,
    input: serde_json::Value,
) -> Result<Value, ApiError> {
    let body = input.to_string();
    let input = decode::parse(Some(op), Format::Json, body.as_bytes())?.check_types(op)?;
    input.validate(op)?;
    match api.handle(ctx, op, input).await? {
        Reply::Value(value) => Ok(value),
        _ => Err(ApiError::internal_failure()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_specs() {
        let spec = |text: &str| StreamSpec::from_str(text);
        let plain = spec("orders").unwrap();
        assert_eq!((plain.name.as_str(), plain.shards, plain.mode), ("orders", None, Mode::Provisioned));
        assert_eq!(spec("orders:4").unwrap().shards, Some(4));
        let on_demand = spec("clicks::on-demand").unwrap();
        assert_eq!((on_demand.shards, on_demand.mode), (None, Mode::OnDemand));
        assert_eq!(spec("a:2:provisioned").unwrap().mode, Mode::Provisioned);
        for bad in ["", ":3", "a:x", "a:1:fast", "a:1:provisioned:more"] {
            let error = spec(bad).unwrap_err();
            assert!(error.contains("NAME[:SHARDS[:MODE]]"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn a_name_listed_twice_is_found() {
        let specs: Vec<StreamSpec> = ["a", "b", "a:2"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(first_duplicate(&specs), Some("a"));
        assert_eq!(first_duplicate(&specs[..2]), None);
    }
}
