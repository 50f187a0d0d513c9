//! Key conditions (Query's `KeyConditionExpression`, and the legacy `KeyConditions`): an
//! equality on the partition key and at most one condition on the sort key, checked as far as
//! the text allows; `KeyCondition::check_schema` checks them against the key schema of the
//! table or index queried (`docs/dynamodb-expressions.md`, "Key conditions").

use super::compare::{begins_with, equal, order};
use super::condition::{parse_condition, Comparator, Condition, Operand};
use super::error::{ExprError, ExpressionKind};
use super::placeholders::Placeholders;
use crate::AttributeValue;

/// One or two conditions, each on a different top-level attribute, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    predicates: Vec<KeyPredicate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyPredicate {
    pub attribute: String,
    pub test: KeyTest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyTest {
    Equal(AttributeValue),
    Less(AttributeValue),
    LessOrEqual(AttributeValue),
    Greater(AttributeValue),
    GreaterOrEqual(AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
    /// A legacy `ComparisonOperator` that no key can be queried with (`NE`, `IN`, `NULL`...);
    /// `check_schema` refuses it.
    NotIndexable {
        operator: String,
        values: Vec<AttributeValue>,
    },
}

impl KeyTest {
    /// The operator's legacy name (`EQ`, `BETWEEN`, ...).
    pub fn operator(&self) -> &str {
        match self {
            KeyTest::Equal(_) => "EQ",
            KeyTest::Less(_) => "LT",
            KeyTest::LessOrEqual(_) => "LE",
            KeyTest::Greater(_) => "GT",
            KeyTest::GreaterOrEqual(_) => "GE",
            KeyTest::Between(..) => "BETWEEN",
            KeyTest::BeginsWith(_) => "BEGINS_WITH",
            KeyTest::NotIndexable { operator, .. } => operator,
        }
    }

    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            KeyTest::Equal(value)
            | KeyTest::Less(value)
            | KeyTest::LessOrEqual(value)
            | KeyTest::Greater(value)
            | KeyTest::GreaterOrEqual(value)
            | KeyTest::BeginsWith(value) => vec![value],
            KeyTest::Between(lower, upper) => vec![lower, upper],
            KeyTest::NotIndexable { values, .. } => values.iter().collect(),
        }
    }

    /// Whether a key value satisfies the test.
    pub fn matches(&self, value: &AttributeValue) -> bool {
        use std::cmp::Ordering::*;
        let ordered = |bound: &AttributeValue, accepted: &[std::cmp::Ordering]| {
            order(value, bound).is_some_and(|ordering| accepted.contains(&ordering))
        };
        match self {
            KeyTest::Equal(bound) => equal(value, bound),
            KeyTest::Less(bound) => ordered(bound, &[Less]),
            KeyTest::LessOrEqual(bound) => ordered(bound, &[Less, Equal]),
            KeyTest::Greater(bound) => ordered(bound, &[Greater]),
            KeyTest::GreaterOrEqual(bound) => ordered(bound, &[Greater, Equal]),
            KeyTest::Between(lower, upper) => {
                ordered(lower, &[Greater, Equal]) && ordered(upper, &[Less, Equal])
            }
            KeyTest::BeginsWith(prefix) => begins_with(value, prefix),
            KeyTest::NotIndexable { .. } => false,
        }
    }

    /// The value types the operator accepts.
    fn accepted_types(&self) -> &'static [&'static str] {
        match self {
            KeyTest::Equal(_) => &["S", "N", "B", "SS", "NS", "BS"],
            KeyTest::BeginsWith(_) => &["S", "B"],
            KeyTest::NotIndexable { .. } => &["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"],
            _ => &["S", "N", "B"],
        }
    }
}

/// Parses a `KeyConditionExpression`, using and marking the request's placeholders.
pub fn parse_key_condition(text: &str, placeholders: &mut Placeholders) -> Result<KeyCondition, ExprError> {
    let condition = parse_condition(text, ExpressionKind::KeyCondition, placeholders)?;
    let mut predicates = Vec::new();
    collect(&condition, &mut predicates).map_err(ExprError::new)?;
    KeyCondition::new(predicates)
}

