//! A small, safe subset of the Okta Expression Language (EL), used to compute custom token
//! claims, plus the group filters of GROUPS-valued claims.
//!
//! [`parse`] turns an admin-supplied expression into an [`Expr`]; [`Expr::eval`] computes a
//! claim value — JSON `null`, a boolean, a number, a string, or a flat array of those — from
//! a [`Scope`] (the user, their group names, the client application and the granted scopes).
//!
//! # Language
//!
//! * Literals: `"text"` or `'text'` (escapes `\"` `\'` `\\` `\n` `\t` `\r` `\/`), `12`, `2.5`,
//!   `true`, `false`, `null`, arrays `{"a", "b"}` (Okta style) or `["a", "b"]`.
//! * Paths: `user.<attr>` (`user.profile.<attr>` means the same), `app.<attr>`,
//!   `access.scope`. Nested objects may be walked (`user.address.city`). A missing attribute is
//!   `null`; a name other than `user`, `app`, `access`, `String`, `Arrays`, `Groups`,
//!   `Convert`, `true`, `false` and `null` is a parse error.
//! * Operators, loosest first: `? :` (right-associative), `||` `OR` `or`, `&&` `AND` `and`,
//!   `==` `!=` `eq` `ne`, `<` `<=` `>` `>=`, `+` `-`, `*` `/` `%`, unary `!` and `-`.
//!   `+` concatenates when either side is a string (`null` renders as `""`) and adds numbers
//!   otherwise. `==` between different types is `false` (`!=` is `true`); ordering works on two
//!   numbers or two strings. `!`, `&&`, `||` and `?:` take booleans only and short-circuit.
//! * Functions (case-sensitive, as in Okta EL):
//!   `String.len append join replace replaceFirst removeSpaces stringContains startsWith
//!   endsWith substring substringAfter substringBefore toUpperCase toLowerCase trim
//!   stringSwitch`, `Arrays.contains size isEmpty add remove toCsvString flatten`,
//!   `Convert.toInt toNum`, `Groups.startsWith contains endsWith` and the user methods
//!   `user.isMemberOfGroupName(name)` and `user.isMemberOfAnyGroup(name, ...)`.
//!
//! Choices where Okta's behaviour is Java-specific or unspecified:
//!
//! * `null` given where a string is expected counts as `""`, and where an array is expected as
//!   `{}`; any other wrong type is an error.
//! * String lengths and indices count Unicode scalar values (Okta counts UTF-16 units).
//!   `String.substring` clamps its indices into range (negative → 0) and returns `""` when
//!   `start >= end`.
//! * `String.replace` and `String.replaceFirst` are literal (no regex anywhere in the language).
//! * `String.substringAfter` returns `""` and `String.substringBefore` the whole input when the
//!   separator is absent (as Apache Commons `StringUtils`).
//! * `String.removeSpaces` removes every Unicode whitespace character.
//! * `String.join` and `user.isMemberOfAnyGroup` also accept arrays, whose elements count as
//!   separate arguments.
//! * `Arrays.remove` removes every element equal to the value; `Arrays.add` of an array is an
//!   error (arrays only hold scalars: use `Arrays.flatten`).
//! * `Convert.toInt` accepts numbers and numeric strings and rounds half away from zero; the
//!   result must lie within ±2^53.
//! * `Groups.*` take the source `"OKTA"` only, a limit clamped to 0..=100, and match group
//!   names case-insensitively, like [`filter_groups`]; `user.isMemberOfGroupName` and
//!   `user.isMemberOfAnyGroup` compare names exactly.
//!
//! # Limits
//!
//! Expressions are admin-supplied and evaluated on attacker-influenced data, so: sources are at
//! most 2048 bytes; parentheses, calls, arrays, unary operators and ternaries nest at most 32
//! deep (chains of binary operators are kept flat, so every recursion is bounded); a string
//! value is at most 16 384 bytes, an array at most 1 000 elements, and arrays hold scalars only;
//! one evaluation may produce at most 1 MiB of values in total; numbers are `f64` and a NaN or
//! infinite result is an error, and whole numbers within ±2^53 come out as JSON integers.
//! Every failure is an [`ExprError`], never a panic.

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};

const MAX_SOURCE_LEN: usize = 2048;
const MAX_DEPTH: usize = 32;
const MAX_STRING_LEN: usize = 16_384;
const MAX_ARRAY_LEN: usize = 1000;
const MAX_EVAL_BYTES: usize = 1 << 20;
const MAX_GROUPS: usize = 100;
const MAX_REGEX_LEN: usize = 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// 2^53: whole numbers up to this magnitude are exact in `f64` and emitted as JSON integers.
const MAX_SAFE_INT: f64 = 9_007_199_254_740_992.0;

/// A parsed expression, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Expr {
    root: Node,
}

/// What an expression can read.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// `user.<attr>`: the user's profile attributes (login, email, firstName, lastName, ...) plus id and status.
    pub user: &'a Map<String, Value>,
    /// Names of the groups the user belongs to (for user.isMemberOfGroupName and Groups.* functions).
    pub groups: &'a [String],
    /// `app.<attr>`: the client application (clientId, name, ...).
    pub app: &'a Map<String, Value>,
    /// `access.scope`: the granted scopes, as an array of strings.
    pub scopes: &'a [String],
}

/// Why an expression or a group filter could not be parsed, checked or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    message: String,
}

impl ExprError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    fn at(message: impl fmt::Display, pos: usize) -> Self {
        Self {
            message: format!("{message} at {pos}"),
        }
    }

    /// Human-readable description, with the byte position in the source where relevant,
    /// e.g. `unknown function 'String.foo' at 12`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

/// Parses an expression, checking names, function arities and the size and nesting limits.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(ExprError::new(format!(
            "expression is longer than {MAX_SOURCE_LEN} bytes"
        )));
    }
    parse_unbounded(src)
}

/// [`parse`] without the source length limit (the nesting limit still applies).
fn parse_unbounded(src: &str) -> Result<Expr, ExprError> {
    let toks = lex(src)?;
    let mut parser = Parser {
        toks,
        i: 0,
        depth: 0,
    };
    if *parser.peek() == Tok::Eof {
        return Err(ExprError::new("empty expression"));
    }
    let root = parser.parse_ternary()?;
    if *parser.peek() != Tok::Eof {
        return Err(parser.unexpected("an operator or end of expression"));
    }
    Ok(Expr { root })
}

impl Expr {
    /// Evaluates the expression against `scope`, giving a claim value.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, ExprError> {
        let mut ctx = Ctx { scope, used: 0 };
        ctx.eval(&self.root)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
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

static EOF: Tok = Tok::Eof;

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
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
fn lex_string(src: &str, start: usize, quote: char) -> Result<(String, usize), ExprError> {
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
fn lex_number(src: &str, start: usize) -> Result<(f64, usize), ExprError> {
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

fn describe(tok: &Tok) -> String {
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

// ---------------------------------------------------------------------------------------------
// Syntax tree and parser

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Or => "||",
            Self::And => "&&",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
        }
    }
}

/// Number of binary precedence levels; level 0 is the loosest (`||`).
const BINARY_LEVELS: usize = 6;

/// The operator `tok` stands for at precedence `level`, if any.
fn binop_at(level: usize, tok: &Tok) -> Option<BinOp> {
    let word = match tok {
        Tok::Ident(w) => w.as_str(),
        _ => "",
    };
    let op = match (level, tok) {
        (0, Tok::OrOr) => BinOp::Or,
        (0, _) if word == "OR" || word == "or" => BinOp::Or,
        (1, Tok::AndAnd) => BinOp::And,
        (1, _) if word == "AND" || word == "and" => BinOp::And,
        (2, Tok::EqEq) => BinOp::Eq,
        (2, _) if word == "eq" => BinOp::Eq,
        (2, Tok::NotEq) => BinOp::Ne,
        (2, _) if word == "ne" => BinOp::Ne,
        (3, Tok::Lt) => BinOp::Lt,
        (3, Tok::Le) => BinOp::Le,
        (3, Tok::Gt) => BinOp::Gt,
        (3, Tok::Ge) => BinOp::Ge,
        (4, Tok::Plus) => BinOp::Add,
        (4, Tok::Minus) => BinOp::Sub,
        (5, Tok::Star) => BinOp::Mul,
        (5, Tok::Slash) => BinOp::Div,
        (5, Tok::Percent) => BinOp::Rem,
        _ => return None,
    };
    Some(op)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Len,
    Append,
    Join,
    Replace,
    ReplaceFirst,
    RemoveSpaces,
    StringContains,
    StartsWith,
    EndsWith,
    Substring,
    SubstringAfter,
    SubstringBefore,
    ToUpperCase,
    ToLowerCase,
    Trim,
    StringSwitch,
    ArrContains,
    ArrSize,
    ArrIsEmpty,
    ArrAdd,
    ArrRemove,
    ArrToCsvString,
    ArrFlatten,
    ToInt,
    ToNum,
    GroupsStartsWith,
    GroupsContains,
    GroupsEndsWith,
    IsMemberOfGroupName,
    IsMemberOfAnyGroup,
}

struct FuncSpec {
    name: &'static str,
    func: Func,
    min: usize,
    /// `None`: any number of arguments from `min` on.
    max: Option<usize>,
}

const fn spec(name: &'static str, func: Func, min: usize, max: Option<usize>) -> FuncSpec {
    FuncSpec {
        name,
        func,
        min,
        max,
    }
}

const FUNCS: &[FuncSpec] = &[
    spec("String.len", Func::Len, 1, Some(1)),
    spec("String.append", Func::Append, 2, Some(2)),
    spec("String.join", Func::Join, 1, None),
    spec("String.replace", Func::Replace, 3, Some(3)),
    spec("String.replaceFirst", Func::ReplaceFirst, 3, Some(3)),
    spec("String.removeSpaces", Func::RemoveSpaces, 1, Some(1)),
    spec("String.stringContains", Func::StringContains, 2, Some(2)),
    spec("String.startsWith", Func::StartsWith, 2, Some(2)),
    spec("String.endsWith", Func::EndsWith, 2, Some(2)),
    spec("String.substring", Func::Substring, 3, Some(3)),
    spec("String.substringAfter", Func::SubstringAfter, 2, Some(2)),
    spec("String.substringBefore", Func::SubstringBefore, 2, Some(2)),
    spec("String.toUpperCase", Func::ToUpperCase, 1, Some(1)),
    spec("String.toLowerCase", Func::ToLowerCase, 1, Some(1)),
    spec("String.trim", Func::Trim, 1, Some(1)),
    spec("String.stringSwitch", Func::StringSwitch, 2, None),
    spec("Arrays.contains", Func::ArrContains, 2, Some(2)),
    spec("Arrays.size", Func::ArrSize, 1, Some(1)),
    spec("Arrays.isEmpty", Func::ArrIsEmpty, 1, Some(1)),
    spec("Arrays.add", Func::ArrAdd, 2, Some(2)),
    spec("Arrays.remove", Func::ArrRemove, 2, Some(2)),
    spec("Arrays.toCsvString", Func::ArrToCsvString, 1, Some(1)),
    spec("Arrays.flatten", Func::ArrFlatten, 1, None),
    spec("Convert.toInt", Func::ToInt, 1, Some(1)),
    spec("Convert.toNum", Func::ToNum, 1, Some(1)),
    spec("Groups.startsWith", Func::GroupsStartsWith, 3, Some(3)),
    spec("Groups.contains", Func::GroupsContains, 3, Some(3)),
    spec("Groups.endsWith", Func::GroupsEndsWith, 3, Some(3)),
    spec(
        "user.isMemberOfGroupName",
        Func::IsMemberOfGroupName,
        1,
        Some(1),
    ),
    spec("user.isMemberOfAnyGroup", Func::IsMemberOfAnyGroup, 1, None),
];

impl Func {
    fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|s| s.func == self)
            .map_or("function", |s| s.name)
    }
}

