//! Splits an expression into tokens, and words DynamoDB's syntax error around one of them.
//!
//! The lexer never fails: a character no token starts with becomes an `Unknown` token, which
//! the parser then reports as the token DynamoDB names (`token: "!"`).

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Letters, digits and `_`, not starting with a digit: an attribute name, a keyword or a
    /// function name.
    Word,
    /// `#` and the letters, digits and `_` after it.
    NamePlaceholder,
    /// `:` and the letters, digits and `_` after it.
    ValuePlaceholder,
    /// A run of digits (list indexes).
    Digits,
    /// Punctuation and operators: `( ) [ ] . , = <> < <= > >= + -`.
    Symbol,
    Unknown,
    /// After the last token.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

/// Whitespace as DynamoDB allows it between tokens.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

const SYMBOLS: [&str; 14] = ["<>", "<=", ">=", "(", ")", "[", "]", ".", ",", "=", "<", ">", "+", "-"];

/// The tokens of `text`, always ending with an `End` token.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        if is_space(c) {
            at += 1;
            continue;
        }
        let run_from = |start: usize| start + bytes[start..].iter().take_while(|&&b| is_word_char(b)).count();
        let (kind, end) = match c {
            '#' => (TokenKind::NamePlaceholder, run_from(at + 1)),
            ':' => (TokenKind::ValuePlaceholder, run_from(at + 1)),
            '0'..='9' => {
                (TokenKind::Digits, at + bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count())
            }
            c if c.is_ascii_alphabetic() || c == '_' => (TokenKind::Word, run_from(at)),
            _ => match SYMBOLS.iter().find(|s| text[at..].starts_with(*s)) {
                Some(symbol) => (TokenKind::Symbol, at + symbol.len()),
                None => (TokenKind::Unknown, at + c.len_utf8()),
            },
        };
        tokens.push(Token { kind, span: at..end });
        at = end;
    }
    tokens.push(Token { kind: TokenKind::End, span: text.len()..text.len() });
    tokens
}

/// DynamoDB's words for a syntax error at `tokens[index]`: the token (`<EOF>` past the end) and
/// the text around it, from the token before to the token after.
pub(crate) fn syntax_error(text: &str, tokens: &[Token], index: usize) -> String {
    let token = &tokens[index];
    let start = match index.checked_sub(1) {
        Some(previous) => tokens[previous].span.start,
        None => token.span.start,
    };
    let (shown, end) = match token.kind {
        // Past the end, the text runs to the end of the last token.
        TokenKind::End => ("<EOF>", index.checked_sub(1).map_or(start, |previous| tokens[previous].span.end)),
        _ => {
            let next = tokens.get(index + 1).filter(|next| next.kind != TokenKind::End);
            (&text[token.span.clone()], next.map_or(token.span.end, |next| next.span.end))
        }
    };
    format!("Syntax error; token: \"{shown}\", near: \"{}\"", &text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        tokenize(text).into_iter().map(|t| (t.kind, &text[t.span])).collect()
    }

    #[test]
    fn tokens_of_every_kind() {
        use TokenKind::*;
        assert_eq!(
            kinds(" a_1.#b[10]<>:c_d>=(x)é"),
            vec![
                (Word, "a_1"),
                (Symbol, "."),
                (NamePlaceholder, "#b"),
                (Symbol, "["),
                (Digits, "10"),
                (Symbol, "]"),
                (Symbol, "<>"),
                (ValuePlaceholder, ":c_d"),
                (Symbol, ">="),
                (Symbol, "("),
                (Word, "x"),
                (Symbol, ")"),
                (Unknown, "é"),
                (End, ""),
            ]
        );
        assert_eq!(kinds("\t\r\n"), vec![(End, "")]);
        assert_eq!(kinds("1abc"), vec![(Digits, "1"), (Word, "abc"), (End, "")]);
    }

    fn error_at(text: &str, index: usize) -> String {
        syntax_error(text, &tokenize(text), index)
    }

    /// The examples DynamoDB answered with (docs/dynamodb-expressions.md, "Syntax errors").
    #[test]
    fn near_spans_the_tokens_either_side() {
        assert_eq!(error_at("SET MyStr = myNum + 1", 5), r#"Syntax error; token: "1", near: "+ 1""#);
        assert_eq!(
            error_at("SET MyStr = myNum Mystr2 myNum2", 4),
            r#"Syntax error; token: "Mystr2", near: "myNum Mystr2 myNum2""#
        );
        assert_eq!(error_at("foo", 1), r#"Syntax error; token: "<EOF>", near: "foo""#);
        assert_eq!(error_at("a = :v ", 3), r#"Syntax error; token: "<EOF>", near: ":v""#);
        assert_eq!(error_at("", 0), r#"Syntax error; token: "<EOF>", near: """#);
        assert_eq!(error_at("!a", 0), r#"Syntax error; token: "!", near: "!a""#);
    }
}
