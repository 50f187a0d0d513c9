//! DynamoDB's legacy parameters — `Expected`, `ConditionalOperator`, `AttributeUpdates`,
//! `KeyConditions`, `QueryFilter`, `ScanFilter`, `AttributesToGet` — checked with DynamoDB's
//! messages and turned into the conditions, updates, key conditions and projections the
//! expressions give (`docs/dynamodb-expressions.md`, "Legacy parameters").
//!
//! The input types are plain: the JSON codec fills them, and has already refused values that
//! are not attribute values and operator or action names outside their enumerations.

use std::collections::{BTreeMap, BTreeSet};

use crate::expr::update::Dialect;
use crate::expr::{
    Action, Comparator, Condition, DocumentPath, ExprError, KeyCondition, KeyPredicate, KeyTest, Operand,
    Projection, SetValue, Update, UpdateOperand,
};
use crate::AttributeValue;

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedAttribute {
    pub value: Option<AttributeValue>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<ComparisonOperator>,
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterCondition {
    pub comparison_operator: ComparisonOperator,
    pub attribute_value_list: Vec<AttributeValue>,
}

/// One entry of `AttributeUpdates`; no action means `PUT`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeValueUpdate {
    pub action: Option<AttributeAction>,
    pub value: Option<AttributeValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeAction {
    Put,
    Add,
    Delete,
}

impl AttributeAction {
    /// The action named `name` (`PUT`, `ADD`, `DELETE`).
    pub fn parse(name: &str) -> Option<AttributeAction> {
        match name {
            "PUT" => Some(AttributeAction::Put),
            "ADD" => Some(AttributeAction::Add),
            "DELETE" => Some(AttributeAction::Delete),
            _ => None,
        }
    }
}

/// How the conditions of `Expected`, `QueryFilter` or `ScanFilter` combine; `AND` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    #[default]
    And,
    Or,
}

impl ConditionalOperator {
    pub fn parse(name: &str) -> Option<ConditionalOperator> {
        match name {
            "AND" => Some(ConditionalOperator::And),
            "OR" => Some(ConditionalOperator::Or),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

const OPERATORS: [(ComparisonOperator, &str); 13] = [
    (ComparisonOperator::Eq, "EQ"),
    (ComparisonOperator::Ne, "NE"),
    (ComparisonOperator::Le, "LE"),
    (ComparisonOperator::Lt, "LT"),
    (ComparisonOperator::Ge, "GE"),
    (ComparisonOperator::Gt, "GT"),
    (ComparisonOperator::NotNull, "NOT_NULL"),
    (ComparisonOperator::Null, "NULL"),
    (ComparisonOperator::Contains, "CONTAINS"),
    (ComparisonOperator::NotContains, "NOT_CONTAINS"),
    (ComparisonOperator::BeginsWith, "BEGINS_WITH"),
    (ComparisonOperator::In, "IN"),
    (ComparisonOperator::Between, "BETWEEN"),
];

impl ComparisonOperator {
    /// The operator named `name` (`EQ`, `NOT_NULL`, ...).
    pub fn parse(name: &str) -> Option<ComparisonOperator> {
        OPERATORS.iter().find(|(_, known)| *known == name).map(|(operator, _)| *operator)
    }

    pub fn name(self) -> &'static str {
        OPERATORS.iter().find(|(operator, _)| *operator == self).map_or("", |(_, name)| name)
    }

    /// Whether `count` values suit the operator.
    fn takes(self, count: usize) -> bool {
        use ComparisonOperator::*;
        match self {
            Null | NotNull => count == 0,
            In => count > 0,
            Between => count == 2,
            _ => count == 1,
        }
    }

    /// The value types the operator accepts in `KeyConditions`, `QueryFilter` and `ScanFilter`.
    fn accepted_types(self) -> &'static [&'static str] {
        use ComparisonOperator::*;
        match self {
            Eq | Ne => &["S", "N", "B", "SS", "NS", "BS"],
            BeginsWith => &["S", "B"],
            Null | NotNull => &[],
            _ => &["S", "N", "B"],
        }
    }

    /// The condition `attribute <operator> values`; the values were counted already.
    fn condition(self, attribute: &str, values: &[AttributeValue]) -> Condition {
        use ComparisonOperator::*;
        let path = DocumentPath::attribute(attribute);
        let operand = || Operand::Path(path.clone());
        let value = |at: usize| Operand::Value(values.get(at).cloned().unwrap_or(AttributeValue::Null));
        let compare = |comparator| Condition::Comparison { comparator, left: operand(), right: value(0) };
        match self {
            Eq => compare(Comparator::Equal),
            Ne => compare(Comparator::NotEqual),
            Le => compare(Comparator::LessOrEqual),
            Lt => compare(Comparator::Less),
            Ge => compare(Comparator::GreaterOrEqual),
            Gt => compare(Comparator::Greater),
            NotNull => Condition::AttributeExists(path),
            Null => Condition::AttributeNotExists(path),
            Contains => Condition::Contains { operand: operand(), part: value(0) },
            NotContains => {
                Condition::Not(Box::new(Condition::Contains { operand: operand(), part: value(0) }))
            }
            BeginsWith => Condition::BeginsWith { operand: operand(), prefix: value(0) },
            In => Condition::In {
                operand: operand(),
                candidates: values.iter().cloned().map(Operand::Value).collect(),
            },
            Between => Condition::Between { operand: operand(), lower: value(0), upper: value(1) },
        }
    }
}

/// The operations that take both dialects, with their parameters of each in DynamoDB's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetItem,
    BatchGetItem,
    PutItem,
    DeleteItem,
    UpdateItem,
    Query,
    Scan,
}

