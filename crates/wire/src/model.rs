//! The API model (`model/kinesis-service-2.json`), read once into a compact shape table.
//!
//! Shapes are numbered and every reference (structure member, list member, map key/value,
//! operation input) is resolved to a [`ShapeId`] at load time, so the hot paths of decoding
//! and validation never look a shape up by name. Patterns are compiled once.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

use crate::raw::Raw;
use crate::Operation;

const MODEL_JSON: &str = include_str!("../model/kinesis-service-2.json");

/// Index into [`Model::shape`].
pub(crate) type ShapeId = usize;

pub(crate) struct Model {
    shapes: Vec<Shape>,
    /// Input structure of each operation, indexed by `Operation as usize`.
    inputs: Vec<ShapeId>,
    /// Every structure member's name.
    member_names: HashSet<String>,
}

pub(crate) struct Shape {
    pub name: String,
    pub kind: Kind,
    /// Minimum value (integer, long) or length (string, blob, list, map).
    pub min: Option<i64>,
    /// Maximum value (integer, long) or length (string, blob, list, map).
    pub max: Option<i64>,
    pub pattern: Option<Pattern>,
    /// Allowed values, in the order validation messages list them.
    pub enum_values: Option<Vec<String>>,
}

pub(crate) enum Kind {
    String,
    Integer,
    Long,
    Boolean,
    Blob,
    Timestamp,
    List { member: ShapeId },
    Map { key: ShapeId, value: ShapeId },
    Structure(Structure),
}

pub(crate) struct Structure {
    /// Members in model order.
    pub members: Vec<Member>,
    /// Indices into `members`, in the order validation reports them (`docs/protocol/validation.md`,
    /// "Member order").
    pub validation_order: Vec<usize>,
}

pub(crate) struct Member {
    /// The wire name, e.g. `StreamName`.
    pub name: String,
    /// The name in validation paths: first character lower-cased, e.g. `streamName`.
    pub path_name: String,
    pub shape: ShapeId,
    pub requirement: Requirement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requirement {
    Optional,
    Required,
    /// Required unless the member at this index (in `Structure::members`) is present.
    RequiredUnless(usize),
}

/// A model pattern: the text messages show and the compiled whole-value matcher.
pub(crate) struct Pattern {
    pub source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles `source` with Java `String.matches` semantics, which is what the service applies
    /// (`docs/protocol/validation.md`, "Patterns"): the whole value must match, and `\d`, `\s`,
    /// `\S`, `\w` are ASCII classes. Matching runs on UTF-8 bytes with Unicode classes off, so `\S`
    /// and negated classes accept each byte of a non-ASCII character, as Java accepts the
    /// character; CRLF mode keeps `.` from matching `\r` as well as `\n`.
    fn new(source: &str) -> Pattern {
        let regex = RegexBuilder::new(&format!("^(?:{source})$"))
            .unicode(false)
            .crlf(true)
            .build()
            .unwrap_or_else(|e| panic!("model pattern {source:?} does not compile: {e}"));
        Pattern { source: message_text(source).to_owned(), regex }
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value.as_bytes())
    }
}

/// The pattern as the service prints it. The SDK model has since wrapped the HashKey and
/// SequenceNumber patterns as `^(…)$`; AWS was observed to print the bare
/// `0|([1-9]\d{0,38})` (`docs/protocol/validation.md`, "Constraint texts"), and the wrapper
/// changes nothing under whole-value matching.
fn message_text(source: &str) -> &str {
    source.strip_prefix("^(").and_then(|s| s.strip_suffix(")$")).unwrap_or(source)
}

/// The enum order the service was observed to use in messages where it is not the model's
/// order (`docs/protocol/validation.md`, "Constraint texts").
const ENUM_MESSAGE_ORDER: &[(&str, &[&str])] = &[(
    "ShardIteratorType",
    &["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"],
)];

