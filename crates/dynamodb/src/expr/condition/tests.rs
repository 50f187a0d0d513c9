use std::collections::BTreeMap;

use super::*;
use crate::expr::{ExpressionKind, PathElement, Placeholders};

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).unwrap())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn placeholders(names: &[(&str, &str)], values: &[(&str, AttributeValue)]) -> Placeholders {
    let names: BTreeMap<_, _> = names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let values: BTreeMap<_, _> = values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Placeholders::new((!names.is_empty()).then_some(names), (!values.is_empty()).then_some(values)).unwrap()
}

/// The values most tests use: `:s` a string, `:n` a number, `:b` a binary, `:t` a type name.
fn common() -> Placeholders {
    placeholders(
        &[("#k", "kk"), ("#n", "name")],
        &[
            (":s", s("abc")),
            (":n", n("5")),
            (":b", AttributeValue::B(vec![1])),
            (":t", s("N")),
            (":m", n("1")),
        ],
    )
}

fn parse(text: &str) -> Result<Condition, String> {
    parse_condition(text, ExpressionKind::Condition, &mut common()).map_err(|e| e.to_string())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err()
}

fn path(name: &str) -> Operand {
    Operand::Path(DocumentPath::attribute(name))
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn holds(text: &str, item: &Item) -> bool {
    parse(text).unwrap().matches(item)
}

#[test]
fn the_forms_clients_send_parse() {
    for text in [
        "attribute_not_exists(#k)",
        "attribute_exists(#k) AND #n = :s",
        "(attribute_exists(#k) AND #n = :s AND a = :n)",
        "#k = :s AND attribute_exists (wid)",
        "attribute_exists(a)AND(b = :s)",
        "(a = :s)AND b = :n",
        "  a = :s  ",
        "#n = :s OR attribute_not_exists(#n)",
        "a = :s and not b = :n or c = :n",
        "a BETWEEN :m AND :n or a in (:n, :m)",
        "size(a) > :n",
        "(a) = :s",
        "begins_with(a, :s) AND contains(b, :n) AND attribute_type(c, :t)",
        "a.b[1].#k <> :s",
    ] {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let a = || Box::new(Condition::AttributeExists(DocumentPath::attribute("a")));
    let b = || Box::new(Condition::AttributeExists(DocumentPath::attribute("b")));
    let c = || Box::new(Condition::AttributeExists(DocumentPath::attribute("c")));
    assert_eq!(
        parse("attribute_exists(a) OR attribute_exists(b) AND attribute_exists(c)").unwrap(),
        Condition::Or(a(), Box::new(Condition::And(b(), c())))
    );
    assert_eq!(
        parse("NOT attribute_exists(a) AND attribute_exists(b)").unwrap(),
        Condition::And(Box::new(Condition::Not(a())), b())
    );
    assert_eq!(
        parse("(attribute_exists(a) OR attribute_exists(b)) AND attribute_exists(c)").unwrap(),
        Condition::And(Box::new(Condition::Or(a(), b())), c())
    );
    assert_eq!(
        parse("attribute_exists(a) or attribute_exists(b) or attribute_exists(c)").unwrap(),
        Condition::Or(Box::new(Condition::Or(a(), b())), c())
    );
    assert_eq!(parse("not not attribute_exists(a)").unwrap(), Condition::Not(Box::new(Condition::Not(a()))));
}

#[test]
fn operands_resolve_placeholders_and_paths() {
    assert_eq!(
        parse("#k.x[2] >= :n").unwrap(),
        Condition::Comparison {
            comparator: Comparator::GreaterOrEqual,
            left: Operand::Path(
                DocumentPath::attribute("kk")
                    .child(PathElement::Name("x".into()))
                    .child(PathElement::Index(2))
            ),
            right: Operand::Value(n("5")),
        }
    );
    assert_eq!(
        parse("size(a) < :n").unwrap(),
        Condition::Comparison {
            comparator: Comparator::Less,
            left: Operand::Size(Box::new(path("a"))),
            right: Operand::Value(n("5"))
        }
    );
}

#[test]
fn syntax_errors_name_the_token_and_its_neighbours() {
    assert_eq!(error(""), "Invalid ConditionExpression: The expression can not be empty;");
    assert_eq!(error("foo"), r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "foo""#);
    assert_eq!(error("a = "), r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "=""#);
    assert_eq!(error("a == :s"), r#"Invalid ConditionExpression: Syntax error; token: "=", near: "== :s""#);
    assert_eq!(error("a = !!"), r#"Invalid ConditionExpression: Syntax error; token: "!", near: "= !!""#);
    assert_eq!(error("a = :s b"), r#"Invalid ConditionExpression: Syntax error; token: "b", near: ":s b""#);
    assert_eq!(error("a = 1"), r#"Invalid ConditionExpression: Syntax error; token: "1", near: "= 1""#);
    assert_eq!(
        error("a = :s AND"),
        r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND""#
    );
    assert_eq!(error("(a = :s"), r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":s""#);
    assert_eq!(
        error("a + :s = b"),
        r#"Invalid ConditionExpression: Syntax error; token: "+", near: "a + :s""#
    );
    // `_a` could start a function call, which fails at `=`.
    assert_eq!(error("_a = :s"), r#"Invalid ConditionExpression: Syntax error; token: "=", near: "_a = :s""#);
    assert_eq!(
        error("AND = :s"),
        r#"Invalid ConditionExpression: Syntax error; token: "AND", near: "AND =""#
    );
    let filter = parse_condition("a =", ExpressionKind::Filter, &mut common()).unwrap_err();
    assert_eq!(filter.to_string(), r#"Invalid FilterExpression: Syntax error; token: "<EOF>", near: "=""#);
    assert_eq!(error(" "), r#"Invalid ConditionExpression: Syntax error; token: "<EOF>", near: """#);
}

#[test]
fn placeholder_and_name_problems() {
    assert_eq!(
        error("#x = :s"),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        error("a = :x"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"
    );
    // Names and values share a rank: the first one written wins.
    assert!(error("a = :x AND #x = :s").ends_with("attribute value: :x"));
    assert_eq!(
        error("Name = :s"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name"
    );
    assert!(error("size = :s AND #x = :s").ends_with("reserved keyword: size"));
}

#[test]
fn function_problems() {
    let e = |text: &str| error(text).trim_start_matches("Invalid ConditionExpression: ").to_owned();
    assert_eq!(e("foo(a)"), "Invalid function name; function: foo");
    assert_eq!(e("ATTRIBUTE_EXISTS(a)"), "Invalid function name; function: ATTRIBUTE_EXISTS");
    assert_eq!(
        e("attribute_exists(a, b)"),
        "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"
    );
    assert_eq!(
        e("size(a, b) = :n"),
        "Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"
    );
    assert_eq!(
        e("attribute_exists(:s)"),
        "Operator or function requires a document path; operator or function: attribute_exists"
    );
    assert_eq!(
        e("attribute_not_exists(size(a))"),
        "Operator or function requires a document path; operator or function: attribute_not_exists"
    );
    assert_eq!(
        e("begins_with(a, :n)"),
        "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        e("attribute_type(a, :n)"),
        "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N"
    );
    assert_eq!(
        e("attribute_type(a, b)"),
        "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
    );
    assert_eq!(
        e("attribute_type(a, :s)"),
        "Invalid attribute type name found; type: abc, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    );
    assert_eq!(
        e("size(:n) = :n"),
        "Incorrect operand type for operator or function; operator or function: size, operand type: N"
    );
    assert_eq!(
        e("size(a)"),
        "The function is not allowed to be used this way in an expression; function: size"
    );
    assert_eq!(
        e("size(a) AND a = :s"),
        "The function is not allowed to be used this way in an expression; function: size"
    );
    assert_eq!(
        e("attribute_exists(a) = :s"),
        "The function is not allowed to be used this way in an expression; function: attribute_exists"
    );
    assert_eq!(
        e("contains(begins_with(a, :s), :s)"),
        "The function is not allowed to be used this way in an expression; function: begins_with"
    );
    assert_eq!(
        e("a = a"),
        "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"
    );
    assert_eq!(
        e("begins_with(a.b, #k.b) AND begins_with(kk.b, #k.b)"),
        "The first operand must be distinct from the remaining operands for this operator or function; operator: begins_with, first operand: [kk, b]"
    );
    assert_eq!(e("((a = :s))"), "The expression has redundant parentheses;");
    assert_eq!(e("((a)) = :s"), "The expression has redundant parentheses;");
    assert!(parse("((a = :s) AND (b = :s))").is_ok());
}

#[test]
fn between_bounds_must_agree() {
    assert_eq!(
        error("a BETWEEN :n AND :s"),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {S:abc}"
    );
    assert_eq!(
        error("a BETWEEN :n AND :m"),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"
    );
    assert!(parse("a BETWEEN :m AND :n").is_ok() && parse("a BETWEEN :n AND :n").is_ok());
}

#[test]
fn the_worst_problem_wins() {
    // Redundant parentheses outrank an unknown function, which outranks a reserved word, ...
    assert!(error("((foo(a))) AND Name = :s").ends_with("redundant parentheses;"));
    assert!(error("foo(a) AND Name = :x").ends_with("function: foo"));
    assert!(error("Name = :x").ends_with("reserved keyword: Name"));
    assert!(error("a = :x AND attribute_exists(a, b)").ends_with("attribute value: :x"));
    assert!(error("begins_with(a, :n) AND attribute_exists(a, b)").ends_with("number of operands: 2"));
}

#[test]
fn keywords_are_case_insensitive_but_functions_are_not() {
    assert!(parse("a = :s aNd b BeTwEeN :m And :n oR NOT c In (:s)").is_ok());
    assert!(parse("Attribute_Exists(a)").is_err());
}

#[test]
fn placeholders_are_marked_used() {
    let mut placeholders = common();
    parse_condition("#k = :s", ExpressionKind::Condition, &mut placeholders).unwrap();
    let unused = placeholders.check_all_used().unwrap_err().to_string();
    assert_eq!(unused, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}");
}

#[test]
fn comparisons_follow_dynamodb() {
    let it = item(&[("s", s("abc")), ("n", n("5")), ("l", AttributeValue::L(vec![n("1")]))]);
    assert!(holds("s = :s", &it) && !holds("s <> :s", &it));
    assert!(holds("n = :n", &it) && holds("n >= :n", &it) && !holds("n > :n", &it) && holds("n > :m", &it));
    // Different types: never equal, never ordered, always `<>`.
    assert!(!holds("s = :n", &it) && !holds("s < :n", &it) && !holds("s > :n", &it) && holds("s <> :n", &it));
    // A missing attribute: only `<>` and attribute_not_exists hold.
    assert!(!holds("x = :s", &it) && holds("x <> :s", &it) && !holds("x < :s", &it));
    assert!(holds("attribute_not_exists(x)", &it) && !holds("attribute_exists(x)", &it));
    assert!(holds("n BETWEEN :m AND :n", &it) && !holds("s BETWEEN :m AND :n", &it));
    assert!(holds("n IN (:s, :n)", &it) && !holds("n IN (:s, :m)", &it) && !holds("x IN (:s)", &it));
    assert!(holds("attribute_type(n, :t)", &it) && !holds("attribute_type(s, :t)", &it));
    assert!(
        holds("begins_with(s, :s)", &it) && holds("contains(s, :s)", &it) && !holds("contains(n, :n)", &it)
    );
    assert!(holds("contains(l, :m)", &it) && holds("size(l) = :m", &it) && holds("size(s) > :m", &it));
    assert!(!holds("size(n) = :m", &it) && !holds("size(x) = :m", &it));
    assert!(holds("NOT size(n) = :m", &it));
    assert!(holds("s = :s AND (x = :s OR n = :n)", &it) && !holds("NOT (s = :s)", &it));
}

#[test]
fn conditions_name_their_attributes() {
    let condition =
        parse("#k.x = :s AND (NOT size(b[1]) > :n OR attribute_exists(c)) AND d IN (:s, :n)").unwrap();
    assert_eq!(condition.attribute_names().into_iter().collect::<Vec<_>>(), ["b", "c", "d", "kk"]);
}