fn check_arity(spec: &FuncSpec, got: usize, pos: usize) -> Result<(), ExprError> {
    let in_range = got >= spec.min && spec.max.is_none_or(|max| got <= max);
    let switch_pairs = spec.func != Func::StringSwitch || got.is_multiple_of(2);
    if in_range && switch_pairs {
        return Ok(());
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let want = match spec.max {
        _ if spec.func == Func::StringSwitch => {
            "an input, a default and key/value pairs".to_owned()
        }
        Some(max) if max == spec.min => format!("{max} {}", plural(max)),
        Some(max) => format!("{} to {max} arguments", spec.min),
        None => format!("at least {} {}", spec.min, plural(spec.min)),
    };
    Err(ExprError::at(
        format!("{} expects {want}, got {got}", spec.name),
        pos,
    ))
}

#[derive(Debug, Clone)]
enum Node {
    Lit(Value, usize),
    Array(Vec<Node>, usize),
    User(Vec<String>, usize),
    App(Vec<String>, usize),
    Access(Vec<String>, usize),
    Not(Box<Node>, usize),
    Neg(Box<Node>, usize),
    /// A left-associative run of operators of one precedence level, kept flat so that long
    /// chains such as `a + b + c + ...` do not make the tree (and evaluation) deep.
    Chain {
        first: Box<Node>,
        rest: Vec<(BinOp, usize, Node)>,
    },
    Cond {
        cond: Box<Node>,
        then: Box<Node>,
        els: Box<Node>,
        pos: usize,
    },
    Call {
        func: Func,
        args: Vec<Node>,
        pos: usize,
    },
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&EOF, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map_or(0, |t| t.pos)
    }

    fn advance(&mut self) {
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> ExprError {
        ExprError::at(
            format!("expected {expected}, found {}", describe(self.peek())),
            self.pos(),
        )
    }

    fn expect(&mut self, tok: &Tok, expected: &str) -> Result<(), ExprError> {
        if self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn ident(&mut self, expected: &str) -> Result<String, ExprError> {
        if let Tok::Ident(name) = self.peek() {
            let name = name.clone();
            self.advance();
            Ok(name)
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&mut self, pos: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::at(
                format!("expression is nested more than {MAX_DEPTH} levels deep"),
                pos,
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_ternary(&mut self) -> Result<Node, ExprError> {
        let cond = self.parse_binary(0)?;
        if *self.peek() != Tok::Question {
            return Ok(cond);
        }
        let pos = self.pos();
        self.advance();
        self.enter(pos)?;
        let then = self.parse_ternary()?;
        self.expect(&Tok::Colon, "':'")?;
        let els = self.parse_ternary()?;
        self.leave();
        Ok(Node::Cond {
            cond: Box::new(cond),
            then: Box::new(then),
            els: Box::new(els),
            pos,
        })
    }

    fn parse_binary(&mut self, level: usize) -> Result<Node, ExprError> {
        if level >= BINARY_LEVELS {
            return self.parse_unary();
        }
        let first = self.parse_binary(level + 1)?;
        let mut rest = Vec::new();
        while let Some(op) = binop_at(level, self.peek()) {
            let pos = self.pos();
            self.advance();
            rest.push((op, pos, self.parse_binary(level + 1)?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Node::Chain {
                first: Box::new(first),
                rest,
            })
        }
    }

    fn parse_unary(&mut self) -> Result<Node, ExprError> {
        let pos = self.pos();
        let negate = match self.peek() {
            Tok::Bang => false,
            Tok::Minus => true,
            _ => return self.parse_primary(),
        };
        self.advance();
        self.enter(pos)?;
        let operand = Box::new(self.parse_unary()?);
        self.leave();
        Ok(if negate {
            Node::Neg(operand, pos)
        } else {
            Node::Not(operand, pos)
        })
    }

    fn parse_primary(&mut self) -> Result<Node, ExprError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Str(s) => {
                self.advance();
                Ok(Node::Lit(Value::String(s), pos))
            }
            Tok::Num(n) => {
                self.advance();
                Ok(Node::Lit(number(n, pos)?, pos))
            }
            Tok::LParen => {
                self.advance();
                self.enter(pos)?;
                let inner = self.parse_ternary()?;
                self.expect(&Tok::RParen, "')'")?;
                self.leave();
                Ok(inner)
            }
            Tok::LBrace => Ok(Node::Array(self.parse_list(pos, &Tok::RBrace, "'}'")?, pos)),
            Tok::LBracket => Ok(Node::Array(
                self.parse_list(pos, &Tok::RBracket, "']'")?,
                pos,
            )),
            Tok::Ident(name) => {
                self.advance();
                self.parse_name(&name, pos)
            }
            other => Err(ExprError::at(
                format!("expected a value, found {}", describe(&other)),
                pos,
            )),
        }
    }

    /// Parses a comma-separated list; the current token is its opening bracket.
    fn parse_list(
        &mut self,
        pos: usize,
        close: &Tok,
        close_desc: &str,
    ) -> Result<Vec<Node>, ExprError> {
        self.advance();
        self.enter(pos)?;
        let mut items = Vec::new();
        if self.peek() != close {
            loop {
                items.push(self.parse_ternary()?);
                if *self.peek() == Tok::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        self.expect(close, &format!("',' or {close_desc}"))?;
        self.leave();
        Ok(items)
    }

    fn parse_name(&mut self, name: &str, pos: usize) -> Result<Node, ExprError> {
        match name {
            "true" => Ok(Node::Lit(Value::Bool(true), pos)),
            "false" => Ok(Node::Lit(Value::Bool(false), pos)),
            "null" => Ok(Node::Lit(Value::Null, pos)),
            "user" | "app" | "access" => self.parse_path(name, pos),
            "String" | "Arrays" | "Groups" | "Convert" => {
                self.expect(&Tok::Dot, &format!("'.' after '{name}'"))?;
                let member = self.ident("a function name")?;
                self.parse_call(&format!("{name}.{member}"), pos)
            }
            _ => Err(ExprError::at(format!("unknown name '{name}'"), pos)),
        }
    }

    fn parse_path(&mut self, root: &str, pos: usize) -> Result<Node, ExprError> {
        self.expect(&Tok::Dot, &format!("'.' after '{root}'"))?;
        let mut segs = vec![self.ident("an attribute name")?];
        while *self.peek() == Tok::Dot {
            self.advance();
            segs.push(self.ident("an attribute name")?);
        }
        if *self.peek() == Tok::LParen {
            return self.parse_call(&format!("{root}.{}", segs.join(".")), pos);
        }
        Ok(match root {
            "user" => {
                if segs.len() > 1 && segs.first().is_some_and(|s| s == "profile") {
                    segs.remove(0);
                }
                Node::User(segs, pos)
            }
            "app" => Node::App(segs, pos),
            _ => Node::Access(segs, pos),
        })
    }

    fn parse_call(&mut self, full: &str, pos: usize) -> Result<Node, ExprError> {
        let Some(spec) = FUNCS.iter().find(|s| s.name == full) else {
            return Err(ExprError::at(format!("unknown function '{full}'"), pos));
        };
        if *self.peek() != Tok::LParen {
            return Err(self.unexpected(&format!("'(' after {full}")));
        }
        let open = self.pos();
        let args = self.parse_list(open, &Tok::RParen, "')'")?;
        check_arity(spec, args.len(), pos)?;
        Ok(Node::Call {
            func: spec.func,
            args,
            pos,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Values

static NULL: Value = Value::Null;

/// A finite `f64` as a JSON number: whole numbers within ±2^53 as integers.
fn number(x: f64, pos: usize) -> Result<Value, ExprError> {
    if !x.is_finite() {
        return Err(ExprError::at("numeric result is not a finite number", pos));
    }
    if x.fract() == 0.0 && x.abs() <= MAX_SAFE_INT {
        // Exact: a whole number within ±2^53 fits an i64.
        return Ok(Value::from(x as i64));
    }
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| ExprError::at("numeric result is not a finite number", pos))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn values_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(p), Some(q)) => p == q,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_eq(p, q))
        }
        _ => a == b,
    }
}

/// How a scalar renders in a concatenation or join; `None` for arrays and objects.
fn display(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        Value::Null => Some(Cow::Borrowed("")),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn string_too_long(pos: usize) -> ExprError {
    ExprError::at(
        format!("string result is longer than {MAX_STRING_LEN} bytes"),
        pos,
    )
}

fn array_too_long(pos: usize) -> ExprError {
    ExprError::at(
        format!("array result has more than {MAX_ARRAY_LEN} elements"),
        pos,
    )
}

/// Checks `v` against the value limits; returns roughly how many bytes it takes.
fn value_size(v: &Value, pos: usize) -> Result<usize, ExprError> {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(16),
        Value::String(s) if s.len() > MAX_STRING_LEN => Err(string_too_long(pos)),
        Value::String(s) => Ok(16 + s.len()),
        Value::Array(items) if items.len() > MAX_ARRAY_LEN => Err(array_too_long(pos)),
        Value::Array(items) => items.iter().try_fold(24, |total, item| match item {
            Value::Array(_) | Value::Object(_) => Err(ExprError::at(
                format!("arrays cannot contain {}s", type_name(item)),
                pos,
            )),
            _ => Ok(total + value_size(item, pos)?),
        }),
        Value::Object(_) => Err(ExprError::at(
            "objects are not supported as claim values",
            pos,
        )),
    }
}

/// Builds a string while keeping it within the string limit.
struct StrBuilder {
    buf: String,
    pos: usize,
}

impl StrBuilder {
    fn new(pos: usize) -> Self {
        Self {
            buf: String::new(),
            pos,
        }
    }

    fn push(&mut self, s: &str) -> Result<(), ExprError> {
        if self.buf.len() + s.len() > MAX_STRING_LEN {
            return Err(string_too_long(self.pos));
        }
        self.buf.push_str(s);
        Ok(())
    }

    fn push_value(&mut self, v: &Value, what: &str) -> Result<(), ExprError> {
        let s = display(v).ok_or_else(|| {
            ExprError::at(format!("{what} cannot contain {}s", type_name(v)), self.pos)
        })?;
        self.push(&s)
    }

    fn finish(self) -> Value {
        Value::String(self.buf)
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

struct Ctx<'s, 'a> {
    scope: &'s Scope<'a>,
    /// Bytes of values produced so far, against `MAX_EVAL_BYTES`.
    used: usize,
}

fn lookup<'v>(map: &'v Map<String, Value>, segs: &[String]) -> Option<&'v Value> {
    let (first, rest) = segs.split_first()?;
    rest.iter()
        .try_fold(map.get(first)?, |cur, seg| cur.as_object()?.get(seg))
}

fn expect_bool(v: &Value, what: &str, pos: usize) -> Result<bool, ExprError> {
    v.as_bool().ok_or_else(|| {
        ExprError::at(
            format!("expected a boolean for {what}, got {}", type_name(v)),
            pos,
        )
    })
}

impl Ctx<'_, '_> {
    /// Checks a value against the limits and charges it to the evaluation's budget.
    fn account(&mut self, v: &Value, pos: usize) -> Result<(), ExprError> {
        self.used = self.used.saturating_add(value_size(v, pos)?);
        if self.used > MAX_EVAL_BYTES {
            return Err(ExprError::at(
                format!("evaluation produced more than {MAX_EVAL_BYTES} bytes of values"),
                pos,
            ));
        }
        Ok(())
    }

    fn produce(&mut self, v: Value, pos: usize) -> Result<Value, ExprError> {
        self.account(&v, pos)?;
        Ok(v)
    }

    fn read(&mut self, v: Option<&Value>, pos: usize) -> Result<Value, ExprError> {
        match v {
            None => Ok(Value::Null),
            Some(v) => {
                self.account(v, pos)?;
                Ok(v.clone())
            }
        }
    }

    fn eval(&mut self, node: &Node) -> Result<Value, ExprError> {
        match node {
            Node::Lit(v, pos) => self.produce(v.clone(), *pos),
            Node::Array(items, pos) => {
                let mut out = Vec::with_capacity(items.len().min(MAX_ARRAY_LEN));
                for item in items {
                    let v = self.eval(item)?;
                    if matches!(v, Value::Array(_) | Value::Object(_)) {
                        return Err(ExprError::at(
                            format!("arrays cannot contain {}s", type_name(&v)),
                            *pos,
                        ));
                    }
                    out.push(v);
                }
                self.produce(Value::Array(out), *pos)
            }
            Node::User(segs, pos) => self.read(lookup(self.scope.user, segs), *pos),
            Node::App(segs, pos) => self.read(lookup(self.scope.app, segs), *pos),
            Node::Access(segs, pos) => {
                if segs.len() != 1 || segs.first().is_none_or(|s| s != "scope") {
                    return Ok(Value::Null);
                }
                if self.scope.scopes.len() > MAX_ARRAY_LEN {
                    return Err(array_too_long(*pos));
                }
                let scopes = self.scope.scopes.iter().cloned().map(Value::String);
                self.produce(Value::Array(scopes.collect()), *pos)
            }
            Node::Not(operand, pos) => {
                let v = self.eval(operand)?;
                Ok(Value::Bool(!expect_bool(&v, "'!'", *pos)?))
            }
            Node::Neg(operand, pos) => {
                let v = self.eval(operand)?;
                let n = v.as_f64().ok_or_else(|| {
                    ExprError::at(
                        format!("unary '-' expects a number, got {}", type_name(&v)),
                        *pos,
                    )
                })?;
                let out = number(-n, *pos)?;
                self.produce(out, *pos)
            }
            Node::Chain { first, rest } => self.eval_chain(first, rest),
            Node::Cond {
                cond,
                then,
                els,
                pos,
            } => {
                let c = self.eval(cond)?;
                if expect_bool(&c, "'?:'", *pos)? {
                    self.eval(then)
                } else {
                    self.eval(els)
                }
            }
            Node::Call { func, args, pos } => {
                let mut vals = Vec::with_capacity(args.len());
                for arg in args {
                    vals.push(self.eval(arg)?);
                }
                let out = self.apply(*func, &vals, *pos)?;
                self.produce(out, *pos)
            }
        }
    }

    fn eval_chain(
        &mut self,
        first: &Node,
        rest: &[(BinOp, usize, Node)],
    ) -> Result<Value, ExprError> {
        let mut acc = self.eval(first)?;
        for (op, pos, rhs) in rest {
            acc = match op {
                // A chain holds operators of one level only, so a short circuit ends it.
                BinOp::And | BinOp::Or => {
                    let what = format!("'{}'", op.symbol());
                    let left = expect_bool(&acc, &what, *pos)?;
                    if left == (*op == BinOp::Or) {
                        return Ok(Value::Bool(left));
                    }
                    let right = self.eval(rhs)?;
                    Value::Bool(expect_bool(&right, &what, *pos)?)
                }
                _ => {
                    let right = self.eval(rhs)?;
                    let out = binary(*op, &acc, &right, *pos)?;
                    self.produce(out, *pos)?
                }
            };
        }
        Ok(acc)
    }

    fn apply(&mut self, func: Func, vals: &[Value], pos: usize) -> Result<Value, ExprError> {
        let args = Args { func, vals, pos };
        let groups = self.scope.groups;
        Ok(match func {
            Func::Len => Value::from(args.str(0)?.chars().count()),
            Func::Append => {
                let mut b = StrBuilder::new(pos);
                b.push(args.str(0)?)?;
                b.push(args.str(1)?)?;
                b.finish()
            }
            Func::Join => {
                let sep = args.str(0)?;
                let mut b = StrBuilder::new(pos);
                let mut first = true;
                for v in vals.iter().skip(1) {
                    let items = match v {
                        Value::Array(items) => items.as_slice(),
                        other => std::slice::from_ref(other),
                    };
                    for item in items {
                        if !first {
                            b.push(sep)?;
                        }
                        first = false;
                        b.push_value(item, "String.join arguments")?;
                    }
                }
                b.finish()
            }
            Func::Replace | Func::ReplaceFirst => {
                let (s, from, to) = (args.str(0)?, args.str(1)?, args.str(2)?);
                let mut b = StrBuilder::new(pos);
                let mut last = 0;
                for (idx, _) in s.match_indices(from) {
                    b.push(s.get(last..idx).unwrap_or(""))?;
                    b.push(to)?;
                    last = idx + from.len();
                    if func == Func::ReplaceFirst {
                        break;
                    }
                }
                b.push(s.get(last..).unwrap_or(""))?;
                b.finish()
            }
            Func::RemoveSpaces => Value::String(
                args.str(0)?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect(),
            ),
            Func::StringContains => Value::Bool(args.str(0)?.contains(args.str(1)?)),
            Func::StartsWith => Value::Bool(args.str(0)?.starts_with(args.str(1)?)),
            Func::EndsWith => Value::Bool(args.str(0)?.ends_with(args.str(1)?)),
            Func::Substring => {
                let s = args.str(0)?;
                let len = s.chars().count();
                let (start, end) = (
                    clamp_index(args.num(1)?, len),
                    clamp_index(args.num(2)?, len),
                );
                Value::String(
                    s.chars()
                        .skip(start)
                        .take(end.saturating_sub(start))
                        .collect(),
                )
            }
            Func::SubstringAfter => {
                let (s, sep) = (args.str(0)?, args.str(1)?);
                let after = s.find(sep).and_then(|i| s.get(i + sep.len()..));
                Value::String(after.unwrap_or("").to_owned())
            }
            Func::SubstringBefore => {
                let (s, sep) = (args.str(0)?, args.str(1)?);
                let before = s.find(sep).and_then(|i| s.get(..i));
                Value::String(before.unwrap_or(s).to_owned())
            }
            Func::ToUpperCase => Value::String(args.str(0)?.to_uppercase()),
            Func::ToLowerCase => Value::String(args.str(0)?.to_lowercase()),
            Func::Trim => Value::String(args.str(0)?.trim().to_owned()),
            Func::StringSwitch => {
                let input = args.str(0)?;
                let mut i = 2;
                while i + 1 < vals.len() {
                    if input.contains(args.str(i)?) {
                        return Ok(args.get(i + 1).clone());
                    }
                    i += 2;
                }
                args.get(1).clone()
            }
            Func::ArrContains => {
                let x = args.get(1);
                Value::Bool(args.array(0)?.iter().any(|v| values_eq(v, x)))
            }
            Func::ArrSize => Value::from(args.array(0)?.len()),
            Func::ArrIsEmpty => Value::Bool(args.array(0)?.is_empty()),
            Func::ArrAdd => {
                let arr = args.array(0)?;
                let x = args.get(1);
                if matches!(x, Value::Array(_) | Value::Object(_)) {
                    return Err(args.error(format!(
                        "cannot add an {} to an array (use Arrays.flatten)",
                        type_name(x)
                    )));
                }
                if arr.len() >= MAX_ARRAY_LEN {
                    return Err(array_too_long(pos));
                }
                let mut out = arr.to_vec();
                out.push(x.clone());
                Value::Array(out)
            }
            Func::ArrRemove => {
                let x = args.get(1);
                let kept = args.array(0)?.iter().filter(|v| !values_eq(v, x));
                Value::Array(kept.cloned().collect())
            }
            Func::ArrToCsvString => {
                let mut b = StrBuilder::new(pos);
                for (i, item) in args.array(0)?.iter().enumerate() {
                    if i > 0 {
                        b.push(",")?;
                    }
                    b.push_value(item, "Arrays.toCsvString input")?;
                }
                b.finish()
            }
            Func::ArrFlatten => {
                let mut out = Vec::new();
                for v in vals {
                    let items = match v {
                        Value::Array(items) => items.as_slice(),
                        other => std::slice::from_ref(other),
                    };
                    if out.len() + items.len() > MAX_ARRAY_LEN {
                        return Err(array_too_long(pos));
                    }
                    out.extend_from_slice(items);
                }
                Value::Array(out)
            }
            Func::ToInt => {
                let n = args.numeric(0)?.round();
                if n.abs() > MAX_SAFE_INT {
                    return Err(args.error("result is out of the integer range"));
                }
                number(n, pos)?
            }
            Func::ToNum => number(args.numeric(0)?, pos)?,
            Func::GroupsStartsWith | Func::GroupsContains | Func::GroupsEndsWith => {
                if args.str(0)? != "OKTA" {
                    return Err(args.error("only the \"OKTA\" group source is supported"));
                }
                let pattern = args.str(1)?.to_lowercase();
                let limit = clamp_index(args.num(2)?, MAX_GROUPS);
                let matches = |name: &str| {
                    let name = name.to_lowercase();
                    match func {
                        Func::GroupsStartsWith => name.starts_with(&pattern),
                        Func::GroupsEndsWith => name.ends_with(&pattern),
                        _ => name.contains(&pattern),
                    }
                };
                let found = groups.iter().filter(|g| matches(g.as_str())).take(limit);
                Value::Array(found.cloned().map(Value::String).collect())
            }
            Func::IsMemberOfGroupName => {
                let name = args.str(0)?;
                Value::Bool(groups.iter().any(|g| g == name))
            }
            Func::IsMemberOfAnyGroup => {
                let mut names = Vec::new();
                for (i, v) in vals.iter().enumerate() {
                    match v {
                        Value::Array(items) => {
                            for item in items {
                                names.push(item.as_str().ok_or_else(|| {
                                    args.error(format!(
                                        "argument {} must hold strings, got {}",
                                        i + 1,
                                        type_name(item)
                                    ))
                                })?);
                            }
                        }
                        _ => names.push(args.str(i)?),
                    }
                }
                Value::Bool(groups.iter().any(|g| names.contains(&g.as_str())))
            }
        })
    }
}

/// `x` truncated and clamped into `0..=len` (negative → 0, beyond the end → `len`).
fn clamp_index(x: f64, len: usize) -> usize {
    if x <= 0.0 {
        0
    } else if x >= len as f64 {
        len
    } else {
        // Strictly between 0 and `len` here, so the truncating cast is in range.
        x as usize
    }
}

/// The evaluated arguments of one call, with typed accessors that report wrong types.
struct Args<'v> {
    func: Func,
    vals: &'v [Value],
    pos: usize,
}

impl<'v> Args<'v> {
    fn error(&self, message: impl fmt::Display) -> ExprError {
        ExprError::at(format!("{}: {message}", self.func.name()), self.pos)
    }

    fn get(&self, i: usize) -> &'v Value {
        self.vals.get(i).unwrap_or(&NULL)
    }

    fn wrong(&self, i: usize, want: &str) -> ExprError {
        self.error(format!(
            "argument {} must be {want}, got {}",
            i + 1,
            type_name(self.get(i))
        ))
    }

    /// A string argument; `null` counts as `""`.
    fn str(&self, i: usize) -> Result<&'v str, ExprError> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            Value::Null => Ok(""),
            _ => Err(self.wrong(i, "a string")),
        }
    }

    fn num(&self, i: usize) -> Result<f64, ExprError> {
        self.get(i)
            .as_f64()
            .ok_or_else(|| self.wrong(i, "a number"))
    }

    /// An array argument; `null` counts as an empty array.
    fn array(&self, i: usize) -> Result<&'v [Value], ExprError> {
        match self.get(i) {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.wrong(i, "an array")),
        }
    }

    /// A number, or a string holding one.
    fn numeric(&self, i: usize) -> Result<f64, ExprError> {
        match self.get(i) {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(n),
                _ => {
                    let shown: String = s.chars().take(40).collect();
                    Err(self.error(format!("'{shown}' is not a number")))
                }
            },
            Value::Number(n) => n.as_f64().ok_or_else(|| self.wrong(i, "a number")),
            _ => Err(self.wrong(i, "a number or a numeric string")),
        }
    }
}

