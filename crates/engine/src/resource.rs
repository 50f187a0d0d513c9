//! The resource a `ResourceARN` names (tags and resource policies): a stream, or one of its
//! enhanced fan-out consumers, each with its own tags and policy.

use std::sync::Arc;

use kinesin_wire::{ApiError, Value};

use crate::consumers::{consumer_arn, consumer_not_found, parse_consumer_arn};
use crate::lookup::parse_stream_arn;
use crate::model::{ConsumerMeta, StreamMeta};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

pub(crate) struct Resource {
    pub stream: Arc<StreamMeta>,
    /// The consumer's name, when a consumer ARN was given.
    consumer: Option<String>,
}

impl Resource {
    pub fn stream(stream: Arc<StreamMeta>) -> Resource {
        Resource { stream, consumer: None }
    }

    fn consumer(&self) -> Option<&ConsumerMeta> {
        let name = self.consumer.as_ref()?;
        Some(self.stream.consumers.iter().find(|c| &c.name == name).expect("resolved consumer"))
    }

    /// `stream` or `consumer`, as messages name the resource.
    pub fn kind(&self) -> &'static str {
        if self.consumer.is_some() {
            "consumer"
        } else {
            "stream"
        }
    }

    pub fn name(&self) -> &str {
        self.consumer.as_deref().unwrap_or(&self.stream.name)
    }

    pub fn arn(&self) -> String {
        match self.consumer() {
            Some(consumer) => consumer_arn(&self.stream, consumer),
            None => self.stream.arn(),
        }
    }

    pub fn tags(&self) -> &[(String, String)] {
        self.consumer().map_or(&self.stream.tags, |c| &c.tags)
    }

    pub fn policy(&self) -> Option<&str> {
        self.consumer().map_or(self.stream.resource_policy.as_deref(), |c| c.resource_policy.as_deref())
    }

    /// Applies `change` to the resource's tags and policy in `meta` (a version of its
    /// stream, for `Engine::update_stream`). A consumer deregistered meanwhile is not found.
    pub fn change<T>(
        &self,
        meta: &mut StreamMeta,
        change: impl FnOnce(&mut Vec<(String, String)>, &mut Option<String>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match &self.consumer {
            Some(name) => {
                let arn = self.arn();
                let consumer = meta
                    .consumers
                    .iter_mut()
                    .find(|c| &c.name == name)
                    .ok_or_else(|| consumer_not_found(&arn, &self.stream.account))?;
                change(&mut consumer.tags, &mut consumer.resource_policy)
            }
            None => change(&mut meta.tags, &mut meta.resource_policy),
        }
    }
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The stream or consumer a `ResourceARN` names.
    pub(crate) fn resolve_resource(&self, ctx: &RequestContext, input: &Value) -> Result<Resource, ApiError> {
        let arn = input.str("ResourceARN").unwrap_or_default();
        if parse_consumer_arn(arn).is_some() {
            let (stream, consumer) = self.consumer_by_arn(ctx, arn)?;
            return Ok(Resource { stream, consumer: Some(consumer.name) });
        }
        if parse_stream_arn(arn).is_none() {
            return Err(ApiError::resource_not_found(format!(
                "Resource {arn} under account {} not found.",
                ctx.account
            )));
        }
        self.resolve_stream(ctx, &Value::object().with("StreamARN", arn)).map(Resource::stream)
    }
}
