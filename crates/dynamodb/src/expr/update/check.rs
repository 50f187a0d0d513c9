//! From what an update expression says to what it does: placeholders looked up, functions and
//! operand types checked, and no two actions on overlapping paths
//! (`docs/dynamodb-expressions.md`, "Updates").

use super::syntax::{parse_syntax, RawSection, RawValue};
use super::{Action, Dialect, SetValue, Update, UpdateOperand};
use crate::expr::cursor::RawPath;
use crate::expr::error::{ExprError, ExpressionKind};
use crate::expr::operand::RawOperand;
use crate::expr::path::DocumentPath;
use crate::expr::placeholders::Placeholders;
use crate::expr::problems::{Checker, Problem};
use crate::AttributeValue;

/// Which problem an update expression reports when it has several.
const RANKING: &[&[Problem]] = &[
    &[Problem::Reserved],
    &[Problem::UnknownFunction],
    &[Problem::RepeatedSection],
    &[Problem::UndefinedName],
    &[Problem::UndefinedValue],
    &[Problem::Overlap],
    &[Problem::Conflict],
    &[Problem::ActionOperandType],
    &[Problem::OperandCount, Problem::OperandType],
];

/// Parses an `UpdateExpression`, using and marking the request's placeholders.
pub fn parse_update(text: &str, placeholders: &mut Placeholders) -> Result<Update, ExprError> {
    let kind = ExpressionKind::Update;
    if text.is_empty() {
        return Err(ExprError::invalid(kind, "The expression can not be empty;"));
    }
    let sections = parse_syntax(text).map_err(|syntax_error| ExprError::invalid(kind, syntax_error))?;
    let mut checker =
        UpdateChecker { checker: Checker::new(placeholders), targets: Vec::new(), sections: Vec::new() };
    let actions: Vec<Option<Action>> = sections.iter().flat_map(|section| checker.section(section)).collect();
    checker.checker.distinct_paths(&checker.targets);
    checker.checker.verdict(kind, RANKING)?;
    let actions =
        actions.into_iter().collect::<Option<_>>().expect("an update without problems has a meaning");
    Ok(Update::new(actions, Dialect::Expression))
}

struct UpdateChecker<'p> {
    checker: Checker<'p>,
    /// The paths the actions change, which must not overlap.
    targets: Vec<DocumentPath>,
    sections: Vec<&'static str>,
}

