//! Tags, through both APIs: the stream ones (AddTagsToStream, RemoveTagsFromStream,
//! ListTagsForStream) and the ARN ones (TagResource, UntagResource, ListTagsForResource).
//! Both read and write the same tag set. The ARN ones also tag enhanced fan-out consumers.

use kinesin_wire::value::Key;
use kinesin_wire::{ApiError, Value};

use crate::resource::Resource;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// A stream or consumer carries at most 50 tags.
const MAX_TAGS: usize = 50;

/// Tag pairs from a `Tags` map member.
pub fn parse_tags(entries: &[(Key, Value)]) -> Vec<(String, String)> {
    entries.iter().map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_owned())).collect()
}

/// Rejects tag sets AWS would reject: bad characters, or more than 50 tags once merged. `kind`
/// (`stream` or `consumer`) and `name` say what the tags are for. AWS's messages are known for
/// streams; for consumers no wording is recorded, so they are the stream messages with the
/// resource word swapped.
pub fn check_tag_limit(
    kind: &str,
    name: &str,
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
            "Failed to add tags to {kind} {name} under account {account} because some tags contained illegal \
             characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'."
        )));
    }
    let added = new.iter().filter(|(k, _)| !existing.iter().any(|(e, _)| e == k)).count();
    if existing.len() + added > MAX_TAGS {
        return Err(ApiError::invalid_argument(format!(
            "Failed to add tags to {kind} {name} under account {account} because a given {kind} cannot have \
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

fn tag_values(tags: impl Iterator<Item = (String, String)>) -> Vec<Value> {
    tags.map(|(k, v)| Value::object().with("Key", k).with("Value", v)).collect()
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    async fn add_tags(&self, target: &Resource, input: &Value) -> Result<Value, ApiError> {
        let new = parse_tags(input.map("Tags").unwrap_or_default());
        check_tag_limit(target.kind(), target.name(), &target.stream.account, target.tags(), &new)?;
        self.persist(target.changed(|tags, _| merge(tags, new))).await?;
        Ok(Value::Null)
    }

    async fn remove_tags(&self, target: &Resource, input: &Value) -> Result<Value, ApiError> {
        let keys: Vec<&str> =
            input.list("TagKeys").unwrap_or_default().iter().filter_map(Value::as_str).collect();
        self.persist(target.changed(|tags, _| tags.retain(|(k, _)| !keys.contains(&k.as_str())))).await?;
        Ok(Value::Null)
    }

    pub(crate) async fn add_tags_to_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        self.add_tags(&Resource::stream(stream), input).await
    }

    pub(crate) async fn tag_resource(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let target = self.resolve_resource(ctx, input)?;
        self.add_tags(&target, input).await
    }

    pub(crate) async fn remove_tags_from_stream(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        self.remove_tags(&Resource::stream(stream), input).await
    }

    pub(crate) async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let target = self.resolve_resource(ctx, input)?;
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
        let target = self.resolve_resource(ctx, input)?;
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
        assert!(check_tag_limit("stream", "s", "a", &pairs(49), &pairs(50)).is_ok());
        assert!(check_tag_limit("stream", "s", "a", &pairs(50), &[("new".into(), "v".into())]).is_err());
    }

    #[test]
    fn rejects_bad_characters() {
        let err = check_tag_limit("stream", "s", "a", &[], &[("a*b".into(), "v".into())]).unwrap_err();
        assert!(err.message.unwrap().starts_with("Some tags contain invalid characters"));
        let err = check_tag_limit("stream", "s", "a", &[], &[("a%b".into(), "v".into())]).unwrap_err();
        assert!(err.message.unwrap().contains("illegal characters"));
        assert!(check_tag_limit("stream", "s", "a", &[], &[("Ünïcode key_1/=+-@:".into(), "va lue".into())])
            .is_ok());
    }
}
