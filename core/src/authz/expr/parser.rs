//! The syntax tree and the recursive-descent parser that builds it, nesting bounded.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
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
    pub(super) fn symbol(self) -> &'static str {
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
pub(super) const BINARY_LEVELS: usize = 6;

/// The operator `tok` stands for at precedence `level`, if any.
pub(super) fn binop_at(level: usize, tok: &Tok) -> Option<BinOp> {
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
pub(super) enum Func {
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

pub(super) struct FuncSpec {
    pub(super) name: &'static str,
    pub(super) func: Func,
    pub(super) min: usize,
    /// `None`: any number of arguments from `min` on.
    pub(super) max: Option<usize>,
}

pub(super) const fn spec(
    name: &'static str,
    func: Func,
    min: usize,
    max: Option<usize>,
) -> FuncSpec {
    FuncSpec {
        name,
        func,
        min,
        max,
    }
}

pub(super) const FUNCS: &[FuncSpec] = &[
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
    pub(super) fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find(|s| s.func == self)
            .map_or("function", |s| s.name)
    }
}

pub(super) fn check_arity(spec: &FuncSpec, got: usize, pos: usize) -> Result<(), ExprError> {
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
pub(super) enum Node {
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

pub(super) struct Parser {
    pub(super) toks: Vec<Token>,
    pub(super) i: usize,
    pub(super) depth: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&EOF, |t| &t.tok)
    }

    pub(super) fn pos(&self) -> usize {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map_or(0, |t| t.pos)
    }

    pub(super) fn advance(&mut self) {
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
    }

    pub(super) fn unexpected(&self, expected: &str) -> ExprError {
        ExprError::at(
            format!("expected {expected}, found {}", describe(self.peek())),
            self.pos(),
        )
    }

    pub(super) fn expect(&mut self, tok: &Tok, expected: &str) -> Result<(), ExprError> {
        if self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    pub(super) fn ident(&mut self, expected: &str) -> Result<String, ExprError> {
        if let Tok::Ident(name) = self.peek() {
            let name = name.clone();
            self.advance();
            Ok(name)
        } else {
            Err(self.unexpected(expected))
        }
    }

    pub(super) fn enter(&mut self, pos: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::at(
                format!("expression is nested more than {MAX_DEPTH} levels deep"),
                pos,
            ));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(super) fn parse_ternary(&mut self) -> Result<Node, ExprError> {
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

    pub(super) fn parse_binary(&mut self, level: usize) -> Result<Node, ExprError> {
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

    pub(super) fn parse_unary(&mut self) -> Result<Node, ExprError> {
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

    pub(super) fn parse_primary(&mut self) -> Result<Node, ExprError> {
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
    pub(super) fn parse_list(
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

    pub(super) fn parse_name(&mut self, name: &str, pos: usize) -> Result<Node, ExprError> {
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

    pub(super) fn parse_path(&mut self, root: &str, pos: usize) -> Result<Node, ExprError> {
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

    pub(super) fn parse_call(&mut self, full: &str, pos: usize) -> Result<Node, ExprError> {
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
