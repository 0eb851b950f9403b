//! The search filter language: MLflow's grammar, plus `OR` and parentheses.
//!
//! ```text
//! expr       := and ("OR" and)*
//! and        := primary ("AND" primary)*
//! primary    := "(" expr ")" | comparison
//! comparison := identifier op value
//! identifier := [type "."] key        type: metric(s) | param(s) | parameter(s) | tag(s)
//!                                           | attribute(s) | attr | run | dataset(s)
//!               key: a bare word (dots allowed: tags.mlflow.runName), or "quoted" / `quoted`
//! op         := = | != | <> | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN   (any case)
//! value      := number | 'string' | "string" | "(" string ("," string)* ")"
//! ```
//! Keywords are case-insensitive; a quote inside a string is written twice (`'it''s'`).
//! `AND` binds tighter than `OR`. Errors name the character position and what was expected.
//! Inputs over [`MAX_FILTER_LEN`] bytes, with more than [`MAX_COMPARISONS`] comparisons or
//! parentheses nested deeper than [`MAX_DEPTH`] are refused before any work grows with them.

use std::fmt;

/// Longest filter, in bytes.
pub const MAX_FILTER_LEN: usize = 16 * 1024;
/// Most comparisons in one filter.
pub const MAX_COMPARISONS: usize = 200;
/// Deepest parenthesis nesting.
pub const MAX_DEPTH: usize = 32;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// Any must hold.
    Or(Vec<Expr>),
    /// One comparison.
    Cmp(Comparison),
}

/// `identifier op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What is compared.
    pub ident: Identifier,
    /// How.
    pub op: Op,
    /// With what.
    pub value: Value,
}

/// What an identifier refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `metrics.<key>`: the latest value of a metric.
    Metric,
    /// `params.<key>`.
    Param,
    /// `tags.<key>`.
    Tag,
    /// `attributes.<name>` or a bare name: a field of the run or experiment.
    Attribute,
    /// `datasets.<name | digest | context>`: a dataset the run used (runs only).
    Dataset,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Metric => "metrics",
            Kind::Param => "params",
            Kind::Tag => "tags",
            Kind::Attribute => "attributes",
            Kind::Dataset => "datasets",
        }
    }

    fn from_word(word: &str) -> Option<Kind> {
        match word.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Some(Kind::Metric),
            "param" | "params" | "parameter" | "parameters" => Some(Kind::Param),
            "tag" | "tags" => Some(Kind::Tag),
            "attribute" | "attributes" | "attr" | "run" => Some(Kind::Attribute),
            "dataset" | "datasets" => Some(Kind::Dataset),
            _ => None,
        }
    }
}

/// `kind.key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    /// Metric, param, tag or attribute.
    pub kind: Kind,
    /// The key (attribute names as written; resolved per entity by `eval`).
    pub key: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (case-sensitive, `%` and `_` wildcards)
    Like,
    /// `ILIKE` (case-insensitive LIKE)
    ILike,
    /// `IN (…)`
    In,
    /// `NOT IN (…)`
    NotIn,
}

impl Op {
    /// Whether the operator compares numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
        }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An unquoted number.
    Number(f64),
    /// A quoted string.
    Str(String),
    /// A parenthesised list of strings.
    List(Vec<String>),
}

/// A filter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Character position (0-based) where the problem is.
    pub position: usize,
    /// What was expected or what is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid filter at position {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Single(String),
    Double(String),
    Backtick(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-' | '+')
}

fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token {
                    tok: Tok::LParen,
                    pos,
                });
                i += 1;
            }
            ')' => {
                out.push(Token {
                    tok: Tok::RParen,
                    pos,
                });
                i += 1;
            }
            ',' => {
                out.push(Token {
                    tok: Tok::Comma,
                    pos,
                });
                i += 1;
            }
            '=' => {
                out.push(Token {
                    tok: Tok::Op("="),
                    pos,
                });
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let op = match (c, next) {
                    ('!', Some('=')) => "!=",
                    ('<', Some('=')) => "<=",
                    ('<', Some('>')) => "!=",
                    ('>', Some('=')) => ">=",
                    ('<', _) => "<",
                    ('>', _) => ">",
                    _ => {
                        return Err(ParseError {
                            position: pos,
                            message: "expected '!=' after '!'".into(),
                        })
                    }
                };
                i += if op.len() == 2 || (c == '<' && next == Some('>')) {
                    2
                } else {
                    1
                };
                out.push(Token {
                    tok: Tok::Op(op),
                    pos,
                });
            }
            '\'' | '"' | '`' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ParseError {
                                position: pos,
                                message: format!("unclosed {c} quote"),
                            })
                        }
                        Some(&q) if q == c => {
                            if chars.get(i + 1) == Some(&c) {
                                text.push(c);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                let tok = match c {
                    '\'' => Tok::Single(text),
                    '"' => Tok::Double(text),
                    _ => Tok::Backtick(text),
                };
                out.push(Token { tok, pos });
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Word(chars[start..i].iter().collect()),
                    pos,
                });
            }
            other => {
                return Err(ParseError {
                    position: pos,
                    message: format!("unexpected character '{other}'"),
                });
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: usize,
    comparisons: usize,
    depth: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Single(s) => format!("the string '{s}'"),
        Tok::Double(s) => format!("the string \"{s}\""),
        Tok::Backtick(s) => format!("`{s}`"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn error<T>(&self, expected: &str) -> Result<T, ParseError> {
        let found = self
            .peek()
            .map_or("the end of the filter".to_owned(), |t| describe(&t.tok));
        Err(ParseError {
            position: self.pos(),
            message: format!("expected {expected}, found {found}"),
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(word))
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.joined("OR", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        self.joined("AND", Self::primary, Expr::And)
    }

    /// `item (keyword item)*`, collapsed to the item itself when there is only one.
    fn joined(
        &mut self,
        keyword: &str,
        item: fn(&mut Self) -> Result<Expr, ParseError>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, ParseError> {
        let mut parts = vec![item(self)?];
        while self.keyword(keyword) {
            self.at += 1;
            parts.push(item(self)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            make(parts)
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        ) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(ParseError {
                    position: self.pos(),
                    message: format!("parentheses nested deeper than {MAX_DEPTH}"),
                });
            }
            self.at += 1;
            let inner = self.expr()?;
            if !matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::RParen,
                    ..
                })
            ) {
                return self.error("')'");
            }
            self.at += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(ParseError {
                position: self.pos(),
                message: format!("more than {MAX_COMPARISONS} comparisons"),
            });
        }
        let ident = self.identifier()?;
        let op = self.op()?;
        let value = self.value(op)?;
        Ok(Expr::Cmp(Comparison { ident, op, value }))
    }

    fn identifier(&mut self) -> Result<Identifier, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return self.error("an identifier such as metrics.loss");
        };
        match token.tok {
            Tok::Word(word) => {
                self.at += 1;
                match word.split_once('.') {
                    None => Ok(Identifier {
                        kind: Kind::Attribute,
                        key: word,
                    }),
                    Some((prefix, rest)) => {
                        let Some(kind) = Kind::from_word(prefix) else {
                            return Err(ParseError {
                                position: token.pos,
                                message: format!(
                                    "invalid entity type '{prefix}': expected metrics, params, tags, attributes or datasets"
                                ),
                            });
                        };
                        self.key_after_type(kind, prefix, rest)
                    }
                }
            }
            Tok::Backtick(k) | Tok::Double(k) if !k.is_empty() => {
                self.at += 1;
                // A quoted type: `datasets`.context, `metrics`."f1-score"
                let quoted_type = Kind::from_word(&k).zip(match self.peek() {
                    Some(Token {
                        tok: Tok::Word(w), ..
                    }) if w.starts_with('.') => Some(w[1..].to_owned()),
                    _ => None,
                });
                let Some((kind, rest)) = quoted_type else {
                    return Ok(Identifier {
                        kind: Kind::Attribute,
                        key: k,
                    });
                };
                self.at += 1;
                self.key_after_type(kind, &k, &rest)
            }
            _ => self.error("an identifier such as metrics.loss"),
        }
    }

    /// The key after `type.`: the rest of the word (`tags.mlflow.runName`), or, when the
    /// word ends at the dot, a quoted key next (`metrics."f1-score"`, ``tags.`my tag` ``).
    fn key_after_type(
        &mut self,
        kind: Kind,
        type_word: &str,
        rest: &str,
    ) -> Result<Identifier, ParseError> {
        if !rest.is_empty() {
            return Ok(Identifier {
                kind,
                key: rest.to_owned(),
            });
        }
        match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Double(key)) | Some(Tok::Backtick(key)) if !key.is_empty() => {
                self.at += 1;
                Ok(Identifier { kind, key })
            }
            _ => self.error(&format!("a key after '{type_word}.'")),
        }
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return self.error("a comparison operator");
        };
        let op = match &token.tok {
            Tok::Op(o) => match *o {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => Op::Like,
            Tok::Word(w) if w.eq_ignore_ascii_case("ILIKE") => Op::ILike,
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") => Op::In,
            Tok::Word(w) if w.eq_ignore_ascii_case("NOT") => {
                self.at += 1;
                if !self.keyword("IN") {
                    return self.error("IN after NOT");
                }
                Op::NotIn
            }
            _ => {
                return self
                    .error("a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)")
            }
        };
        self.at += 1;
        Ok(op)
    }

    fn value(&mut self, op: Op) -> Result<Value, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return self.error("a value");
        };
        if matches!(op, Op::In | Op::NotIn) {
            if token.tok != Tok::LParen {
                return self.error("'(' starting a list of quoted strings");
            }
            self.at += 1;
            let mut items = Vec::new();
            loop {
                match self.peek().map(|t| t.tok.clone()) {
                    Some(Tok::Single(s)) | Some(Tok::Double(s)) => {
                        self.at += 1;
                        items.push(s);
                    }
                    _ => return self.error("a quoted string in the list"),
                }
                match self.peek().map(|t| t.tok.clone()) {
                    Some(Tok::Comma) => self.at += 1,
                    Some(Tok::RParen) => {
                        self.at += 1;
                        return Ok(Value::List(items));
                    }
                    _ => return self.error("',' or ')'"),
                }
            }
        }
        match token.tok {
            Tok::Single(s) | Tok::Double(s) => {
                self.at += 1;
                Ok(Value::Str(s))
            }
            Tok::Word(w) => match w.parse::<f64>() {
                Ok(n) if n.is_finite() && !w.eq_ignore_ascii_case("inf") && !w.to_ascii_lowercase().contains("nan") => {
                    self.at += 1;
                    Ok(Value::Number(n))
                }
                _ => Err(ParseError {
                    position: token.pos,
                    message: format!(
                        "value '{w}' is neither a number nor quoted; put strings in single or double quotes"
                    ),
                }),
            },
            _ => self.error("a value (a number or a quoted string)"),
        }
    }
}