impl Operation {
    fn parameters(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Operation::GetItem | Operation::BatchGetItem => (&["ProjectionExpression"], &["AttributesToGet"]),
            Operation::PutItem | Operation::DeleteItem => (&["ConditionExpression"], &["Expected"]),
            Operation::UpdateItem => {
                (&["UpdateExpression", "ConditionExpression"], &["AttributeUpdates", "Expected"])
            }
            Operation::Query => (
                &["ProjectionExpression", "FilterExpression", "KeyConditionExpression"],
                &["AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"],
            ),
            Operation::Scan => (
                &["ProjectionExpression", "FilterExpression"],
                &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
            ),
        }
    }
}

fn invalid(detail: impl std::fmt::Display) -> ExprError {
    ExprError::new(format!("One or more parameter values were invalid: {detail}"))
}

/// Refuses a request that mixes the dialects, or gives placeholders without expressions.
/// `present` tells whether the request has the named parameter (`"Expected"`,
/// `"ExpressionAttributeNames"`, ...).
pub fn check_parameter_mix(operation: Operation, present: impl Fn(&str) -> bool) -> Result<(), ExprError> {
    let (all_expressions, legacy) = operation.parameters();
    let expressions: Vec<&str> = all_expressions.iter().copied().filter(|name| present(name)).collect();
    if !expressions.is_empty() {
        // KeyConditions may go with the other expressions when KeyConditionExpression is absent.
        let key_conditions_alone = !present("KeyConditionExpression");
        let legacy: Vec<&str> = legacy
            .iter()
            .copied()
            .filter(|name| present(name) && !(*name == "KeyConditions" && key_conditions_alone))
            .collect();
        if !legacy.is_empty() {
            return Err(ExprError::new(format!(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
                legacy.join(", "),
                expressions.join(", ")
            )));
        }
    }
    if present("ExpressionAttributeNames") && expressions.is_empty() {
        return Err(ExprError::new("ExpressionAttributeNames can only be specified when using expressions"));
    }
    let value_expressions: Vec<&str> =
        all_expressions.iter().copied().filter(|name| *name != "ProjectionExpression").collect();
    if present("ExpressionAttributeValues")
        && !value_expressions.is_empty()
        && value_expressions.iter().all(|name| !present(name))
    {
        let verb = if value_expressions.len() > 1 { "are" } else { "is" };
        return Err(ExprError::new(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
            value_expressions.join(" and ")
        )));
    }
    Ok(())
}

