//! Properties of the expression parsers (`docs/dynamodb-expressions.md`, "Testing"):
//! no input makes them panic; printing random conditions and updates with random spacing and
//! letter case, then parsing them, gives back what was printed; and numbers evaluate as a
//! simple integer reference says.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::reserved::is_reserved;
use super::*;
use crate::{AttributeValue, Item, Number};

/// Random choices for the printer, from a seed (xorshift).
struct Style(u64);

impl Style {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True one time in `times`.
    fn one_in(&mut self, times: u64) -> bool {
        self.next().is_multiple_of(times)
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[(self.next() % choices.len() as u64) as usize]
    }

    /// Whitespace around a symbol: maybe none.
    fn space(&mut self) -> &'static str {
        self.pick(&["", "", " ", "  ", "\t", "\n"])
    }

    /// Whitespace around a word: at least one character.
    fn gap(&mut self) -> &'static str {
        self.pick(&[" ", " ", "  ", "\t", "\r\n"])
    }

    fn keyword(&mut self, keyword: &str) -> String {
        match self.next() % 3 {
            0 => keyword.to_ascii_uppercase(),
            1 => keyword.to_ascii_lowercase(),
            _ => keyword
                .chars()
                .enumerate()
                .map(|(at, c)| if at % 2 == 0 { c.to_ascii_lowercase() } else { c })
                .collect(),
        }
    }
}

/// Prints expressions, collecting the placeholders they need.
struct Printer {
    style: Style,
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
}

impl Printer {
    fn new(seed: u64) -> Printer {
        Printer { style: Style(seed | 1), names: BTreeMap::new(), values: BTreeMap::new() }
    }

    fn placeholders(&self) -> Placeholders {
        let names = (!self.names.is_empty()).then(|| self.names.clone());
        let values = (!self.values.is_empty()).then(|| self.values.clone());
        Placeholders::new(names, values).unwrap()
    }

    /// A name as written: bare when it can be, sometimes through a placeholder anyway.
    fn name(&mut self, name: &str) -> String {
        let bare = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !is_reserved(name);
        if bare && !self.style.one_in(3) {
            return name.to_owned();
        }
        let key = format!("#n{}", self.names.len());
        self.names.insert(key.clone(), name.to_owned());
        key
    }

    fn value(&mut self, value: &AttributeValue) -> String {
        let key = format!(":v{}", self.values.len());
        self.values.insert(key.clone(), value.clone());
        key
    }

    fn path(&mut self, path: &DocumentPath) -> String {
        let mut text = String::new();
        for (at, element) in path.elements().iter().enumerate() {
            match element {
                PathElement::Name(name) if at == 0 => text += &self.name(name),
                PathElement::Name(name) => {
                    let (a, b) = (self.style.space(), self.style.space());
                    text += &format!("{a}.{b}{}", self.name(name));
                }
                PathElement::Index(index) => {
                    let (a, b, c) = (self.style.space(), self.style.space(), self.style.space());
                    text += &format!("{a}[{b}{index}{c}]");
                }
            }
        }
        text
    }

    /// `name(arguments)`, spaced at random.
    fn call(&mut self, name: &str, arguments: Vec<String>) -> String {
        let mut text = format!("{name}{}({}", self.style.space(), self.style.space());
        for (at, argument) in arguments.iter().enumerate() {
            if at > 0 {
                text += &format!("{},{}", self.style.space(), self.style.space());
            }
            text += argument;
        }
        text + self.style.space() + ")"
    }

    fn parenthesized(&mut self, inner: String) -> String {
        format!("({}{inner}{})", self.style.space(), self.style.space())
    }

    fn operand(&mut self, operand: &Operand) -> String {
        match operand {
            Operand::Path(path) => self.path(path),
            Operand::Value(value) => self.value(value),
            Operand::Size(inner) => {
                let inner = self.operand(inner);
                self.call("size", vec![inner])
            }
        }
    }

