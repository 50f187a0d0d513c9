//! Tags, through both APIs: the stream ones (AddTagsToStream, RemoveTagsFromStream,
//! ListTagsForStream) and the ARN ones (TagResource, UntagResource, ListTagsForResource).
//! Both read and write the same tag set. The ARN ones also tag enhanced fan-out consumers.

use std::sync::LazyLock;

use kinesin_wire::value::Key;
use kinesin_wire::{ApiError, Value};
use regex::Regex;

use crate::resource::Resource;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// A stream or consumer carries at most 50 tags.
const MAX_TAGS: usize = 50;

/// Tag pairs from a `Tags` map member.
pub fn parse_tags(entries: &[(Key, Value)]) -> Vec<(String, String)> {
    entries.iter().map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_owned())).collect()
}

/// Tag keys and values hold Unicode letters, digits and separators (the space character and its
/// kin, but not tabs or newlines) and `_ . / = + - @ : %`; `%` is then refused on its own
/// (docs/protocol/corners.md, "Tags").
static TAG_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}\p{Z}_./=+\-@:%]*$").expect("the tag pattern compiles"));

/// What a request does with tags, as AWS's messages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagChange {
    Add,
    Remove,
}

impl TagChange {
    fn verb(self) -> &'static str {
        match self {
            TagChange::Add => "add tags to",
            TagChange::Remove => "remove tags from",
        }
    }
}

/// Refuses tag keys or values with characters AWS refuses, with its two messages, which list
/// neither `:` (accepted all the same) nor, in the second, `%` and digits. `kind` (`stream` or
/// `consumer`) and `name` say what the tags are for; AWS's wording is known for streams, and
/// for consumers the resource word is swapped.
pub fn check_tag_characters<'a>(
    texts: impl Iterator<Item = &'a str> + Clone,
    change: TagChange,
    (kind, name, account): (&str, &str, &str),
) -> Result<(), ApiError> {
    if !texts.clone().all(|text| TAG_TEXT.is_match(text)) {
        return Err(ApiError::invalid_argument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, \
             _ . / = + - % @.",
        ));
    }
    if texts.clone().any(|text| text.contains('%')) {
        return Err(ApiError::invalid_argument(format!(
            "Failed to {} {kind} {name} under account {account} because some tags contained illegal \
             characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
            change.verb()
        )));
    }
    Ok(())
}

/// Refuses tags to add that AWS would refuse: bad characters, or more than 50 tags once
/// merged with `existing`.
pub fn check_new_tags(
    kind: &str,
    name: &str,
    account: &str,
    existing: &[(String, String)],
    new: &[(String, String)],
) -> Result<(), ApiError> {
    let texts = new.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    check_tag_characters(texts, TagChange::Add, (kind, name, account))?;
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
        let account = &target.stream.account;
        self.update_stream(&target.stream, |meta| {
            target.change(meta, |tags, _| {
                check_new_tags(target.kind(), target.name(), account, tags, &new)?;
                merge(tags, new.clone());
                Ok(())
            })
        })
        .await?;
        Ok(Value::Null)
    }

    async fn remove_tags(&self, target: &Resource, input: &Value) -> Result<Value, ApiError> {
        let keys: Vec<&str> =
            input.list("TagKeys").unwrap_or_default().iter().filter_map(Value::as_str).collect();
        let about = (target.kind(), target.name(), target.stream.account.as_str());
        check_tag_characters(keys.iter().copied(), TagChange::Remove, about)?;
        self.update_stream(&target.stream, |meta| {
            target.change(meta, |tags, _| {
                tags.retain(|(k, _)| !keys.contains(&k.as_str()));
                Ok(())
            })
        })
        .await?;
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
        assert!(check_new_tags("stream", "s", "a", &pairs(49), &pairs(50)).is_ok());
        assert!(check_new_tags("stream", "s", "a", &pairs(50), &[("new".into(), "v".into())]).is_err());
    }

    fn characters(text: &str, change: TagChange) -> Result<(), String> {
        check_tag_characters([text].into_iter(), change, ("stream", "s3", "000000000000"))
            .map_err(|e| e.message.unwrap_or_default())
    }

    #[test]
    fn white_space_is_the_space_character_not_tabs_or_newlines() {
        const INVALID: &str =
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, \
                               white space, _ . / = + - % @.";
        for ok in ["Ünïcode key_1/=+-@:", "va lue", "no\u{a0}break", "ideographic\u{3000}space", "٣", ""] {
            assert_eq!(characters(ok, TagChange::Add), Ok(()), "{ok:?}");
        }
        for bad in ["abc\tdef", "abc\ndef", "abc\rdef", "abc;def", "abc,def", "a*b", "\u{301}"] {
            assert_eq!(characters(bad, TagChange::Add), Err(INVALID.into()), "{bad:?}");
            assert_eq!(characters(bad, TagChange::Remove), Err(INVALID.into()), "{bad:?}");
        }
    }

    #[test]
    fn percent_gets_its_own_message_per_change() {
        let allowed = "because some tags contained illegal characters. The allowed characters are Unicode \
                       letters, white-spaces, '_',',','/','=','+','-','@'.";
        assert_eq!(
            characters("abc%def", TagChange::Add),
            Err(format!("Failed to add tags to stream s3 under account 000000000000 {allowed}"))
        );
        assert_eq!(
            characters("abc%def", TagChange::Remove),
            Err(format!("Failed to remove tags from stream s3 under account 000000000000 {allowed}"))
        );
    }
}
