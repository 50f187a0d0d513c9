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
//! ```
//!
//! with operands as `expr::operand` reads them.

use crate::expr::cursor::{Cursor, Grammar};
use crate::expr::operand::{arguments, function, operand, RawOperand};

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
