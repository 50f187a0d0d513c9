//! A request's input once it has passed the type checks and validation: the typed tree, or
//! for PutRecords read by the fast path (see `decode::records`), its records already in typed
//! form — for a 500-record body the tree's per-record maps and the walk to validate and take
//! them apart were a quarter of the server's work.

use bytes::Bytes;

use crate::validate::validate;
use crate::value::Key;
use crate::{ApiError, Operation, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Any operation's input, checked by the type checks; [`Input::validate`] validates it.
    Tree(Value),
    /// A PutRecords input the fast path read and validated in one pass.
    PutRecords(PutRecordsInput),
}

impl Input {
    /// Step 11: the constraints of `op`'s input (the fast path checked them as it read).
    pub fn validate(&self, op: Operation) -> Result<(), ApiError> {
        match self {
            Input::Tree(tree) => validate(op, tree),
            Input::PutRecords(_) => Ok(()),
        }
    }

    /// The members other than PutRecords' records (all of them for a tree).
    pub fn members(&self) -> &Value {
        match self {
            Input::Tree(tree) => tree,
            Input::PutRecords(input) => &input.members,
        }
    }

    /// The input as a tree; a PutRecords input gets its `Records` back, as the last member.
    pub fn into_tree(self) -> Value {
        match self {
            Input::Tree(tree) => tree,
            Input::PutRecords(input) => input.into_tree(),
        }
    }

    /// The input as PutRecords' typed form, whichever way it was read.
    pub fn into_put_records(self) -> PutRecordsInput {
        match self {
            Input::Tree(tree) => PutRecordsInput::from_tree(tree),
            Input::PutRecords(input) => input,
        }
    }
}

/// PutRecords' input: its records, and its other members as a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct PutRecordsInput {
    /// `StreamName`, `StreamARN` and whatever else the request has but `Records`.
    pub members: Value,
    pub records: Vec<RecordInput>,
}

impl PutRecordsInput {
    /// Moves the records out of a validated tree.
    pub fn from_tree(mut tree: Value) -> PutRecordsInput {
        let records = match tree.take("Records") {
            Some(Value::List(mut entries)) => entries.iter_mut().map(RecordInput::take).collect(),
            _ => Vec::new(),
        };
        if let Value::Map(members) = &mut tree {
            members.retain(|(name, _)| name != "Records");
        }
        PutRecordsInput { members: tree, records }
    }

    fn into_tree(self) -> Value {
        let records = self.records.into_iter().map(RecordInput::into_tree).collect::<Vec<_>>();
        let mut tree = self.members;
        tree.set("Records", records);
        tree
    }
}

/// The members of a PutRecords entry or a PutRecord input that make the record; an absent
/// one (which validation has let through) is empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordInput {
    pub partition_key: String,
    pub data: Bytes,
    pub explicit_hash_key: Option<String>,
}

impl RecordInput {
    /// Moves the members out of `entry` (leaving them empty) in one pass over its members.
    pub fn take(entry: &mut Value) -> RecordInput {
        let mut input = RecordInput::default();
        let Value::Map(members) = entry else {
            return input;
        };
        for (name, value) in members {
            match (name.as_ref(), value) {
                ("PartitionKey", Value::Str(key)) => input.partition_key = std::mem::take(key),
                ("Data", Value::Blob(data)) => input.data = std::mem::take(data),
                ("ExplicitHashKey", Value::Str(key)) => input.explicit_hash_key = Some(std::mem::take(key)),
                _ => {}
            }
        }
        input
    }

    /// What the record counts against the size limits: partition key plus data.
    pub fn size(&self) -> usize {
        self.partition_key.len() + self.data.len()
    }

    fn into_tree(self) -> Value {
        let members: Vec<(Key, Value)> = vec![
            (Key::Borrowed("Data"), Value::Blob(self.data)),
            (Key::Borrowed("PartitionKey"), Value::Str(self.partition_key)),
        ];
        Value::Map(members).with_opt("ExplicitHashKey", self.explicit_hash_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_gives_up_its_record_members_and_keeps_the_others() {
        let mut input = Value::object()
            .with("StreamName", "s")
            .with("PartitionKey", "k\u{e9}")
            .with("Data", Bytes::from_static(b"d"))
            .with("ExplicitHashKey", "12")
            .with("DryRun", true);
        let entry = RecordInput::take(&mut input);
        assert_eq!(entry.partition_key, "k\u{e9}");
        assert_eq!(&entry.data[..], b"d");
        assert_eq!(entry.explicit_hash_key.as_deref(), Some("12"));
        assert_eq!(entry.size(), 4, "partition key bytes plus data bytes");
        assert_eq!((input.str("StreamName"), input.bool("DryRun")), (Some("s"), Some(true)));
    }
}
