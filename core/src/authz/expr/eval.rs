//! Evaluating a syntax tree against a scope, every growth counted against the budget.

use super::*;

pub(super) struct Ctx<'s, 'a> {
    pub(super) scope: &'s Scope<'a>,
    /// Bytes of values produced so far, against `MAX_EVAL_BYTES`.
    pub(super) used: usize,
}

pub(super) fn lookup<'v>(map: &'v Map<String, Value>, segs: &[String]) -> Option<&'v Value> {
    let (first, rest) = segs.split_first()?;
    rest.iter()
        .try_fold(map.get(first)?, |cur, seg| cur.as_object()?.get(seg))
}

pub(super) fn expect_bool(v: &Value, what: &str, pos: usize) -> Result<bool, ExprError> {
    v.as_bool().ok_or_else(|| {
        ExprError::at(
            format!("expected a boolean for {what}, got {}", type_name(v)),
            pos,
        )
    })
}

impl Ctx<'_, '_> {
    /// Checks a value against the limits and charges it to the evaluation's budget.
    pub(super) fn account(&mut self, v: &Value, pos: usize) -> Result<(), ExprError> {
        self.used = self.used.saturating_add(value_size(v, pos)?);
        if self.used > MAX_EVAL_BYTES {
            return Err(ExprError::at(
                format!("evaluation produced more than {MAX_EVAL_BYTES} bytes of values"),
                pos,
            ));
        }
        Ok(())
    }

    pub(super) fn produce(&mut self, v: Value, pos: usize) -> Result<Value, ExprError> {
        self.account(&v, pos)?;
        Ok(v)
    }

    pub(super) fn read(&mut self, v: Option<&Value>, pos: usize) -> Result<Value, ExprError> {
        match v {
            None => Ok(Value::Null),
            Some(v) => {
                self.account(v, pos)?;
                Ok(v.clone())
            }
        }
    }

    pub(super) fn eval(&mut self, node: &Node) -> Result<Value, ExprError> {
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

    pub(super) fn eval_chain(
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

    pub(super) fn apply(
        &mut self,
        func: Func,
        vals: &[Value],
        pos: usize,
    ) -> Result<Value, ExprError> {
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
pub(super) fn clamp_index(x: f64, len: usize) -> usize {
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
pub(super) struct Args<'v> {
    pub(super) func: Func,
    pub(super) vals: &'v [Value],
    pub(super) pos: usize,
}

impl<'v> Args<'v> {
    pub(super) fn error(&self, message: impl fmt::Display) -> ExprError {
        ExprError::at(format!("{}: {message}", self.func.name()), self.pos)
    }

    pub(super) fn get(&self, i: usize) -> &'v Value {
        self.vals.get(i).unwrap_or(&NULL)
    }

    pub(super) fn wrong(&self, i: usize, want: &str) -> ExprError {
        self.error(format!(
            "argument {} must be {want}, got {}",
            i + 1,
            type_name(self.get(i))
        ))
    }

    /// A string argument; `null` counts as `""`.
    pub(super) fn str(&self, i: usize) -> Result<&'v str, ExprError> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            Value::Null => Ok(""),
            _ => Err(self.wrong(i, "a string")),
        }
    }

    pub(super) fn num(&self, i: usize) -> Result<f64, ExprError> {
        self.get(i)
            .as_f64()
            .ok_or_else(|| self.wrong(i, "a number"))
    }

    /// An array argument; `null` counts as an empty array.
    pub(super) fn array(&self, i: usize) -> Result<&'v [Value], ExprError> {
        match self.get(i) {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.wrong(i, "an array")),
        }
    }

    /// A number, or a string holding one.
    pub(super) fn numeric(&self, i: usize) -> Result<f64, ExprError> {
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

pub(super) fn binary(op: BinOp, a: &Value, b: &Value, pos: usize) -> Result<Value, ExprError> {
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
