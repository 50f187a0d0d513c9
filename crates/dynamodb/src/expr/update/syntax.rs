//! The update grammar (`docs/dynamodb-expressions.md`, "Updates"):
//!
//! ```text
//! update   := section+
//! section  := SET path = value (, path = value)*
//!           | REMOVE path (, path)*
//!           | ADD path :value (, path :value)*
//!           | DELETE path :value (, path :value)*
//! value    := ( term ) | term
//! term     := operand + operand | operand - operand | operand
//! ```
//!
//! with operands as `expr::operand` reads them.

use crate::expr::cursor::{Cursor, Grammar, RawPath};
use crate::expr::operand::{operand, RawOperand};

const GRAMMAR: Grammar =
    Grammar { keywords: &["SET", "REMOVE", "ADD", "DELETE"], names_may_start_with_underscore: true };

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawSection {
    Set(Vec<(RawPath, RawValue)>),
    Remove(Vec<RawPath>),
    Add(Vec<(RawPath, String)>),
    Delete(Vec<(RawPath, String)>),
}

impl RawSection {
    pub fn keyword(&self) -> &'static str {
        match self {
            RawSection::Set(_) => "SET",
            RawSection::Remove(_) => "REMOVE",
            RawSection::Add(_) => "ADD",
            RawSection::Delete(_) => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    Operand(RawOperand),
    Plus(RawOperand, RawOperand),
    Minus(RawOperand, RawOperand),
}

pub(crate) fn parse_syntax(text: &str) -> Result<Vec<RawSection>, String> {
    let mut cursor = Cursor::new(text, GRAMMAR);
    let sections = sections(&mut cursor);
    cursor.finish(sections)
}

fn sections(cursor: &mut Cursor) -> Option<Vec<RawSection>> {
    let mut sections = vec![section(cursor)?];
    loop {
        let mark = cursor.mark();
        match section(cursor) {
            Some(section) => sections.push(section),
            None => {
                cursor.reset(mark);
                return Some(sections);
            }
        }
    }
}

fn section(cursor: &mut Cursor) -> Option<RawSection> {
    if cursor.is_keyword("SET") {
        cursor.keyword("SET")?;
        return list(cursor, set_action).map(RawSection::Set);
    }
    if cursor.is_keyword("REMOVE") {
        cursor.keyword("REMOVE")?;
        return list(cursor, |cursor: &mut Cursor| cursor.path()).map(RawSection::Remove);
    }
    if cursor.is_keyword("ADD") {
        cursor.keyword("ADD")?;
        return list(cursor, valued_path).map(RawSection::Add);
    }
    cursor.keyword("DELETE")?;
    list(cursor, valued_path).map(RawSection::Delete)
}

/// `item (, item)*`.
fn list<T>(cursor: &mut Cursor, item: fn(&mut Cursor) -> Option<T>) -> Option<Vec<T>> {
    let mut items = vec![item(cursor)?];
    while cursor.is_symbol(",") {
        cursor.symbol(",")?;
        items.push(item(cursor)?);
    }
    Some(items)
}

fn set_action(cursor: &mut Cursor) -> Option<(RawPath, RawValue)> {
    let path = cursor.path()?;
    cursor.symbol("=")?;
    let mark = cursor.mark();
    if cursor.is_symbol("(") {
        let parenthesized =
            cursor.symbol("(").and_then(|()| term(cursor)).and_then(|term| cursor.symbol(")").map(|()| term));
        if let Some(term) = parenthesized {
            return Some((path, term));
        }
        cursor.reset(mark);
    }
    Some((path, term(cursor)?))
}

fn term(cursor: &mut Cursor) -> Option<RawValue> {
    let first = operand(cursor)?;
    let mark = cursor.mark();
    let join: fn(RawOperand, RawOperand) -> RawValue = match cursor.one_of(&["+", "-"]) {
        Some("+") => RawValue::Plus,
        Some(_) => RawValue::Minus,
        None => {
            cursor.reset(mark);
            return Some(RawValue::Operand(first));
        }
    };
    Some(join(first, operand(cursor)?))
}

fn valued_path(cursor: &mut Cursor) -> Option<(RawPath, String)> {
    let path = cursor.path()?;
    let key = cursor.value_placeholder()?;
    Some((path, key.to_owned()))
}
