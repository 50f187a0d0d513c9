//! Operands as conditions and updates write them:
//!
//! ```text
//! operand    := ( operand ) | function | :value | path
//! function   := name ( operand (, operand)* )
//! ```

use super::cursor::{Cursor, RawPath};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawOperand {
    Parenthesized(Box<RawOperand>),
    Function(String, Vec<RawOperand>),
    Value(String),
    Path(RawPath),
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

pub(crate) fn function(cursor: &mut Cursor) -> Option<(String, Vec<RawOperand>)> {
    let name = cursor.word()?;
    cursor.symbol("(")?;
    let arguments = arguments(cursor)?;
    cursor.symbol(")")?;
    Some((name.to_owned(), arguments))
}

pub(crate) fn arguments(cursor: &mut Cursor) -> Option<Vec<RawOperand>> {
    let mut arguments = vec![operand(cursor)?];
    while cursor.is_symbol(",") {
        cursor.symbol(",")?;
        arguments.push(operand(cursor)?);
    }
    Some(arguments)
}
