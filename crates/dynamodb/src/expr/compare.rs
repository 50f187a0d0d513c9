//! How DynamoDB compares values in conditions: equality of any two values (sets regardless of
//! order), order only between two strings (by UTF-8 bytes), two numbers (numerically) or two
//! binaries (by unsigned bytes); values of different types are never equal nor ordered
//! (`docs/dynamodb-expressions.md`, "Comparison semantics").

use std::cmp::Ordering;

use crate::AttributeValue;

/// Whether `a` and `b` are the same value.
pub(crate) fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue::*;
    match (a, b) {
        (Ss(a), Ss(b)) => same_members(a, b),
        (Ns(a), Ns(b)) => same_members(a, b),
        (Bs(a), Bs(b)) => same_members(a, b),
        (L(a), L(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| equal(a, b)),
        (M(a), M(b)) => {
            a.len() == b.len()
                && a.iter().all(|(name, value)| b.get(name).is_some_and(|other| equal(value, other)))
        }
        _ => a == b,
    }
}

/// Sets hold no duplicates, so equal sizes and one inside the other make them equal.
fn same_members<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|member| b.contains(member))
}

/// The order of `a` and `b`, when both are strings, numbers or binaries.
pub(crate) fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue::*;
    match (a, b) {
        (S(a), S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (N(a), N(b)) => Some(a.cmp(b)),
        (B(a), B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `begins_with`: a string that starts with a string, or a binary with a binary.
pub(crate) fn begins_with(value: &AttributeValue, prefix: &AttributeValue) -> bool {
    use AttributeValue::*;
    match (value, prefix) {
        (S(value), S(prefix)) => value.starts_with(prefix.as_str()),
        (B(value), B(prefix)) => value.starts_with(prefix),
        _ => false,
    }
}

/// `contains`: a substring of a string, a subsequence of a binary, a member of a set or an
/// element of a list.
pub(crate) fn contains(value: &AttributeValue, operand: &AttributeValue) -> bool {
    use AttributeValue::*;
    match (value, operand) {
        (S(value), S(part)) => value.contains(part.as_str()),
        (B(value), B(part)) => part.is_empty() || value.windows(part.len()).any(|window| window == part),
        (Ss(set), S(member)) => set.contains(member),
        (Ns(set), N(member)) => set.contains(member),
        (Bs(set), B(member)) => set.contains(member),
        (L(list), element) => list.iter().any(|item| equal(item, element)),
        _ => false,
    }
}

/// `size`: the length of a string (in characters) or binary, the members of a set, the
/// elements of a list or the entries of a map. Other types have no size.
pub(crate) fn size(value: &AttributeValue) -> Option<usize> {
    use AttributeValue::*;
    match value {
        S(text) => Some(text.chars().count()),
        B(bytes) => Some(bytes.len()),
        Ss(set) => Some(set.len()),
        Ns(set) => Some(set.len()),
        Bs(set) => Some(set.len()),
        L(list) => Some(list.len()),
        M(map) => Some(map.len()),
        N(_) | Null | Bool(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, Number};
    use AttributeValue::*;

    fn n(text: &str) -> AttributeValue {
        N(Number::parse(text).unwrap())
    }

    fn s(text: &str) -> AttributeValue {
        S(text.to_owned())
    }

    #[test]
    fn equality_ignores_set_order_but_not_list_order() {
        assert!(equal(&Ss(vec!["a".into(), "b".into()]), &Ss(vec!["b".into(), "a".into()])));
        assert!(!equal(&Ss(vec!["a".into()]), &Ss(vec!["a".into(), "b".into()])));
        assert!(equal(
            &Ns(vec![Number::from(1), Number::from(2)]),
            &Ns(vec![Number::from(2), Number::from(1)])
        ));
        assert!(!equal(&L(vec![n("1"), n("2")]), &L(vec![n("2"), n("1")])));
        assert!(equal(
            &L(vec![Ss(vec!["x".into(), "y".into()])]),
            &L(vec![Ss(vec!["y".into(), "x".into()])])
        ));
        let map = |pairs: &[(&str, AttributeValue)]| {
            M(pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect::<Item>())
        };
        assert!(equal(&map(&[("a", n("1.0"))]), &map(&[("a", n("1"))])));
        assert!(!equal(&map(&[("a", n("1"))]), &map(&[("b", n("1"))])));
        assert!(!equal(&s("1"), &n("1")));
        assert!(equal(&Null, &Null) && equal(&Bool(true), &Bool(true)) && !equal(&Bool(true), &Bool(false)));
    }

    #[test]
    fn order_is_by_bytes_or_numbers_and_only_within_a_type() {
        assert_eq!(order(&s("Z"), &s("a")), Some(Ordering::Less));
        // U+FFFD sorts after U+10000 by UTF-8 bytes, though not by UTF-16 code units.
        assert_eq!(order(&s("\u{FFFD}"), &s("\u{10000}")), Some(Ordering::Less));
        assert_eq!(order(&n("10"), &n("9")), Some(Ordering::Greater));
        assert_eq!(order(&n("-1.5"), &n("-1.25")), Some(Ordering::Less));
        assert_eq!(order(&B(vec![0x80]), &B(vec![0x7f])), Some(Ordering::Greater));
        assert_eq!(order(&s("1"), &n("1")), None);
        assert_eq!(order(&L(vec![]), &L(vec![])), None);
    }

    #[test]
    fn functions_apply_to_their_types() {
        assert!(begins_with(&s("shardId-1"), &s("shard")) && !begins_with(&s("a"), &s("ab")));
        assert!(begins_with(&B(vec![1, 2]), &B(vec![1])) && !begins_with(&s("1"), &B(vec![b'1'])));
        assert!(contains(&s("abc"), &s("b")) && !contains(&s("abc"), &s("d")));
        assert!(contains(&B(vec![1, 2, 3]), &B(vec![2, 3])) && !contains(&B(vec![1]), &B(vec![1, 1])));
        assert!(contains(&Ss(vec!["x".into()]), &s("x")) && !contains(&Ss(vec!["xy".into()]), &s("x")));
        assert!(contains(&Ns(vec![Number::from(5)]), &n("5.0")));
        assert!(contains(&L(vec![s("a"), n("1")]), &n("1")) && !contains(&L(vec![]), &n("1")));
        assert!(!contains(&n("15"), &n("1")));
        assert_eq!(size(&s("héllo")), Some(5));
        assert_eq!(size(&B(vec![0; 3])), Some(3));
        assert_eq!(size(&M(Item::new())), Some(0));
        assert_eq!(size(&n("12")), None);
        assert_eq!(size(&Null), None);
    }
}