fn binary(op: BinOp, a: &Value, b: &Value, pos: usize) -> Result<Value, ExprError> {
    let mismatch = |want: &str| {
        ExprError::at(
            format!(
                "operator '{}' expects {want}, got {} and {}",
                op.symbol(),
                type_name(a),
                type_name(b)
            ),
            pos,
        )
    };
    match op {
        BinOp::Eq => return Ok(Value::Bool(values_eq(a, b))),
        BinOp::Ne => return Ok(Value::Bool(!values_eq(a, b))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ord = match (a, b) {
                (Value::Number(x), Value::Number(y)) => x
                    .as_f64()
                    .zip(y.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            };
            let ord = ord.ok_or_else(|| mismatch("two numbers or two strings"))?;
            return Ok(Value::Bool(match op {
                BinOp::Lt => ord.is_lt(),
                BinOp::Le => ord.is_le(),
                BinOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            }));
        }
        BinOp::Add if a.is_string() || b.is_string() => {
            let (Some(x), Some(y)) = (display(a), display(b)) else {
                return Err(mismatch("strings, numbers, booleans or null"));
            };
            let mut out = StrBuilder::new(pos);
            out.push(&x)?;
            out.push(&y)?;
            return Ok(out.finish());
        }
        _ => {}
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Err(mismatch(if op == BinOp::Add {
            "numbers or strings"
        } else {
            "numbers"
        }));
    };
    let result = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div | BinOp::Rem if y == 0.0 => {
            return Err(ExprError::at("division by zero", pos));
        }
        BinOp::Div => x / y,
        _ => x % y,
    };
    number(result, pos)
}

