//! Okta's expression language for `search` and `filter`: `attribute op "value"` comparisons
//! (`eq sw co gt ge lt le`, and `pr`), joined by `and`, `or`, `not` and parentheses. `and`
//! binds tighter than `or`. Operators and keywords ignore case; attribute names do not.

use super::{Dialect, Expr, Op, SearchError, Vocabulary};
use crate::clock::Timestamp;
use crate::records::directory::{AttrKind, CustomAttribute};
use crate::store::user_index;

/// Longer expressions are refused (Okta refuses overlong queries too).
pub const MAX_LENGTH: usize = 4096;
/// How deep parentheses and `not` may nest.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An attribute name, operator or keyword.
    Word(String),
    /// A double-quoted string, a number or a boolean, as text.
    Literal(String),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, SearchError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(escaped) => s.push(escaped),
                            None => return Err(SearchError::syntax("an unfinished escape")),
                        },
                        Some('"') => break,
                        Some(other) => s.push(other),
                        None => {
                            return Err(SearchError::syntax("a string without its closing quote"));
                        }
                    }
                }
                out.push(Token::Literal(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser<'v> {
    tokens: Vec<Token>,
    at: usize,
    dialect: Dialect,
    names: &'v Vocabulary,
    also: &'v dyn Fn(&str) -> Option<&'v CustomAttribute>,
}

/// Parses `text` as `dialect` allows, over the attributes `names` lists and, in a search,
/// those `also` declares (an org's custom attributes, with their types).
pub(super) fn parse<'v>(
    text: &str,
    dialect: Dialect,
    names: &'v Vocabulary,
    also: &'v dyn Fn(&str) -> Option<&'v CustomAttribute>,
) -> Result<Expr, SearchError> {
    if text.len() > MAX_LENGTH {
        return Err(SearchError::syntax(
            "an expression longer than 4096 characters",
        ));
    }
    let mut p = Parser {
        tokens: tokens(text)?,
        at: 0,
        dialect,
        names,
        also,
    };
    let expr = p.or(0)?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some(t) => Err(SearchError::syntax(&format!(
            "{} where the expression should end",
            shown(t)
        ))),
    }
}

fn shown(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("`{w}`"),
        Token::Literal(l) => format!("\"{l}\""),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
    }
}

