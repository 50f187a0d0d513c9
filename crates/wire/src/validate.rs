//! Step 11: constraint validation of a type-checked input, with Coral's message assembly
//! (`docs/protocol/validation.md`).

mod render;

use std::fmt;

use crate::model::{self, Kind, Member, Model, Requirement, Shape, ShapeId, Structure};
use crate::value::Key;
use crate::{ApiError, Operation, Value};

/// The service lists at most this many failures, and says how many it listed.
const MAX_ERRORS: usize = 10;

const NOT_NULL: &str = "Member must not be null";

/// Checks `input` (the output of [`check_types`](crate::decode::check_types)) against the
/// constraints of the operation's input shape.
///
/// Every failure is collected, up to ten, in the service's order (`docs/protocol/validation.md`):
/// members in the "Member order" order;
/// within a member not-null, value range, pattern, length, enum or element rules; then list
/// elements by index and map entries in reverse order. A missing member only reports
/// `Member must not be null`, and only when required.
pub fn validate(op: Operation, input: &Value) -> Result<(), ApiError> {
    let model = model::get();
    let mut validator = Validator { model, errors: Vec::new() };
    validator.structure(model.input(op), input.as_map().unwrap_or_default(), &Path::Root);
    match validator.errors.len() {
        0 => Ok(()),
        1 => Err(ApiError::validation(format!("1 validation error detected: {}", validator.errors[0]))),
        n => Err(ApiError::validation(format!(
            "{n} validation errors detected: {}",
            validator.errors.join("; ")
        ))),
    }
}

/// Where a value sits, built on the stack while walking and only written out for a failure:
/// `records.1.member.partitionKey`.
enum Path<'a> {
    Root,
    /// A structure member, by its lower-camel name.
    Member(&'a Path<'a>, &'a str),
    /// A list element (1-based) or map value, written `<parent>.<label>.member`.
    Element(&'a Path<'a>, Label<'a>),
}

enum Label<'a> {
    Index(usize),
    Key(&'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(Path::Root, name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Element(parent, Label::Index(i)) => write!(f, "{parent}.{i}.member"),
            Path::Element(parent, Label::Key(key)) => write!(f, "{parent}.{key}.member"),
        }
    }
}

struct Validator<'m> {
    model: &'m Model,
    errors: Vec<String>,
}

impl Validator<'_> {
    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    fn fail(&mut self, shape: ShapeId, value: &Value, path: &Path<'_>, constraint: &str) {
        if !self.full() {
            let value = render::value(self.model, shape, value);
            self.errors.push(format!("Value {value} at '{path}' failed to satisfy constraint: {constraint}"));
        }
    }

    fn structure(&mut self, shape: &Structure, entries: &[(Key, Value)], path: &Path<'_>) {
        for &i in &shape.validation_order {
            if self.full() {
                return;
            }
            let member = &shape.members[i];
            let member_path = Path::Member(path, &member.path_name);
            match present(entries, &member.name) {
                Some(value) => self.value(member.shape, value, &member_path),
                None => {
                    if required(shape, member, |name| present(entries, name).is_some()) {
                        self.fail(member.shape, &Value::Null, &member_path, NOT_NULL);
                    }
                }
            }
        }
    }

    fn value(&mut self, id: ShapeId, value: &Value, path: &Path<'_>) {
        if *value == Value::Null {
            // Only list elements and map values get here: absent members are handled above.
            self.fail(id, value, path, NOT_NULL);
            return;
        }
        let shape = self.model.shape(id);
        for constraint in broken(shape, value) {
            self.fail(id, value, path, &constraint);
        }
        match (&shape.kind, value) {
            (Kind::List { member }, Value::List(items)) => {
                let member_shape = self.model.shape(*member);
                if items.iter().any(|item| *item != Value::Null && !broken(member_shape, item).is_empty()) {
                    let rules = all_rules(member_shape);
                    self.fail(id, value, path, &format!("Member must satisfy constraint: [{rules}]"));
                }
                for (i, item) in items.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    if *item == Value::Null || is_composite(member_shape) {
                        self.value(*member, item, &Path::Element(path, Label::Index(i + 1)));
                    }
                }
            }
            (Kind::Map { key, value: value_id }, Value::Map(entries)) => {
                let (key_shape, value_shape) = (self.model.shape(*key), self.model.shape(*value_id));
                if entries.iter().any(|(k, _)| !broken(key_shape, &Value::Str(k.to_string())).is_empty()) {
                    let rules = all_rules(key_shape);
                    self.fail(id, value, path, &format!("Map keys must satisfy constraint: [{rules}]"));
                }
                if entries.iter().any(|(_, v)| *v != Value::Null && !broken(value_shape, v).is_empty()) {
                    let rules = all_rules(value_shape);
                    self.fail(id, value, path, &format!("Map value must satisfy constraint: [{rules}]"));
                }
                // kinesalite walks entries in reverse insertion order (`docs/protocol/validation.md`,
                // "Check order within a member").
                for (k, v) in entries.iter().rev() {
                    if self.full() {
                        return;
                    }
                    if *v == Value::Null || is_composite(value_shape) {
                        self.value(*value_id, v, &Path::Element(path, Label::Key(k)));
                    }
                }
            }
            (Kind::Structure(structure), Value::Map(entries)) => self.structure(structure, entries, path),
            _ => {}
        }
    }
}