// ---------------------------------------------------------------------------------------------
// Group filters

/// How a GROUPS-valued claim selects the user's groups by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupFilter {
    /// The name starts with the value, ignoring case.
    StartsWith,
    /// The name equals the value, ignoring case.
    Equals,
    /// The name contains the value, ignoring case.
    Contains,
    /// The whole name matches the value as a regular expression (case-sensitive unless the
    /// pattern says `(?i)`).
    Regex,
}

/// Validates a GROUPS claim's filter value when the claim is saved (a regex that does not compile, or is longer than 1024 bytes, is refused).
pub fn check_group_filter(kind: GroupFilter, value: &str) -> Result<(), ExprError> {
    match kind {
        GroupFilter::Regex => compile_group_regex(value).map(|_| ()),
        GroupFilter::StartsWith | GroupFilter::Equals | GroupFilter::Contains => Ok(()),
    }
}

/// The user's group names the filter selects, at most 100, in the given order.
///
/// `StartsWith`, `Equals` and `Contains` compare case-insensitively (both sides lowercased with
/// Unicode rules, which covers ASCII), as Okta does. `Regex` must match the whole name; a regex
/// that is refused by [`check_group_filter`] selects nothing.
pub fn filter_groups(kind: GroupFilter, value: &str, groups: &[String]) -> Vec<String> {
    let selected: Box<dyn Fn(&str) -> bool> = match kind {
        GroupFilter::Regex => match compile_group_regex(value) {
            Ok(re) => Box::new(move |name| re.is_match(name)),
            Err(_) => return Vec::new(),
        },
        GroupFilter::StartsWith | GroupFilter::Equals | GroupFilter::Contains => {
            let value = value.to_lowercase();
            Box::new(move |name| {
                let name = name.to_lowercase();
                match kind {
                    GroupFilter::StartsWith => name.starts_with(&value),
                    GroupFilter::Equals => name == value,
                    _ => name.contains(&value),
                }
            })
        }
    };
    groups
        .iter()
        .filter(|g| selected(g.as_str()))
        .take(MAX_GROUPS)
        .cloned()
        .collect()
}