    fn keyword(&mut self, keyword: &str) -> String {
        let (before, after) = (self.style.gap(), self.style.gap());
        format!("{before}{}{after}", self.style.keyword(keyword))
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::And(a, b) | Condition::Or(a, b) => {
                let keyword = if matches!(condition, Condition::And(..)) { "AND" } else { "OR" };
                let a = self.child(a);
                let keyword = self.keyword(keyword);
                format!("{a}{keyword}{}", self.child(b))
            }
            Condition::Not(a) => format!("{}{}", self.keyword("NOT").trim_start(), self.child(a)),
            leaf => {
                let text = self.leaf(leaf);
                if self.style.one_in(4) {
                    self.parenthesized(text)
                } else {
                    text
                }
            }
        }
    }

    /// A condition inside `AND`, `OR` or `NOT`: compound ones in parentheses, so that the
    /// tree printed is the tree parsed.
    fn child(&mut self, condition: &Condition) -> String {
        let text = self.condition(condition);
        match condition {
            Condition::And(..) | Condition::Or(..) | Condition::Not(..) => self.parenthesized(text),
            _ => text,
        }
    }

    fn leaf(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Comparison { comparator, left, right } => {
                let left = self.operand(left);
                let (a, b) = (self.style.space(), self.style.space());
                format!("{left}{a}{}{b}{}", comparator.symbol(), self.operand(right))
            }
            Condition::Between { operand, lower, upper } => {
                let operand = self.operand(operand);
                let between = self.keyword("BETWEEN");
                let lower = self.operand(lower);
                let and = self.keyword("AND");
                format!("{operand}{between}{lower}{and}{}", self.operand(upper))
            }
            Condition::In { operand, candidates } => {
                let operand = self.operand(operand);
                let keyword = self.keyword("IN");
                let candidates =
                    candidates.iter().map(|candidate| self.operand(candidate)).collect::<Vec<_>>();
                format!("{operand}{keyword}{}", self.call("", candidates))
            }
            Condition::AttributeExists(path) | Condition::AttributeNotExists(path) => {
                let name = if matches!(condition, Condition::AttributeExists(_)) {
                    "attribute_exists"
                } else {
                    "attribute_not_exists"
                };
                let path = self.path(path);
                self.call(name, vec![path])
            }
            Condition::AttributeType { operand: a, type_name: b }
            | Condition::BeginsWith { operand: a, prefix: b }
            | Condition::Contains { operand: a, part: b } => {
                let name = match condition {
                    Condition::AttributeType { .. } => "attribute_type",
                    Condition::BeginsWith { .. } => "begins_with",
                    _ => "contains",
                };
                let arguments = vec![self.operand(a), self.operand(b)];
                self.call(name, arguments)
            }
            compound => self.condition(compound),
        }
    }

    fn update_operand(&mut self, operand: &UpdateOperand) -> String {
        match operand {
            UpdateOperand::Path(path) => self.path(path),
            UpdateOperand::Value(value) => self.value(value),
            UpdateOperand::IfNotExists(path, fallback) => {
                let arguments = vec![self.path(path), self.update_operand(fallback)];
                self.call("if_not_exists", arguments)
            }
            UpdateOperand::ListAppend(a, b) => {
                let arguments = vec![self.update_operand(a), self.update_operand(b)];
                self.call("list_append", arguments)
            }
        }
    }

    fn action(&mut self, action: &Action) -> String {
        let path = self.path(action.path());
        match action {
            Action::Set { value, .. } => {
                let value = match value {
                    SetValue::Operand(operand) => self.update_operand(operand),
                    SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                        let sign = if matches!(value, SetValue::Plus(..)) { "+" } else { "-" };
                        let a = self.update_operand(a);
                        let (x, y) = (self.style.space(), self.style.space());
                        let text = format!("{a}{x}{sign}{y}{}", self.update_operand(b));
                        if self.style.one_in(3) {
                            self.parenthesized(text)
                        } else {
                            text
                        }
                    }
                };
                let (a, b) = (self.style.space(), self.style.space());
                format!("{path}{a}={b}{value}")
            }
            Action::Remove(_) => path,
            Action::Add { value, .. } | Action::Delete { value, .. } => {
                let gap = self.style.gap();
                format!("{path}{gap}{}", self.value(value))
            }
        }
    }

    /// The update as sections in a random order; answers the text and the actions in the order
    /// printed, which is the order the parser gives them.
    fn update(&mut self, actions: &[Action]) -> (String, Vec<Action>) {
        let mut kinds = vec!["SET", "REMOVE", "ADD", "DELETE"];
        for at in (1..kinds.len()).rev() {
            kinds.swap(at, (self.style.next() % (at as u64 + 1)) as usize);
        }
        let kind = |action: &Action| match action {
            Action::Set { .. } => "SET",
            Action::Remove(_) => "REMOVE",
            Action::Add { .. } => "ADD",
            Action::Delete { .. } => "DELETE",
        };
        let mut text = self.style.space().to_owned();
        let mut printed = Vec::new();
        for section in kinds {
            let members: Vec<&Action> = actions.iter().filter(|action| kind(action) == section).collect();
            if members.is_empty() {
                continue;
            }
            text += &self.keyword(section);
            for (at, action) in members.into_iter().enumerate() {
                if at > 0 {
                    text += &format!("{},{}", self.style.space(), self.style.space());
                }
                text += &self.action(action);
                printed.push(action.clone());
            }
        }
        (text + self.style.space(), printed)
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-zA-Z][a-zA-Z0-9_]{0,6}", 1 => "[a-zA-Z0-9 _.#:-]{1,6}"]
}

