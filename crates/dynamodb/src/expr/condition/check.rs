//! From what a condition says to what it means: placeholders looked up, functions checked,
//! and DynamoDB's message for the worst problem (`docs/dynamodb-expressions.md`, "Conditions").

use super::syntax::{parse_syntax, RawCondition};
use super::{Comparator, Condition, Operand};
use crate::expr::error::{ExprError, ExpressionKind};
use crate::expr::operand::RawOperand;
use crate::expr::placeholders::Placeholders;
use crate::expr::problems::{Checker, Problem};
use crate::AttributeValue;

/// Which problem a condition reports when it has several.
const RANKING: &[&[Problem]] = &[
    &[Problem::RedundantParentheses],
    &[Problem::UnknownFunction],
    &[Problem::MisusedFunction],
    &[Problem::Reserved],
    &[Problem::UndefinedName, Problem::UndefinedValue],
    &[Problem::OperandCount],
    &[Problem::NotDistinct],
    &[Problem::OperandType],
];

const TYPE_NAMES: [&str; 10] = ["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"];

/// Parses a `ConditionExpression` or `FilterExpression` (`kind` names it in messages), using
/// and marking the request's placeholders. (Key conditions are read this way too, then
/// narrowed by `parse_key_condition`.)
pub fn parse_condition(
    text: &str,
    kind: ExpressionKind,
    placeholders: &mut Placeholders,
) -> Result<Condition, ExprError> {
    let raw = parse_raw(text, kind)?;
    let mut checker = Checker::new(placeholders);
    let condition = ConditionChecker { checker: &mut checker }.condition(&raw);
    checker.verdict(kind, RANKING)?;
    Ok(condition.expect("a condition without problems has a meaning"))
}

/// The written tree of a condition-like expression, or DynamoDB's message for empty text or a
/// syntax error.
fn parse_raw(text: &str, kind: ExpressionKind) -> Result<RawCondition, ExprError> {
    if text.is_empty() {
        return Err(ExprError::invalid(kind, "The expression can not be empty;"));
    }
    parse_syntax(text).map_err(|syntax_error| ExprError::invalid(kind, syntax_error))
}

/// Walks a written condition, reporting its problems to the checker. A part with a problem
/// has no meaning (`None`); every part is walked all the same, so that each problem is seen.
struct ConditionChecker<'c, 'p> {
    checker: &'c mut Checker<'p>,
}

impl ConditionChecker<'_, '_> {
    fn condition(&mut self, raw: &RawCondition) -> Option<Condition> {
        match raw {
            RawCondition::Or(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                Some(Condition::Or(Box::new(a?), Box::new(b?)))
            }
            RawCondition::And(a, b) => {
                let (a, b) = (self.condition(a), self.condition(b));
                Some(Condition::And(Box::new(a?), Box::new(b?)))
            }
            RawCondition::Not(a) => Some(Condition::Not(Box::new(self.condition(a)?))),
            RawCondition::Parenthesized(inner) => {
                if matches!(**inner, RawCondition::Parenthesized(_)) {
                    self.redundant_parentheses();
                }
                self.condition(inner)
            }
            RawCondition::Comparison(symbol, left, right) => {
                let comparator = Comparator::from_symbol(symbol).expect("the grammar reads only comparators");
                let (left, right) = (self.compared(left), self.compared(right));
                let (left, right) = (left?, right?);
                self.distinct(symbol, &left, &right);
                Some(Condition::Comparison { comparator, left, right })
            }
            RawCondition::Between(operand, lower, upper) => {
                let (operand, lower, upper) =
                    (self.compared(operand), self.compared(lower), self.compared(upper));
                let (operand, lower, upper) = (operand?, lower?, upper?);
                self.between_bounds(&lower, &upper);
                Some(Condition::Between { operand, lower, upper })
            }
            RawCondition::In(operand, candidates) => {
                let operand = self.compared(operand);
                let candidates: Vec<Option<Operand>> =
                    candidates.iter().map(|raw| self.compared(raw)).collect();
                Some(Condition::In {
                    operand: operand?,
                    candidates: candidates.into_iter().collect::<Option<_>>()?,
                })
            }
            RawCondition::Function(name, arguments) => self.function(name, arguments),
        }
    }

    fn redundant_parentheses(&mut self) {
        self.checker.report(Problem::RedundantParentheses, "The expression has redundant parentheses;");
    }

    fn misused(&mut self, name: &str) {
        let message =
            format!("The function is not allowed to be used this way in an expression; function: {name}");
        self.checker.report(Problem::MisusedFunction, message);
    }

    /// An operand of a comparison, `BETWEEN`, `IN` or function: of the functions, only `size`
    /// may be one.
    fn compared(&mut self, raw: &RawOperand) -> Option<Operand> {
        match raw {
            RawOperand::Parenthesized(inner) => {
                if matches!(**inner, RawOperand::Parenthesized(_)) {
                    self.redundant_parentheses();
                }
                self.compared(inner)
            }
            RawOperand::Value(key) => Some(Operand::Value(self.checker.value(key))),
            RawOperand::Path(raw) => Some(Operand::Path(self.checker.path(raw))),
            RawOperand::Function(name, arguments) if name == "size" => self.size(arguments),
            RawOperand::Function(name, arguments) => {
                if is_function(name) {
                    self.misused(name);
                }
                self.function(name, arguments);
                None
            }
        }
    }

