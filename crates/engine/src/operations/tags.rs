//! Tags, through both APIs: the stream ones (AddTagsToStream, RemoveTagsFromStream,
//! ListTagsForStream) and the ARN ones (TagResource, UntagResource, ListTagsForResource).
//! Both read and write the same tag set. The ARN ones also tag enhanced fan-out consumers.

use std::sync::Arc;

use kinesin_wire::{ApiError, Value};

use crate::consumers::parse_consumer_arn;
use crate::lookup::parse_stream_arn;
use crate::model::StreamMeta;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// A stream carries at most 50 tags.
const MAX_TAGS: usize = 50;

/// Tag pairs from a `Tags` map member.
pub fn parse_tags(entries: &[(String, Value)]) -> Vec<(String, String)> {
    entries.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
}

/// Rejects tag sets AWS would reject: bad characters, or more than 50 tags once merged.
pub fn check_tag_limit(
    stream_name: &str,
    account: &str,
    existing: &[(String, String)],
    new: &[(String, String)],
) -> Result<(), ApiError> {
    let texts = || new.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_./=+-%@:".contains(c);
    if texts().any(|t| !t.chars().all(allowed)) {
        return Err(ApiError::invalid_argument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, \
             _ . / = + - % @ :.",
        ));
    }
    if texts().any(|t| t.contains('%')) {
        return Err(ApiError::invalid_argument(format!(
            "Failed to add tags to stream {stream_name} under account {account} because some tags contained illegal \
             characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'."
        )));
    }
    let added = new.iter().filter(|(k, _)| !existing.iter().any(|(e, _)| e == k)).count();
    if existing.len() + added > MAX_TAGS {
        return Err(ApiError::invalid_argument(format!(
            "Failed to add tags to stream {stream_name} under account {account} because a given stream cannot have \
             more than {MAX_TAGS} tags associated with it."
        )));
    }
    Ok(())
}

fn merge(tags: &mut Vec<(String, String)>, new: Vec<(String, String)>) {
    for (key, value) in new {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => tags.push((key, value)),
        }
    }
}

/// Tags sorted by key, as the listing operations return them.
fn sorted(tags: &[(String, String)]) -> Vec<(String, String)> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags
}

/// What a tag operation works on: a stream, or one of its consumers.
struct Tagged {
    stream: Arc<StreamMeta>,
    /// The consumer's name, when a consumer ARN was given.
    consumer: Option<String>,
}

impl Tagged {
    fn stream(stream: Arc<StreamMeta>) -> Tagged {
        Tagged { stream, consumer: None }
    }

    fn tags(&self) -> &[(String, String)] {
        match &self.consumer {
            Some(name) => {
                &self.stream.consumers.iter().find(|c| &c.name == name).expect("resolved consumer").tags
            }
            None => &self.stream.tags,
        }
    }

    /// The stream's metadata with `change` applied to the tags.
    fn changed(&self, change: impl FnOnce(&mut Vec<(String, String)>)) -> StreamMeta {
        let mut meta = (*self.stream).clone();
        match &self.consumer {
            Some(name) => change(
                &mut meta.consumers.iter_mut().find(|c| &c.name == name).expect("resolved consumer").tags,
            ),
            None => change(&mut meta.tags),
        }
        meta
    }
}

fn tag_values(tags: impl Iterator<Item = (String, String)>) -> Vec<Value> {
    tags.map(|(k, v)| Value::object().with("Key", k).with("Value", v)).collect()
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The stream a `ResourceARN` names.
    pub(crate) fn resolve_resource(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Arc<StreamMeta>, ApiError> {
        let arn = input.str("ResourceARN").unwrap_or_default();
        if parse_stream_arn(arn).is_none() {
            return Err(ApiError::resource_not_found(format!(
                "Resource {arn} under account {} not found.",
                ctx.account
            )));
        }
        self.resolve_stream(ctx, &Value::object().with("StreamARN", arn))
    }

    /// The stream or consumer a `ResourceARN` names, for tagging.
    fn resolve_tagged(&self, ctx: &RequestContext, input: &Value) -> Result<Tagged, ApiError> {
        let arn = input.str("ResourceARN").unwrap_or_default();
        if parse_consumer_arn(arn).is_none() {
            return self.resolve_resource(ctx, input).map(Tagged::stream);
        }
        let (stream, consumer) = self.consumer_by_arn(ctx, arn)?;
        Ok(Tagged { stream, consumer: Some(consumer.name) })
    }

    async fn add_tags(&self, target: &Tagged, input: &Value) -> Result<Value, ApiError> {
        let new = parse_tags(input.map("Tags").unwrap_or_default());
        check_tag_limit(&target.stream.name, &target.stream.account, target.tags(), &new)?;
        self.persist(target.changed(|tags| merge(tags, new))).await?;
        Ok(Value::Null)
    }

    async fn remove_tags(&self, target: &Tagged, input: &Value) -> Result<Value, ApiError> {
        let keys: Vec<&str> =
            input.list("TagKeys").unwrap_or_default().iter().filter_map(Value::as_str).collect();
        self.persist(target.changed(|tags| tags.retain(|(k, _)| !keys.contains(&k.as_str())))).await?;
        Ok(Value::Null)
    }

    pub(crate) async fn add_tags_to_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        self.add_tags(&Tagged::stream(stream), input).await
    }

    pub(crate) async fn tag_resource(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let target = self.resolve_tagged(ctx, input)?;
        self.add_tags(&target, input).await
    }

    pub(crate) async fn remove_tags_from_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        self.remove_tags(&Tagged::stream(stream), input).await
    }

    pub(crate) async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let target = self.resolve_tagged(ctx, input)?;
        self.remove_tags(&target, input).await
    }

    pub(crate) fn list_tags_for_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        let limit = input.int("Limit").map_or(MAX_TAGS, |l| l as usize);
        let start = input.str("ExclusiveStartTagKey");
        let mut tags = sorted(&stream.tags).into_iter().filter(|(k, _)| start.is_none_or(|s| k.as_str() > s));
        let page: Vec<_> = tags.by_ref().take(limit).collect();
        let has_more = tags.next().is_some();
        Ok(Value::object().with("Tags", tag_values(page.into_iter())).with("HasMoreTags", has_more))
    }

    pub(crate) fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let target = self.resolve_tagged(ctx, input)?;
        Ok(Value::object().with("Tags", tag_values(sorted(target.tags()).into_iter())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), "v".to_owned())).collect()
    }

    #[test]
    fn limits_tags_to_fifty_counting_overwrites_once() {
        assert!(check_tag_limit("s", "a", &pairs(49), &pairs(50)).is_ok());
        assert!(check_tag_limit("s", "a", &pairs(50), &[("new".into(), "v".into())]).is_err());
    }

    #[test]
    fn rejects_bad_characters() {
        let err = check_tag_limit("s", "a", &[], &[("a*b".into(), "v".into())]).unwrap_err();
        assert!(err.message.unwrap().starts_with("Some tags contain invalid characters"));
        let err = check_tag_limit("s", "a", &[], &[("a%b".into(), "v".into())]).unwrap_err();
        assert!(err.message.unwrap().contains("illegal characters"));
        assert!(check_tag_limit("s", "a", &[], &[("Ünïcode key_1/=+-@:".into(), "va lue".into())]).is_ok());
    }
}
