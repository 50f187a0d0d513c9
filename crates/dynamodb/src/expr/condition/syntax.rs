//! The condition grammar (`docs/dynamodb-expressions.md`, "Conditions"): text to a tree of
//! what was written, before placeholders are looked up or functions checked.
//!
//! ```text
//! condition  := and (OR and)*
//! and        := not (AND not)*
//! not        := NOT not | primary
//! primary    := operand comparator operand
//!             | operand BETWEEN operand AND operand
//!             | operand IN ( operand (, operand)* )
//!             | function
//!             | ( condition )
//! operand    := ( operand ) | function | :value | path
//! function   := name ( operand (, operand)* )
//! ```

use crate::expr::cursor::{Cursor, Grammar, RawPath};

pub(crate) const GRAMMAR: Grammar =
    Grammar { keywords: &["AND", "OR", "NOT", "BETWEEN", "IN"], names_may_start_with_underscore: false };

const COMPARATORS: [&str; 6] = ["=", "<>", "<=", ">=", "<", ">"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawCondition {
    Or(Box<RawCondition>, Box<RawCondition>),
    And(Box<RawCondition>, Box<RawCondition>),
    Not(Box<RawCondition>),
    Parenthesized(Box<RawCondition>),
    Comparison(&'static str, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    Function(String, Vec<RawOperand>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawOperand {
    Parenthesized(Box<RawOperand>),
    Function(String, Vec<RawOperand>),
    Value(String),
    Path(RawPath),
}

/// The tree of `text`, or DynamoDB's syntax error.
pub(crate) fn parse_syntax(text: &str) -> Result<RawCondition, String> {
    let mut cursor = Cursor::new(text, GRAMMAR);
    let condition = or(&mut cursor);
    cursor.finish(condition)
}

/// `first (KEYWORD next)*`, grouped to the left.
fn chain(
    cursor: &mut Cursor,
    keyword: &str,
    next: fn(&mut Cursor) -> Option<RawCondition>,
    join: fn(Box<RawCondition>, Box<RawCondition>) -> RawCondition,
) -> Option<RawCondition> {
    let mut condition = next(cursor)?;
    loop {
        let mark = cursor.mark();
        let Some(right) = cursor.keyword(keyword).and_then(|()| next(cursor)) else {
            cursor.reset(mark);
            return Some(condition);
        };
        condition = join(Box::new(condition), Box::new(right));
    }
}

fn or(cursor: &mut Cursor) -> Option<RawCondition> {
    chain(cursor, "OR", and, RawCondition::Or)
}

fn and(cursor: &mut Cursor) -> Option<RawCondition> {
    chain(cursor, "AND", not, RawCondition::And)
}

fn not(cursor: &mut Cursor) -> Option<RawCondition> {
    if cursor.is_keyword("NOT") {
        cursor.keyword("NOT")?;
        return not(cursor).map(|condition| RawCondition::Not(Box::new(condition)));
    }
    primary(cursor)
}

fn primary(cursor: &mut Cursor) -> Option<RawCondition> {
    let mark = cursor.mark();
    if let Some(condition) = test(cursor) {
        return Some(condition);
    }
    cursor.reset(mark);
    if let Some((name, arguments)) = function(cursor) {
        return Some(RawCondition::Function(name, arguments));
    }
    cursor.reset(mark);
    cursor.symbol("(")?;
    let condition = or(cursor)?;
    cursor.symbol(")")?;
    Some(RawCondition::Parenthesized(Box::new(condition)))
}

/// A comparison, `BETWEEN` or `IN`.
fn test(cursor: &mut Cursor) -> Option<RawCondition> {
    let left = operand(cursor)?;
    if cursor.is_keyword("BETWEEN") {
        cursor.keyword("BETWEEN")?;
        let lower = operand(cursor)?;
        cursor.keyword("AND")?;
        let upper = operand(cursor)?;
        return Some(RawCondition::Between(left, lower, upper));
    }
    if cursor.is_keyword("IN") {
        cursor.keyword("IN")?;
        cursor.symbol("(")?;
        let candidates = arguments(cursor)?;
        cursor.symbol(")")?;
        return Some(RawCondition::In(left, candidates));
    }
    let comparator = cursor.one_of(&COMPARATORS)?;
    let right = operand(cursor)?;
    Some(RawCondition::Comparison(comparator, left, right))
}

pub(crate) fn operand(cursor: &mut Cursor) -> Option<RawOperand> {
    let mark = cursor.mark();
    if cursor.is_symbol("(") {
        cursor.symbol("(")?;
        let inner = operand(cursor)?;
        cursor.symbol(")")?;
        return Some(RawOperand::Parenthesized(Box::new(inner)));
    }
    if let Some((name, arguments)) = function(cursor) {
        return Some(RawOperand::Function(name, arguments));
    }
    cursor.reset(mark);
    if let Some(key) = cursor.value_placeholder() {
        return Some(RawOperand::Value(key.to_owned()));
    }
    cursor.path().map(RawOperand::Path)
}

fn function(cursor: &mut Cursor) -> Option<(String, Vec<RawOperand>)> {
    let name = cursor.word()?;
    cursor.symbol("(")?;
    let arguments = arguments(cursor)?;
    cursor.symbol(")")?;
    Some((name.to_owned(), arguments))
}

fn arguments(cursor: &mut Cursor) -> Option<Vec<RawOperand>> {
    let mut arguments = vec![operand(cursor)?];
    while cursor.is_symbol(",") {
        cursor.symbol(",")?;
        arguments.push(operand(cursor)?);
    }
    Some(arguments)
}