impl Parser<'_> {
    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self, depth: usize) -> Result<Expr, SearchError> {
        let mut terms = vec![self.and(depth)?];
        while self.peek_keyword("or") {
            self.at += 1;
            terms.push(self.and(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, SearchError> {
        let mut terms = vec![self.unary(depth)?];
        while self.peek_keyword("and") {
            self.at += 1;
            terms.push(self.unary(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, SearchError> {
        if depth > MAX_DEPTH {
            return Err(SearchError::syntax("parentheses nested too deep"));
        }
        if self.peek_keyword("not") {
            if self.dialect == Dialect::Filter {
                return Err(SearchError::syntax(
                    "`not`, which a filter cannot use (search can)",
                ));
            }
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or(depth + 1)?;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err(SearchError::syntax("a `(` without its `)`"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(attribute)) => {
                self.at += 1;
                self.comparison(attribute)
            }
            Some(t) => Err(SearchError::syntax(&format!(
                "{} where an attribute should be",
                shown(&t)
            ))),
            None => Err(SearchError::syntax("an expression that ends too soon")),
        }
    }

    fn comparison(&mut self, attribute: String) -> Result<Expr, SearchError> {
        let custom = match self.dialect {
            Dialect::Search => (self.also)(&attribute),
            Dialect::Filter => None,
        };
        if custom.is_none() {
            check_attribute(&attribute, self.dialect, self.names)?;
        }
        let op = match self.tokens.get(self.at) {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            _ => {
                return Err(SearchError::syntax(&format!(
                    "`{attribute}` without an operator"
                )));
            }
        };
        self.at += 1;
        if op == "pr" {
            if self.dialect == Dialect::Filter {
                return Err(SearchError::syntax(
                    "`pr`, which a filter cannot use (search can)",
                ));
            }
            return Ok(Expr::Present(attribute));
        }
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => {
                return Err(SearchError::syntax(&format!(
                    "the unknown operator `{other}`"
                )));
            }
        };
        match custom {
            Some(declared) => check_typed_operator(&attribute, op, declared.scalar())?,
            None => check_operator(&attribute, op, self.dialect, self.names)?,
        }
        let literal = match self.tokens.get(self.at) {
            Some(Token::Literal(l)) => l.clone(),
            // Numbers and booleans come unquoted.
            Some(Token::Word(w)) if w.parse::<f64>().is_ok() || w == "true" || w == "false" => {
                w.clone()
            }
            _ => {
                return Err(SearchError::syntax(&format!(
                    "`{attribute} {}` without a value in double quotes",
                    op.name()
                )));
            }
        };
        self.at += 1;
        let key = match custom.map(CustomAttribute::scalar) {
            Some(AttrKind::Integer | AttrKind::Number) => match literal.parse::<f64>() {
                Ok(n) if n.is_finite() => user_index::number_key(n),
                _ => {
                    return Err(SearchError::syntax(&format!(
                        "\"{literal}\" compared with the number `{attribute}`"
                    )));
                }
            },
            Some(AttrKind::Boolean) if literal != "true" && literal != "false" => {
                return Err(SearchError::syntax(&format!(
                    "\"{literal}\" compared with the boolean `{attribute}` (true or false)"
                )));
            }
            Some(_) => user_index::text_key(&literal),
            None if (self.names.is_time)(&attribute) => time_literal(&literal)?,
            None => user_index::text_key(&literal),
        };
        Ok(Expr::Compare {
            attribute,
            op,
            key,
            literal,
        })
    }
}

/// An attribute of what is listed, as the dialect may name it.
fn check_attribute(
    attribute: &str,
    dialect: Dialect,
    names: &Vocabulary,
) -> Result<(), SearchError> {
    if (names.knows)(attribute, dialect) {
        Ok(())
    } else if dialect == Dialect::Filter && (names.knows)(attribute, Dialect::Search) {
        Err(SearchError::syntax(&format!(
            "`{attribute}`, which a filter cannot use (search can)"
        )))
    } else {
        Err(SearchError::syntax(&format!(
            "the unknown attribute `{attribute}`"
        )))
    }
}

/// Okta's operators by dialect: a filter compares with `eq` (times also with `gt ge lt le`);
/// `co` works only where the vocabulary allows it.
fn check_operator(
    attribute: &str,
    op: Op,
    dialect: Dialect,
    names: &Vocabulary,
) -> Result<(), SearchError> {
    let allowed = match (dialect, op) {
        (Dialect::Filter, Op::Eq) => true,
        (Dialect::Filter, Op::Gt | Op::Ge | Op::Lt | Op::Le) => (names.is_time)(attribute),
        (Dialect::Filter, _) => false,
        (Dialect::Search, Op::Co) => (names.contains)(attribute),
        (Dialect::Search, _) => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(SearchError::syntax(&format!(
            "`{}` on `{attribute}`, which is not supported",
            op.name()
        )))
    }
}

/// The operators on a custom attribute of type `kind` (of an array: its elements' type,
/// where a comparison holds when one element's does): text takes `eq`, `sw` and the ranges,
/// a number `eq` and the ranges, a boolean `eq`.
fn check_typed_operator(attribute: &str, op: Op, kind: AttrKind) -> Result<(), SearchError> {
    let allowed = match kind {
        AttrKind::String | AttrKind::Array => op != Op::Co,
        AttrKind::Integer | AttrKind::Number => !matches!(op, Op::Co | Op::Sw),
        AttrKind::Boolean => op == Op::Eq,
    };
    if allowed {
        Ok(())
    } else {
        Err(SearchError::syntax(&format!(
            "`{}` on `{attribute}` (of type {}), which is not supported",
            op.name(),
            kind.as_str()
        )))
    }
}

/// A time as Okta writes it (`2014-01-01T00:00:00.000Z`; any RFC 3339 time is taken), as the
/// index keys times.
fn time_literal(literal: &str) -> Result<String, SearchError> {
    let t = Timestamp::parse_rfc3339(literal).ok_or_else(|| {
        SearchError::syntax(&format!(
            "\"{literal}\", which is not a time like \"2014-01-01T00:00:00.000Z\""
        ))
    })?;
    Ok(user_index::time_key(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::search::USERS;

    fn cmp(attribute: &str, op: Op, key: &str) -> Expr {
        Expr::Compare {
            attribute: attribute.into(),
            op,
            key: key.into(),
            literal: String::new(),
        }
    }

    /// The parse with the literals blanked, to compare shapes.
    fn shape(text: &str) -> Expr {
        fn blank(e: Expr) -> Expr {
            match e {
                Expr::Compare {
                    attribute, op, key, ..
                } => Expr::Compare {
                    attribute,
                    op,
                    key,
                    literal: String::new(),
                },
                Expr::And(v) => Expr::And(v.into_iter().map(blank).collect()),
                Expr::Or(v) => Expr::Or(v.into_iter().map(blank).collect()),
                Expr::Not(e) => Expr::Not(Box::new(blank(*e))),
                e => e,
            }
        }
        blank(parse(text, Dialect::Search, &USERS, &|_| None).unwrap())
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        assert_eq!(
            shape(
                r#"profile.department eq "Engineering" and (created lt "2014-01-01T00:00:00.000Z" or status EQ "ACTIVE")"#
            ),
            Expr::And(vec![
                cmp("profile.department", Op::Eq, "engineering"),
                Expr::Or(vec![
                    cmp("created", Op::Lt, "2014-01-01T00:00:00.000Z"),
                    cmp("status", Op::Eq, "active"),
                ]),
            ])
        );
        assert_eq!(
            shape(r#"status eq "ACTIVE" or profile.city eq "Oslo" and not profile.title pr"#),
            Expr::Or(vec![
                cmp("status", Op::Eq, "active"),
                Expr::And(vec![
                    cmp("profile.city", Op::Eq, "oslo"),
                    Expr::Not(Box::new(Expr::Present("profile.title".into()))),
                ]),
            ])
        );
    }

    #[test]
    fn literals_unescape_and_times_normalise() {
        assert_eq!(
            shape(r#"profile.nickName eq "say \"hi\"""#),
            cmp("profile.nickName", Op::Eq, "say \"hi\"")
        );
        assert_eq!(
            shape(r#"lastUpdated gt "2014-01-01T01:00:00+01:00""#),
            cmp("lastUpdated", Op::Gt, "2014-01-01T00:00:00.000Z")
        );
        assert_eq!(
            shape("profile.employeeNumber eq 42"),
            cmp("profile.employeeNumber", Op::Eq, "42")
        );
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        for (text, says) in [
            ("", "ends too soon"),
            (r#"profile.lastName eq"#, "without a value"),
            (r#"profile.lastName eq "x"#, "closing quote"),
            (r#"profile.lastName ne "x""#, "unknown operator `ne`"),
            (r#"profile.shoeSize eq "x""#, "unknown attribute"),
            (r#"(status eq "ACTIVE""#, "without its `)`"),
            (r#"status eq "ACTIVE" status"#, "should end"),
            (r#"profile.city co "x""#, "`co` on `profile.city`"),
            (r#"created gt "yesterday""#, "not a time"),
        ] {
            let e = parse(text, Dialect::Search, &USERS, &|_| None).unwrap_err();
            assert!(e.0.contains(says), "{text}: {}", e.0);
        }
        assert!(parse(&"(".repeat(40), Dialect::Search, &USERS, &|_| None).is_err());
        assert!(
            parse(
                &format!("id eq \"{}\"", "x".repeat(5000)),
                Dialect::Search,
                &USERS,
                &|_| None
            )
            .is_err()
        );
    }

    #[test]
    fn a_filter_takes_only_what_okta_filters_take() {
        assert!(
            parse(
                r#"status eq "ACTIVE" or profile.login eq "a@b.c""#,
                Dialect::Filter,
                &USERS,
                &|_| None
            )
            .is_ok()
        );
        assert!(
            parse(
                r#"lastUpdated gt "2014-01-01T00:00:00.000Z""#,
                Dialect::Filter,
                &USERS,
                &|_| None
            )
            .is_ok()
        );
        for text in [
            r#"not status eq "ACTIVE""#,
            r#"profile.city eq "Oslo""#,
            r#"profile.login sw "a""#,
            r#"created gt "2014-01-01T00:00:00.000Z""#,
            "profile.email pr",
        ] {
            assert!(
                parse(text, Dialect::Filter, &USERS, &|_| None).is_err(),
                "{text}"
            );
        }
    }
}