/// Whether `member` of `shape`, when absent, is missing: it is required, or required unless
/// another member that `is_present` says is absent too.
pub(crate) fn required(shape: &Structure, member: &Member, is_present: impl Fn(&str) -> bool) -> bool {
    match member.requirement {
        Requirement::Optional => false,
        Requirement::Required => true,
        Requirement::RequiredUnless(other) => !is_present(&shape.members[other].name),
    }
}

/// Whether no member of `shape` is missing, given which are present.
pub(crate) fn requirements_met(shape: &Structure, is_present: impl Fn(&str) -> bool) -> bool {
    shape.members.iter().all(|m| is_present(&m.name) || !required(shape, m, &is_present))
}

/// Whether `value` (not null) satisfies `shape`'s own constraints: what the PutRecords fast
/// path asks of each member it reads.
pub(crate) fn satisfies(shape: &Shape, value: &Value) -> bool {
    broken(shape, value).is_empty()
}

/// Whether a list or map of `length` elements satisfies `shape`'s length constraints.
pub(crate) fn length_satisfies(shape: &Shape, length: usize) -> bool {
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    shape.min.is_none_or(|min| length >= min) && shape.max.is_none_or(|max| length <= max)
}

/// A structure member's value, absent when missing or null.
fn present<'v>(entries: &'v [(Key, Value)], name: &str) -> Option<&'v Value> {
    entries.iter().find(|(k, _)| k == name).map(|(_, v)| v).filter(|v| **v != Value::Null)
}

fn is_composite(shape: &Shape) -> bool {
    matches!(shape.kind, Kind::List { .. } | Kind::Map { .. } | Kind::Structure(_))
}

/// The shape's own constraints that `value` breaks, in reporting order: value range, pattern,
/// length, enum. Element, key and value rules of lists and maps are not included.
#[inline]
fn broken(shape: &Shape, value: &Value) -> Vec<String> {
    // Most structures and lists have no constraints of their own: spare them the call.
    let constrained =
        shape.min.is_some() || shape.max.is_some() || shape.pattern.is_some() || shape.enum_values.is_some();
    if constrained {
        broken_constraints(shape, value)
    } else {
        Vec::new()
    }
}

fn broken_constraints(shape: &Shape, value: &Value) -> Vec<String> {
    let mut broken = Vec::new();
    if let (Kind::Integer | Kind::Long, Value::Int(n)) = (&shape.kind, value) {
        if let Some(min) = shape.min.filter(|min| n < min) {
            broken.push(format!("Member must have value greater than or equal to {min}"));
        }
        if let Some(max) = shape.max.filter(|max| n > max) {
            broken.push(format!("Member must have value less than or equal to {max}"));
        }
    }
    if let (Some(pattern), Value::Str(s)) = (&shape.pattern, value) {
        if !pattern.matches(s) {
            broken.push(format!("Member must satisfy regular expression pattern: {}", pattern.source));
        }
    }
    if let Some(length) = length(shape, value) {
        if let Some(min) = shape.min.filter(|&min| length < min) {
            broken.push(format!("Member must have length greater than or equal to {min}"));
        }
        if let Some(max) = shape.max.filter(|&max| length > max) {
            broken.push(format!("Member must have length less than or equal to {max}"));
        }
    }
    if let (Some(values), Value::Str(s)) = (&shape.enum_values, value) {
        if !values.contains(s) {
            broken.push(enum_rule(values));
        }
    }
    broken
}

/// Every constraint of an element, key or value shape, as listed inside `Member must satisfy
/// constraint: [...]`. The observed texts give lengths maximum first; value ranges are
/// assumed to follow the same pattern.
fn all_rules(shape: &Shape) -> String {
    let mut rules = Vec::new();
    match shape.kind {
        Kind::Integer | Kind::Long => {
            if let Some(max) = shape.max {
                rules.push(format!("Member must have value less than or equal to {max}"));
            }
            if let Some(min) = shape.min {
                rules.push(format!("Member must have value greater than or equal to {min}"));
            }
        }
        _ => {
            if let Some(max) = shape.max {
                rules.push(format!("Member must have length less than or equal to {max}"));
            }
            if let Some(min) = shape.min {
                rules.push(format!("Member must have length greater than or equal to {min}"));
            }
        }
    }
    if let Some(pattern) = &shape.pattern {
        rules.push(format!("Member must satisfy regular expression pattern: {}", pattern.source));
    }
    if let Some(values) = &shape.enum_values {
        rules.push(enum_rule(values));
    }
    rules.join(", ")
}

fn enum_rule(values: &[String]) -> String {
    format!("Member must satisfy enum value set: [{}]", values.join(", "))
}

/// The length the service measures: UTF-16 code units of a string (Java's `String.length()`),
/// bytes of a blob, elements of a list, entries of a map.
fn length(shape: &Shape, value: &Value) -> Option<i64> {
    let length = match (&shape.kind, value) {
        (Kind::String, Value::Str(s)) if s.is_ascii() => s.len(),
        (Kind::String, Value::Str(s)) => s.chars().map(char::len_utf16).sum(),
        (Kind::Blob, Value::Blob(b)) => b.len(),
        (Kind::List { .. }, Value::List(items)) => items.len(),
        (Kind::Map { .. }, Value::Map(entries)) => entries.len(),
        _ => return None,
    };
    Some(i64::try_from(length).unwrap_or(i64::MAX))
}
