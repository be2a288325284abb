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

mod eval;
mod groups;
mod lexer;
mod parser;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod value;

use eval::*;
pub use groups::{GroupFilter, check_group_filter, filter_groups};
use lexer::*;
use parser::*;
use value::*;

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