/// The condition of `Expected` (and `ConditionalOperator`); `None` for no entries.
pub fn expected_condition(
    expected: &BTreeMap<String, ExpectedAttribute>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, ExprError> {
    let mut conditions = Vec::new();
    for (attribute, entry) in expected {
        if entry.value.is_some() && entry.attribute_value_list.is_some() {
            return Err(invalid(format!(
                "Value and AttributeValueList cannot be used together for Attribute: {attribute}"
            )));
        }
        let condition = match entry.comparison_operator {
            Some(operator) => {
                if entry.exists.is_some() {
                    return Err(invalid(format!(
                        "Exists and ComparisonOperator cannot be used together for Attribute: {attribute}"
                    )));
                }
                let values: Vec<AttributeValue> = entry
                    .attribute_value_list
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .chain(entry.value.clone())
                    .collect();
                let given = entry.attribute_value_list.is_some() || entry.value.is_some();
                if !given && !matches!(operator, ComparisonOperator::Null | ComparisonOperator::NotNull) {
                    return Err(invalid(format!(
                        "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {attribute}",
                        operator.name()
                    )));
                }
                check_values(operator, &values, false)?;
                operator.condition(attribute, &values)
            }
            None if entry.attribute_value_list.is_some() => {
                return Err(invalid(format!(
                    "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attribute}"
                )));
            }
            None => match (entry.exists, &entry.value) {
                (Some(false), None) => {
                    Condition::AttributeNotExists(DocumentPath::attribute(attribute.as_str()))
                }
                (Some(false), Some(_)) => {
                    return Err(invalid(format!(
                        "Value cannot be used when Exists is false for Attribute: {attribute}"
                    )));
                }
                (exists, None) => {
                    let exists = if exists.is_some() { "true" } else { "null" };
                    return Err(invalid(format!(
                        "Value must be provided when Exists is {exists} for Attribute: {attribute}"
                    )));
                }
                (_, Some(value)) => ComparisonOperator::Eq.condition(attribute, std::slice::from_ref(value)),
            },
        };
        conditions.push(condition);
    }
    Ok(combine(conditions, operator.unwrap_or_default()))
}

/// Checks the values of one legacy condition: their count, one type, (for `KeyConditions`
/// and the filters) types the operator accepts, and `BETWEEN` bounds in order.
fn check_values(
    operator: ComparisonOperator,
    values: &[AttributeValue],
    check_types: bool,
) -> Result<(), ExprError> {
    if !operator.takes(values.len()) {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {} ComparisonOperator",
            operator.name()
        )));
    }
    if let Some(first) = values.first() {
        if values.iter().any(|value| value.type_name() != first.type_name()) {
            return Err(invalid("AttributeValues inside AttributeValueList must be of same type"));
        }
    }
    if check_types {
        if let Some(refused) =
            values.iter().find(|value| !operator.accepted_types().contains(&value.type_name()))
        {
            return Err(invalid(format!(
                "ComparisonOperator {} is not valid for {} AttributeValue type",
                operator.name(),
                refused.type_name()
            )));
        }
    }
    if let [lower, upper] = values {
        if operator == ComparisonOperator::Between && Comparator::Greater.holds(lower, upper) {
            return Err(ExprError::new(
                "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
            ));
        }
    }
    Ok(())
}

/// The conditions joined by `AND` or `OR`; `None` for none.
fn combine(conditions: Vec<Condition>, operator: ConditionalOperator) -> Option<Condition> {
    let join = |a, b| match operator {
        ConditionalOperator::And => Condition::And(Box::new(a), Box::new(b)),
        ConditionalOperator::Or => Condition::Or(Box::new(a), Box::new(b)),
    };
    conditions.into_iter().reduce(join)
}

