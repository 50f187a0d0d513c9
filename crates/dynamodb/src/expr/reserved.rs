//! DynamoDB's reserved words: an attribute name that is one of them must be written through an
//! `ExpressionAttributeNames` placeholder (`docs/dynamodb-expressions.md`, "Reserved words").

use std::collections::BTreeSet;
use std::sync::LazyLock;

/// One word a line, upper case, as the AWS developer guide lists them.
static RESERVED_WORDS: LazyLock<BTreeSet<&'static str>> =
    LazyLock::new(|| include_str!("reserved_words.txt").lines().collect());

/// Whether `name` is a reserved word, in any letter case.
pub(crate) fn is_reserved(name: &str) -> bool {
    name.len() <= 16 && RESERVED_WORDS.contains(name.to_ascii_uppercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_matched_in_any_case() {
        assert!(is_reserved("name") && is_reserved("Size") && is_reserved("ABORT"));
        assert!(is_reserved("localtimestamp"));
        assert!(!is_reserved("leaseKey") && !is_reserved("wid") && !is_reserved(""));
    }

    #[test]
    fn the_list_is_the_guides_573_words() {
        assert_eq!(RESERVED_WORDS.len(), 573);
        assert!(RESERVED_WORDS.iter().all(|w| w.len() <= 16 && w.bytes().all(|b| b.is_ascii_uppercase())));
    }
}
