//! Tokens of an expression, with their byte positions.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Str(String),
    Num(f64),
    Ident(String),
    Dot,
    Comma,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Question,
    Colon,
    AndAnd,
    OrOr,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    Eof,
}

pub(super) static EOF: Tok = Tok::Eof;

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = src.get(i..).and_then(|rest| rest.chars().next()) {
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let two = src.get(i..i + 2).unwrap_or("");
        let (tok, len) = match two {
            "&&" => (Tok::AndAnd, 2),
            "||" => (Tok::OrOr, 2),
            "==" => (Tok::EqEq, 2),
            "!=" => (Tok::NotEq, 2),
            "<=" => (Tok::Le, 2),
            ">=" => (Tok::Ge, 2),
            _ => match c {
                '.' => (Tok::Dot, 1),
                ',' => (Tok::Comma, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                '{' => (Tok::LBrace, 1),
                '}' => (Tok::RBrace, 1),
                '[' => (Tok::LBracket, 1),
                ']' => (Tok::RBracket, 1),
                '?' => (Tok::Question, 1),
                ':' => (Tok::Colon, 1),
                '<' => (Tok::Lt, 1),
                '>' => (Tok::Gt, 1),
                '+' => (Tok::Plus, 1),
                '-' => (Tok::Minus, 1),
                '*' => (Tok::Star, 1),
                '/' => (Tok::Slash, 1),
                '%' => (Tok::Percent, 1),
                '!' => (Tok::Bang, 1),
                '"' | '\'' => {
                    let (s, len) = lex_string(src, i, c)?;
                    (Tok::Str(s), len)
                }
                '0'..='9' => {
                    let (n, len) = lex_number(src, i)?;
                    (Tok::Num(n), len)
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let len = src
                        .get(i..)
                        .unwrap_or("")
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                        .count();
                    let name = src.get(i..i + len).unwrap_or("").to_owned();
                    (Tok::Ident(name), len)
                }
                '=' => return Err(ExprError::at("unexpected '=' (use '==')", i)),
                '&' => return Err(ExprError::at("unexpected '&' (use '&&')", i)),
                '|' => return Err(ExprError::at("unexpected '|' (use '||')", i)),
                other => {
                    return Err(ExprError::at(format!("unexpected character {other:?}"), i));
                }
            },
        };
        toks.push(Token { tok, pos: i });
        i += len;
    }
    toks.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(toks)
}

/// Lexes a string literal opened by `quote` at `start`; returns its value and source length.
pub(super) fn lex_string(
    src: &str,
    start: usize,
    quote: char,
) -> Result<(String, usize), ExprError> {
    let body = src.get(start + 1..).unwrap_or("");
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((off, c)) = chars.next() {
        if c == quote {
            return Ok((out, off + 2));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, escaped)) = chars.next() else {
            break;
        };
        out.push(match escaped {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            '/' => '/',
            other => {
                return Err(ExprError::at(
                    format!("invalid escape '\\{other}' in string"),
                    start + 1 + off,
                ));
            }
        });
    }
    Err(ExprError::at("unterminated string", start))
}

/// Lexes `digits` or `digits.digits` at `start`; returns the value and source length.
pub(super) fn lex_number(src: &str, start: usize) -> Result<(f64, usize), ExprError> {
    let bytes = src.as_bytes();
    let digits_from = |from: usize| {
        bytes
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut end = start + digits_from(start);
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end += 1 + digits_from(end + 1);
    }
    let text = src.get(start..end).unwrap_or("");
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok((n, end - start)),
        _ => Err(ExprError::at(
            format!("number {text} is out of range"),
            start,
        )),
    }
}

pub(super) fn describe(tok: &Tok) -> String {
    let sym = match tok {
        Tok::Str(_) => return "a string".to_owned(),
        Tok::Num(_) => return "a number".to_owned(),
        Tok::Ident(name) => return format!("'{name}'"),
        Tok::Eof => return "end of expression".to_owned(),
        Tok::Dot => ".",
        Tok::Comma => ",",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Question => "?",
        Tok::Colon => ":",
        Tok::AndAnd => "&&",
        Tok::OrOr => "||",
        Tok::EqEq => "==",
        Tok::NotEq => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Bang => "!",
    };
    format!("'{sym}'")
}