/// The condition of `QueryFilter` or `ScanFilter` (and `ConditionalOperator`); `None` for no
/// entries.
pub fn filter_condition(
    filter: &BTreeMap<String, FilterCondition>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, ExprError> {
    let mut conditions = Vec::new();
    for (attribute, entry) in filter {
        check_values(entry.comparison_operator, &entry.attribute_value_list, true)?;
        conditions.push(entry.comparison_operator.condition(attribute, &entry.attribute_value_list));
    }
    Ok(combine(conditions, operator.unwrap_or_default()))
}

/// The key condition of `KeyConditions`.
pub fn key_conditions(conditions: &BTreeMap<String, FilterCondition>) -> Result<KeyCondition, ExprError> {
    let mut predicates = Vec::new();
    for (attribute, entry) in conditions {
        let values = &entry.attribute_value_list;
        check_values(entry.comparison_operator, values, true)?;
        let value = || values.first().cloned().unwrap_or(AttributeValue::Null);
        let test = match entry.comparison_operator {
            ComparisonOperator::Eq => KeyTest::Equal(value()),
            ComparisonOperator::Lt => KeyTest::Less(value()),
            ComparisonOperator::Le => KeyTest::LessOrEqual(value()),
            ComparisonOperator::Gt => KeyTest::Greater(value()),
            ComparisonOperator::Ge => KeyTest::GreaterOrEqual(value()),
            ComparisonOperator::BeginsWith => KeyTest::BeginsWith(value()),
            ComparisonOperator::Between => {
                KeyTest::Between(value(), values.get(1).cloned().unwrap_or(AttributeValue::Null))
            }
            other => KeyTest::NotIndexable { operator: other.name().to_owned(), values: values.clone() },
        };
        predicates.push(KeyPredicate { attribute: attribute.clone(), test });
    }
    KeyCondition::new(predicates)
}

/// The update of `AttributeUpdates`.
pub fn attribute_updates(updates: &BTreeMap<String, AttributeValueUpdate>) -> Result<Update, ExprError> {
    let mut actions = Vec::new();
    for (attribute, update) in updates {
        let path = DocumentPath::attribute(attribute.as_str());
        let action = update.action.unwrap_or(AttributeAction::Put);
        let action = match (action, &update.value) {
            (AttributeAction::Delete, None) => Action::Remove(path),
            (_, None) => {
                return Err(invalid("Only DELETE action is allowed when no attribute value is specified"))
            }
            (AttributeAction::Put, Some(value)) => {
                Action::Set { path, value: SetValue::Operand(UpdateOperand::Value(value.clone())) }
            }
            (AttributeAction::Delete, Some(value)) => match value {
                AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => {
                    Action::Delete { path, value: value.clone() }
                }
                other => {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        other.type_name()
                    )))
                }
            },
            (AttributeAction::Add, Some(value)) => match value {
                AttributeValue::N(_)
                | AttributeValue::Ss(_)
                | AttributeValue::Ns(_)
                | AttributeValue::Bs(_) => Action::Add { path, value: value.clone() },
                // Adding to a list appends to it, creating it when missing.
                AttributeValue::L(_) => {
                    let existing = UpdateOperand::IfNotExists(
                        path.clone(),
                        Box::new(UpdateOperand::Value(AttributeValue::L(Vec::new()))),
                    );
                    let appended = UpdateOperand::ListAppend(
                        Box::new(existing),
                        Box::new(UpdateOperand::Value(value.clone())),
                    );
                    Action::Set { path, value: SetValue::Operand(appended) }
                }
                other => {
                    return Err(invalid(format!(
                        "ADD action is not supported for the type {}",
                        other.type_name()
                    )))
                }
            },
        };
        actions.push(action);
    }
    Ok(Update::new(actions, Dialect::AttributeUpdates))
}