/// Member order of validation messages, per structure (`docs/protocol/validation.md`, "Member
/// order": each listed operation's input shape, plus the PutRecords entries). Members not listed
/// follow in model order; structures not listed use model order.
const VALIDATION_ORDER: &[(&str, &[&str])] = &[
    ("AddTagsToStreamInput", &["Tags", "StreamName"]),
    ("CreateStreamInput", &["ShardCount", "StreamName"]),
    ("IncreaseStreamRetentionPeriodInput", &["RetentionPeriodHours", "StreamName"]),
    ("DecreaseStreamRetentionPeriodInput", &["RetentionPeriodHours", "StreamName"]),
    ("DeleteStreamInput", &["StreamName"]),
    ("DescribeStreamSummaryInput", &["StreamName"]),
    ("DescribeStreamInput", &["Limit", "ExclusiveStartShardId", "StreamName"]),
    ("GetRecordsInput", &["Limit", "ShardIterator"]),
    (
        "GetShardIteratorInput",
        &["ShardId", "ShardIteratorType", "StartingSequenceNumber", "StreamName", "Timestamp"],
    ),
    (
        "ListShardsInput",
        &["ExclusiveStartShardId", "MaxResults", "NextToken", "StreamCreationTimestamp", "StreamName"],
    ),
    ("ListStreamsInput", &["Limit", "ExclusiveStartStreamName"]),
    ("ListTagsForStreamInput", &["Limit", "ExclusiveStartTagKey", "StreamName"]),
    ("MergeShardsInput", &["ShardToMerge", "AdjacentShardToMerge", "StreamName"]),
    (
        "PutRecordInput",
        &["SequenceNumberForOrdering", "PartitionKey", "ExplicitHashKey", "Data", "StreamName"],
    ),
    ("PutRecordsInput", &["Records", "StreamName"]),
    ("PutRecordsRequestEntry", &["PartitionKey", "ExplicitHashKey", "Data"]),
    ("RemoveTagsFromStreamInput", &["TagKeys", "StreamName"]),
    ("SplitShardInput", &["NewStartingHashKey", "StreamName", "ShardToSplit"]),
];

/// Inputs whose `StreamName` counts as required when `StreamARN` is absent.
///
/// The current model makes both optional ("use either the StreamARN or the StreamName parameter, or
/// both", `docs/protocol/operations.md`, "Identifying the stream"), but the observed validation
/// messages come from when `StreamName` was required: `{}` sent to AddTagsToStream reports `Value
/// null at 'streamName' ... Member must not be null` (`docs/protocol/validation.md`, "The
/// null-member rule"). These are the operations of the "Member order" table that identify a stream
/// by name, less ListShards, which is legitimately called with only a `NextToken`. A request naming
/// the stream by ARN alone passes.
const STREAM_NAME_REQUIRED_UNLESS_ARN: &[&str] = &[
    "AddTagsToStreamInput",
    "IncreaseStreamRetentionPeriodInput",
    "DecreaseStreamRetentionPeriodInput",
    "DeleteStreamInput",
    "DescribeStreamSummaryInput",
    "DescribeStreamInput",
    "GetShardIteratorInput",
    "ListTagsForStreamInput",
    "MergeShardsInput",
    "PutRecordInput",
    "PutRecordsInput",
    "RemoveTagsFromStreamInput",
    "SplitShardInput",
];

/// Members a stream of this server always needs although the model makes them optional:
/// (structure, member).
///
/// The 2026 model made `PartitionKey` optional for streams whose RecordDistributionStrategy is
/// `AUTO`; on every other stream it is required, and AWS's recorded answer to a record without
/// one is this validation failure (`Value null at 'partitionKey' ... Member must not be null`).
/// This server has no `AUTO` streams, so the key stays required here
/// (docs/protocol/corners.md, "PutRecord and PutRecords without a PartitionKey").
const REQUIRED_ALTHOUGH_OPTIONAL: &[(&str, &str)] =
    &[("PutRecordInput", "PartitionKey"), ("PutRecordsRequestEntry", "PartitionKey")];

/// The model, loaded on first use.
pub(crate) fn get() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load(MODEL_JSON))
}

impl Model {
    pub fn shape(&self, id: ShapeId) -> &Shape {
        &self.shapes[id]
    }