    fn size(&mut self, arguments: &[RawOperand]) -> Option<Operand> {
        let operands: Vec<Option<Operand>> = arguments.iter().map(|raw| self.compared(raw)).collect();
        if operands.len() != 1 {
            self.operand_count("size", operands.len());
            return None;
        }
        let operand = operands.into_iter().next().flatten()?;
        if let Some(kind) = static_type(&operand).filter(|kind| ["N", "BOOL", "NULL"].contains(kind)) {
            self.operand_type("size", kind);
        }
        Some(Operand::Size(Box::new(operand)))
    }

    /// A function used as a condition, checked for its name, operand count and operand types.
    fn function(&mut self, name: &str, raw_arguments: &[RawOperand]) -> Option<Condition> {
        let Some(expected) = operand_count(name) else {
            self.checker.report(Problem::UnknownFunction, format!("Invalid function name; function: {name}"));
            for raw in raw_arguments {
                self.compared(raw);
            }
            return None;
        };
        if name == "size" {
            self.misused(name);
            self.size(raw_arguments);
            return None;
        }
        let arguments: Vec<Option<Operand>> = raw_arguments.iter().map(|raw| self.compared(raw)).collect();
        if arguments.len() != expected {
            self.operand_count(name, arguments.len());
            return None;
        }
        let arguments: Vec<Operand> = arguments.into_iter().collect::<Option<_>>()?;
        if let [first, second] = arguments.as_slice() {
            self.distinct(name, first, second);
        }
        let mut arguments = arguments.into_iter();
        let first = arguments.next()?;
        match name {
            "attribute_exists" | "attribute_not_exists" => {
                let Operand::Path(path) = first else {
                    let message = format!(
                        "Operator or function requires a document path; operator or function: {name}"
                    );
                    self.checker.report(Problem::OperandType, message);
                    return None;
                };
                Some(if name == "attribute_exists" {
                    Condition::AttributeExists(path)
                } else {
                    Condition::AttributeNotExists(path)
                })
            }
            "attribute_type" => {
                let type_name = arguments.next()?;
                match &type_name {
                    Operand::Value(AttributeValue::S(text)) if !TYPE_NAMES.contains(&text.as_str()) => {
                        let message = format!(
                            "Invalid attribute type name found; type: {text}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                        );
                        self.checker.report(Problem::OperandType, message);
                    }
                    Operand::Value(AttributeValue::S(_)) => {}
                    other => {
                        let kind = static_type(other).unwrap_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
                        self.operand_type(name, kind);
                    }
                }
                Some(Condition::AttributeType { operand: first, type_name })
            }
            "begins_with" => {
                let prefix = arguments.next()?;
                for operand in [&first, &prefix] {
                    if let Some(kind) = static_type(operand).filter(|kind| !["S", "B"].contains(kind)) {
                        self.operand_type(name, kind);
                    }
                }
                Some(Condition::BeginsWith { operand: first, prefix })
            }
            _ => Some(Condition::Contains { operand: first, part: arguments.next()? }),
        }
    }

    fn operand_count(&mut self, name: &str, count: usize) {
        let message = format!(
            "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {count}"
        );
        self.checker.report(Problem::OperandCount, message);
    }

    fn operand_type(&mut self, name: &str, kind: &str) {
        let message =
            format!("Incorrect operand type for operator or function; operator or function: {name}, operand type: {kind}");
        self.checker.report(Problem::OperandType, message);
    }

    /// DynamoDB refuses comparing a path with itself.
    fn distinct(&mut self, operator: &str, first: &Operand, second: &Operand) {
        if let (Operand::Path(a), Operand::Path(b)) = (first, second) {
            if a == b {
                let message = format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {a}"
                );
                self.checker.report(Problem::NotDistinct, message);
            }
        }
    }

    /// Two values as `BETWEEN` bounds must be of one type, the lower not above the upper.
    fn between_bounds(&mut self, lower: &Operand, upper: &Operand) {
        let (Operand::Value(low), Operand::Value(high)) = (lower, upper) else { return };
        let bounds = format!(
            "lower bound operand: AttributeValue: {{{}}}, upper bound operand: AttributeValue: {{{}}}",
            describe(low),
            describe(high)
        );
        if low.type_name() != high.type_name() {
            let message =
                format!("The BETWEEN operator requires same data type for lower and upper bounds; {bounds}");
            self.checker.report(Problem::OperandType, message);
        } else if Comparator::Greater.holds(low, high) {
            let message = format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"
            );
            self.checker.report(Problem::OperandType, message);
        }
    }
}

/// The number of operands of each condition function; `None` for a name that is not one.
fn operand_count(name: &str) -> Option<usize> {
    match name {
        "attribute_exists" | "attribute_not_exists" | "size" => Some(1),
        "attribute_type" | "begins_with" | "contains" => Some(2),
        _ => None,
    }
}

fn is_function(name: &str) -> bool {
    operand_count(name).is_some()
}

/// The type an operand is known to have before any item is seen.
fn static_type(operand: &Operand) -> Option<&'static str> {
    match operand {
        Operand::Value(value) => Some(value.type_name()),
        Operand::Size(_) => Some("N"),
        Operand::Path(_) => None,
    }
}

/// A bound as DynamoDB shows it: `N:5`, `S:abc`.
fn describe(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(text) => format!("S:{text}"),
        AttributeValue::N(number) => format!("N:{number}"),
        other => other.type_name().to_owned(),
    }
}