fn path() -> impl Strategy<Value = DocumentPath> {
    let element = prop_oneof![name().prop_map(PathElement::Name), (0usize..20).prop_map(PathElement::Index)];
    (name(), prop::collection::vec(element, 0..3))
        .prop_map(|(top, rest)| rest.into_iter().fold(DocumentPath::attribute(top), DocumentPath::child))
}

fn number() -> impl Strategy<Value = Number> {
    any::<i64>().prop_map(Number::from)
}

fn value() -> impl Strategy<Value = AttributeValue> {
    let scalar = prop_oneof![
        "[a-z]{0,5}".prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
    ];
    prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::btree_set("[a-z]{1,3}", 1..4).prop_map(|set| AttributeValue::Ss(set.into_iter().collect())),
        1 => prop::collection::vec(scalar, 0..3).prop_map(AttributeValue::L),
    ]
}

fn comparator() -> impl Strategy<Value = Comparator> {
    prop_oneof![
        Just(Comparator::Equal),
        Just(Comparator::NotEqual),
        Just(Comparator::Less),
        Just(Comparator::LessOrEqual),
        Just(Comparator::Greater),
        Just(Comparator::GreaterOrEqual),
    ]
}

/// Conditions without problems: paths compared with values, ordered `BETWEEN` bounds of one
/// type, known type names.
fn condition() -> impl Strategy<Value = Condition> {
    let left = prop_oneof![3 => path().prop_map(Operand::Path), 1 => path().prop_map(|p| Operand::Size(Box::new(Operand::Path(p))))];
    let leaf = prop_oneof![
        (comparator(), left, value()).prop_map(|(comparator, left, right)| Condition::Comparison {
            comparator,
            left,
            right: Operand::Value(right)
        }),
        (path(), number(), number()).prop_map(|(path, a, b)| Condition::Between {
            operand: Operand::Path(path),
            lower: Operand::Value(AttributeValue::N(a.clone().min(b.clone()))),
            upper: Operand::Value(AttributeValue::N(a.max(b))),
        }),
        (path(), prop::collection::vec(value(), 1..4)).prop_map(|(path, values)| Condition::In {
            operand: Operand::Path(path),
            candidates: values.into_iter().map(Operand::Value).collect(),
        }),
        path().prop_map(Condition::AttributeExists),
        path().prop_map(Condition::AttributeNotExists),
        (path(), prop::sample::select(vec!["S", "N", "B", "SS", "NS", "BS", "L", "M", "NULL", "BOOL"]))
            .prop_map(|(path, name)| Condition::AttributeType {
                operand: Operand::Path(path),
                type_name: Operand::Value(AttributeValue::S(name.into())),
            }),
        (path(), "[a-z]{1,4}").prop_map(|(path, prefix)| Condition::BeginsWith {
            operand: Operand::Path(path),
            prefix: Operand::Value(AttributeValue::S(prefix)),
        }),
        (path(), value()).prop_map(|(path, part)| Condition::Contains {
            operand: Operand::Path(path),
            part: Operand::Value(part)
        }),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Condition::Not(Box::new(a))),
        ]
    })
}

