//! Okta's `filter` / `search` expressions (SCIM-like): `status eq "ACTIVE"`,
//! `profile.department sw "Eng" and (lastUpdated gt "2026-01-01T00:00:00.000Z" or
//! profile.title pr)`, `not (…)`. Operators `eq ne sw ew co gt ge lt le pr`;
//! strings compare case-insensitively, as Okta's search does; values are strings,
//! numbers, `true`/`false` or `null`. Bounded in length and nesting: any input
//! parses to an expression or an error, never a panic or deep recursion.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

/// Longest expression accepted (Okta's own limit is of this order).
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses and `not`.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Sw,
    Ew,
    Co,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare { path: String, op: Op, value: Value },
    Present(String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// The expression could not be read (Okta: `E0000031 Invalid search criteria`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError;

/// What an expression is evaluated against: an attribute by its dotted path.
/// (Borrowed where it can be: a search reads every user, so no copy per user.)
pub trait Attributes {
    fn attribute(&self, path: &str) -> Option<Cow<'_, Value>>;
}

impl Expr {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() > MAX_LEN {
            return Err(ParseError);
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.or(0)?;
        if parser.at == parser.tokens.len() {
            Ok(expr)
        } else {
            Err(ParseError)
        }
    }

    pub fn matches(&self, subject: &impl Attributes) -> bool {
        match self {
            Self::And(a, b) => a.matches(subject) && b.matches(subject),
            Self::Or(a, b) => a.matches(subject) || b.matches(subject),
            Self::Not(a) => !a.matches(subject),
            Self::Present(path) => subject
                .attribute(path)
                .is_some_and(|v| !v.is_null() && v.as_str() != Some("")),
            Self::Compare { path, op, value } => match subject.attribute(path) {
                Some(actual) => compare(&actual, *op, value),
                None => compare(&Value::Null, *op, value),
            },
        }
    }
}

/// A string as it compares: case-folded, character by character.
fn folded(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn compare(actual: &Value, op: Op, expected: &Value) -> bool {
    if let Value::Array(items) = actual {
        // A multi-valued attribute matches when one of its values does.
        return items.iter().any(|item| compare(item, op, expected));
    }
    let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
    let order = match (actual, expected) {
        (Value::String(a), Value::String(b)) => match op {
            Op::Sw => {
                let mut rest = folded(a);
                return folded(b).all(|c| rest.next() == Some(c));
            }
            Op::Ew => return lower(a).ends_with(&lower(b)),
            Op::Co => return lower(a).contains(&lower(b)),
            // Compared as they fold, without a copy of either (ASCII, the common case, by byte).
            _ if a.is_ascii() && b.is_ascii() => Some(
                a.bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
            ),
            _ => Some(folded(a).cmp(folded(b))),
        },
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, order) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(Value),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(ParseError),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped)) => value.push(escaped),
                            None => return Err(ParseError),
                        },
                        Some((_, other)) => value.push(other),
                    }
                }
                tokens.push(Token::Literal(Value::String(value)));
            }
            _ => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = &text[start..end];
                let token = match word {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    _ => match word.parse::<serde_json::Number>() {
                        Ok(number)
                            if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') =>
                        {
                            Token::Literal(Value::Number(number))
                        }
                        _ => Token::Word(word.to_owned()),
                    },
                };
                tokens.push(token);
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and(depth)?));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth >= MAX_DEPTH {
            return Err(ParseError);
        }
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or(depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(ParseError),
                }
            }
            Some(Token::Word(path)) if is_path(&path) => {
                let Some(Token::Word(op)) = self.next() else {
                    return Err(ParseError);
                };
                let op = match op.to_ascii_lowercase().as_str() {
                    "pr" => return Ok(Expr::Present(path)),
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "sw" => Op::Sw,
                    "ew" => Op::Ew,
                    "co" => Op::Co,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    _ => return Err(ParseError),
                };
                match self.next() {
                    Some(Token::Literal(value)) => Ok(Expr::Compare { path, op, value }),
                    _ => Err(ParseError),
                }
            }
            _ => Err(ParseError),
        }
    }
}

fn is_path(word: &str) -> bool {
    !matches!(word.to_ascii_lowercase().as_str(), "and" | "or" | "not")
        && word
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Subject(Value);
    impl Attributes for Subject {
        fn attribute(&self, path: &str) -> Option<Cow<'_, Value>> {
            path.split('.')
                .try_fold(&self.0, |v, part| v.get(part))
                .map(Cow::Borrowed)
        }
    }

    fn subject() -> Subject {
        Subject(json!({
            "status": "ACTIVE",
            "lastUpdated": "2026-03-01T10:00:00.000Z",
            "profile": {"login": "Ada@Example.com", "department": "Engineering", "level": 3,
                        "title": null, "tags": ["a", "b"]}
        }))
    }

    fn check(text: &str) -> bool {
        Expr::parse(text).expect(text).matches(&subject())
    }

    #[test]
    fn okta_documented_expressions_select_what_they_say() {
        assert!(check(r#"status eq "ACTIVE""#));
        assert!(!check(r#"status eq "SUSPENDED""#));
        assert!(check(r#"profile.login eq "ada@example.com""#));
        assert!(check(
            r#"profile.department sw "eng" and status eq "ACTIVE""#
        ));
        assert!(check(r#"lastUpdated gt "2026-01-01T00:00:00.000Z""#));
        assert!(!check(r#"lastUpdated lt "2026-01-01T00:00:00.000Z""#));
        assert!(check(
            r#"status eq "STAGED" or (profile.level ge 3 and profile.level lt 4)"#
        ));
        assert!(check("profile.department pr"));
        assert!(!check("profile.title pr"));
        assert!(check(r#"not (status eq "SUSPENDED")"#));
        assert!(check(r#"profile.tags eq "b""#));
        assert!(check(
            r#"profile.login co "@example" and profile.login ew ".COM""#
        ));
        assert!(check(r#"status ne "DEPROVISIONED""#));
        assert!(check(r#"profile.login eq "ADA@EXAMPLE.COM""#));
        let unicode = Subject(json!({"name": "Zoë Ärzte"}));
        assert!(
            Expr::parse(r#"name eq "ZOË ärzte""#)
                .unwrap()
                .matches(&unicode)
        );
        assert!(Expr::parse(r#"name sw "zoË""#).unwrap().matches(&unicode));
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for text in [
            "",
            "status",
            "status eq",
            r#"status eq "ACTIVE"#,
            r#"status zz "A""#,
            r#"(status eq "A""#,
            r#"status eq "A")"#,
            r#"status eq "A" and"#,
            r#"and eq "A""#,
            r#"status eq ACTIVE"#,
            r#"status eq "A" "B""#,
            r#"profile..x eq "A""#,
        ] {
            assert_eq!(Expr::parse(text), Err(ParseError), "{text}");
        }
        assert_eq!(Expr::parse(&"(".repeat(10_000)), Err(ParseError));
        assert_eq!(Expr::parse(&"not ".repeat(1000)), Err(ParseError));
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,300}") {
            let _ = Expr::parse(&text);
        }

        #[test]
        fn token_soup_parses_or_is_refused_without_panicking(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "(", ")", "and", "or", "not", "eq", "sw", "pr", "gt", "status",
                    "profile.login", "\"A\"", "\"", "3", "true", "\\",
                ]),
                0..60,
            )
        ) {
            if let Ok(expr) = Expr::parse(&words.join(" ")) {
                let _ = expr.matches(&subject());
            }
        }
    }
}