/// Compiles a group-filter regex anchored to the whole name. The pattern must compile on its
/// own first, so that it cannot close the anchoring group early (`a)|(b`).
fn compile_group_regex(value: &str) -> Result<Regex, ExprError> {
    if value.len() > MAX_REGEX_LEN {
        return Err(ExprError::new(format!(
            "group filter regex is longer than {MAX_REGEX_LEN} bytes"
        )));
    }
    let build = |pattern: &str| {
        RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| ExprError::new(format!("invalid group filter regex: {e}")))
    };
    build(value)?;
    build(&format!("^(?:{value})$"))
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    struct Fixture {
        user: Map<String, Value>,
        groups: Vec<String>,
        app: Map<String, Value>,
        scopes: Vec<String>,
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                user: obj(json!({
                    "id": "00u1",
                    "status": "ACTIVE",
                    "login": "alice@example.com",
                    "email": "alice@example.com",
                    "firstName": "Alice",
                    "lastName": "Liddell",
                    "department": "Engineering - Platform",
                    "displayName": "Zoë 日本",
                    "age": 42,
                    "score": 2.5,
                    "tags": ["a", "b"],
                    "address": {"city": "Paris"},
                    "big": "x".repeat(10_000),
                    "nested": [[1]],
                })),
                groups: ["Everyone", "Admins", "admins-eu", "Engineering", "Sales"]
                    .map(String::from)
                    .to_vec(),
                app: obj(json!({"clientId": "0oa-client", "name": "Portal"})),
                scopes: ["openid", "profile", "admin"].map(String::from).to_vec(),
            }
        }

        fn scope(&self) -> Scope<'_> {
            Scope {
                user: &self.user,
                groups: &self.groups,
                app: &self.app,
                scopes: &self.scopes,
            }
        }
    }

    fn ev(src: &str) -> Value {
        let f = Fixture::new();
        let expr = parse(src).unwrap_or_else(|e| panic!("parse {src:?}: {e}"));
        expr.eval(&f.scope())
            .unwrap_or_else(|e| panic!("eval {src:?}: {e}"))
    }

    fn err(src: &str) -> String {
        let f = Fixture::new();
        match parse(src) {
            Err(e) => e.message().to_owned(),
            Ok(expr) => match expr.eval(&f.scope()) {
                Err(e) => e.message().to_owned(),
                Ok(v) => panic!("{src:?} gave {v} instead of an error"),
            },
        }
    }

    fn assert_err(src: &str, fragment: &str) {
        let message = err(src);
        assert!(
            message.contains(fragment),
            "{src:?}: {message:?} lacks {fragment:?}"
        );
    }

    /// Every result must be a claim value within the limits.
    fn assert_claim_value(v: &Value) {
        match v {
            Value::String(s) => assert!(s.len() <= MAX_STRING_LEN),
            Value::Array(items) => {
                assert!(items.len() <= MAX_ARRAY_LEN);
                for item in items {
                    assert!(!matches!(item, Value::Array(_) | Value::Object(_)));
                    assert_claim_value(item);
                }
            }
            Value::Number(n) => assert!(n.as_f64().unwrap().is_finite()),
            Value::Object(_) => panic!("object result"),
            Value::Null | Value::Bool(_) => {}
        }
    }

    #[test]
    fn literals() {
        assert_eq!(ev(r#""a\"b\'c\\d\ne\tf""#), json!("a\"b'c\\d\ne\tf"));
        assert_eq!(ev(r"'it\'s'"), json!("it's"));
        assert_eq!(ev("42"), json!(42));
        assert_eq!(ev("2.50"), json!(2.5));
        assert_eq!(ev("3.0"), json!(3));
        assert_eq!(ev("true"), json!(true));
        assert_eq!(ev("false"), json!(false));
        assert_eq!(ev("null"), json!(null));
        assert_eq!(ev(r#"{"a", "b"}"#), json!(["a", "b"]));
        assert_eq!(ev(r#"["a", 1, null, true]"#), json!(["a", 1, null, true]));
        assert_eq!(ev("{}"), json!([]));
        assert_eq!(ev("-5"), json!(-5));
        assert_err(r#""a\qb""#, "invalid escape '\\q'");
        assert_err("{{1}}", "arrays cannot contain arrays");
        assert_err(&format!("1{}", "0".repeat(400)), "out of range");
    }

    #[test]
    fn paths() {
        assert_eq!(ev("user.login"), json!("alice@example.com"));
        assert_eq!(ev("user.profile.login"), json!("alice@example.com"));
        assert_eq!(ev("user.id + '/' + user.status"), json!("00u1/ACTIVE"));
        assert_eq!(ev("user.missing"), json!(null));
        assert_eq!(ev("user.profile.missing"), json!(null));
        assert_eq!(ev("user.address.city"), json!("Paris"));
        assert_eq!(ev("user.login.deeper"), json!(null));
        assert_eq!(ev("user.tags"), json!(["a", "b"]));
        assert_eq!(ev("app.clientId"), json!("0oa-client"));
        assert_eq!(ev("app.name"), json!("Portal"));
        assert_eq!(ev("app.nope"), json!(null));
        assert_eq!(ev("access.scope"), json!(["openid", "profile", "admin"]));
        assert_eq!(ev("access.other"), json!(null));
        assert_err("user.address", "objects are not supported");
        assert_err("user.nested", "arrays cannot contain arrays");
        assert_err("foo.bar", "unknown name 'foo' at 0");
        assert_err("1 + session.id", "unknown name 'session' at 4");
        assert_err("user", "expected '.' after 'user'");
        assert_err("user.", "expected an attribute name");
    }

    #[test]
    fn precedence() {
        assert_eq!(ev("1 + 2 * 3 == 7"), json!(true));
        assert_eq!(ev("(1 + 2) * 3"), json!(9));
        assert_eq!(ev("10 - 4 - 3"), json!(3));
        assert_eq!(ev("2 * 3 % 4"), json!(2));
        assert_eq!(ev("-2 * -3"), json!(6));
        assert_eq!(ev("!false && true"), json!(true));
        assert_eq!(ev("!true && true"), json!(false));
        assert_eq!(ev("!(true && false)"), json!(true));
        assert_eq!(ev("true || false && false"), json!(true));
        assert_eq!(ev("1 < 2 == 2 < 3"), json!(true));
        assert_eq!(ev("1 + 1 > 1 && 2 >= 2 && 1 <= 1"), json!(true));
        assert_eq!(ev("true ? 1 : false ? 2 : 3"), json!(1));
        assert_eq!(ev("false ? 1 : false ? 2 : 3"), json!(3));
        assert_eq!(ev("false ? 1 : true ? 2 : 3"), json!(2));
        assert_eq!(ev("true ? false ? 1 : 2 : 3"), json!(2));
        assert_eq!(ev("1 == 1 ? 'a' + 'b' : 'c'"), json!("ab"));
    }

    #[test]
    fn word_operators() {
        assert_eq!(ev("true AND false OR true"), json!(true));
        assert_eq!(ev("true and false or false"), json!(false));
        assert_eq!(ev("user.firstName eq 'Alice'"), json!(true));
        assert_eq!(ev("user.firstName ne 'Alice'"), json!(false));
        assert_eq!(ev("user.and"), json!(null));
    }

    #[test]
    fn short_circuit() {
        assert_eq!(ev("false && 1 / 0 == 1"), json!(false));
        assert_eq!(ev("true || String.len(5) == 1"), json!(true));
        assert_eq!(ev("true ? 1 : 1 / 0"), json!(1));
        assert_eq!(ev("false ? 1 / 0 : 2"), json!(2));
        assert_err("true && 1 / 0 == 1", "division by zero");
    }

    #[test]
    fn booleans_only() {
        assert_err("1 && true", "expected a boolean for '&&', got number at 2");
        assert_err("false || 'x'", "expected a boolean for '||', got string");
        assert_err("!null", "expected a boolean for '!', got null at 0");
        assert_err(
            "user.login ? 1 : 2",
            "expected a boolean for '?:', got string",
        );
    }

    #[test]
    fn concatenation_and_arithmetic() {
        assert_eq!(ev("'a' + 1"), json!("a1"));
        assert_eq!(ev("1.5 + 'a'"), json!("1.5a"));
        assert_eq!(ev("'a' + null + true"), json!("atrue"));
        assert_eq!(ev("user.missing + 'x'"), json!("x"));
        assert_eq!(ev("1 + 2"), json!(3));
        assert_eq!(ev("7 / 2"), json!(3.5));
        assert_eq!(ev("6 / 3"), json!(2));
        assert_eq!(ev("7 % 3"), json!(1));
        assert_eq!(ev("user.age + 1"), json!(43));
        assert_eq!(ev("user.score * 2"), json!(5));
        assert_err(
            "true + 1",
            "operator '+' expects numbers or strings, got boolean and number at 5",
        );
        assert_err("null + null", "operator '+'");
        assert_err(
            "'a' + {1}",
            "operator '+' expects strings, numbers, booleans or null",
        );
        assert_err(
            "'a' - 1",
            "operator '-' expects numbers, got string and number",
        );
        assert_err("-'a'", "unary '-' expects a number");
        assert_err("1 / 0", "division by zero at 2");
        assert_err("1 % 0", "division by zero");
        let huge = vec!["1000000000000000000000"; 16].join(" * ");
        assert_err(&huge, "not a finite number");
    }

    #[test]
    fn comparisons() {
        assert_eq!(ev("1 == '1'"), json!(false));
        assert_eq!(ev("1 != '1'"), json!(true));
        assert_eq!(ev("null == null"), json!(true));
        assert_eq!(ev("user.missing == null"), json!(true));
        assert_eq!(ev("1 == 1.0"), json!(true));
        assert_eq!(ev("{1, 'a'} == {1.0, 'a'}"), json!(true));
        assert_eq!(ev("'abc' < 'abd'"), json!(true));
        assert_eq!(ev("'b' >= 'a'"), json!(true));
        assert_eq!(ev("2 > 10"), json!(false));
        assert_err(
            "1 < 'a'",
            "operator '<' expects two numbers or two strings, got number and string",
        );
        assert_err("null < 1", "operator '<'");
    }

    #[test]
    fn string_len() {
        assert_eq!(ev("String.len('abc')"), json!(3));
        assert!(ev("String.len('abc')").is_u64());
        assert_eq!(ev("String.len('héllo 日本')"), json!(8));
        assert_eq!(ev("String.len(user.missing)"), json!(0));
    }

    #[test]
    fn string_append() {
        assert_eq!(ev("String.append('a', 'b')"), json!("ab"));
        assert_eq!(ev("String.append(null, '')"), json!(""));
        assert_err(
            "String.append('a', 1)",
            "String.append: argument 2 must be a string, got number",
        );
    }

    #[test]
    fn string_join() {
        assert_eq!(ev("String.join(',', 'a', 'b', 'c')"), json!("a,b,c"));
        assert_eq!(
            ev("String.join(' ', access.scope)"),
            json!("openid profile admin")
        );
        assert_eq!(ev("String.join('-')"), json!(""));
        assert_eq!(ev("String.join('', 1, true, null)"), json!("1true"));
        assert_err(
            "String.join()",
            "String.join expects at least 1 argument, got 0",
        );
    }

    #[test]
    fn string_replace() {
        assert_eq!(ev("String.replace('a-b-c', '-', '+')"), json!("a+b+c"));
        assert_eq!(ev("String.replace('a.b', '.', '')"), json!("ab"));
        assert_eq!(ev("String.replace('abc', '', '-')"), json!("-a-b-c-"));
        assert_eq!(ev("String.replace('abc', 'x', '-')"), json!("abc"));
        assert_eq!(ev("String.replaceFirst('a-b-c', '-', '+')"), json!("a+b-c"));
        assert_eq!(
            ev("String.replaceFirst('日本日本', '本', 'x')"),
            json!("日x日本")
        );
        assert_eq!(ev("String.replaceFirst('abc', '', '-')"), json!("-abc"));
    }

    #[test]
    fn string_remove_spaces_and_trim() {
        assert_eq!(ev("String.removeSpaces(' a b\tc ')"), json!("abc"));
        assert_eq!(ev("String.removeSpaces('')"), json!(""));
        assert_eq!(ev("String.trim('  a b  ')"), json!("a b"));
        assert_eq!(ev("String.trim('\\n\\t')"), json!(""));
    }

    #[test]
    fn string_predicates() {
        assert_eq!(
            ev("String.stringContains(user.email, '@example')"),
            json!(true)
        );
        assert_eq!(ev("String.stringContains('abc', '')"), json!(true));
        assert_eq!(ev("String.stringContains('abc', 'd')"), json!(false));
        assert_eq!(ev("String.startsWith(user.login, 'alice')"), json!(true));
        assert_eq!(ev("String.startsWith('a', 'abc')"), json!(false));
        assert_eq!(ev("String.endsWith(user.login, '.com')"), json!(true));
        assert_eq!(ev("String.endsWith('', '')"), json!(true));
    }

    #[test]
    fn string_substring() {
        assert_eq!(ev("String.substring('abcdef', 1, 3)"), json!("bc"));
        assert_eq!(
            ev("String.substring('日本語テキスト', 2, 4)"),
            json!("語テ")
        );
        assert_eq!(ev("String.substring('abc', -5, 100)"), json!("abc"));
        assert_eq!(ev("String.substring('abc', 2, 1)"), json!(""));
        assert_eq!(ev("String.substring('abc', 1.9, 2.9)"), json!("b"));
        assert_eq!(ev("String.substring('🎉x', 0, 1)"), json!("🎉"));
        assert_err(
            "String.substring('abc', '1', 2)",
            "argument 2 must be a number, got string",
        );
        assert_err(
            "String.substring('abc', 1)",
            "String.substring expects 3 arguments, got 2",
        );
    }

    #[test]
    fn string_substring_after_before() {
        assert_eq!(ev("String.substringAfter('a@b@c', '@')"), json!("b@c"));
        assert_eq!(ev("String.substringAfter('abc', '@')"), json!(""));
        assert_eq!(
            ev("String.substringBefore(user.email, '@')"),
            json!("alice")
        );
        assert_eq!(ev("String.substringBefore('abc', '@')"), json!("abc"));
        assert_eq!(ev("String.substringBefore('日本@語', '@')"), json!("日本"));
    }

    #[test]
    fn string_case() {
        assert_eq!(ev("String.toUpperCase(app.clientId)"), json!("0OA-CLIENT"));
        assert_eq!(ev("String.toUpperCase('straße')"), json!("STRASSE"));
        assert_eq!(ev("String.toLowerCase('ÀBC')"), json!("àbc"));
        assert_eq!(ev("String.toLowerCase(null)"), json!(""));
    }

    #[test]
    fn string_switch() {
        let src = "String.stringSwitch(user.department, 'other', 'Sales', 'S', 'Engineering', 'E')";
        assert_eq!(ev(src), json!("E"));
        assert_eq!(
            ev("String.stringSwitch('HR', 'other', 'Sales', 'S')"),
            json!("other")
        );
        assert_eq!(ev("String.stringSwitch('x', 0)"), json!(0));
        assert_err(
            "String.stringSwitch('x', 'd', 'k')",
            "String.stringSwitch expects an input, a default and key/value pairs, got 3",
        );
        assert_err(
            "String.stringSwitch('x', 'd', 1, 'v')",
            "argument 3 must be a string",
        );
    }

    #[test]
    fn arrays_contains_size_empty() {
        assert_eq!(ev("Arrays.contains(access.scope, 'admin')"), json!(true));
        assert_eq!(ev("Arrays.contains({1, 2}, 2.0)"), json!(true));
        assert_eq!(ev("Arrays.contains(user.missing, 'x')"), json!(false));
        assert_eq!(ev("Arrays.size(access.scope)"), json!(3));
        assert_eq!(ev("Arrays.size({})"), json!(0));
        assert_eq!(ev("Arrays.isEmpty({})"), json!(true));
        assert_eq!(ev("Arrays.isEmpty(user.tags)"), json!(false));
        assert_err(
            "Arrays.size('abc')",
            "Arrays.size: argument 1 must be an array, got string",
        );
    }

    #[test]
    fn arrays_add_remove() {
        assert_eq!(ev("Arrays.add(user.tags, 'c')"), json!(["a", "b", "c"]));
        assert_eq!(ev("Arrays.add(null, 1)"), json!([1]));
        assert_err("Arrays.add({1}, {2})", "cannot add an array");
        assert_eq!(ev("Arrays.remove({1, 2, 1, 3}, 1)"), json!([2, 3]));
        assert_eq!(ev("Arrays.remove({'a'}, 'b')"), json!(["a"]));
    }

    #[test]
    fn arrays_csv_flatten() {
        assert_eq!(
            ev("Arrays.toCsvString(access.scope)"),
            json!("openid,profile,admin")
        );
        assert_eq!(ev("Arrays.toCsvString({})"), json!(""));
        assert_eq!(ev("Arrays.toCsvString({1, null, true})"), json!("1,,true"));
        assert_eq!(
            ev("Arrays.flatten(user.tags, {'c'}, 'd')"),
            json!(["a", "b", "c", "d"])
        );
        assert_eq!(ev("Arrays.flatten({})"), json!([]));
    }

    #[test]
    fn convert() {
        assert_eq!(ev("Convert.toInt('42')"), json!(42));
        assert_eq!(ev("Convert.toInt(2.5)"), json!(3));
        assert_eq!(ev("Convert.toInt(' -7 ')"), json!(-7));
        assert_eq!(ev("Convert.toNum('2.25')"), json!(2.25));
        assert_eq!(ev("Convert.toNum(user.age)"), json!(42));
        assert_err(
            "Convert.toNum('abc')",
            "Convert.toNum: 'abc' is not a number",
        );
        assert_err("Convert.toNum('NaN')", "is not a number");
        assert_err("Convert.toInt('1e300')", "out of the integer range");
        assert_err(
            "Convert.toInt(true)",
            "argument 1 must be a number or a numeric string",
        );
    }

    #[test]
    fn groups_functions() {
        assert_eq!(
            ev("Groups.startsWith('OKTA', 'admin', 10)"),
            json!(["Admins", "admins-eu"])
        );
        assert_eq!(
            ev("Groups.startsWith('OKTA', 'admin', 1)"),
            json!(["Admins"])
        );
        assert_eq!(
            ev("Groups.contains('OKTA', 'IN', 10)"),
            json!(["Admins", "admins-eu", "Engineering"])
        );
        assert_eq!(
            ev("Groups.endsWith('OKTA', 'S', 10)"),
            json!(["Admins", "Sales"])
        );
        assert_eq!(ev("Groups.endsWith('OKTA', 's', -3)"), json!([]));
        assert_err(
            "Groups.startsWith('active_directory', 'a', 10)",
            "only the \"OKTA\" group source",
        );
        assert_err(
            "Groups.contains('OKTA', 'a')",
            "Groups.contains expects 3 arguments, got 2",
        );

        let many: Vec<String> = (0..150).map(|i| format!("g{i}")).collect();
        let f = Fixture::new();
        let scope = Scope {
            groups: &many,
            ..f.scope()
        };
        let v = parse("Groups.startsWith('OKTA', 'g', 100000)")
            .unwrap()
            .eval(&scope)
            .unwrap();
        assert_eq!(v.as_array().unwrap().len(), 100);
    }

    #[test]
    fn user_methods() {
        assert_eq!(ev("user.isMemberOfGroupName('Admins')"), json!(true));
        assert_eq!(ev("user.isMemberOfGroupName('admins')"), json!(false));
        assert_eq!(ev("user.isMemberOfAnyGroup('Nope', 'Sales')"), json!(true));
        assert_eq!(
            ev("user.isMemberOfAnyGroup({'Nope', 'Everyone'})"),
            json!(true)
        );
        assert_eq!(ev("user.isMemberOfAnyGroup('Nope')"), json!(false));
        assert_err(
            "user.isMemberOfAnyGroup()",
            "expects at least 1 argument, got 0",
        );
        assert_err("user.isMemberOfGroupName(1)", "argument 1 must be a string");
        assert_err("user.getGroups()", "unknown function 'user.getGroups' at 0");
    }

    #[test]
    fn okta_examples() {
        assert_eq!(
            ev("String.substringBefore(user.email, \"@\")"),
            json!("alice")
        );
        assert_eq!(
            ev("user.firstName + \" \" + user.lastName"),
            json!("Alice Liddell")
        );
        assert_eq!(
            ev("Arrays.contains(access.scope, \"admin\") ? \"yes\" : \"no\""),
            json!("yes")
        );
        assert_eq!(
            ev("Arrays.contains(access.scope, \"root\") ? \"yes\" : \"no\""),
            json!("no")
        );
        assert_eq!(ev("user.isMemberOfGroupName(\"Admins\")"), json!(true));
        assert_eq!(ev("String.toUpperCase(app.clientId)"), json!("0OA-CLIENT"));
        assert_eq!(
            ev("user.isMemberOfGroupName('Admins') ? Groups.startsWith('OKTA', 'adm', 5) : {}"),
            json!(["Admins", "admins-eu"])
        );
    }

    #[test]
    fn error_messages() {
        let src = r#"user.login + String.foo(1)"#;
        assert_eq!(err(src), "unknown function 'String.foo' at 13");
        assert_eq!(
            err("String.len('a', 'b')"),
            "String.len expects 1 argument, got 2 at 0"
        );
        assert_eq!(err("'abc' + 'def"), "unterminated string at 8");
        assert_eq!(
            err("String.len(5)"),
            "String.len: argument 1 must be a string, got number at 0"
        );
        assert_eq!(err("10 / (5 - 5)"), "division by zero at 3");
        assert_err("String.len", "expected '(' after String.len");
        assert_err("(1 + 2", "expected ')', found end of expression at 6");
        assert_err(
            "1 2",
            "expected an operator or end of expression, found a number at 2",
        );
        assert_err("{1, 2", "expected ',' or '}'");
        assert_err("a == 1", "unknown name 'a' at 0");
        assert_err("1 = 1", "unexpected '=' (use '==') at 2");
        assert_err("1 # 2", "unexpected character '#' at 2");
        assert_err("", "empty expression");
        assert_err("   ", "empty expression");
        assert_err("1 +", "expected a value, found end of expression at 3");
        assert_err("true ? 1", "expected ':'");
        let e = parse("String.foo()").unwrap_err();
        assert_eq!(e.to_string(), e.message());
    }

    #[test]
    fn length_limit() {
        let ok = format!("'{}'", "a".repeat(MAX_SOURCE_LEN - 2));
        assert_eq!(ok.len(), 2048);
        assert!(parse(&ok).is_ok());
        let long = format!("'{}'", "a".repeat(MAX_SOURCE_LEN - 1));
        assert_eq!(long.len(), 2049);
        assert_err(&long, "longer than 2048 bytes");
    }

    #[test]
    fn nesting_limit() {
        let nest = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(ev(&nest(32)), json!(1));
        assert_err(&nest(33), "nested more than 32 levels");
        // Deep input never reaches the parser's recursion...
        assert_err(&nest(10_000), "longer than 2048 bytes");
        // ...and the depth limit alone stops it too.
        let e = parse_unbounded(&nest(10_000)).unwrap_err();
        assert!(e.message().contains("nested more than 32 levels"));
        let e = parse_unbounded(&format!("{}1", "!-".repeat(50_000))).unwrap_err();
        assert!(e.message().contains("nested more than 32 levels"));
        let calls = format!("{}'x'{}", "String.trim(".repeat(40), ")".repeat(40));
        assert_err(&calls, "nested more than 32 levels");
        let arrays = format!("{}1{}", "{".repeat(40), "}".repeat(40));
        assert_err(&arrays, "nested more than 32 levels");
        let ternaries = format!("{}1", "true ? 1 : ".repeat(40));
        assert_err(&ternaries, "nested more than 32 levels");
        assert_eq!(ev(&format!("{}true", "!".repeat(32))), json!(true));
        assert_err(
            &format!("{}true", "!".repeat(33)),
            "nested more than 32 levels",
        );
        // Long flat operator chains are fine: they do not nest.
        let chain = vec!["1"; 1000].join("+");
        assert_eq!(ev(&chain), json!(1000));
    }

    #[test]
    fn string_growth_is_capped() {
        let fill = "a".repeat(100);
        let mut src = format!("'{fill}'");
        for _ in 0..2 {
            src = format!("String.replace({src}, 'a', 'aaaaaaaaaa')");
        }
        assert_eq!(ev(&src).as_str().unwrap().len(), 10_000);
        src = format!("String.replace({src}, 'a', 'aaaaaaaaaa')");
        assert_err(&src, "string result is longer than 16384 bytes");
        assert_err(
            "String.append(user.big, user.big)",
            "longer than 16384 bytes",
        );
        assert_err(
            "String.append(String.append(user.big, 'x'), user.big)",
            "longer than 16384 bytes",
        );
        assert_err("user.big + user.big", "longer than 16384 bytes");
        assert_err(
            "String.join(user.big, 'a', 'b', 'c')",
            "longer than 16384 bytes",
        );
        assert_err(
            "String.replace(user.big, '', user.big)",
            "longer than 16384 bytes",
        );
        let csv = format!("Arrays.toCsvString({{{}}})", ["user.big"; 2].join(","));
        assert_err(&csv, "longer than 16384 bytes");
    }

    #[test]
    fn array_growth_is_capped() {
        let items = |n: usize| format!("{{{}}}", vec!["1"; n].join(","));
        assert_eq!(ev(&format!("Arrays.size({})", items(1000))), json!(1000));
        assert_err(&items(1001), "more than 1000 elements");
        let src = format!("Arrays.flatten({}, {})", items(600), items(401));
        assert!(src.len() <= MAX_SOURCE_LEN);
        assert_err(&src, "more than 1000 elements");
        assert_err(
            &format!("Arrays.add({}, 1)", items(1000)),
            "more than 1000 elements",
        );
    }

    #[test]
    fn evaluation_budget() {
        let src = format!("Arrays.size({{{}}})", vec!["user.big"; 110].join(","));
        assert_err(&src, "more than 1048576 bytes");
    }

    #[test]
    fn external_data_is_checked() {
        let mut f = Fixture::new();
        f.scopes = (0..1001).map(|i| format!("s{i}")).collect();
        f.user
            .insert("huge".into(), json!("y".repeat(MAX_STRING_LEN + 1)));
        let e = parse("access.scope").unwrap().eval(&f.scope()).unwrap_err();
        assert!(e.message().contains("more than 1000 elements"));
        let e = parse("user.huge").unwrap().eval(&f.scope()).unwrap_err();
        assert!(e.message().contains("longer than 16384 bytes"));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'t>(&mut self, items: &[&'t str]) -> &'t str {
            items[self.below(items.len())]
        }
    }

    #[rustfmt::skip]
    const SOUP: &[&str] = &[
        "\"", "'", "(", ")", "{", "}", "[", "]", ",", ".", "+", "-", "*", "/", "%", "!", "?", ":",
        "&&", "||", "==", "!=", "<", "<=", ">", ">=", "=", "&", "|", "\\", " ", "AND", "or", "eq",
        "ne", "0", "1", "42", "3.5", "99999999999999999999", "true", "false", "null", "user",
        "user.login", "user.email", "user.big", "user.tags", "user.address", "app.clientId",
        "access.scope", "String.substring(", "String.append(", "String.replace(", "String.join(",
        "String.stringSwitch(", "Arrays.add(", "Arrays.flatten(", "Convert.toInt(",
        "Groups.startsWith(", "\"OKTA\"", "user.isMemberOfGroupName(", "\"héllo 日本 🎉\"", "é", "🎉",
        "'\\n'", "\"abc\"", "String", "foo", "\0",
    ];

    #[rustfmt::skip]
    const FUNCTION_NAMES: &[&str] = &[
        "String.len", "String.append", "String.join", "String.replace", "String.replaceFirst",
        "String.removeSpaces", "String.stringContains", "String.startsWith", "String.endsWith",
        "String.substring", "String.substringAfter", "String.substringBefore",
        "String.toUpperCase", "String.toLowerCase", "String.trim", "String.stringSwitch",
        "Arrays.contains", "Arrays.size", "Arrays.isEmpty", "Arrays.add", "Arrays.remove",
        "Arrays.toCsvString", "Arrays.flatten", "Convert.toInt", "Convert.toNum",
        "Groups.startsWith", "Groups.contains", "Groups.endsWith", "user.isMemberOfGroupName",
        "user.isMemberOfAnyGroup", "String.nope",
    ];

    #[rustfmt::skip]
    const ATOMS: &[&str] = &[
        "0", "1", "-1", "2.5", "1000000000000000000000", "''", "'a'", "'OKTA'", "'日本🎉'", "'a b c'",
        "true", "false", "null", "{}", "{1, 'a'}", "user.login", "user.big", "user.tags",
        "user.age", "user.missing", "user.address", "user.nested", "app.name", "access.scope",
        "'Admins'", "-100",
    ];

    #[rustfmt::skip]
    const OPS: &[&str] = &[
        "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "AND", "or", "eq",
    ];

    /// A random expression that is mostly well-formed, to reach evaluation.
    fn random_expr(rng: &mut XorShift, depth: usize) -> String {
        if depth == 0 || rng.below(4) == 0 {
            return match rng.below(10) {
                0 => format!("'{}'", "z".repeat(rng.below(1500))),
                1 => rng.below(1_000_000).to_string(),
                _ => rng.pick(ATOMS).to_owned(),
            };
        }
        match rng.below(7) {
            0 | 1 => {
                let name = rng.pick(FUNCTION_NAMES);
                let n = rng.below(5);
                let args: Vec<String> = (0..n).map(|_| random_expr(rng, depth - 1)).collect();
                format!("{name}({})", args.join(", "))
            }
            2 | 3 => {
                let op = rng.pick(OPS);
                let (a, b) = (random_expr(rng, depth - 1), random_expr(rng, depth - 1));
                format!("{a} {op} {b}")
            }
            4 => format!("({})", random_expr(rng, depth - 1)),
            5 => format!(
                "{} ? {} : {}",
                random_expr(rng, depth - 1),
                random_expr(rng, depth - 1),
                random_expr(rng, depth - 1)
            ),
            _ => format!("{}{}", rng.pick(&["!", "-"]), random_expr(rng, depth - 1)),
        }
    }

    #[test]
    fn fuzz_never_panics() {
        let f = Fixture::new();
        let scope = f.scope();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let long = format!("\"{}\"", "L".repeat(1200));
        let (mut parsed, mut evaluated) = (0, 0);
        let started = Instant::now();
        for i in 0..20_000 {
            let src = if i % 2 == 0 {
                let n = 1 + rng.below(40);
                let mut s = String::new();
                for _ in 0..n {
                    if rng.below(50) == 0 {
                        s.push_str(&long);
                    } else {
                        s.push_str(rng.pick(SOUP));
                    }
                    if rng.below(3) == 0 {
                        s.push(' ');
                    }
                }
                s
            } else {
                let depth = 1 + rng.below(6);
                random_expr(&mut rng, depth)
            };
            if let Ok(expr) = parse(&src) {
                parsed += 1;
                if let Ok(v) = expr.eval(&scope) {
                    evaluated += 1;
                    assert_claim_value(&v);
                }
            }
        }
        assert!(parsed > 2_000, "only {parsed} sources parsed");
        assert!(evaluated > 500, "only {evaluated} sources evaluated");
        assert!(started.elapsed() < Duration::from_secs(120));
    }

    #[test]
    fn group_filter_kinds() {
        let groups: Vec<String> = ["Admins", "admins-eu", "Sales", "ÉQUIPE", "Everyone"]
            .map(String::from)
            .to_vec();
        let pick = |kind, value| filter_groups(kind, value, &groups);
        assert_eq!(
            pick(GroupFilter::StartsWith, "ADMIN"),
            ["Admins", "admins-eu"]
        );
        assert_eq!(pick(GroupFilter::Equals, "sales"), ["Sales"]);
        assert_eq!(pick(GroupFilter::Equals, "sale"), Vec::<String>::new());
        assert_eq!(pick(GroupFilter::Contains, "équi"), ["ÉQUIPE"]);
        assert_eq!(pick(GroupFilter::Contains, ""), groups);
        assert_eq!(pick(GroupFilter::Regex, "admins.*"), ["admins-eu"]);
        assert_eq!(pick(GroupFilter::Regex, "(?i)admins"), ["Admins"]);
        assert_eq!(pick(GroupFilter::Regex, "Sale"), Vec::<String>::new());
        assert_eq!(pick(GroupFilter::Regex, ".*"), groups);
        for kind in [
            GroupFilter::StartsWith,
            GroupFilter::Equals,
            GroupFilter::Contains,
        ] {
            assert!(check_group_filter(kind, "anything (").is_ok());
        }

        let many: Vec<String> = (0..150).map(|i| format!("g{i}")).collect();
        assert_eq!(
            filter_groups(GroupFilter::StartsWith, "g", &many).len(),
            100
        );
        assert_eq!(filter_groups(GroupFilter::Regex, "g\\d+", &many).len(), 100);
    }

    #[test]
    fn group_filter_regex_safety() {
        assert!(check_group_filter(GroupFilter::Regex, "(a+)+$").is_ok());
        let e = check_group_filter(GroupFilter::Regex, "(unclosed").unwrap_err();
        assert!(e.message().starts_with("invalid group filter regex"));
        assert_eq!(
            filter_groups(GroupFilter::Regex, "(unclosed", &["(unclosed".into()]),
            Vec::<String>::new()
        );
        // A pattern that would close the anchoring group early is refused, not half-anchored.
        assert!(check_group_filter(GroupFilter::Regex, "a)|(b").is_err());
        assert!(
            filter_groups(GroupFilter::Regex, "a)|(b", &["axx".into(), "xxb".into()]).is_empty()
        );
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        let e = check_group_filter(GroupFilter::Regex, &long).unwrap_err();
        assert!(e.message().contains("longer than 1024 bytes"));
        // A pattern whose compiled form is too big is refused.
        assert!(check_group_filter(GroupFilter::Regex, "(\\w{1000}){1000}").is_err());

        let evil = format!("{}!", "a".repeat(20_000));
        let groups = vec![evil.clone(), "a".repeat(20_000), evil];
        let started = Instant::now();
        let picked = filter_groups(GroupFilter::Regex, "(a+)+$", &groups);
        assert_eq!(picked.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