/// The key predicates of `condition`: `AND` of comparisons, `BETWEEN` and `begins_with`, each
/// on one top-level attribute.
fn collect(condition: &Condition, predicates: &mut Vec<KeyPredicate>) -> Result<(), String> {
    let invalid_operator =
        |operator: &str| Err(format!("Invalid operator used in KeyConditionExpression: {operator}"));
    let operands = match condition {
        Condition::And(a, b) => {
            collect(a, predicates)?;
            return collect(b, predicates);
        }
        Condition::Or(..) => return invalid_operator("OR"),
        Condition::Not(_) => return invalid_operator("NOT"),
        Condition::In { .. } => return invalid_operator("IN"),
        Condition::Comparison { comparator: Comparator::NotEqual, .. } => return invalid_operator("<>"),
        Condition::AttributeExists(_) => return invalid_operator("attribute_exists"),
        Condition::AttributeNotExists(_) => return invalid_operator("attribute_not_exists"),
        Condition::AttributeType { .. } => return invalid_operator("attribute_type"),
        Condition::Contains { .. } => return invalid_operator("contains"),
        Condition::Comparison { left, right, .. } => vec![left, right],
        Condition::Between { operand, lower, upper } => {
            first_operand_is_key("BETWEEN", operand)?;
            vec![operand, lower, upper]
        }
        Condition::BeginsWith { operand, prefix } => {
            first_operand_is_key("begins_with", operand)?;
            vec![operand, prefix]
        }
    };
    let mut key = None;
    let mut values = Vec::new();
    for (at, operand) in operands.into_iter().enumerate() {
        match operand {
            Operand::Path(path) => {
                if key.is_some() {
                    return Err("Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition".into());
                }
                if path.is_nested() {
                    return Err("KeyConditionExpressions cannot have conditions on nested attributes".into());
                }
                key = Some((path.attribute_name().to_owned(), at));
            }
            Operand::Size(_) => return Err("KeyConditionExpressions cannot contain nested operations".into()),
            Operand::Value(value) => values.push(value.clone()),
        }
    }
    let Some((attribute, key_at)) = key else {
        return Err("Invalid condition in KeyConditionExpression: No key attribute specified".into());
    };
    if predicates.iter().any(|predicate| predicate.attribute == attribute) {
        return Err("KeyConditionExpressions must only contain one condition per key".into());
    }
    // `:v < key` is `key > :v`.
    let flipped = key_at != 0;
    let test = match (condition, values.as_slice()) {
        (Condition::Comparison { comparator, .. }, [value]) => {
            let value = value.clone();
            match (comparator, flipped) {
                (Comparator::Less, false) | (Comparator::Greater, true) => KeyTest::Less(value),
                (Comparator::LessOrEqual, false) | (Comparator::GreaterOrEqual, true) => {
                    KeyTest::LessOrEqual(value)
                }
                (Comparator::Greater, false) | (Comparator::Less, true) => KeyTest::Greater(value),
                (Comparator::GreaterOrEqual, false) | (Comparator::LessOrEqual, true) => {
                    KeyTest::GreaterOrEqual(value)
                }
                _ => KeyTest::Equal(value),
            }
        }
        (Condition::BeginsWith { .. }, [prefix]) => KeyTest::BeginsWith(prefix.clone()),
        (Condition::Between { .. }, [lower, upper]) => KeyTest::Between(lower.clone(), upper.clone()),
        _ => unreachable!("one key and the rest values, as counted above"),
    };
    predicates.push(KeyPredicate { attribute, test });
    Ok(())
}

fn first_operand_is_key(operator: &str, operand: &Operand) -> Result<(), String> {
    match operand {
        Operand::Path(_) => Ok(()),
        _ => Err(format!(
            "Invalid condition in KeyConditionExpression: {operator} operator must have the key attribute as its first operand"
        )),
    }
}

