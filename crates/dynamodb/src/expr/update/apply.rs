//! Applying an update to an item, with DynamoDB's runtime errors
//! (`docs/dynamodb-expressions.md`, "Applying updates").

use super::{Action, Dialect, SetValue, Update, UpdateOperand};
use crate::expr::error::ExprError;
use crate::expr::path::{child_mut, DocumentPath, PathElement};
use crate::{AttributeValue, Item};

const INVALID_PATH: &str = "The document path provided in the update expression is invalid for update";
const MISSING_ATTRIBUTE: &str =
    "The provided expression refers to an attribute that does not exist in the item";

impl Update {
    /// Applies the update to `item` (an empty one for an item that does not exist yet). On an
    /// error the item is left as it was.
    ///
    /// Every `SET` value is computed from the item as it was before the update. Elements
    /// removed from a list are removed last, highest index first, so that each index names an
    /// element of the list as it was.
    pub fn apply(&self, item: &mut Item) -> Result<(), ExprError> {
        let values = self
            .actions
            .iter()
            .map(|action| match action {
                Action::Set { value, .. } => self.set_value(value, item).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut updated = item.clone();
        let mut list_removals = Vec::new();
        for (action, value) in self.actions.iter().zip(values) {
            match (action, value) {
                (Action::Set { path, .. }, Some(value)) => Slot::find(&mut updated, path)?.set(value),
                (Action::Remove(path), _)
                    if matches!(path.elements().last(), Some(PathElement::Index(_))) =>
                {
                    Slot::find(&mut updated, path)?;
                    list_removals.push(path);
                }
                (Action::Remove(path), _) => Slot::find(&mut updated, path)?.remove(),
                (Action::Add { path, value }, _) => self.add(Slot::find(&mut updated, path)?, value)?,
                (Action::Delete { path, value }, _) => self.delete(Slot::find(&mut updated, path)?, value)?,
                (Action::Set { .. }, None) => unreachable!("every SET has its value"),
            }
        }
        list_removals.sort_unstable_by(|a, b| b.cmp(a));
        for path in list_removals {
            Slot::find(&mut updated, path)?.remove();
        }
        *item = updated;
        Ok(())
    }

    fn mismatch(&self) -> ExprError {
        ExprError::new(match self.dialect {
            Dialect::Expression => "An operand in the update expression has an incorrect data type",
            Dialect::AttributeUpdates => "Type mismatch for attribute to update",
        })
    }

    fn set_value(&self, value: &SetValue, item: &Item) -> Result<AttributeValue, ExprError> {
        let arithmetic = |a: &UpdateOperand, b: &UpdateOperand, subtract: bool| {
            let (AttributeValue::N(a), AttributeValue::N(b)) =
                (self.operand(a, item)?, self.operand(b, item)?)
            else {
                return Err(self.mismatch());
            };
            let result = if subtract { a.checked_sub(&b) } else { a.checked_add(&b) };
            result.map(AttributeValue::N).map_err(|error| ExprError::new(error.to_string()))
        };
        match value {
            SetValue::Operand(operand) => self.operand(operand, item),
            SetValue::Plus(a, b) => arithmetic(a, b, false),
            SetValue::Minus(a, b) => arithmetic(a, b, true),
        }
    }

    fn operand(&self, operand: &UpdateOperand, item: &Item) -> Result<AttributeValue, ExprError> {
        match operand {
            UpdateOperand::Path(path) => {
                path.resolve(item).cloned().ok_or_else(|| ExprError::new(MISSING_ATTRIBUTE))
            }
            UpdateOperand::Value(value) => Ok(value.clone()),
            UpdateOperand::IfNotExists(path, fallback) => match path.resolve(item) {
                Some(value) => Ok(value.clone()),
                None => self.operand(fallback, item),
            },
            UpdateOperand::ListAppend(a, b) => match (self.operand(a, item)?, self.operand(b, item)?) {
                (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                    a.extend(b);
                    Ok(AttributeValue::L(a))
                }
                _ => Err(self.mismatch()),
            },
        }
    }

    /// `ADD`: a sum, or a union of sets.
    fn add(&self, mut slot: Slot, value: &AttributeValue) -> Result<(), ExprError> {
        use AttributeValue::*;
        let sum = match (slot.get(), value) {
            (None, value) => value.clone(),
            (Some(N(a)), N(b)) => N(a.checked_add(b).map_err(|error| ExprError::new(error.to_string()))?),
            (Some(Ss(a)), Ss(b)) => Ss(union(a, b)),
            (Some(Ns(a)), Ns(b)) => Ns(union(a, b)),
            (Some(Bs(a)), Bs(b)) => Bs(union(a, b)),
            _ => return Err(self.mismatch()),
        };
        slot.set(sum);
        Ok(())
    }

    /// `DELETE`: members taken out of a set; a set left empty is removed.
    fn delete(&self, mut slot: Slot, value: &AttributeValue) -> Result<(), ExprError> {
        use AttributeValue::*;
        let rest = match (slot.get(), value) {
            (None, _) => return Ok(()),
            (Some(Ss(a)), Ss(b)) => Ss(difference(a, b)),
            (Some(Ns(a)), Ns(b)) => Ns(difference(a, b)),
            (Some(Bs(a)), Bs(b)) => Bs(difference(a, b)),
            _ => return Err(self.mismatch()),
        };
        match rest {
            Ss(ref set) if set.is_empty() => slot.remove(),
            Ns(ref set) if set.is_empty() => slot.remove(),
            Bs(ref set) if set.is_empty() => slot.remove(),
            rest => slot.set(rest),
        }
        Ok(())
    }
}

fn union<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    let mut union = a.to_vec();
    union.extend(b.iter().filter(|member| !a.contains(member)).cloned());
    union
}

fn difference<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|member| !b.contains(member)).cloned().collect()
}

