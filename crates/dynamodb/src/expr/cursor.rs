//! A backtracking walk over an expression's tokens, shared by the parsers. Like the PEG grammar
//! DynamoDB's messages suggest, a parse that fails reports the furthest token any alternative
//! reached (`docs/dynamodb-expressions.md`, "Syntax errors").

use super::lexer::{syntax_error, tokenize, Token, TokenKind};

/// What differs between the grammars: the keywords that cannot be attribute names, and
/// whether a bare attribute name may start with `_`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grammar {
    pub keywords: &'static [&'static str],
    pub names_may_start_with_underscore: bool,
}

/// One element of a path as written: a bare name, a `#placeholder`, or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawElement {
    Word(String),
    Placeholder(String),
    Index(usize),
}

pub(crate) type RawPath = Vec<RawElement>;

pub(crate) struct Cursor<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    at: usize,
    furthest: usize,
    grammar: Grammar,
}

impl<'t> Cursor<'t> {
    pub fn new(text: &'t str, grammar: Grammar) -> Cursor<'t> {
        Cursor { text, tokens: tokenize(text), at: 0, furthest: 0, grammar }
    }

    /// Where the cursor is, to come back to with `reset` when an alternative fails.
    pub fn mark(&self) -> usize {
        self.at
    }

    pub fn reset(&mut self, mark: usize) {
        self.at = mark;
    }

    fn token(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn token_text(&self) -> &'t str {
        &self.text[self.token().span.clone()]
    }

    /// Notes a failure here and answers `None`.
    pub fn fail<T>(&mut self) -> Option<T> {
        self.furthest = self.furthest.max(self.at);
        None
    }

    fn take(&mut self, kind: TokenKind) -> Option<&'t str> {
        if self.token().kind != kind {
            return self.fail();
        }
        let text = self.token_text();
        self.at += 1;
        Some(text)
    }

    pub fn is_symbol(&self, symbol: &str) -> bool {
        self.token().kind == TokenKind::Symbol && self.token_text() == symbol
    }

    pub fn symbol(&mut self, symbol: &str) -> Option<()> {
        if !self.is_symbol(symbol) {
            return self.fail();
        }
        self.at += 1;
        Some(())
    }

    /// The next token's text if it is one of `symbols`, consumed.
    pub fn one_of(&mut self, symbols: &[&'static str]) -> Option<&'static str> {
        let found = symbols.iter().find(|symbol| self.is_symbol(symbol)).copied();
        match found {
            Some(symbol) => {
                self.at += 1;
                Some(symbol)
            }
            None => self.fail(),
        }
    }

    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.token().kind == TokenKind::Word && self.token_text().eq_ignore_ascii_case(keyword)
    }

    /// A keyword, in any letter case.
    pub fn keyword(&mut self, keyword: &str) -> Option<()> {
        if !self.is_keyword(keyword) {
            return self.fail();
        }
        self.at += 1;
        Some(())
    }

    fn is_grammar_keyword(&self) -> bool {
        self.grammar.keywords.iter().any(|keyword| self.is_keyword(keyword))
    }

    /// A word that is not one of the grammar's keywords (a function name).
    pub fn word(&mut self) -> Option<&'t str> {
        if self.is_grammar_keyword() {
            return self.fail();
        }
        self.take(TokenKind::Word)
    }

    /// `:name`.
    pub fn value_placeholder(&mut self) -> Option<&'t str> {
        self.take(TokenKind::ValuePlaceholder)
    }

    /// A document path: a name, then any number of `.name` and `[index]`.
    pub fn path(&mut self) -> Option<RawPath> {
        let mut path = vec![self.path_name()?];
        loop {
            let mark = self.mark();
            let element = if self.is_symbol("[") {
                self.index()
            } else if self.is_symbol(".") {
                self.at += 1;
                self.path_name()
            } else {
                return Some(path);
            };
            match element {
                Some(element) => path.push(element),
                None => {
                    self.reset(mark);
                    return Some(path);
                }
            }
        }
    }

    fn index(&mut self) -> Option<RawElement> {
        self.symbol("[")?;
        let digits = self.take(TokenKind::Digits)?;
        let index = match digits.parse() {
            Ok(index) => index,
            Err(_) => {
                self.at -= 1;
                return self.fail();
            }
        };
        self.symbol("]")?;
        Some(RawElement::Index(index))
    }

    fn path_name(&mut self) -> Option<RawElement> {
        if self.token().kind == TokenKind::NamePlaceholder {
            return self.take(TokenKind::NamePlaceholder).map(|key| RawElement::Placeholder(key.to_owned()));
        }
        if self.token_text().starts_with('_') && !self.grammar.names_may_start_with_underscore {
            return self.fail();
        }
        self.word().map(|word| RawElement::Word(word.to_owned()))
    }

    /// `result`, if it took every token; DynamoDB's syntax error otherwise.
    pub fn finish<T>(mut self, result: Option<T>) -> Result<T, String> {
        match result {
            Some(value) if self.token().kind == TokenKind::End => Ok(value),
            _ => {
                self.fail::<()>();
                Err(syntax_error(self.text, &self.tokens, self.furthest))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::error::ExpressionKind;
    use crate::expr::placeholders::Placeholders;
    use crate::expr::problems::{Checker, Problem};

    const GRAMMAR: Grammar = Grammar { keywords: &["AND"], names_may_start_with_underscore: false };

    fn path(text: &str, names: &[(&str, &str)]) -> Result<String, String> {
        let names = names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut placeholders = Placeholders::new(Some(names), None).unwrap();
        let mut cursor = Cursor::new(text, GRAMMAR);
        let raw = cursor.path();
        let raw = cursor.finish(raw)?;
        let mut checker = Checker::new(&mut placeholders);
        let path = checker.path(&raw);
        let ranking: &[&[Problem]] = &[&[Problem::Reserved], &[Problem::UndefinedName]];
        checker.verdict(ExpressionKind::Projection, ranking).map_err(|e| e.to_string())?;
        Ok(path.to_string())
    }

    #[test]
    fn paths_parse_with_spaces_placeholders_and_indexes() {
        assert_eq!(path("a.b[2].#c", &[("#c", "x y")]), Ok("[a, b, [2], x y]".into()));
        assert_eq!(path(" a . b [ 2 ] ", &[("#c", "c")]), Ok("[a, b, [2]]".into()));
        assert_eq!(path("#c[0][1]", &[("#c", "c")]), Ok("[c, [0], [1]]".into()));
    }

    #[test]
    fn path_problems_get_dynamodbs_messages() {
        let error = |text: &str| path(text, &[("#c", "c")]).unwrap_err();
        assert_eq!(error("a.#x"), "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #x");
        assert_eq!(
            error("a.Name"),
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: Name"
        );
        assert_eq!(error("a[x]"), r#"Syntax error; token: "x", near: "[x]""#);
        assert_eq!(
            error("a[99999999999999999999999]"),
            r#"Syntax error; token: "99999999999999999999999", near: "[99999999999999999999999]""#
        );
        assert_eq!(error("a."), r#"Syntax error; token: "<EOF>", near: ".""#);
        assert_eq!(error("_a"), r#"Syntax error; token: "_a", near: "_a""#);
        assert_eq!(error("and"), r#"Syntax error; token: "and", near: "and""#);
    }
}
