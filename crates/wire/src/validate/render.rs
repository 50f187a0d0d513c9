//! How a value appears in a validation message (`docs/protocol/validation.md`, "Value
//! rendering"): Coral prints the Java object's `toString()`.

use std::fmt::Write;

use crate::model::{Kind, Model, ShapeId};
use crate::Value;

/// Lists and maps longer than this are cut short (ending `, ...`). The longest list the model
/// allows has 10000 elements, so any list one over a maximum still renders in full; the cut
/// only keeps a hostile body from turning into a message hundreds of megabytes long.
const MAX_RENDERED_ITEMS: usize = 10_001;

/// Every rendered structure carries this hash: the one observed for PutRecords entries
/// `{PartitionKey: '', Data: ''}`. The real one depends on the content.
const JAVA_HASH: &str = "c965e310";

/// `null` unquoted, anything else inside single quotes.
pub(super) fn value(model: &Model, shape: ShapeId, value: &Value) -> String {
    if *value == Value::Null {
        return "null".to_owned();
    }
    let mut out = String::from("'");
    java_string(model, shape, value, &mut out);
    out.push('\'');
    out
}

fn java_string(model: &Model, shape: ShapeId, value: &Value, out: &mut String) {
    let kind = &model.shape(shape).kind;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => write!(out, "{b}").unwrap(),
        Value::Int(n) | Value::Timestamp(n) => write!(out, "{n}").unwrap(),
        Value::Float(f) => write!(out, "{f}").unwrap(),
        Value::Str(s) => out.push_str(s),
        Value::Blob(b) => write!(out, "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()).unwrap(),
        Value::List(items) => {
            let member = match kind {
                Kind::List { member } => *member,
                _ => shape,
            };
            out.push('[');
            joined(items, out, |item, out| java_string(model, member, item, out));
            out.push(']');
        }
        Value::Map(entries) => match kind {
            Kind::Structure(_) => {
                write!(out, "com.amazonaws.kinesis.v20131202.{}@{JAVA_HASH}", model.shape(shape).name)
                    .unwrap()
            }
            _ => {
                let value_shape = match kind {
                    Kind::Map { value, .. } => *value,
                    _ => shape,
                };
                out.push('{');
                joined(entries, out, |(key, value), out| {
                    out.push_str(key);
                    out.push('=');
                    java_string(model, value_shape, value, out);
                });
                out.push('}');
            }
        },
    }
}

/// Writes `items` separated by `, `, at most [`MAX_RENDERED_ITEMS`] of them.
fn joined<T>(items: &[T], out: &mut String, mut write_item: impl FnMut(&T, &mut String)) {
    for (i, item) in items.iter().take(MAX_RENDERED_ITEMS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_item(item, out);
    }
    if items.len() > MAX_RENDERED_ITEMS {
        out.push_str(", ...");
    }
}
