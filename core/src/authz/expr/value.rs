//! JSON values as the language sees them: types, equality, display, size accounting.

use super::*;

pub(super) static NULL: Value = Value::Null;

/// A finite `f64` as a JSON number: whole numbers within ±2^53 as integers.
pub(super) fn number(x: f64, pos: usize) -> Result<Value, ExprError> {
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

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn values_eq(a: &Value, b: &Value) -> bool {
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
pub(super) fn display(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        Value::Null => Some(Cow::Borrowed("")),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Array(_) | Value::Object(_) => None,
    }
}

pub(super) fn string_too_long(pos: usize) -> ExprError {
    ExprError::at(
        format!("string result is longer than {MAX_STRING_LEN} bytes"),
        pos,
    )
}

pub(super) fn array_too_long(pos: usize) -> ExprError {
    ExprError::at(
        format!("array result has more than {MAX_ARRAY_LEN} elements"),
        pos,
    )
}

/// Checks `v` against the value limits; returns roughly how many bytes it takes.
pub(super) fn value_size(v: &Value, pos: usize) -> Result<usize, ExprError> {
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
pub(super) struct StrBuilder {
    pub(super) buf: String,
    pub(super) pos: usize,
}

impl StrBuilder {
    pub(super) fn new(pos: usize) -> Self {
        Self {
            buf: String::new(),
            pos,
        }
    }

    pub(super) fn push(&mut self, s: &str) -> Result<(), ExprError> {
        if self.buf.len() + s.len() > MAX_STRING_LEN {
            return Err(string_too_long(self.pos));
        }
        self.buf.push_str(s);
        Ok(())
    }

    pub(super) fn push_value(&mut self, v: &Value, what: &str) -> Result<(), ExprError> {
        let s = display(v).ok_or_else(|| {
            ExprError::at(format!("{what} cannot contain {}s", type_name(v)), self.pos)
        })?;
        self.push(&s)
    }

    pub(super) fn finish(self) -> Value {
        Value::String(self.buf)
    }
}
