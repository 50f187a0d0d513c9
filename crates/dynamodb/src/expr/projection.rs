//! Projections (`ProjectionExpression`, `AttributesToGet`, and the paths `ReturnValues`
//! `UPDATED_*` answer with): which parts of an item an answer carries.
//!
//! ```text
//! projection := path (, path)*
//! ```

use std::collections::BTreeMap;

use super::cursor::{Cursor, Grammar, RawPath};
use super::error::{ExprError, ExpressionKind};
use super::path::{DocumentPath, PathElement};
use super::placeholders::Placeholders;
use super::problems::{Checker, Problem};
use crate::{AttributeValue, Item};

const GRAMMAR: Grammar = Grammar { keywords: &[], names_may_start_with_underscore: true };

const RANKING: &[&[Problem]] =
    &[&[Problem::Reserved], &[Problem::UndefinedName], &[Problem::Overlap], &[Problem::Conflict]];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<DocumentPath>,
}

/// Parses a `ProjectionExpression`, using and marking the request's placeholders.
pub fn parse_projection(text: &str, placeholders: &mut Placeholders) -> Result<Projection, ExprError> {
    let kind = ExpressionKind::Projection;
    if text.is_empty() {
        return Err(ExprError::invalid(kind, "The expression can not be empty;"));
    }
    let mut cursor = Cursor::new(text, GRAMMAR);
    let raw_paths = paths(&mut cursor);
    let raw_paths =
        cursor.finish(raw_paths).map_err(|syntax_error| ExprError::invalid(kind, syntax_error))?;
    let mut checker = Checker::new(placeholders);
    let paths: Vec<DocumentPath> = raw_paths.iter().map(|raw| checker.path(raw)).collect();
    checker.distinct_paths(&paths);
    checker.verdict(kind, RANKING)?;
    Ok(Projection { paths })
}

fn paths(cursor: &mut Cursor) -> Option<Vec<RawPath>> {
    let mut paths = vec![cursor.path()?];
    while cursor.is_symbol(",") {
        cursor.symbol(",")?;
        paths.push(cursor.path()?);
    }
    Some(paths)
}

/// The parts of an item the projected paths reach, before they become values.
enum Shape {
    Value(AttributeValue),
    Map(BTreeMap<String, Shape>),
    List(BTreeMap<usize, Shape>),
}

impl Shape {
    fn insert(&mut self, path: &[PathElement], value: AttributeValue) {
        let Some((first, rest)) = path.split_first() else {
            *self = Shape::Value(value);
            return;
        };
        let fresh = || match rest.first() {
            Some(PathElement::Index(_)) => Shape::List(BTreeMap::new()),
            _ => Shape::Map(BTreeMap::new()),
        };
        let child = match (self, first) {
            (Shape::Map(map), PathElement::Name(name)) => map.entry(name.clone()).or_insert_with(fresh),
            (Shape::List(list), PathElement::Index(index)) => list.entry(*index).or_insert_with(fresh),
            // Inside a value already projected whole: the whole value stays.
            _ => return,
        };
        child.insert(rest, value);
    }

    fn into_value(self) -> AttributeValue {
        match self {
            Shape::Value(value) => value,
            Shape::Map(map) => {
                AttributeValue::M(map.into_iter().map(|(name, shape)| (name, shape.into_value())).collect())
            }
            // The projected elements of a list, in their order, without the gaps between.
            Shape::List(list) => AttributeValue::L(list.into_values().map(Shape::into_value).collect()),
        }
    }
}

impl Projection {
    /// A projection of these paths (from `AttributesToGet`, or an update's target paths).
    pub fn of_paths(paths: Vec<DocumentPath>) -> Projection {
        Projection { paths }
    }

    /// A projection of top-level attributes (`AttributesToGet`).
    pub fn of_attributes<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Projection {
        Projection::of_paths(names.into_iter().map(DocumentPath::attribute).collect())
    }

    pub fn paths(&self) -> &[DocumentPath] {
        &self.paths
    }

    /// The parts of `item` the paths reach: whole top-level attributes, and for nested paths
    /// maps holding only the projected keys and lists holding only the projected elements, in
    /// index order. Paths that reach nothing add nothing.
    pub fn apply(&self, item: &Item) -> Item {
        let mut shape = Shape::Map(BTreeMap::new());
        for path in &self.paths {
            if let Some(value) = path.resolve(item) {
                shape.insert(path.elements(), value.clone());
            }
        }
        match shape.into_value() {
            AttributeValue::M(item) => item,
            _ => Item::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Number;

    fn n(value: i64) -> AttributeValue {
        AttributeValue::N(Number::from(value))
    }

    fn parse(text: &str) -> Result<Projection, String> {
        let names =
            BTreeMap::from([("#n".to_owned(), "name".to_owned()), ("#d".to_owned(), "[3]".to_owned())]);
        let mut placeholders = Placeholders::new(Some(names), None).unwrap();
        let projection = parse_projection(text, &mut placeholders).map_err(|e| e.to_string())?;
        Ok(projection)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().trim_start_matches("Invalid ProjectionExpression: ").to_owned()
    }

    fn map(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn projections_parse_and_check() {
        assert_eq!(parse(" a , b.c[1], #n, _x ").unwrap().paths().len(), 4);
        assert_eq!(error(""), "The expression can not be empty;");
        assert_eq!(error("a,"), r#"Syntax error; token: "<EOF>", near: ",""#);
        assert_eq!(error("a b"), r#"Syntax error; token: "b", near: "a b""#);
        assert_eq!(error("a, Name"), "Attribute name is a reserved keyword; reserved keyword: Name");
        assert_eq!(
            error("#x"),
            "An expression attribute name used in the document path is not defined; attribute name: #x"
        );
        assert_eq!(
            error("a.b, a"),
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]"
        );
        assert_eq!(
            error("a[3], a.#d"),
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [3]], path two: [a, [3]]"
        );
        // A keyword of another grammar is an attribute name here.
        assert!(parse("and, #n").is_err() && parse("status2, x").is_ok());
    }

    #[test]
    fn nested_paths_keep_only_what_they_name() {
        let item = map(&[
            ("a", n(1)),
            ("b", n(2)),
            (
                "l",
                AttributeValue::L(vec![
                    n(10),
                    AttributeValue::M(map(&[("x", n(1)), ("y", n(2))])),
                    n(30),
                    n(40),
                ]),
            ),
            ("m", AttributeValue::M(map(&[("k", n(5)), ("j", n(6))]))),
        ]);
        let projected = parse("a, l[3], l[1].y, m.k, gone, m.gone, l[9]").unwrap().apply(&item);
        assert_eq!(
            projected,
            map(&[
                ("a", n(1)),
                ("l", AttributeValue::L(vec![AttributeValue::M(map(&[("y", n(2))])), n(40)])),
                ("m", AttributeValue::M(map(&[("k", n(5))]))),
            ])
        );
        assert_eq!(Projection::of_attributes(["b", "zz"]).apply(&item), map(&[("b", n(2))]));
        assert_eq!(Projection::of_paths(vec![]).apply(&item), Item::new());
    }
}
