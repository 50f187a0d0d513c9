//! Conditions (`ConditionExpression`, `FilterExpression`, and the legacy `Expected`,
//! `QueryFilter` and `ScanFilter`): what they mean, and whether an item satisfies one.

mod check;
mod syntax;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeSet;

pub use self::check::parse_condition;
use super::compare::{begins_with, contains, equal, order, size};
use super::path::DocumentPath;
use crate::{AttributeValue, Item, Number};

/// A condition on an item. Built by `parse_condition` or from the legacy parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Comparison { comparator: Comparator, left: Operand, right: Operand },
    Between { operand: Operand, lower: Operand, upper: Operand },
    In { operand: Operand, candidates: Vec<Operand> },
    AttributeExists(DocumentPath),
    AttributeNotExists(DocumentPath),
    AttributeType { operand: Operand, type_name: Operand },
    BeginsWith { operand: Operand, prefix: Operand },
    Contains { operand: Operand, part: Operand },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparator {
    /// The comparator as written in an expression.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Equal => "=",
            Comparator::NotEqual => "<>",
            Comparator::Less => "<",
            Comparator::LessOrEqual => "<=",
            Comparator::Greater => ">",
            Comparator::GreaterOrEqual => ">=",
        }
    }

    pub(crate) fn from_symbol(symbol: &str) -> Option<Comparator> {
        [
            Comparator::Equal,
            Comparator::NotEqual,
            Comparator::Less,
            Comparator::LessOrEqual,
            Comparator::Greater,
            Comparator::GreaterOrEqual,
        ]
        .into_iter()
        .find(|comparator| comparator.symbol() == symbol)
    }

    /// Whether `left <comparator> right` holds. Two values that are not equal and not ordered
    /// (different types, or lists) satisfy only `<>`.
    pub fn holds(self, left: &AttributeValue, right: &AttributeValue) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Comparator::Equal => equal(left, right),
            Comparator::NotEqual => !equal(left, right),
            Comparator::Less => order(left, right) == Some(Less),
            Comparator::LessOrEqual => matches!(order(left, right), Some(Less | Equal)),
            Comparator::Greater => order(left, right) == Some(Greater),
            Comparator::GreaterOrEqual => matches!(order(left, right), Some(Greater | Equal)),
        }
    }
}

/// What a condition compares: an attribute of the item, a value from the request, or the size
/// of either.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(DocumentPath),
    Value(AttributeValue),
    Size(Box<Operand>),
}

impl Operand {
    /// The operand's value for `item`; `None` for a missing attribute or the size of a value
    /// that has none.
    fn evaluate<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        match self {
            Operand::Path(path) => path.resolve(item).map(Cow::Borrowed),
            Operand::Value(value) => Some(Cow::Borrowed(value)),
            Operand::Size(operand) => {
                let length = size(operand.evaluate(item)?.as_ref())?;
                Some(Cow::Owned(AttributeValue::N(Number::from(length as i64))))
            }
        }
    }
}

impl Condition {
    /// The top-level attributes the condition's paths start at (Query refuses a filter on a
    /// key attribute).
    pub fn attribute_names(&self) -> BTreeSet<&str> {
        let mut paths = Vec::new();
        self.paths(&mut paths);
        paths.into_iter().map(DocumentPath::attribute_name).collect()
    }

    fn paths<'a>(&'a self, paths: &mut Vec<&'a DocumentPath>) {
        let mut operands: Vec<&Operand> = Vec::new();
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.paths(paths);
                b.paths(paths);
            }
            Condition::Not(a) => a.paths(paths),
            Condition::AttributeExists(path) | Condition::AttributeNotExists(path) => paths.push(path),
            Condition::Comparison { left, right, .. } => operands.extend([left, right]),
            Condition::Between { operand, lower, upper } => operands.extend([operand, lower, upper]),
            Condition::In { operand, candidates } => {
                operands.extend(std::iter::once(operand).chain(candidates))
            }
            Condition::AttributeType { operand: a, type_name: b }
            | Condition::BeginsWith { operand: a, prefix: b }
            | Condition::Contains { operand: a, part: b } => operands.extend([a, b]),
        }
        for mut operand in operands {
            while let Operand::Size(inner) = operand {
                operand = inner;
            }
            if let Operand::Path(path) = operand {
                paths.push(path);
            }
        }
    }

    /// Whether `item` satisfies the condition; a missing item is an empty one.
    pub fn matches(&self, item: &Item) -> bool {
        let both = |a: &Operand, b: &Operand, test: &dyn Fn(&AttributeValue, &AttributeValue) -> bool| match (
            a.evaluate(item),
            b.evaluate(item),
        ) {
            (Some(a), Some(b)) => test(&a, &b),
            _ => false,
        };
        match self {
            // `<>` holds when either side is missing: a missing attribute equals nothing.
            Condition::Comparison { comparator: Comparator::NotEqual, left, right } => {
                !both(left, right, &|a, b| equal(a, b))
            }
            Condition::Comparison { comparator, left, right } => {
                both(left, right, &|a, b| comparator.holds(a, b))
            }
            Condition::Between { operand, lower, upper } => {
                both(operand, lower, &|value, lower| Comparator::GreaterOrEqual.holds(value, lower))
                    && both(operand, upper, &|value, upper| Comparator::LessOrEqual.holds(value, upper))
            }
            Condition::In { operand, candidates } => {
                candidates.iter().any(|candidate| both(operand, candidate, &|a, b| equal(a, b)))
            }
            Condition::AttributeExists(path) => path.resolve(item).is_some(),
            Condition::AttributeNotExists(path) => path.resolve(item).is_none(),
            Condition::AttributeType { operand, type_name } => both(
                operand,
                type_name,
                &|value, name| matches!(name, AttributeValue::S(name) if name == value.type_name()),
            ),
            Condition::BeginsWith { operand, prefix } => both(operand, prefix, &begins_with),
            Condition::Contains { operand, part } => both(operand, part, &contains),
            Condition::And(a, b) => a.matches(item) && b.matches(item),
            Condition::Or(a, b) => a.matches(item) || b.matches(item),
            Condition::Not(condition) => !condition.matches(item),
        }
    }
}