/// The projection of `AttributesToGet`.
pub fn attributes_to_get(names: &[String]) -> Result<Projection, ExprError> {
    let mut seen = BTreeSet::new();
    if let Some(duplicate) = names.iter().find(|name| !seen.insert(name.as_str())) {
        return Err(invalid(format!("Duplicate value in attribute name: {duplicate}")));
    }
    Ok(Projection::of_attributes(names.iter().cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, Number};

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn expected(entries: &[(&str, ExpectedAttribute)]) -> BTreeMap<String, ExpectedAttribute> {
        entries.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn value(v: AttributeValue) -> ExpectedAttribute {
        ExpectedAttribute { value: Some(v), ..ExpectedAttribute::default() }
    }

    fn exists(flag: bool) -> ExpectedAttribute {
        ExpectedAttribute { exists: Some(flag), ..ExpectedAttribute::default() }
    }

    fn compare(operator: ComparisonOperator, values: Vec<AttributeValue>) -> ExpectedAttribute {
        ExpectedAttribute {
            comparison_operator: Some(operator),
            attribute_value_list: Some(values),
            ..ExpectedAttribute::default()
        }
    }

    fn expected_error(entry: ExpectedAttribute) -> String {
        expected_condition(&expected(&[("a", entry)]), None).unwrap_err().to_string()
    }

    #[test]
    fn the_kcl_expectations_hold_as_dynamodb_holds_them() {
        let lease = item(&[("leaseKey", s("shard-1")), ("leaseCounter", n("5")), ("leaseOwner", s("w1"))]);
        let holds = |entries: &[(&str, ExpectedAttribute)], operator| {
            expected_condition(&expected(entries), operator)
                .unwrap()
                .is_none_or(|condition| condition.matches(&lease))
        };
        assert!(holds(&[("leaseCounter", value(n("5.0")))], None));
        assert!(!holds(&[("leaseCounter", value(n("6")))], None));
        assert!(holds(
            &[("leaseKey", ExpectedAttribute { exists: Some(true), ..value(s("shard-1")) })],
            None
        ));
        assert!(!holds(&[("leaseKey", exists(false))], None));
        assert!(holds(&[("checkpointOwner", exists(false)), ("leaseOwner", value(s("w1")))], None));
        assert!(!holds(
            &[
                ("checkpointOwner", compare(ComparisonOperator::NotNull, vec![])),
                ("leaseOwner", value(s("w1")))
            ],
            None
        ));
        assert!(!holds(&[("leaseOwner", value(s("w2"))), ("leaseCounter", value(n("5")))], None));
        assert!(holds(
            &[("leaseOwner", value(s("w2"))), ("leaseCounter", value(n("5")))],
            Some(ConditionalOperator::Or)
        ));
        assert!(holds(&[], None));
        assert!(holds(&[("leaseCounter", compare(ComparisonOperator::Between, vec![n("1"), n("5")]))], None));
        assert!(holds(&[("leaseOwner", compare(ComparisonOperator::NotNull, vec![]))], None));
        assert!(holds(&[("gone", compare(ComparisonOperator::Null, vec![]))], None));
        assert!(holds(&[("gone", compare(ComparisonOperator::NotContains, vec![s("x")]))], None));
        assert!(holds(&[("gone", compare(ComparisonOperator::Ne, vec![s("x")]))], None));
        assert!(holds(&[("leaseOwner", compare(ComparisonOperator::In, vec![s("w0"), s("w1")]))], None));
        let with_value =
            ExpectedAttribute { comparison_operator: Some(ComparisonOperator::Gt), ..value(n("4")) };
        assert!(holds(&[("leaseCounter", with_value)], None));
    }

    #[test]
    fn expected_gets_dynamodbs_messages() {
        let prefix = "One or more parameter values were invalid: ";
        let e = |entry| expected_error(entry).trim_start_matches(prefix).to_owned();
        assert_eq!(
            e(ExpectedAttribute::default()),
            "Value must be provided when Exists is null for Attribute: a"
        );
        assert_eq!(e(exists(true)), "Value must be provided when Exists is true for Attribute: a");
        assert_eq!(
            e(ExpectedAttribute { exists: Some(false), ..value(s("x")) }),
            "Value cannot be used when Exists is false for Attribute: a"
        );
        assert_eq!(
            e(ExpectedAttribute { attribute_value_list: Some(vec![]), ..value(s("x")) }),
            "Value and AttributeValueList cannot be used together for Attribute: a"
        );
        assert_eq!(
            e(ExpectedAttribute { exists: Some(true), ..compare(ComparisonOperator::Eq, vec![s("x")]) }),
            "Exists and ComparisonOperator cannot be used together for Attribute: a"
        );
        assert_eq!(
            e(ExpectedAttribute {
                comparison_operator: Some(ComparisonOperator::Eq),
                ..ExpectedAttribute::default()
            }),
            "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"
        );
        assert_eq!(
            e(ExpectedAttribute { attribute_value_list: Some(vec![s("x")]), ..ExpectedAttribute::default() }),
            "AttributeValueList can only be used with a ComparisonOperator for Attribute: a"
        );
        assert_eq!(
            e(compare(ComparisonOperator::Eq, vec![])),
            "Invalid number of argument(s) for the EQ ComparisonOperator"
        );
        assert_eq!(
            e(compare(ComparisonOperator::Null, vec![s("x")])),
            "Invalid number of argument(s) for the NULL ComparisonOperator"
        );
        assert_eq!(
            e(compare(ComparisonOperator::In, vec![])),
            "Invalid number of argument(s) for the IN ComparisonOperator"
        );
        assert_eq!(
            e(compare(ComparisonOperator::Between, vec![s("x")])),
            "Invalid number of argument(s) for the BETWEEN ComparisonOperator"
        );
        assert_eq!(
            e(compare(ComparisonOperator::In, vec![s("x"), n("1")])),
            "AttributeValues inside AttributeValueList must be of same type"
        );
        assert_eq!(
            expected_error(compare(ComparisonOperator::Between, vec![n("5"), n("1")])),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        );
    }

    fn filter(
        operator: ComparisonOperator,
        values: Vec<AttributeValue>,
    ) -> BTreeMap<String, FilterCondition> {
        BTreeMap::from([(
            "a".to_owned(),
            FilterCondition { comparison_operator: operator, attribute_value_list: values },
        )])
    }

    #[test]
    fn filters_check_types_and_match() {
        let error =
            |operator, values| filter_condition(&filter(operator, values), None).unwrap_err().to_string();
        assert_eq!(
            error(ComparisonOperator::Lt, vec![AttributeValue::Ss(vec!["x".into()])]),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type"
        );
        assert_eq!(
            error(ComparisonOperator::BeginsWith, vec![n("1")]),
            "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"
        );
        assert_eq!(
            error(ComparisonOperator::NotNull, vec![n("1")]),
            "One or more parameter values were invalid: Invalid number of argument(s) for the NOT_NULL ComparisonOperator"
        );
        let condition =
            filter_condition(&filter(ComparisonOperator::BeginsWith, vec![s("ab")]), None).unwrap().unwrap();
        assert!(condition.matches(&item(&[("a", s("abc"))])) && !condition.matches(&item(&[("a", s("b"))])));
        assert_eq!(filter_condition(&BTreeMap::new(), Some(ConditionalOperator::Or)).unwrap(), None);
    }

    #[test]
    fn key_conditions_convert_and_refuse_what_cannot_index() {
        let conditions = BTreeMap::from([
            (
                "h".to_owned(),
                FilterCondition {
                    comparison_operator: ComparisonOperator::Eq,
                    attribute_value_list: vec![s("x")],
                },
            ),
            (
                "r".to_owned(),
                FilterCondition {
                    comparison_operator: ComparisonOperator::Between,
                    attribute_value_list: vec![n("1"), n("2")],
                },
            ),
        ]);
        let key = key_conditions(&conditions).unwrap();
        assert_eq!(key.predicate("r").unwrap().test, KeyTest::Between(n("1"), n("2")));
        assert!(key.check_schema(("h", "S"), Some(("r", "N"))).is_ok());
        let ne = key_conditions(&filter(ComparisonOperator::Ne, vec![s("x")])).unwrap();
        assert_eq!(
            ne.check_schema(("a", "S"), None).unwrap_err().to_string(),
            "Attempted conditional constraint is not an indexable operation"
        );
        assert_eq!(
            key_conditions(&BTreeMap::new()).unwrap_err().to_string(),
            "Conditions can be of length 1 or 2 only"
        );
    }

    fn updates(
        entries: &[(&str, Option<AttributeAction>, Option<AttributeValue>)],
    ) -> BTreeMap<String, AttributeValueUpdate> {
        entries
            .iter()
            .cloned()
            .map(|(name, action, value)| (name.to_owned(), AttributeValueUpdate { action, value }))
            .collect()
    }

    #[test]
    fn attribute_updates_apply_as_the_kcl_expects() {
        let ss = |m: &[&str]| AttributeValue::Ss(m.iter().map(|x| x.to_string()).collect());
        let mut lease = item(&[("leaseCounter", n("5")), ("leaseOwner", s("w1")), ("tags", ss(&["a", "b"]))]);
        let update = attribute_updates(&updates(&[
            ("leaseCounter", None, Some(n("6"))),
            ("ownerSwitchesSinceCheckpoint", Some(AttributeAction::Add), Some(n("1"))),
            ("leaseOwner", Some(AttributeAction::Delete), None),
            ("tags", Some(AttributeAction::Delete), Some(ss(&["a"]))),
            ("list", Some(AttributeAction::Add), Some(AttributeValue::L(vec![n("1")]))),
            ("checkpoint", Some(AttributeAction::Put), Some(s("TRIM_HORIZON"))),
        ]))
        .unwrap();
        update.apply(&mut lease).unwrap();
        assert_eq!(
            lease,
            item(&[
                ("checkpoint", s("TRIM_HORIZON")),
                ("leaseCounter", n("6")),
                ("list", AttributeValue::L(vec![n("1")])),
                ("ownerSwitchesSinceCheckpoint", n("1")),
                ("tags", ss(&["b"])),
            ])
        );
        let mut twice = lease.clone();
        attribute_updates(&updates(&[(
            "list",
            Some(AttributeAction::Add),
            Some(AttributeValue::L(vec![n("2")])),
        )]))
        .unwrap()
        .apply(&mut twice)
        .unwrap();
        assert_eq!(twice.get("list"), Some(&AttributeValue::L(vec![n("1"), n("2")])));
        let mismatch =
            attribute_updates(&updates(&[("checkpoint", Some(AttributeAction::Add), Some(n("1")))])).unwrap();
        assert_eq!(
            mismatch.apply(&mut lease).unwrap_err().to_string(),
            "Type mismatch for attribute to update"
        );
        let list_mismatch = attribute_updates(&updates(&[(
            "checkpoint",
            Some(AttributeAction::Add),
            Some(AttributeValue::L(vec![])),
        )]))
        .unwrap();
        assert_eq!(
            list_mismatch.apply(&mut lease).unwrap_err().to_string(),
            "Type mismatch for attribute to update"
        );
    }

    #[test]
    fn attribute_updates_get_dynamodbs_messages() {
        let error =
            |action, value| attribute_updates(&updates(&[("a", action, value)])).unwrap_err().to_string();
        let prefix = "One or more parameter values were invalid: ";
        assert_eq!(
            error(None, None),
            format!("{prefix}Only DELETE action is allowed when no attribute value is specified")
        );
        assert_eq!(
            error(Some(AttributeAction::Delete), Some(n("1"))),
            format!("{prefix}DELETE action with value is not supported for the type N")
        );
        assert_eq!(
            error(Some(AttributeAction::Add), Some(s("1"))),
            format!("{prefix}ADD action is not supported for the type S")
        );
        assert_eq!(
            error(Some(AttributeAction::Add), Some(AttributeValue::Bool(true))),
            format!("{prefix}ADD action is not supported for the type BOOL")
        );
    }

    #[test]
    fn attributes_to_get_refuses_duplicates() {
        let names = |list: &[&str]| list.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(attributes_to_get(&names(&["a", "b"])).unwrap().paths().len(), 2);
        assert_eq!(
            attributes_to_get(&names(&["a", "b", "a"])).unwrap_err().to_string(),
            "One or more parameter values were invalid: Duplicate value in attribute name: a"
        );
    }

    #[test]
    fn dialects_do_not_mix() {
        let mix = |operation, given: &[&str]| {
            check_parameter_mix(operation, |name| given.contains(&name)).map_err(|e| e.to_string())
        };
        assert_eq!(
            mix(Operation::UpdateItem, &["Expected", "AttributeUpdates", "ConditionExpression", "UpdateExpression"]),
            Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates, Expected} Expression parameters: {UpdateExpression, ConditionExpression}".into())
        );
        assert_eq!(
            mix(Operation::PutItem, &["Expected", "ConditionExpression"]),
            Err("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}".into())
        );
        assert_eq!(
            mix(Operation::UpdateItem, &["Expected", "ExpressionAttributeNames"]),
            Err("ExpressionAttributeNames can only be specified when using expressions".into())
        );
        assert_eq!(
            mix(Operation::UpdateItem, &["Expected", "ExpressionAttributeValues"]),
            Err("ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null".into())
        );
        assert_eq!(
            mix(Operation::PutItem, &["ExpressionAttributeValues"]),
            Err("ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null".into())
        );
        assert_eq!(mix(Operation::GetItem, &["ProjectionExpression", "ExpressionAttributeNames"]), Ok(()));
        assert_eq!(mix(Operation::GetItem, &["ExpressionAttributeValues"]), Ok(()));
        // KeyConditions may go with a FilterExpression, but not with a KeyConditionExpression.
        assert_eq!(mix(Operation::Query, &["KeyConditions", "FilterExpression"]), Ok(()));
        assert!(mix(Operation::Query, &["KeyConditions", "KeyConditionExpression"]).is_err());
        assert!(mix(Operation::Scan, &["ScanFilter", "ProjectionExpression"])
            .unwrap_err()
            .contains("{ScanFilter}"));
        assert_eq!(mix(Operation::Scan, &["ScanFilter", "ConditionalOperator"]), Ok(()));
    }
}