/// Where a path's value lives: a key of a map (the item is the top-level map) or a position
/// in a list.
enum Slot<'a> {
    Map(&'a mut Item, &'a str),
    List(&'a mut Vec<AttributeValue>, usize),
}

impl<'a> Slot<'a> {
    /// The slot of `path` in `item`; DynamoDB's error when the path goes through something
    /// missing, or through something that is not a map (for a name) or a list (for an index).
    fn find(item: &'a mut Item, path: &'a DocumentPath) -> Result<Slot<'a>, ExprError> {
        let invalid = || ExprError::new(INVALID_PATH);
        let (last, middle) = path.elements()[1..].split_last().map_or((None, &[][..]), |(l, m)| (Some(l), m));
        let Some(last) = last else { return Ok(Slot::Map(item, path.attribute_name())) };
        let mut value = item.get_mut(path.attribute_name()).ok_or_else(invalid)?;
        for element in middle {
            value = child_mut(value, element).ok_or_else(invalid)?;
        }
        match (value, last) {
            (AttributeValue::M(map), PathElement::Name(name)) => Ok(Slot::Map(map, name)),
            (AttributeValue::L(list), PathElement::Index(index)) => Ok(Slot::List(list, *index)),
            _ => Err(invalid()),
        }
    }

    fn get(&self) -> Option<&AttributeValue> {
        match self {
            Slot::Map(map, name) => map.get(*name),
            Slot::List(list, index) => list.get(*index),
        }
    }

    /// Sets the value; an index past the end of a list appends.
    fn set(&mut self, value: AttributeValue) {
        match self {
            Slot::Map(map, name) => {
                map.insert((*name).to_owned(), value);
            }
            Slot::List(list, index) => match list.get_mut(*index) {
                Some(element) => *element = value,
                None => list.push(value),
            },
        }
    }

    fn remove(&mut self) {
        match self {
            Slot::Map(map, name) => {
                map.remove(*name);
            }
            Slot::List(list, index) => {
                if *index < list.len() {
                    list.remove(*index);
                }
            }
        }
    }
}
