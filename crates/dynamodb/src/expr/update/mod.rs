//! Updates (`UpdateExpression`, and the legacy `AttributeUpdates`): what they change, which
//! paths they touch, and applying them to an item.

mod apply;
mod check;
mod syntax;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use self::check::parse_update;
use super::path::DocumentPath;
use crate::AttributeValue;

/// An update: actions applied to an item in order, all reading the item as it was before.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    actions: Vec<Action>,
    dialect: Dialect,
}

/// Which parameter an update came from: they word a type mismatch differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Expression,
    AttributeUpdates,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `SET path = value`.
    Set { path: DocumentPath, value: SetValue },
    /// `REMOVE path`.
    Remove(DocumentPath),
    /// `ADD path :value`: adds to a number, or members to a set; creates a missing attribute.
    Add { path: DocumentPath, value: AttributeValue },
    /// `DELETE path :value`: removes members from a set.
    Delete { path: DocumentPath, value: AttributeValue },
}

impl Action {
    /// The path the action changes.
    pub fn path(&self) -> &DocumentPath {
        match self {
            Action::Set { path, .. }
            | Action::Remove(path)
            | Action::Add { path, .. }
            | Action::Delete { path, .. } => path,
        }
    }
}

/// The right-hand side of `SET`.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(UpdateOperand),
    Plus(UpdateOperand, UpdateOperand),
    Minus(UpdateOperand, UpdateOperand),
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    Path(DocumentPath),
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`: the value at the path, or the operand's when missing.
    IfNotExists(DocumentPath, Box<UpdateOperand>),
    /// `list_append(a, b)`: the elements of `a`, then those of `b`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

impl UpdateOperand {
    /// The type the operand is known to have before any item is seen (DynamoDB checks index
    /// key types with it).
    fn static_type(&self) -> Option<&'static str> {
        match self {
            UpdateOperand::Path(_) => None,
            UpdateOperand::Value(value) => Some(value.type_name()),
            UpdateOperand::IfNotExists(_, fallback) => fallback.static_type(),
            UpdateOperand::ListAppend(..) => Some("L"),
        }
    }

    /// Every path the operand reads.
    fn read_paths<'a>(&'a self, paths: &mut Vec<&'a DocumentPath>) {
        match self {
            UpdateOperand::Path(path) => paths.push(path),
            UpdateOperand::Value(_) => {}
            UpdateOperand::IfNotExists(path, fallback) => {
                paths.push(path);
                fallback.read_paths(paths);
            }
            UpdateOperand::ListAppend(a, b) => {
                a.read_paths(paths);
                b.read_paths(paths);
            }
        }
    }
}

impl SetValue {
    pub fn static_type(&self) -> Option<&'static str> {
        match self {
            SetValue::Operand(operand) => operand.static_type(),
            SetValue::Plus(..) | SetValue::Minus(..) => Some("N"),
        }
    }

    fn operands(&self) -> Vec<&UpdateOperand> {
        match self {
            SetValue::Operand(operand) => vec![operand],
            SetValue::Plus(a, b) | SetValue::Minus(a, b) => vec![a, b],
        }
    }
}

impl Update {
    pub(crate) fn new(actions: Vec<Action>, dialect: Dialect) -> Update {
        Update { actions, dialect }
    }

    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// The paths the update changes, in the order written: what `ReturnValues` `UPDATED_OLD`
    /// and `UPDATED_NEW` answer with (see `Projection::of_paths`).
    pub fn target_paths(&self) -> Vec<DocumentPath> {
        self.actions.iter().map(|action| action.path().clone()).collect()
    }

    /// The top-level attributes the update changes (DynamoDB refuses changing a key).
    pub fn target_attributes(&self) -> BTreeSet<&str> {
        self.actions.iter().map(|action| action.path().attribute_name()).collect()
    }

    /// The top-level attributes that some path of the update, changed or read, goes inside
    /// (`a.b`, `a[0]`): DynamoDB refuses those for key and index-key attributes.
    pub fn nested_attributes(&self) -> BTreeSet<&str> {
        let mut paths: Vec<&DocumentPath> = Vec::new();
        for action in &self.actions {
            paths.push(action.path());
            if let Action::Set { value, .. } = action {
                value.operands().into_iter().for_each(|operand| operand.read_paths(&mut paths));
            }
        }
        paths.into_iter().filter(|path| path.is_nested()).map(DocumentPath::attribute_name).collect()
    }

    /// The type a `SET` of top-level attribute `name` is known to give it before any item is
    /// seen (DynamoDB checks index key types with it).
    pub fn assigned_type(&self, name: &str) -> Option<&'static str> {
        self.actions.iter().find_map(|action| match action {
            Action::Set { path, value } if !path.is_nested() && path.attribute_name() == name => {
                value.static_type()
            }
            _ => None,
        })
    }
}