impl KeyCondition {
    /// Checks what DynamoDB checks of key conditions before it looks at the table: value types
    /// the operators accept, `BETWEEN` bounds in order, one or two conditions.
    pub(crate) fn new(predicates: Vec<KeyPredicate>) -> Result<KeyCondition, ExprError> {
        for predicate in &predicates {
            let values = predicate.test.values();
            if let Some(first) = values.first() {
                if values.iter().any(|value| value.type_name() != first.type_name()) {
                    return Err(ExprError::new(
                        "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
                    ));
                }
            }
            let accepted = predicate.test.accepted_types();
            if let Some(refused) = values.iter().find(|value| !accepted.contains(&value.type_name())) {
                return Err(ExprError::new(format!(
                    "One or more parameter values were invalid: ComparisonOperator {} is not valid for {} AttributeValue type",
                    predicate.test.operator(),
                    refused.type_name()
                )));
            }
            if let KeyTest::Between(lower, upper) = &predicate.test {
                if Comparator::Greater.holds(lower, upper) {
                    return Err(ExprError::new(
                        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
                    ));
                }
            }
        }
        if !(1..=2).contains(&predicates.len()) {
            return Err(ExprError::new("Conditions can be of length 1 or 2 only"));
        }
        Ok(KeyCondition { predicates })
    }

    pub fn predicates(&self) -> &[KeyPredicate] {
        &self.predicates
    }

    /// The predicate on `attribute`, if there is one.
    pub fn predicate(&self, attribute: &str) -> Option<&KeyPredicate> {
        self.predicates.iter().find(|predicate| predicate.attribute == attribute)
    }

