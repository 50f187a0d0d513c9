//! Any text, through every expression parser of kinesin-dynamodb, and what each parsed
//! expression does to an item: nothing may panic (`docs/dynamodb-expressions.md`, "Testing").
//!
//! Run with `cargo +nightly fuzz run expressions` from `crates/dynamodb`.

#![no_main]

use std::collections::BTreeMap;

use kinesin_dynamodb::expr::{
    parse_condition, parse_key_condition, parse_projection, parse_update, ExpressionKind, Placeholders,
    Projection,
};
use kinesin_dynamodb::{AttributeValue, Item, Number};
use libfuzzer_sys::fuzz_target;

fn placeholders() -> Placeholders {
    let names = BTreeMap::from([("#a".to_owned(), "a".to_owned()), ("#b".to_owned(), "b".to_owned())]);
    let values = BTreeMap::from([
        (":v".to_owned(), AttributeValue::N(Number::from(1))),
        (":n".to_owned(), AttributeValue::Ns(vec![Number::from(2)])),
        (":s".to_owned(), AttributeValue::S("s".into())),
        (":l".to_owned(), AttributeValue::L(vec![AttributeValue::Null])),
    ]);
    Placeholders::new(Some(names), Some(values)).expect("valid placeholders")
}

fn item() -> Item {
    let map: Item = [("c".to_owned(), AttributeValue::S("x".into()))].into();
    [
        ("a".to_owned(), AttributeValue::L(vec![AttributeValue::N(Number::from(1)), AttributeValue::M(map)])),
        ("b".to_owned(), AttributeValue::N(Number::from(9))),
        ("s".to_owned(), AttributeValue::Ss(vec!["s".into()])),
    ]
    .into()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let item = item();
    for kind in [ExpressionKind::Condition, ExpressionKind::Filter] {
        if let Ok(condition) = parse_condition(&text, kind, &mut placeholders()) {
            condition.matches(&item);
        }
    }
    if let Ok(update) = parse_update(&text, &mut placeholders()) {
        let mut updated = item.clone();
        if update.apply(&mut updated).is_ok() {
            Projection::of_paths(update.target_paths()).apply(&updated);
        }
    }
    if let Ok(projection) = parse_projection(&text, &mut placeholders()) {
        projection.apply(&item);
    }
    if let Ok(key) = parse_key_condition(&text, &mut placeholders()) {
        let _ = key.check_schema(("a", "S"), Some(("b", "N")));
    }
});