/// Operands of `SET`, whose values have the types their functions take when `typed` names one.
fn update_operand(typed: Option<&'static str>) -> BoxedStrategy<UpdateOperand> {
    let value = match typed {
        Some("N") => number().prop_map(AttributeValue::N).boxed(),
        Some(_) => prop::collection::vec(value(), 0..3).prop_map(AttributeValue::L).boxed(),
        None => value().boxed(),
    };
    let leaf = prop_oneof![path().prop_map(UpdateOperand::Path), value.prop_map(UpdateOperand::Value)];
    leaf.prop_recursive(2, 6, 2, move |inner| {
        let list = if typed == Some("N") { None } else { Some(update_operand_leaf_list()) };
        let if_not_exists =
            (path(), inner).prop_map(|(path, fallback)| UpdateOperand::IfNotExists(path, Box::new(fallback)));
        match list {
            Some(list) => prop_oneof![
                if_not_exists,
                (list.clone(), list).prop_map(|(a, b)| UpdateOperand::ListAppend(Box::new(a), Box::new(b)))
            ]
            .boxed(),
            None => if_not_exists.boxed(),
        }
    })
    .boxed()
}

fn update_operand_leaf_list() -> BoxedStrategy<UpdateOperand> {
    prop_oneof![
        path().prop_map(UpdateOperand::Path),
        prop::collection::vec(value(), 0..3).prop_map(|list| UpdateOperand::Value(AttributeValue::L(list))),
    ]
    .boxed()
}

fn set_value() -> impl Strategy<Value = SetValue> {
    prop_oneof![
        2 => update_operand(None).prop_map(SetValue::Operand),
        1 => (update_operand(Some("N")), update_operand(Some("N"))).prop_map(|(a, b)| SetValue::Plus(a, b)),
        1 => (update_operand(Some("N")), update_operand(Some("N"))).prop_map(|(a, b)| SetValue::Minus(a, b)),
    ]
}

fn set_of_strings() -> impl Strategy<Value = AttributeValue> {
    prop::collection::btree_set("[a-z]{1,3}", 1..4)
        .prop_map(|set| AttributeValue::Ss(set.into_iter().collect()))
}

/// Updates without problems: each action on its own top-level attribute.
fn update() -> impl Strategy<Value = Vec<Action>> {
    let action = prop_oneof![
        set_value().prop_map(|value| (0, Some(value), None)),
        Just((1, None, None)),
        prop_oneof![number().prop_map(AttributeValue::N), set_of_strings()].prop_map(|value| (
            2,
            None,
            Some(value)
        )),
        set_of_strings().prop_map(|value| (3, None, Some(value))),
    ];
    let element = prop_oneof![name().prop_map(PathElement::Name), (0usize..5).prop_map(PathElement::Index)];
    prop::collection::vec((action, prop::collection::vec(element, 0..2)), 1..6).prop_map(|actions| {
        actions
            .into_iter()
            .enumerate()
            .map(|(at, ((kind, set, operand), rest))| {
                let path =
                    rest.into_iter().fold(DocumentPath::attribute(format!("t{at}")), DocumentPath::child);
                match (kind, set, operand) {
                    (0, Some(value), _) => Action::Set { path, value },
                    (2, _, Some(value)) => Action::Add { path, value },
                    (3, _, Some(value)) => Action::Delete { path, value },
                    _ => Action::Remove(path),
                }
            })
            .collect()
    })
}

/// Text made of the expressions' own pieces, glued at random: mostly near-misses.
fn fragments() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "AND",
            "or",
            "NOT",
            "BETWEEN",
            "IN",
            "SET",
            "remove",
            "ADD",
            "DELETE",
            "size",
            "contains",
            "attribute_exists",
            "attribute_type",
            "begins_with",
            "if_not_exists",
            "list_append",
            "(",
            ")",
            "[",
            "]",
            ".",
            ",",
            "=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            "+",
            "-",
            ":v",
            ":n",
            ":s",
            ":l",
            ":x",
            "#a",
            "#x",
            "a",
            "b",
            "Name",
            "0",
            "99999999999999999999999",
            "é",
            "\"",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,3}",
    ];
    (
        prop::collection::vec(piece, 0..24),
        prop::collection::vec(prop::sample::select(vec!["", " ", "\t"]), 24),
    )
        .prop_map(|(pieces, spaces)| {
            pieces.iter().zip(&spaces).map(|(piece, space)| format!("{piece}{space}")).collect()
        })
}

fn fuzz_placeholders() -> Placeholders {
    let names = BTreeMap::from([("#a".to_owned(), "a".to_owned())]);
    let values = BTreeMap::from([
        (":v".to_owned(), AttributeValue::N(Number::from(1))),
        (":n".to_owned(), AttributeValue::Ns(vec![Number::from(2)])),
        (":s".to_owned(), AttributeValue::S("s".into())),
        (":l".to_owned(), AttributeValue::L(vec![AttributeValue::Null])),
    ]);
    Placeholders::new(Some(names), Some(values)).unwrap()
}

