//! The checks DynamoDB makes once an expression parses: every placeholder defined, no reserved
//! word as a bare name, functions known and used with the right operands, and so on. Each
//! expression kind reports the first problem of the kind it ranks highest, whatever came first
//! in the text (`docs/dynamodb-expressions.md`, "Which message wins").

use super::cursor::{RawElement, RawPath};
use super::error::{ExprError, ExpressionKind};
use super::path::{DocumentPath, PathElement};
use super::placeholders::Placeholders;
use super::reserved::is_reserved;
use crate::AttributeValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    RedundantParentheses,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    RepeatedSection,
    UndefinedName,
    UndefinedValue,
    OperandCount,
    NotDistinct,
    OperandType,
    ActionOperandType,
    Overlap,
    Conflict,
}

/// Finds the problems of one expression while turning what was written into what it means.
pub(crate) struct Checker<'p> {
    placeholders: &'p mut Placeholders,
    found: Vec<(Problem, String)>,
}

impl<'p> Checker<'p> {
    pub fn new(placeholders: &'p mut Placeholders) -> Checker<'p> {
        Checker { placeholders, found: Vec::new() }
    }

    /// Notes a problem, unless one of its kind was noted already.
    pub fn report(&mut self, problem: Problem, message: impl Into<String>) {
        if !self.found.iter().any(|(kind, _)| *kind == problem) {
            self.found.push((problem, message.into()));
        }
    }

    /// The path a written path means: placeholders replaced, bare names checked against the
    /// reserved words.
    pub fn path(&mut self, raw: &RawPath) -> DocumentPath {
        let elements = raw
            .iter()
            .map(|element| match element {
                RawElement::Word(word) => {
                    if is_reserved(word) {
                        let message =
                            format!("Attribute name is a reserved keyword; reserved keyword: {word}");
                        self.report(Problem::Reserved, message);
                    }
                    PathElement::Name(word.clone())
                }
                RawElement::Placeholder(key) => PathElement::Name(self.name(key)),
                RawElement::Index(index) => PathElement::Index(*index),
            })
            .collect();
        DocumentPath::from_elements(elements).expect("the cursor parses paths that start with a name")
    }

    fn name(&mut self, key: &str) -> String {
        self.placeholders.name(key).unwrap_or_else(|| {
            self.report(
                Problem::UndefinedName,
                format!("An expression attribute name used in the document path is not defined; attribute name: {key}"),
            );
            key.to_owned()
        })
    }

    /// The value `:key` stands for; `NULL` (after noting the problem) when it is not defined.
    pub fn value(&mut self, key: &str) -> AttributeValue {
        self.placeholders.value(key).unwrap_or_else(|| {
            self.report(
                Problem::UndefinedValue,
                format!(
                    "An expression attribute value used in expression is not defined; attribute value: {key}"
                ),
            );
            AttributeValue::Null
        })
    }

    /// Checks that no path is, contains or is inside one before it (an overlap), and that none
    /// has a name where one before it has an index (a conflict). After the first overlap DynamoDB
    /// looks no further.
    pub fn distinct_paths(&mut self, paths: &[DocumentPath]) {
        for (at, later) in paths.iter().enumerate() {
            for earlier in &paths[..at] {
                let Some((problem, adjective)) = clash(earlier, later) else { continue };
                let message = format!(
                    "Two document paths {adjective} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"
                );
                self.report(problem, message);
                if problem == Problem::Overlap {
                    return;
                }
            }
        }
    }

    /// The problem ranked highest by `ranking`: a list of groups, best first, in which the
    /// problem noted first wins.
    pub fn verdict(self, kind: ExpressionKind, ranking: &[&[Problem]]) -> Result<(), ExprError> {
        for group in ranking {
            if let Some((_, message)) = self.found.iter().find(|(problem, _)| group.contains(problem)) {
                return Err(ExprError::invalid(kind, message));
            }
        }
        Ok(())
    }
}

/// How two paths clash, if they do: one inside (or equal to) the other overlaps; a name where
/// the other has an index conflicts.
fn clash(one: &DocumentPath, two: &DocumentPath) -> Option<(Problem, &'static str)> {
    for (a, b) in one.elements().iter().zip(two.elements()) {
        match (a, b) {
            (PathElement::Name(_), PathElement::Index(_)) | (PathElement::Index(_), PathElement::Name(_)) => {
                return Some((Problem::Conflict, "conflict"));
            }
            _ if a != b => return None,
            _ => {}
        }
    }
    Some((Problem::Overlap, "overlap"))
}