    /// Checks the conditions against the key schema queried: the partition key `hash` (of
    /// type `S`, `N` or `B`) and the optional sort key `range`, with DynamoDB's messages.
    pub fn check_schema(&self, hash: (&str, &str), range: Option<(&str, &str)>) -> Result<(), ExprError> {
        let refuse = |message: &str| Err(ExprError::new(message));
        if range.is_none() && self.predicates.len() > 1 {
            return refuse("Query key condition not supported");
        }
        for (index, (attribute, key_type)) in std::iter::once(hash).chain(range).enumerate() {
            let is_hash = index == 0;
            let Some(predicate) = self.predicate(attribute) else {
                if is_hash || self.predicates.len() > 1 {
                    return Err(ExprError::new(format!(
                        "Query condition missed key schema element: {attribute}"
                    )));
                }
                continue;
            };
            if matches!(predicate.test, KeyTest::NotIndexable { .. }) {
                return refuse("Attempted conditional constraint is not an indexable operation");
            }
            if predicate.test.values().iter().any(|value| value.type_name() != key_type) {
                return refuse("One or more parameter values were invalid: Condition parameter type does not match schema type");
            }
            if is_hash && !matches!(predicate.test, KeyTest::Equal(_)) {
                return refuse("Query key condition not supported");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Number;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn parse(text: &str) -> Result<KeyCondition, String> {
        let names = BTreeMap::from([("#o".to_owned(), "leaseOwner".to_owned())]);
        let values = BTreeMap::from([
            (":o".to_owned(), s("worker")),
            (":a".to_owned(), n("1")),
            (":b".to_owned(), n("9")),
            (":ss".to_owned(), AttributeValue::Ss(vec!["x".into()])),
        ]);
        let mut placeholders = Placeholders::new(Some(names), Some(values)).unwrap();
        parse_key_condition(text, &mut placeholders).map_err(|e| e.to_string())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err()
    }

    fn tests(text: &str) -> Vec<(String, KeyTest)> {
        parse(text).unwrap().predicates().iter().map(|p| (p.attribute.clone(), p.test.clone())).collect()
    }

    #[test]
    fn key_conditions_parse_to_predicates() {
        assert_eq!(tests("#o = :o"), [("leaseOwner".into(), KeyTest::Equal(s("worker")))]);
        assert_eq!(
            tests("#o = :o AND r BETWEEN :a AND :b"),
            [
                ("leaseOwner".into(), KeyTest::Equal(s("worker"))),
                ("r".into(), KeyTest::Between(n("1"), n("9")))
            ]
        );
        assert_eq!(tests(":a < r and h = :o")[0], ("r".into(), KeyTest::Greater(n("1"))));
        assert_eq!(tests(":a >= r and h = :o")[0], ("r".into(), KeyTest::LessOrEqual(n("1"))));
        assert_eq!(
            tests("h = :o AND begins_with (r, :o)")[1],
            ("r".into(), KeyTest::BeginsWith(s("worker")))
        );
        assert_eq!(tests(":o = h")[0], ("h".into(), KeyTest::Equal(s("worker"))));
    }

    #[test]
    fn what_key_conditions_cannot_say() {
        assert_eq!(error("h = :o OR r = :a"), "Invalid operator used in KeyConditionExpression: OR");
        assert_eq!(error("NOT h = :o"), "Invalid operator used in KeyConditionExpression: NOT");
        assert_eq!(error("h IN (:o)"), "Invalid operator used in KeyConditionExpression: IN");
        assert_eq!(error("h <> :o"), "Invalid operator used in KeyConditionExpression: <>");
        assert_eq!(
            error("attribute_exists(h)"),
            "Invalid operator used in KeyConditionExpression: attribute_exists"
        );
        assert_eq!(error("contains(h, :o)"), "Invalid operator used in KeyConditionExpression: contains");
        assert_eq!(error("size(h) = :a"), "KeyConditionExpressions cannot contain nested operations");
        assert_eq!(
            error(":a BETWEEN r AND :b"),
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand"
        );
        assert_eq!(
            error("begins_with(:o, r)"),
            "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand"
        );
        assert_eq!(
            error("h = r"),
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
        );
        assert_eq!(error("h.x = :o"), "KeyConditionExpressions cannot have conditions on nested attributes");
        assert_eq!(
            error(":a = :b"),
            "Invalid condition in KeyConditionExpression: No key attribute specified"
        );
        assert_eq!(
            error("h = :o AND h = :o"),
            "KeyConditionExpressions must only contain one condition per key"
        );
        assert_eq!(error("h = :o AND r = :a AND s = :b"), "Conditions can be of length 1 or 2 only");
        assert_eq!(
            error("h < :ss"),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type"
        );
        assert_eq!(error(""), "Invalid KeyConditionExpression: The expression can not be empty;");
        assert_eq!(
            error("h = :o a"),
            r#"Invalid KeyConditionExpression: Syntax error; token: "a", near: ":o a""#
        );
        assert_eq!(
            error("h = :x"),
            "Invalid KeyConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"
        );
    }

    #[test]
    fn key_tests_match_values() {
        assert!(KeyTest::Equal(s("a")).matches(&s("a")) && !KeyTest::Equal(s("a")).matches(&n("1")));
        assert!(KeyTest::Less(n("2")).matches(&n("1")) && !KeyTest::Less(n("2")).matches(&n("2")));
        assert!(
            KeyTest::LessOrEqual(n("2")).matches(&n("2")) && KeyTest::GreaterOrEqual(n("2")).matches(&n("2"))
        );
        assert!(KeyTest::Greater(s("a")).matches(&s("b")) && !KeyTest::Greater(s("a")).matches(&n("5")));
        assert!(
            KeyTest::Between(n("1"), n("3")).matches(&n("3"))
                && !KeyTest::Between(n("1"), n("3")).matches(&n("4"))
        );
        assert!(
            KeyTest::BeginsWith(s("sh")).matches(&s("shard"))
                && !KeyTest::BeginsWith(s("sh")).matches(&s("s"))
        );
    }

    #[test]
    fn schema_checks() {
        let check = |text: &str, range: Option<(&str, &str)>| {
            parse(text).unwrap().check_schema(("h", "S"), range).map_err(|e| e.to_string())
        };
        assert_eq!(check("h = :o", None), Ok(()));
        assert_eq!(check("h = :o AND r > :a", Some(("r", "N"))), Ok(()));
        assert_eq!(check("h = :o", Some(("r", "N"))), Ok(()));
        assert_eq!(check("h = :o AND r > :a", None), Err("Query key condition not supported".into()));
        assert_eq!(
            check("r > :a", Some(("r", "N"))),
            Err("Query condition missed key schema element: h".into())
        );
        assert_eq!(
            check("h = :o AND x > :a", Some(("r", "N"))),
            Err("Query condition missed key schema element: r".into())
        );
        assert_eq!(check("h > :o", None), Err("Query key condition not supported".into()));
        assert_eq!(
            check("h = :a", None),
            Err("One or more parameter values were invalid: Condition parameter type does not match schema type".into())
        );
        let not_indexable = KeyCondition::new(vec![KeyPredicate {
            attribute: "h".into(),
            test: KeyTest::NotIndexable { operator: "NE".into(), values: vec![s("x")] },
        }])
        .unwrap();
        assert_eq!(
            not_indexable.check_schema(("h", "S"), None).unwrap_err().to_string(),
            "Attempted conditional constraint is not an indexable operation"
        );
    }
}