/// Every parser, and what the parsed expressions do to an item.
fn exercise(text: &str) {
    let item: Item = [
        ("a".to_owned(), AttributeValue::L(vec![AttributeValue::N(Number::from(1))])),
        ("b".to_owned(), AttributeValue::N(Number::from(9))),
    ]
    .into();
    for kind in [ExpressionKind::Condition, ExpressionKind::Filter] {
        if let Ok(condition) = parse_condition(text, kind, &mut fuzz_placeholders()) {
            condition.matches(&item);
        }
    }
    if let Ok(mut update) = parse_update(text, &mut fuzz_placeholders()).map(|u| (u, item.clone())) {
        let _ = update.0.apply(&mut update.1);
        Projection::of_paths(update.0.target_paths()).apply(&update.1);
    }
    if let Ok(projection) = parse_projection(text, &mut fuzz_placeholders()) {
        projection.apply(&item);
    }
    if let Ok(key) = parse_key_condition(text, &mut fuzz_placeholders()) {
        let _ = key.check_schema(("a", "S"), Some(("b", "N")));
    }
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(Number::from(value))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic_on_near_misses(text in fragments()) {
        exercise(&text);
    }

    #[test]
    fn parsers_never_panic_on_any_text(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn conditions_round_trip(condition in condition(), seed in any::<u64>()) {
        let mut printer = Printer::new(seed);
        let text = printer.condition(&condition);
        let mut placeholders = printer.placeholders();
        let parsed = parse_condition(&text, ExpressionKind::Filter, &mut placeholders);
        prop_assert_eq!(parsed, Ok(condition), "{:?}", text);
        prop_assert_eq!(placeholders.check_all_used(), Ok(()));
    }

    #[test]
    fn updates_round_trip(actions in update(), seed in any::<u64>()) {
        let mut printer = Printer::new(seed);
        let (text, printed) = printer.update(&actions);
        let mut placeholders = printer.placeholders();
        let parsed = parse_update(&text, &mut placeholders).map(|update| update.actions().to_vec());
        prop_assert_eq!(parsed, Ok(printed), "{:?}", text);
        prop_assert_eq!(placeholders.check_all_used(), Ok(()));
    }

    /// Comparisons of integers through DynamoDB's numbers agree with `i64`'s.
    #[test]
    fn number_comparisons_match_integers(a in any::<i64>(), b in any::<i64>(), c in any::<i64>(), comparator in comparator()) {
        let item: Item = [("x".to_owned(), n(a))].into();
        let x = || Operand::Path(DocumentPath::attribute("x"));
        let compared = Condition::Comparison { comparator, left: x(), right: Operand::Value(n(b)) };
        let expected = match comparator {
            Comparator::Equal => a == b,
            Comparator::NotEqual => a != b,
            Comparator::Less => a < b,
            Comparator::LessOrEqual => a <= b,
            Comparator::Greater => a > b,
            Comparator::GreaterOrEqual => a >= b,
        };
        prop_assert_eq!(compared.matches(&item), expected);
        let (low, high) = (b.min(c), b.max(c));
        let between = Condition::Between { operand: x(), lower: Operand::Value(n(low)), upper: Operand::Value(n(high)) };
        prop_assert_eq!(between.matches(&item), low <= a && a <= high);
        let key = KeyTest::Between(n(low), n(high));
        prop_assert_eq!(key.matches(&n(a)), low <= a && a <= high);
    }

    /// Sums and differences through updates agree with `i128` arithmetic.
    #[test]
    fn number_updates_match_integers(a in any::<i64>(), b in any::<i64>()) {
        let values = BTreeMap::from([(":b".to_owned(), n(b))]);
        for (text, expected) in [
            ("SET x = x + :b", i128::from(a) + i128::from(b)),
            ("SET x = x - :b", i128::from(a) - i128::from(b)),
            ("ADD x :b", i128::from(a) + i128::from(b)),
        ] {
            let mut placeholders = Placeholders::new(None, Some(values.clone())).unwrap();
            let update = parse_update(text, &mut placeholders).unwrap();
            let mut item: Item = [("x".to_owned(), n(a))].into();
            update.apply(&mut item).unwrap();
            prop_assert_eq!(item.get("x"), Some(&AttributeValue::N(Number::parse(&expected.to_string()).unwrap())));
        }
    }
}