    /// The model's copy of a structure member's name, if `name` is one: a body's member names
    /// can borrow it instead of being copied.
    pub fn member_name(&'static self, name: &str) -> Option<&'static str> {
        self.member_names.get(name).map(String::as_str)
    }

    /// The input structure of an operation.
    /// The shape of an operation's input structure.
    pub fn input_id(&self, op: Operation) -> ShapeId {
        self.inputs[op as usize]
    }

    pub fn input(&self, op: Operation) -> &Structure {
        match &self.shapes[self.input_id(op)].kind {
            Kind::Structure(input) => input,
            _ => unreachable!("operation inputs are structures (asserted when the model loads)"),
        }
    }

    /// Builds the table. The model is embedded and fixed, so a malformed one is a build
    /// defect: this panics with the reason (the unit tests load it).
    fn load(json: &str) -> Model {
        let doc: Raw = serde_json::from_str(json).expect("the embedded API model is JSON");
        let defs = doc.get("shapes").and_then(Raw::as_map).expect("model has shapes");
        let ids: HashMap<&str, ShapeId> =
            defs.iter().enumerate().map(|(i, (n, _))| (n.as_ref(), i)).collect();
        let id_of = |name: &str| -> ShapeId {
            *ids.get(name).unwrap_or_else(|| panic!("model references unknown shape {name}"))
        };
        let target = |r: Option<&Raw>| -> ShapeId {
            id_of(r.and_then(|r| r.get("shape")).and_then(Raw::as_str).expect("shape reference"))
        };

        let shapes = defs
            .iter()
            .map(|(name, def)| {
                let kind = match def.get("type").and_then(Raw::as_str) {
                    Some("string") => Kind::String,
                    Some("integer") => Kind::Integer,
                    Some("long") => Kind::Long,
                    Some("boolean") => Kind::Boolean,
                    Some("blob") => Kind::Blob,
                    Some("timestamp") => Kind::Timestamp,
                    Some("list") => Kind::List { member: target(def.get("member")) },
                    Some("map") => Kind::Map { key: target(def.get("key")), value: target(def.get("value")) },
                    Some("structure") => Kind::Structure(load_structure(name, def, &target)),
                    other => panic!("shape {name} has unsupported type {other:?}"),
                };
                Shape {
                    name: name.to_string(),
                    kind,
                    min: def.get("min").and_then(Raw::as_i64),
                    max: def.get("max").and_then(Raw::as_i64),
                    pattern: def.get("pattern").and_then(Raw::as_str).map(Pattern::new),
                    enum_values: def
                        .get("enum")
                        .and_then(Raw::as_list)
                        .map(|values| enum_order(name, values)),
                }
            })
            .collect::<Vec<Shape>>();

        let operations = doc.get("operations").expect("model has operations");
        let inputs = Operation::ALL
            .iter()
            .enumerate()
            .map(|(i, op)| {
                assert_eq!(*op as usize, i, "Operation::ALL is in declaration order");
                target(operations.get(op.name()).and_then(|o| o.get("input")))
            })
            .collect::<Vec<_>>();
        for (op, &input) in Operation::ALL.iter().zip(&inputs) {
            let shape: &Shape = &shapes[input];
            assert!(matches!(shape.kind, Kind::Structure(_)), "input of {} is not a structure", op.name());
        }

        let member_names = shapes
            .iter()
            .filter_map(|shape| match &shape.kind {
                Kind::Structure(structure) => Some(structure.members.iter().map(|m| m.name.clone())),
                _ => None,
            })
            .flatten()
            .collect();
        Model { shapes, inputs, member_names }
    }
}

fn load_structure(name: &str, def: &Raw, target: &dyn Fn(Option<&Raw>) -> ShapeId) -> Structure {
    let required: Vec<&str> =
        def.get("required").and_then(Raw::as_list).unwrap_or(&[]).iter().filter_map(Raw::as_str).collect();
    let mut members: Vec<Member> = def
        .get("members")
        .and_then(Raw::as_map)
        .unwrap_or(&[])
        .iter()
        .map(|(member, mdef)| Member {
            name: member.to_string(),
            path_name: lower_first(member),
            shape: target(Some(mdef)),
            requirement: if required.contains(&member.as_ref()) {
                Requirement::Required
            } else {
                Requirement::Optional
            },
        })
        .collect();
    let index = |members: &[Member], member: &str| members.iter().position(|m| m.name == member);

    for (_, member) in REQUIRED_ALTHOUGH_OPTIONAL.iter().filter(|(structure, _)| *structure == name) {
        let i = index(&members, member).unwrap_or_else(|| panic!("{name} has no member {member}"));
        members[i].requirement = Requirement::Required;
    }

    if STREAM_NAME_REQUIRED_UNLESS_ARN.contains(&name) {
        let (Some(stream_name), Some(arn)) = (index(&members, "StreamName"), index(&members, "StreamARN"))
        else {
            panic!("{name} lacks StreamName or StreamARN");
        };
        if members[stream_name].requirement == Requirement::Optional {
            members[stream_name].requirement = Requirement::RequiredUnless(arn);
        }
    }

    let mut validation_order: Vec<usize> = match VALIDATION_ORDER.iter().find(|(n, _)| *n == name) {
        Some((_, listed)) => listed
            .iter()
            .map(|m| index(&members, m).unwrap_or_else(|| panic!("{name} has no member {m}")))
            .collect(),
        None => Vec::new(),
    };
    for i in 0..members.len() {
        if !validation_order.contains(&i) {
            validation_order.push(i);
        }
    }
    Structure { members, validation_order }
}

fn enum_order(name: &str, values: &[Raw]) -> Vec<String> {
    let mut values: Vec<String> = values.iter().filter_map(Raw::as_str).map(str::to_owned).collect();
    if let Some((_, order)) = ENUM_MESSAGE_ORDER.iter().find(|(n, _)| *n == name) {
        let mut sorted = values.clone();
        sorted.sort();
        let mut expected: Vec<String> = order.iter().map(|v| v.to_string()).collect();
        expected.sort();
        assert_eq!(sorted, expected, "message order of {name} must list the model's values");
        values = order.iter().map(|v| v.to_string()).collect();
    }
    values
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_structure_input() {
        let model = get();
        for op in Operation::ALL {
            assert_eq!(model.shape(model.inputs[op as usize]).name, format!("{}Input", op.name()));
            model.input(op);
        }
    }

    #[test]
    fn the_tables_name_existing_shapes() {
        let model = get();
        let names: Vec<&str> = VALIDATION_ORDER
            .iter()
            .chain(ENUM_MESSAGE_ORDER)
            .map(|(name, _)| *name)
            .chain(STREAM_NAME_REQUIRED_UNLESS_ARN.iter().copied())
            .chain(REQUIRED_ALTHOUGH_OPTIONAL.iter().map(|(name, _)| *name))
            .collect();
        for name in names {
            assert!(model.shapes.iter().any(|s| s.name == name), "{name}");
        }
    }

    #[test]
    fn members_keep_model_order_and_validation_order_follows_the_table() {
        let model = get();
        let put = model.input(Operation::PutRecords);
        let names: Vec<&str> = put.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Records", "StreamName", "StreamARN", "StreamId", "DryRun"]);
        let order: Vec<&str> =
            put.validation_order.iter().map(|&i| put.members[i].path_name.as_str()).collect();
        assert_eq!(order, ["records", "streamName", "streamARN", "streamId", "dryRun"]);

        let split = model.input(Operation::SplitShard);
        let order: Vec<&str> =
            split.validation_order.iter().map(|&i| split.members[i].name.as_str()).collect();
        assert_eq!(order, ["NewStartingHashKey", "StreamName", "ShardToSplit", "StreamARN", "StreamId"]);
    }

    #[test]
    fn shard_iterator_type_uses_the_observed_order() {
        let model = get();
        let gsi = model.input(Operation::GetShardIterator);
        let ty = gsi.members.iter().find(|m| m.name == "ShardIteratorType").unwrap();
        assert_eq!(
            model.shape(ty.shape).enum_values.as_deref().unwrap(),
            ["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
        );
    }

    #[test]
    fn patterns_match_whole_values_with_java_classes() {
        let hash = Pattern::new(r"^(0|([1-9]\d{0,38}))$");
        assert!(hash.matches("0") && hash.matches("340282366920938463463374607431768211455"));
        assert!(!hash.matches("01") && !hash.matches("0abc") && !hash.matches("") && !hash.matches("١"));
        let name = Pattern::new("[a-zA-Z0-9_.-]+");
        assert!(name.matches("my-stream_1.0") && !name.matches("a b") && !name.matches("é"));
        let arn = Pattern::new(r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+");
        assert!(arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/s"));
        assert!(arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/\u{a0}é"));
        assert!(!arn.matches("arn:aws:kinesis:us-east-1:123456789012:stream/a b"));
        assert!(!arn.matches("arn:aws\r:kinesis:us-east-1:123456789012:stream/s"));
    }

    #[test]
    fn stream_name_is_required_unless_an_arn_is_given() {
        let model = get();
        let tags = model.input(Operation::AddTagsToStream);
        let arn = tags.members.iter().position(|m| m.name == "StreamARN").unwrap();
        let name = tags.members.iter().find(|m| m.name == "StreamName").unwrap();
        assert_eq!(name.requirement, Requirement::RequiredUnless(arn));
        let shards = model.input(Operation::ListShards);
        assert!(shards.members.iter().all(|m| m.requirement == Requirement::Optional));
    }
}
