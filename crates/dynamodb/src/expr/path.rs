//! Document paths (`a.b[2].#c`): which attribute, or which element inside one, an expression
//! names; how DynamoDB prints them in messages; and how they find values in an item.

use std::fmt;

use crate::{AttributeValue, Item};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A top-level attribute, or a key of a map.
    Name(String),
    /// An element of a list.
    Index(usize),
}

/// A path from a top-level attribute down through maps and lists. Never empty, and its first
/// element is always a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentPath {
    elements: Vec<PathElement>,
}

impl DocumentPath {
    /// The path of a top-level attribute.
    pub fn attribute(name: impl Into<String>) -> DocumentPath {
        DocumentPath { elements: vec![PathElement::Name(name.into())] }
    }

    /// The path of these elements, if they start with a name.
    pub(crate) fn from_elements(elements: Vec<PathElement>) -> Option<DocumentPath> {
        matches!(elements.first(), Some(PathElement::Name(_))).then_some(DocumentPath { elements })
    }

    /// `self` followed by `element`.
    pub fn child(mut self, element: PathElement) -> DocumentPath {
        self.elements.push(element);
        self
    }

    pub fn elements(&self) -> &[PathElement] {
        &self.elements
    }

    /// The top-level attribute the path starts at.
    pub fn attribute_name(&self) -> &str {
        match &self.elements[0] {
            PathElement::Name(name) => name,
            PathElement::Index(_) => unreachable!("a path starts with a name"),
        }
    }

    /// Whether the path goes inside its top-level attribute (`a.b`, `a[0]`).
    pub fn is_nested(&self) -> bool {
        self.elements.len() > 1
    }

    /// The value at the path in `item`, if there is one.
    pub fn resolve<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut value = item.get(self.attribute_name())?;
        for element in &self.elements[1..] {
            value = child(value, element)?;
        }
        Some(value)
    }
}

/// The value `element` names inside `value`, if `value` is a map (for a name) or a list (for an
/// index) that has it.
pub(crate) fn child<'a>(value: &'a AttributeValue, element: &PathElement) -> Option<&'a AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Name(name)) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(index)) => list.get(*index),
        _ => None,
    }
}

/// The value `element` names inside `value`, for changing it.
pub(crate) fn child_mut<'a>(
    value: &'a mut AttributeValue,
    element: &PathElement,
) -> Option<&'a mut AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Name(name)) => map.get_mut(name),
        (AttributeValue::L(list), PathElement::Index(index)) => list.get_mut(*index),
        _ => None,
    }
}

/// As DynamoDB prints paths in its messages: `[a, [2], c]`.
impl fmt::Display for DocumentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (at, element) in self.elements.iter().enumerate() {
            if at > 0 {
                f.write_str(", ")?;
            }
            match element {
                PathElement::Name(name) => f.write_str(name)?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Number;

    fn path(top: &str, rest: &[PathElement]) -> DocumentPath {
        rest.iter().cloned().fold(DocumentPath::attribute(top), DocumentPath::child)
    }

    fn name(text: &str) -> PathElement {
        PathElement::Name(text.to_owned())
    }

    #[test]
    fn paths_print_as_dynamodb_prints_them() {
        assert_eq!(path("a", &[]).to_string(), "[a]");
        assert_eq!(path("c", &[PathElement::Index(3), name("[3]")]).to_string(), "[c, [3], [3]]");
        assert!(!path("a", &[]).is_nested() && path("a", &[name("b")]).is_nested());
    }

    #[test]
    fn paths_resolve_through_maps_and_lists() {
        let n = |v: i64| AttributeValue::N(Number::from(v));
        let inner: Item = [("c".to_owned(), n(7))].into();
        let item: Item = [
            ("a".to_owned(), AttributeValue::L(vec![n(1), AttributeValue::M(inner)])),
            ("s".to_owned(), n(2)),
        ]
        .into();
        assert_eq!(path("a", &[PathElement::Index(1), name("c")]).resolve(&item), Some(&n(7)));
        assert_eq!(path("a", &[PathElement::Index(0)]).resolve(&item), Some(&n(1)));
        assert_eq!(path("a", &[PathElement::Index(2)]).resolve(&item), None);
        assert_eq!(path("a", &[name("c")]).resolve(&item), None);
        assert_eq!(path("s", &[PathElement::Index(0)]).resolve(&item), None);
        assert_eq!(path("x", &[]).resolve(&item), None);
    }
}
