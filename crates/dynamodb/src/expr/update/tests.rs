use std::collections::BTreeMap;

use super::*;
use crate::expr::{PathElement, Placeholders};
use crate::{Item, Number};

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).unwrap())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn ss(members: &[&str]) -> AttributeValue {
    AttributeValue::Ss(members.iter().map(|m| m.to_string()).collect())
}

fn placeholders() -> Placeholders {
    let names: BTreeMap<_, _> = [("#c", "c"), ("#d", "[3]"), ("#ld", "leaseDuration"), ("#1", "1")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    let values: BTreeMap<_, _> = [
        (":s", s("a")),
        (":n", n("1")),
        (":b", AttributeValue::B(vec![1])),
        (":ss", ss(&["x", "y"])),
        (":l", AttributeValue::L(vec![n("9")])),
        (":m", AttributeValue::M(Item::new())),
        (":null", AttributeValue::Null),
        (":bool", AttributeValue::Bool(true)),
        (":ns", AttributeValue::Ns(vec![Number::from(1)])),
        (":big", n("9E+125")),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    Placeholders::new(Some(names), Some(values)).unwrap()
}

fn parse(text: &str) -> Result<Update, String> {
    parse_update(text, &mut placeholders()).map_err(|e| e.to_string())
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().trim_start_matches("Invalid UpdateExpression: ").to_owned()
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn applied(text: &str, before: &Item) -> Result<Item, String> {
    let mut after = before.clone();
    match parse(text).unwrap().apply(&mut after) {
        Ok(()) => Ok(after),
        Err(error) => {
            assert_eq!(&after, before, "a failed update changes nothing");
            Err(error.to_string())
        }
    }
}

#[test]
fn the_forms_clients_send_parse() {
    for text in [
        "SET #ld = :s, #c = :n",
        " REMOVE #c ",
        "remove AssignedTo",
        "set a=:s",
        "SET a = if_not_exists (a, :n) + :n",
        "SET a = list_append(if_not_exists(a, :l), :l)",
        "ADD a :n, b :ss DELETE c :ss",
        "set a = (b + :n)",
        "set a = b - :n remove c, d[1] add e :n delete f :ss",
        "SET a[1].b = :s, _x = :s",
        "add a :n",
    ] {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn syntax_errors() {
    assert_eq!(error(""), "The expression can not be empty;");
    assert_eq!(error("SET MyStr = myNum + 1"), r#"Syntax error; token: "1", near: "+ 1""#);
    assert_eq!(
        error("SET MyStr = myNum Mystr2 myNum2"),
        r#"Syntax error; token: "Mystr2", near: "myNum Mystr2 myNum2""#
    );
    assert_eq!(error("SET MyStr = my Num"), r#"Syntax error; token: "Num", near: "my Num""#);
    for bad in [
        "whatever",
        "set a",
        "add a",
        "delete a",
        "set a=set",
        "remove a = b",
        "add a = b",
        "delete a b",
        "remove a b",
        "set a b",
        "set :a = b",
        "add :a b",
        "remove :a",
        "set a = b / c",
        "set a[1] = 1",
        "SET if_not_exist(a, b) = a",
        "set (a = (b + c))",
        "set a = (b.c).d + e",
        "set a = b + c + d",
        "set a = :s,",
        "set a = (b) + c",
        " ",
    ] {
        assert!(error(bad).starts_with("Syntax error; "), "{bad}: {}", error(bad));
    }
}

#[test]
fn checks_give_dynamodbs_messages() {
    assert_eq!(
        error(" remove Absolute "),
        "Attribute name is a reserved keyword; reserved keyword: Absolute"
    );
    assert_eq!(error("set #c = if_not_exist(:s) set c = d"), "Invalid function name; function: if_not_exist");
    assert_eq!(
        error("set a = #c set c = :s"),
        r#"The "SET" section can only be used once in an update expression;"#
    );
    assert_eq!(
        error("remove #c set a = b remove e"),
        r#"The "REMOVE" section can only be used once in an update expression;"#
    );
    assert_eq!(
        error("SET #x = if_not_exists(:x)"),
        "An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        error("SET a = if_not_exists(:x)"),
        "An expression attribute value used in expression is not defined; attribute value: :x"
    );
    assert_eq!(
        error("add a.b :s"),
        "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
    );
    assert_eq!(
        error("delete a :n"),
        "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"
    );
    for (value, kind) in
        [(":b", "BINARY"), (":null", "NULL"), (":bool", "BOOLEAN"), (":l", "LIST"), (":m", "MAP")]
    {
        assert!(error(&format!("add a {value}")).ends_with(&format!("operator: ADD, operand type: {kind}")));
    }
    assert_eq!(
        error("set a = if_not_exists(c)"),
        "Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1"
    );
    assert_eq!(
        error("set a = if_not_exists(:s, c)"),
        "Operator or function requires a document path; operator or function: if_not_exists"
    );
    assert_eq!(
        error("set a = list_append(:s, a)"),
        "Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
    );
    assert_eq!(
        error("set a = a + :s"),
        "Incorrect operand type for operator or function; operator or function: +, operand type: S"
    );
    assert_eq!(
        error("set a = :ss - a"),
        "Incorrect operand type for operator or function; operator or function: -, operand type: SS"
    );
}

#[test]
fn overlapping_and_conflicting_paths() {
    let overlap = |one: &str, two: &str| {
        format!("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}")
    };
    let conflict = |one: &str, two: &str| {
        format!("Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}")
    };
    assert_eq!(
        error("set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)"),
        overlap("[c, [1], a]", "[c]")
    );
    assert_eq!(error("set c.b.#c = a, c = a, #d = a"), overlap("[c, b, c]", "[c]"));
    assert_eq!(error("set a = b remove a, #c, #d"), overlap("[a]", "[a]"));
    assert_eq!(error("set #c[3].#d = a, #c[3] = a"), overlap("[c, [3], [3]]", "[c, [3]]"));
    assert_eq!(error("remove c, #c.a, #d"), overlap("[c]", "[c, a]"));
    assert_eq!(
        error("set #c[3].#d = a, #c.#d[3] = if_not_exists(a)"),
        conflict("[c, [3], [3]]", "[c, [3], [3]]")
    );
    assert_eq!(error("remove a.#c set a[1] = #d"), conflict("[a, c]", "[a, [1]]"));
}

#[test]
fn updates_report_their_paths() {
    let update = parse("SET a.b = c[1], d = :n REMOVE e ADD f :ss").unwrap();
    let names: Vec<String> = update.target_paths().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["[a, b]", "[d]", "[e]", "[f]"]);
    assert_eq!(update.target_attributes().into_iter().collect::<Vec<_>>(), ["a", "d", "e", "f"]);
    assert_eq!(update.nested_attributes().into_iter().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(update.assigned_type("d"), Some("N"));
    assert_eq!(update.assigned_type("a"), None);
    assert_eq!(parse("SET x = list_append(a, b)").unwrap().assigned_type("x"), Some("L"));
    assert_eq!(parse("SET x = if_not_exists(a, :s)").unwrap().assigned_type("x"), Some("S"));
    assert_eq!(
        parse("remove a[2]").unwrap().actions(),
        [Action::Remove(DocumentPath::attribute("a").child(PathElement::Index(2)))]
    );
}

#[test]
fn set_remove_add_delete_apply() {
    let before = item(&[
        ("a", n("5")),
        ("s", ss(&["x", "z"])),
        ("l", AttributeValue::L(vec![n("1"), n("2"), n("3")])),
    ]);
    let after =
        applied("SET a = a + :n, b = :s, c = if_not_exists(c, :n) REMOVE l[0], l[2]", &before).unwrap();
    assert_eq!(after.get("a"), Some(&n("6")));
    assert_eq!(after.get("b"), Some(&s("a")));
    assert_eq!(after.get("c"), Some(&n("1")));
    assert_eq!(after.get("l"), Some(&AttributeValue::L(vec![n("2")])));
    // SET values read the item as it was.
    let after = applied("SET a = :n, b = a", &before).unwrap();
    assert_eq!(after.get("b"), Some(&n("5")));
    let after = applied("ADD a :n, s :ss, fresh :n", &before).unwrap();
    assert_eq!(
        (after.get("a"), after.get("s"), after.get("fresh")),
        (Some(&n("6")), Some(&ss(&["x", "z", "y"])), Some(&n("1")))
    );
    let after = applied("DELETE s :ss", &before).unwrap();
    assert_eq!(after.get("s"), Some(&ss(&["z"])));
    let after = applied("DELETE s :ss", &item(&[("s", ss(&["x"]))])).unwrap();
    assert_eq!(after.get("s"), None);
    assert_eq!(applied("DELETE gone :ss", &before).unwrap(), before);
    let after = applied("SET l[1] = :s, l[10] = :n", &before).unwrap();
    assert_eq!(after.get("l"), Some(&AttributeValue::L(vec![n("1"), s("a"), n("3"), n("1")])));
    let after =
        applied("SET l = list_append(l, :l), m = list_append(if_not_exists(m, :l), :l)", &before).unwrap();
    assert_eq!(after.get("l"), Some(&AttributeValue::L(vec![n("1"), n("2"), n("3"), n("9")])));
    assert_eq!(after.get("m"), Some(&AttributeValue::L(vec![n("9"), n("9")])));
    assert_eq!(applied("REMOVE nothing, l[7]", &before).unwrap(), before);
    let nested = item(&[("m", AttributeValue::M(item(&[("k", n("1"))])))]);
    let after = applied("SET m.j = :s REMOVE m.k", &nested).unwrap();
    assert_eq!(after.get("m"), Some(&AttributeValue::M(item(&[("j", s("a"))]))));
}

#[test]
fn runtime_errors_change_nothing() {
    let before = item(&[("a", s("x")), ("n", n("1")), ("ns", AttributeValue::Ns(vec![Number::from(1)]))]);
    let mismatch = "An operand in the update expression has an incorrect data type";
    assert_eq!(applied("SET b = a + :n", &before).unwrap_err(), mismatch);
    assert_eq!(applied("SET b = list_append(a, :l)", &before).unwrap_err(), mismatch);
    assert_eq!(applied("ADD a :n", &before).unwrap_err(), mismatch);
    assert_eq!(applied("ADD n :ss", &before).unwrap_err(), mismatch);
    assert_eq!(applied("ADD ns :n", &before).unwrap_err(), mismatch);
    assert_eq!(applied("DELETE ns :ss", &before).unwrap_err(), mismatch);
    assert_eq!(
        applied("SET b = gone", &before).unwrap_err(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    let invalid = "The document path provided in the update expression is invalid for update";
    for text in [
        "SET x.y = :s",
        "SET a.y = :s",
        "SET a[0] = :s",
        "REMOVE x.y",
        "ADD x[1] :n",
        "DELETE a.b :ss",
        "SET n = :n, x.y = :s",
    ] {
        assert_eq!(applied(text, &before).unwrap_err(), invalid, "{text}");
    }
    assert_eq!(
        applied("SET big = :big + :big", &before).unwrap_err(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
}