/// Parses a filter. An empty or blank filter is `Ok(None)` (matches everything).
pub fn parse(input: &str) -> Result<Option<Expr>, ParseError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ParseError {
            position: 0,
            message: format!(
                "the filter is {} bytes long; the limit is {MAX_FILTER_LEN}",
                input.len()
            ),
        });
    }
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let end = input.chars().count();
    let mut parser = Parser {
        tokens,
        at: 0,
        end,
        comparisons: 0,
        depth: 0,
    };
    let expr = parser.expr()?;
    if parser.peek().is_some() {
        return parser.error("AND, OR or the end of the filter");
    }
    Ok(Some(expr))
}

/// Parses one identifier (used by `order_by`): returns it and the rest of the input.
pub(crate) fn parse_identifier_prefix(
    input: &str,
) -> Result<(Identifier, Vec<String>), ParseError> {
    let tokens = lex(input)?;
    let end = input.chars().count();
    let mut parser = Parser {
        tokens,
        at: 0,
        end,
        comparisons: 0,
        depth: 0,
    };
    let ident = parser.identifier()?;
    let rest = parser.tokens[parser.at..]
        .iter()
        .map(|t| match &t.tok {
            Tok::Word(w) => Ok(w.clone()),
            other => Err(ParseError {
                position: t.pos,
                message: format!("unexpected {}", describe(other)),
            }),
        })
        .collect::<Result<_, _>>()?;
    Ok((ident, rest))
}

fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        if c == q {
            out.push(q);
        }
        out.push(c);
    }
    out.push(q);
    out
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.key.is_empty()
            && self
                .key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-'))
            && !self.key.starts_with(['-', '.'])
            && self.key.parse::<f64>().is_err();
        if plain {
            write!(f, "{}.{}", self.kind.prefix(), self.key)
        } else {
            write!(f, "{}.{}", self.kind.prefix(), quote(&self.key, '`'))
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n:?}"),
            Value::Str(s) => f.write_str(&quote(s, '\'')),
            Value::List(items) => {
                let quoted: Vec<String> = items.iter().map(|s| quote(s, '\'')).collect();
                write!(f, "({})", quoted.join(", "))
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Expr], sep: &str| -> fmt::Result {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                match part {
                    Expr::Cmp(_) => write!(f, "{part}")?,
                    _ => write!(f, "({part})")?,
                }
            }
            Ok(())
        };
        match self {
            Expr::Cmp(c) => write!(f, "{} {} {}", c.ident, c.op.as_str(), c.value),
            Expr::And(parts) => join(f, parts, "AND"),
            Expr::Or(parts) => join(f, parts, "OR"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(kind: Kind, key: &str, op: Op, value: Value) -> Expr {
        Expr::Cmp(Comparison {
            ident: Identifier {
                kind,
                key: key.into(),
            },
            op,
            value,
        })
    }

    #[test]
    fn parses_mlflow_examples() {
        let e = parse("metrics.rmse < 1 and params.model_class = 'LogisticRegression'")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::And(vec![
                cmp(Kind::Metric, "rmse", Op::Lt, Value::Number(1.0)),
                cmp(
                    Kind::Param,
                    "model_class",
                    Op::Eq,
                    Value::Str("LogisticRegression".into())
                ),
            ])
        );
        assert!(parse("attributes.status = 'FAILED'").is_ok());
        assert_eq!(
            parse("tags.mlflow.parentRunId = \"abc\"").unwrap().unwrap(),
            cmp(
                Kind::Tag,
                "mlflow.parentRunId",
                Op::Eq,
                Value::Str("abc".into())
            )
        );
        assert_eq!(
            parse("metrics.\"f1-score\" >= 0.5").unwrap().unwrap(),
            cmp(Kind::Metric, "f1-score", Op::Ge, Value::Number(0.5))
        );
        assert_eq!(
            parse("tags.`my tag` ILIKE '%x%'").unwrap().unwrap(),
            cmp(Kind::Tag, "my tag", Op::ILike, Value::Str("%x%".into()))
        );
        assert_eq!(
            parse("run_id NOT IN ('a', \"b\")").unwrap().unwrap(),
            cmp(
                Kind::Attribute,
                "run_id",
                Op::NotIn,
                Value::List(vec!["a".into(), "b".into()])
            )
        );
        // The type may be quoted too (MLflow allows backticks there).
        assert_eq!(
            parse("`datasets`.context = 'eval'").unwrap().unwrap(),
            cmp(Kind::Dataset, "context", Op::Eq, Value::Str("eval".into()))
        );
        assert_eq!(
            parse("`metrics`.\"f1-score\" > 0").unwrap().unwrap(),
            cmp(Kind::Metric, "f1-score", Op::Gt, Value::Number(0.0))
        );
        assert_eq!(
            parse("`run name` = 'x'").unwrap().unwrap(),
            cmp(Kind::Attribute, "run name", Op::Eq, Value::Str("x".into()))
        );
        assert!(parse("`metrics`. > 0").is_err());
        assert_eq!(parse("   ").unwrap(), None);
        assert!(parse("metrics.x > -1.5e-3").is_ok());
        assert!(parse("params.q = 'it''s'").is_ok());
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse("metrics.a = 1 OR metrics.b = 2 AND metrics.c = 3")
            .unwrap()
            .unwrap();
        assert!(
            matches!(&e, Expr::Or(parts) if parts.len() == 2 && matches!(parts[1], Expr::And(_)))
        );
        let e = parse("(metrics.a = 1 OR metrics.b = 2) AND metrics.c = 3")
            .unwrap()
            .unwrap();
        assert!(matches!(&e, Expr::And(parts) if matches!(parts[0], Expr::Or(_))));
    }

    #[test]
    fn errors_name_position_and_expectation() {
        let err = parse("metrics.acc >").unwrap_err();
        assert_eq!(err.position, 13);
        assert!(err.message.contains("expected a value"), "{err}");
        let err = parse("params.a = 'open").unwrap_err();
        assert!(err.message.contains("unclosed"), "{err}");
        let err = parse("foo.bar = 1").unwrap_err();
        assert!(err.message.contains("invalid entity type"), "{err}");
        let err = parse("params.a = unquoted").unwrap_err();
        assert!(err.message.contains("quoted"), "{err}");
        assert!(parse("metrics. > 1").is_err());
        assert!(parse("metrics.a = 1 metrics.b = 2").is_err());
        assert!(parse("metrics.a = 1 AND").is_err());
        assert!(parse("(metrics.a = 1").is_err());
    }

    /// Hostile sizes are refused by the limit meant for them, before any work grows with
    /// them (the reason is asserted, not the wall time).
    #[test]
    fn hostile_sizes_are_refused_by_their_limits() {
        let many = vec!["metrics.a = 1"; 10_000].join(" AND ");
        assert!(parse(&many).unwrap_err().message.contains("bytes long"));
        assert!(parse(&"x".repeat(1 << 20))
            .unwrap_err()
            .message
            .contains("bytes long"));
        // Just under the length limit, at the comparison limit: parses; one more: refused
        // for its comparisons, not its length.
        let at_limit = vec!["metrics.a = 1"; MAX_COMPARISONS].join(" AND ");
        assert!(at_limit.len() < MAX_FILTER_LEN, "{}", at_limit.len());
        assert!(parse(&at_limit).unwrap().is_some());
        let over = vec!["metrics.a = 1"; MAX_COMPARISONS + 1].join(" AND ");
        assert!(over.len() < MAX_FILTER_LEN);
        assert!(parse(&over).unwrap_err().message.contains("comparisons"));
        let deep = format!("{}metrics.a = 1{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn printing_round_trips() {
        for f in [
            "metrics.rmse < 1 AND params.model = 'lr'",
            "(metrics.a = 1 OR tags.`my tag` LIKE 'x%') AND attributes.run_id IN ('a', 'b')",
            "params.q = 'it''s' OR metrics.\"f1-score\" != -0.5",
        ] {
            let e = parse(f).unwrap().unwrap();
            assert_eq!(parse(&e.to_string()).unwrap().unwrap(), e, "{f} → {e}");
        }
    }
}