impl UpdateChecker<'_> {
    fn section(&mut self, section: &RawSection) -> Vec<Option<Action>> {
        let keyword = section.keyword();
        if self.sections.contains(&keyword) {
            let message = format!("The \"{keyword}\" section can only be used once in an update expression;");
            self.checker.report(Problem::RepeatedSection, message);
        }
        self.sections.push(keyword);
        match section {
            RawSection::Set(actions) => actions
                .iter()
                .map(|(path, value)| {
                    let path = self.target(path);
                    let value = self.set_value(value);
                    Some(Action::Set { path, value: value? })
                })
                .collect(),
            RawSection::Remove(paths) => {
                paths.iter().map(|path| Some(Action::Remove(self.target(path)))).collect()
            }
            RawSection::Add(actions) => actions
                .iter()
                .map(|(path, key)| {
                    let path = self.target(path);
                    let value = self.action_operand("ADD", key);
                    Some(Action::Add { path, value: value? })
                })
                .collect(),
            RawSection::Delete(actions) => actions
                .iter()
                .map(|(path, key)| {
                    let path = self.target(path);
                    let value = self.action_operand("DELETE", key);
                    Some(Action::Delete { path, value: value? })
                })
                .collect(),
        }
    }

    /// A path an action changes.
    fn target(&mut self, raw: &RawPath) -> DocumentPath {
        let path = self.checker.path(raw);
        self.targets.push(path.clone());
        path
    }

    /// The value of `ADD` or `DELETE`: a set, or for `ADD` a number.
    fn action_operand(&mut self, action: &str, key: &str) -> Option<AttributeValue> {
        let value = self.checker.value(key);
        let kind = match &value {
            AttributeValue::S(_) => Some("STRING"),
            AttributeValue::N(_) if action == "ADD" => None,
            AttributeValue::N(_) => Some("NUMBER"),
            AttributeValue::B(_) => Some("BINARY"),
            AttributeValue::Null => Some("NULL"),
            AttributeValue::Bool(_) => Some("BOOLEAN"),
            AttributeValue::L(_) => Some("LIST"),
            AttributeValue::M(_) => Some("MAP"),
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => None,
        };
        if let Some(kind) = kind {
            let message = format!(
                "Incorrect operand type for operator or function; operator: {action}, operand type: {kind}"
            );
            self.checker.report(Problem::ActionOperandType, message);
        }
        Some(value)
    }

    fn set_value(&mut self, raw: &RawValue) -> Option<SetValue> {
        match raw {
            RawValue::Operand(operand) => Some(SetValue::Operand(self.operand(operand)?)),
            RawValue::Plus(a, b) => {
                let (a, b) = self.arithmetic("+", a, b);
                Some(SetValue::Plus(a?, b?))
            }
            RawValue::Minus(a, b) => {
                let (a, b) = self.arithmetic("-", a, b);
                Some(SetValue::Minus(a?, b?))
            }
        }
    }

    fn arithmetic(
        &mut self,
        operator: &str,
        a: &RawOperand,
        b: &RawOperand,
    ) -> (Option<UpdateOperand>, Option<UpdateOperand>) {
        let (a, b) = (self.operand(a), self.operand(b));
        for operand in [&a, &b].into_iter().flatten() {
            self.immediate_type(operator, operand, "N");
        }
        (a, b)
    }

    /// Refuses a value (not a path or function) of another type than `expected`.
    fn immediate_type(&mut self, function: &str, operand: &UpdateOperand, expected: &str) {
        if let UpdateOperand::Value(value) = operand {
            if value.type_name() != expected {
                let message = format!(
                    "Incorrect operand type for operator or function; operator or function: {function}, operand type: {}",
                    value.type_name()
                );
                self.checker.report(Problem::OperandType, message);
            }
        }
    }

    fn operand(&mut self, raw: &RawOperand) -> Option<UpdateOperand> {
        match raw {
            RawOperand::Parenthesized(inner) => self.operand(inner),
            RawOperand::Value(key) => Some(UpdateOperand::Value(self.checker.value(key))),
            RawOperand::Path(path) => Some(UpdateOperand::Path(self.checker.path(path))),
            RawOperand::Function(name, arguments) => self.function(name, arguments),
        }
    }

    fn function(&mut self, name: &str, raw_arguments: &[RawOperand]) -> Option<UpdateOperand> {
        let arguments: Vec<Option<UpdateOperand>> =
            raw_arguments.iter().map(|raw| self.operand(raw)).collect();
        if name != "if_not_exists" && name != "list_append" {
            self.checker.report(Problem::UnknownFunction, format!("Invalid function name; function: {name}"));
            return None;
        }
        if arguments.len() != 2 {
            let message = format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                arguments.len()
            );
            self.checker.report(Problem::OperandCount, message);
            return None;
        }
        let mut arguments = arguments.into_iter();
        let (first, second) = (arguments.next().flatten()?, arguments.next().flatten()?);
        if name == "list_append" {
            self.immediate_type(name, &first, "L");
            self.immediate_type(name, &second, "L");
            return Some(UpdateOperand::ListAppend(Box::new(first), Box::new(second)));
        }
        let UpdateOperand::Path(path) = first else {
            let message =
                format!("Operator or function requires a document path; operator or function: {name}");
            self.checker.report(Problem::OperandType, message);
            return None;
        };
        Some(UpdateOperand::IfNotExists(path, Box::new(second)))
    }
}
