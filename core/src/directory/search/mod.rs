//! Finding users as Okta's `search` and `filter` do: an expression ([`parse`]) is answered from
//! the store's user attribute index ([`crate::store::user_index`]) when one of its comparisons
//! narrows the users down, and by reading users in id order when none does. Every user read is
//! checked against the whole expression, so the index only ever decides what is read.

mod parse;

pub use parse::MAX_LENGTH;

use crate::records::directory::User;
use crate::records::directory::{AttrKind, CustomAttribute};
use crate::store::user_index::{self, Direction, IndexEntry, KeyRange};
use crate::store::{Store, StoreError, UserFilter};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// Which of Okta's two languages an expression is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `search`: every attribute, every operator, values compared without case.
    Search,
    /// `filter`: a few attributes, `eq` (and time comparisons), no `not`, values exact.
    Filter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Sw,
    Co,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Sw => "sw",
            Op::Co => "co",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
        }
    }

    fn holds(self, value: &str, operand: &str) -> bool {
        match self {
            Op::Eq => value == operand,
            Op::Sw => value.starts_with(operand),
            Op::Co => value.contains(operand),
            Op::Gt => value > operand,
            Op::Ge => value >= operand,
            Op::Lt => value < operand,
            Op::Le => value <= operand,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `attribute op literal`; `key` is the literal as the index keys it.
    Compare {
        attribute: String,
        op: Op,
        key: String,
        literal: String,
    },
    /// `attribute pr`: the attribute is set.
    Present(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// What the expressions of one kind of listing may name, and how.
#[derive(Debug, Clone, Copy)]
pub struct Vocabulary {
    /// Whether the dialect may name `attribute`.
    pub knows: fn(&str, Dialect) -> bool,
    /// Whether `attribute` holds a time (compared as Okta's ISO-8601 text).
    pub is_time: fn(&str) -> bool,
    /// Whether `co` works on `attribute`.
    pub contains: fn(&str) -> bool,
}

/// Users: every top-level attribute and every profile attribute the schema defines (search);
/// `id`, `status`, `lastUpdated`, the login, email and names (filter). `co` on the login,
/// email and names.
pub const USERS: Vocabulary = Vocabulary {
    knows: |attribute, dialect| match attribute.strip_prefix("profile.") {
        Some(name) => {
            ["login", "email", "firstName", "lastName"].contains(&name)
                || (dialect == Dialect::Search
                    && crate::directory::users::STANDARD_ATTRIBUTES.contains(&name))
        }
        None => match dialect {
            Dialect::Search => user_index::TOP_LEVEL.contains(&attribute),
            Dialect::Filter => ["id", "status", "lastUpdated"].contains(&attribute),
        },
    },
    is_time: user_index::is_time,
    contains: |attribute| {
        [
            "profile.login",
            "profile.email",
            "profile.firstName",
            "profile.lastName",
        ]
        .contains(&attribute)
    },
};

/// Parses `text` in `dialect` over the attributes `names` lists.
pub fn parse_with(text: &str, dialect: Dialect, names: &Vocabulary) -> Result<Expr, SearchError> {
    parse::parse(text, dialect, names, &|_| None)
}

/// The expression of a listing that is read whole (groups, apps) from its `search` or
/// `filter` (at most one), and whether it compares exactly (a filter); `None` without either.
pub fn listing_expr(
    search: Option<&str>,
    filter: Option<&str>,
    names: &Vocabulary,
) -> Result<Option<(Expr, bool)>, SearchError> {
    match (search, filter) {
        (Some(_), Some(_)) => Err(SearchError("Give search or filter, not both".into())),
        (Some(s), None) => Ok(Some((parse_with(s, Dialect::Search, names)?, false))),
        (None, Some(f)) => Ok(Some((parse_with(f, Dialect::Filter, names)?, true))),
        (None, None) => Ok(None),
    }
}

/// Why an expression was refused, said so that its author can mend it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchError(pub String);

impl SearchError {
    fn syntax(found: &str) -> Self {
        Self(format!("Invalid search syntax: {found}"))
    }
}

impl Expr {
    /// The `(attribute, key)` of each `eq` directly under a top-level `and` (every user the
    /// expression matches holds them all).
    fn exact_terms(&self) -> Vec<(String, String)> {
        let Expr::And(terms) = self else {
            return Vec::new();
        };
        // The narrowest first: the store walks the first term's entries.
        let mut exact: Vec<(u32, String, String)> = terms
            .iter()
            .filter_map(|t| match t {
                Expr::Compare {
                    attribute,
                    op: Op::Eq,
                    key,
                    ..
                } => Some((t.cost(), attribute.clone(), key.clone())),
                _ => None,
            })
            .collect();
        exact.sort_by_key(|(cost, _, _)| *cost);
        exact.into_iter().map(|(_, a, k)| (a, k)).collect()
    }

    /// The literals compared with `attribute` anywhere in the expression.
    pub fn literals_of(&self, attribute: &str) -> Vec<String> {
        match self {
            Expr::Compare {
                attribute: a,
                literal,
                ..
            } if a == attribute => vec![literal.clone()],
            Expr::Compare { .. } | Expr::Present(_) => Vec::new(),
            Expr::And(terms) | Expr::Or(terms) => terms
                .iter()
                .flat_map(|t| t.literals_of(attribute))
                .collect(),
            Expr::Not(term) => term.literals_of(attribute),
        }
    }

    /// Whether `user` matches; `exact` compares values with their case (a filter).
    pub fn matches(&self, user: &User, exact: bool) -> bool {
        self.holds_any(
            &|attribute| user_index::values(user, attribute),
            &USERS,
            exact,
        )
    }

    /// Whether what `value` reads (an attribute's value as given, `None` when unset) matches;
    /// `exact` compares values with their case (a filter).
    pub fn holds(
        &self,
        value: &dyn Fn(&str) -> Option<String>,
        names: &Vocabulary,
        exact: bool,
    ) -> bool {
        self.holds_any(&|a| value(a).into_iter().collect(), names, exact)
    }

    /// [`Expr::holds`] where an attribute may have several values (an array's elements): a
    /// comparison holds when one of them does.
    fn holds_any(
        &self,
        values: &dyn Fn(&str) -> Vec<String>,
        names: &Vocabulary,
        exact: bool,
    ) -> bool {
        match self {
            Expr::Compare {
                attribute,
                op,
                key,
                literal,
            } => values(attribute).iter().any(|v| {
                if (names.is_time)(attribute) {
                    op.holds(v, key)
                } else if exact {
                    op.holds(v, literal)
                } else {
                    op.holds(&user_index::text_key(v), key)
                }
            }),
            Expr::Present(attribute) => !values(attribute).is_empty(),
            Expr::And(terms) => terms.iter().all(|t| t.holds_any(values, names, exact)),
            Expr::Or(terms) => terms.iter().any(|t| t.holds_any(values, names, exact)),
            Expr::Not(term) => !term.holds_any(values, names, exact),
        }
    }

    /// The index read that finds every user a comparison can match, with a guess of how many
    /// it reads (lower is better); `None` for what no read finds (`co`) or what is not a
    /// comparison.
    fn leaf(&self) -> Option<(u32, Probe)> {
        match self {
            Expr::Compare {
                attribute, op, key, ..
            } => {
                let range = match op {
                    Op::Eq => KeyRange::Exact(key.clone()),
                    Op::Sw => KeyRange::Prefix(key.clone()),
                    Op::Gt => KeyRange::Between(Bound::Excluded(key.clone()), Bound::Unbounded),
                    Op::Ge => KeyRange::Between(Bound::Included(key.clone()), Bound::Unbounded),
                    Op::Lt => KeyRange::Between(Bound::Unbounded, Bound::Excluded(key.clone())),
                    Op::Le => KeyRange::Between(Bound::Unbounded, Bound::Included(key.clone())),
                    Op::Co => return None,
                };
                let cost = match (op, attribute.as_str()) {
                    // A status or the type is shared by many users.
                    (_, "status" | "type.id") => SHARED,
                    (Op::Eq, _) => 1,
                    (Op::Sw, _) => 2,
                    _ => 6,
                };
                Some((cost, Probe::new(attribute, range)))
            }
            Expr::Present(attribute) => Some((9, Probe::new(attribute, KeyRange::all()))),
            _ => None,
        }
    }

    /// Index reads that together find every user this expression can match, with a guess of
    /// how many they read; `None` when no read does (`not`, `co`).
    fn probes(&self) -> Option<(u32, Vec<Probe>)> {
        match self {
            Expr::Compare { .. } | Expr::Present(_) => self.leaf().map(|(c, p)| (c, vec![p])),
            // Any one term of an `and` narrows it down: the cheapest.
            Expr::And(terms) => terms
                .iter()
                .filter_map(Expr::probes)
                .min_by_key(|(c, _)| *c),
            // An `or` needs every term's reads.
            Expr::Or(terms) => terms
                .iter()
                .try_fold((0, Vec::new()), |(cost, mut all), t| {
                    let (c, mut probes) = t.probes()?;
                    all.append(&mut probes);
                    Some((cost + c, all))
                }),
            Expr::Not(_) => None,
        }
    }

    /// A guess of how many users the index reads of this expression touch.
    fn cost(&self) -> u32 {
        self.probes().map_or(u32::MAX, |(c, _)| c)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Probe {
    attribute: String,
    range: KeyRange,
}

impl Probe {
    fn new(attribute: &str, range: KeyRange) -> Self {
        Self {
            attribute: attribute.to_owned(),
            range,
        }
    }
}

/// A parsed `search` or `filter`, with the order Okta's `sortBy` and `sortOrder` ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub expr: Expr,
    pub exact: bool,
    pub sort: Option<Sort>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub attribute: String,
    pub direction: Direction,
}

impl Query {
    /// Parses `text` as `dialect`, sorted by `sort_by` (an attribute a search could name)
    /// in `sort_order` (`asc`, the default, or `desc`); a filter is never sorted.
    pub fn parse(
        text: &str,
        dialect: Dialect,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<Self, SearchError> {
        Self::parse_declared(text, dialect, sort_by, sort_order, &BTreeMap::new())
    }

    /// [`Query::parse`], a search also naming the org's custom attributes `custom`.
    pub fn parse_declared(
        text: &str,
        dialect: Dialect,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        custom: &BTreeMap<String, CustomAttribute>,
    ) -> Result<Self, SearchError> {
        let also = |attribute: &str| custom.get(attribute.strip_prefix("profile.")?);
        let expr = parse::parse(text, dialect, &USERS, &also)?;
        let direction = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => Direction::Ascending,
            Some("desc") => Direction::Descending,
            Some(other) => {
                return Err(SearchError(format!(
                    "Invalid sortOrder `{other}`: use asc or desc"
                )));
            }
        };
        let sort = match (dialect, sort_by) {
            (Dialect::Search, Some(attribute)) => {
                // The same names a search takes, checked by parsing a comparison on it.
                parse::parse(&format!("{attribute} pr"), Dialect::Search, &USERS, &also)
                    .map_err(|_| SearchError(format!("Invalid sortBy `{attribute}`")))?;
                if also(attribute).is_some_and(|a| a.kind == AttrKind::Array) {
                    return Err(SearchError(format!(
                        "Invalid sortBy `{attribute}`: an array does not sort"
                    )));
                }
                Some(Sort {
                    attribute: attribute.to_owned(),
                    direction,
                })
            }
            _ => None,
        };
        Ok(Self {
            expr,
            exact: dialect == Dialect::Filter,
            sort,
        })
    }

    fn matches(&self, user: &User) -> bool {
        self.expr.matches(user, self.exact)
    }
}

/// How much a search reads before it changes its way of reading.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Candidate ids a query collects from the index before it reads users in id order.
    pub candidates: usize,
    /// Candidates a sorted query sorts itself; with more it walks the sort attribute's index.
    pub sort: usize,
    /// Index entries or users read at a time.
    pub batch: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            candidates: 20_000,
            sort: 5_000,
            batch: 500,
        }
    }
}

/// A page of users and the cursor of the next page, if more follow.
pub type Found = (Vec<User>, Option<String>);

/// One page of the users `query` matches: at most `limit`, after the cursor `after` (from an
/// earlier page's answer), and the cursor of the next page when there are more.
pub fn run(
    store: &dyn Store,
    query: &Query,
    after: Option<&str>,
    limit: usize,
) -> Result<Result<Found, SearchError>, StoreError> {
    run_with(store, query, after, limit, Caps::default())
}

/// [`run`] with other caps (tests take every way of reading with a few users).
pub fn run_with(
    store: &dyn Store,
    query: &Query,
    after: Option<&str>,
    limit: usize,
    caps: Caps,
) -> Result<Result<Found, SearchError>, StoreError> {
    let reader = Reader { store, query, caps };
    let found = match &query.sort {
        None => reader.unsorted(after, limit + 1)?,
        Some(sort) => {
            let cursor = match after.map(Cursor::decode) {
                Some(None) => return Ok(Err(SearchError("Invalid after cursor".into()))),
                Some(Some(c)) => Some(c),
                None => None,
            };
            reader.sorted(sort, cursor, limit + 1)?
        }
    };
    let mut users: Vec<User> = found;
    let more = users.len() > limit;
    users.truncate(limit);
    let next = users.last().filter(|_| more).map(|last| match &query.sort {
        None => last.id.clone(),
        Some(sort) => Cursor::of(last, &sort.attribute).encode(),
    });
    Ok(Ok((users, next)))
}

/// The cost of a comparison most users pass (a status, the type).
const SHARED: u32 = 8;

/// An `and` stops narrowing its candidates down once this few are left: checking them
/// against the whole expression is then cheaper than reading more of the index.
const SMALL: usize = 256;

/// One search's reads of the store.
struct Reader<'a> {
    store: &'a dyn Store,
    query: &'a Query,
    caps: Caps,
}

impl Reader<'_> {
    /// Up to `want` matching users in id order after `after`.
    fn unsorted(&self, after: Option<&str>, want: usize) -> Result<Vec<User>, StoreError> {
        let expr = &self.query.expr;
        // Two or more exact keys in an `and`: the store answers them together, in id order.
        // A database joins its index at any width; sled leapfrogs through its entries, which
        // is quick beside one narrow key but slow between two wide ones that rarely meet,
        // where reading both and intersecting them here is quicker.
        let exact = expr.exact_terms();
        let narrow = exact
            .iter()
            .filter(|(attribute, _)| !matches!(attribute.as_str(), "status" | "type.id"))
            .count();
        if exact.len() >= 2 && (self.store.is_shared() || narrow <= 1) {
            return self.joined(&exact, after, want);
        }
        // One exact key: its entries come in id order, so the page is read straight off them.
        let lone = matches!(expr, Expr::Compare { op: Op::Eq, .. });
        let candidates = if lone { None } else { self.candidates(expr)? };
        let Some(ids) = candidates else {
            return match expr.probes().map(|(_, p)| p).as_deref() {
                Some(
                    [
                        Probe {
                            attribute,
                            range: KeyRange::Exact(key),
                        },
                    ],
                ) => {
                    let from = after.map(|id| IndexEntry {
                        key: key.clone(),
                        id: id.to_owned(),
                    });
                    let range = KeyRange::Exact(key.clone());
                    self.walk(attribute, &range, Direction::Ascending, from, None, want)
                }
                _ => self.scan(after, want, |_| true),
            };
        };
        let ids: Vec<String> = ids
            .into_iter()
            .filter(|id| after.is_none_or(|a| id.as_str() > a))
            .collect();
        let mut out = Vec::new();
        for chunk in ids.chunks(self.caps.batch.min(want.max(64))) {
            for user in self.store.users_by_ids(chunk)? {
                if self.query.matches(&user) {
                    out.push(user);
                    if out.len() == want {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Up to `want` matching users among those holding every exact key of `exact`, in id
    /// order after `after`.
    fn joined(
        &self,
        exact: &[(String, String)],
        after: Option<&str>,
        want: usize,
    ) -> Result<Vec<User>, StoreError> {
        let mut after = after.map(str::to_owned);
        let mut out = Vec::new();
        loop {
            let ids = self
                .store
                .user_index_all(exact, after.as_deref(), self.caps.batch)?;
            let Some(last) = ids.last().cloned() else {
                return Ok(out);
            };
            for user in self.store.users_by_ids(&ids)? {
                if self.query.matches(&user) {
                    out.push(user);
                    if out.len() == want {
                        return Ok(out);
                    }
                }
            }
            if ids.len() < self.caps.batch {
                return Ok(out);
            }
            after = Some(last);
        }
    }

    /// Up to `want` matching users of the index entries of `attribute` in `range`, in
    /// `direction` after `from`.
    /// Only users in `among` are read, when it is given.
    fn walk(
        &self,
        attribute: &str,
        range: &KeyRange,
        direction: Direction,
        mut from: Option<IndexEntry>,
        among: Option<&BTreeSet<String>>,
        want: usize,
    ) -> Result<Vec<User>, StoreError> {
        let mut out = Vec::new();
        loop {
            let entries = self.store.user_index(
                attribute,
                range,
                from.as_ref(),
                direction,
                self.caps.batch,
            )?;
            let Some(last) = entries.last().cloned() else {
                return Ok(out);
            };
            let ids: Vec<String> = entries
                .iter()
                .filter(|e| among.is_none_or(|a| a.contains(&e.id)))
                .map(|e| e.id.clone())
                .collect();
            for user in self.store.users_by_ids(&ids)? {
                if self.query.matches(&user) {
                    out.push(user);
                    if out.len() == want {
                        return Ok(out);
                    }
                }
            }
            if entries.len() < self.caps.batch {
                return Ok(out);
            }
            from = Some(last);
        }
    }

    /// The users read in id order after `after`, kept when the query and `also` match.
    fn scan(
        &self,
        after: Option<&str>,
        want: usize,
        also: impl Fn(&User) -> bool,
    ) -> Result<Vec<User>, StoreError> {
        let mut after = after.map(str::to_owned);
        let mut out = Vec::new();
        if want == 0 {
            return Ok(out);
        }
        loop {
            let batch =
                self.store
                    .users_page(after.as_deref(), self.caps.batch, &UserFilter::all())?;
            let Some(last) = batch.last() else {
                return Ok(out);
            };
            after = Some(last.id.clone());
            let full = batch.len() == self.caps.batch;
            for user in batch {
                if self.query.matches(&user) && also(&user) {
                    out.push(user);
                    if out.len() == want {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// The ids of every user `expr` can match, in id order, when the index gives them as at
    /// most `caps.candidates` ids; `None` when it cannot (a `not`, a `co`, too many).
    fn candidates(&self, expr: &Expr) -> Result<Option<BTreeSet<String>>, StoreError> {
        match expr {
            Expr::Compare { .. } | Expr::Present(_) => match expr.leaf() {
                Some((_, probe)) => self.collect(&probe),
                None => Ok(None),
            },
            Expr::Or(terms) => {
                let mut all = BTreeSet::new();
                for t in terms {
                    let Some(ids) = self.candidates(t)? else {
                        return Ok(None);
                    };
                    all.extend(ids);
                    if all.len() > self.caps.candidates {
                        return Ok(None);
                    }
                }
                Ok(Some(all))
            }
            // The intersection of what its terms find, cheapest first, until it is small. A
            // term that finds too many still narrows the others down: an exact key is looked up
            // for each candidate.
            Expr::And(terms) => {
                let mut terms: Vec<&Expr> = terms.iter().collect();
                terms.sort_by_key(|t| t.cost());
                let mut found: Option<BTreeSet<String>> = self.range_of_and(&terms)?;
                let mut too_many = Vec::new();
                let narrow = terms.first().is_some_and(|t| t.cost() < SHARED);
                for t in terms {
                    if found.as_ref().is_some_and(|f| f.len() <= SMALL) {
                        break;
                    }
                    // A status shared by most users is only checked, never read in full,
                    // when a narrower term is there.
                    if narrow && t.cost() >= SHARED {
                        too_many.push(t);
                        continue;
                    }
                    match self.candidates(t)? {
                        Some(ids) => {
                            found = Some(match found {
                                None => ids,
                                Some(f) => f.intersection(&ids).cloned().collect(),
                            });
                        }
                        None => too_many.push(t),
                    }
                }
                let Some(mut found) = found else {
                    return Ok(None);
                };
                for t in too_many {
                    if found.len() <= SMALL {
                        break;
                    }
                    if let Expr::Compare {
                        attribute,
                        op: Op::Eq,
                        key,
                        ..
                    } = t
                    {
                        let ids: Vec<String> = found.into_iter().collect();
                        found = self
                            .store
                            .user_index_members(attribute, key, &ids)?
                            .into_iter()
                            .collect();
                    }
                }
                Ok(Some(found))
            }
            Expr::Not(_) => Ok(None),
        }
    }

    /// What the lower and upper bounds an `and` puts on one attribute find together
    /// (`created ge "…" and created lt "…"`), when they are few enough.
    fn range_of_and(&self, terms: &[&Expr]) -> Result<Option<BTreeSet<String>>, StoreError> {
        let mut best = None;
        for (i, lower) in terms.iter().enumerate() {
            let Expr::Compare {
                attribute,
                op: lo_op @ (Op::Gt | Op::Ge),
                key: lo,
                ..
            } = lower
            else {
                continue;
            };
            for upper in &terms[i + 1..] {
                let Expr::Compare {
                    attribute: same,
                    op: hi_op @ (Op::Lt | Op::Le),
                    key: hi,
                    ..
                } = upper
                else {
                    continue;
                };
                if same != attribute {
                    continue;
                }
                let lo = if *lo_op == Op::Gt {
                    Bound::Excluded(lo.clone())
                } else {
                    Bound::Included(lo.clone())
                };
                let hi = if *hi_op == Op::Lt {
                    Bound::Excluded(hi.clone())
                } else {
                    Bound::Included(hi.clone())
                };
                let probe = Probe::new(attribute, KeyRange::Between(lo, hi));
                if let Some(ids) = self.collect(&probe)?
                    && best
                        .as_ref()
                        .is_none_or(|b: &BTreeSet<String>| ids.len() < b.len())
                {
                    best = Some(ids);
                }
            }
        }
        Ok(best)
    }

    /// The ids one probe finds, in id order; `None` when there are more than the cap.
    fn collect(&self, probe: &Probe) -> Result<Option<BTreeSet<String>>, StoreError> {
        let mut ids = BTreeSet::new();
        let mut from = None;
        loop {
            let entries = self.store.user_index(
                &probe.attribute,
                &probe.range,
                from.as_ref(),
                Direction::Ascending,
                self.caps.batch,
            )?;
            let full = entries.len() == self.caps.batch;
            from = entries.last().cloned();
            ids.extend(entries.into_iter().map(|e| e.id));
            if ids.len() > self.caps.candidates {
                return Ok(None);
            }
            if !full {
                return Ok(Some(ids));
            }
        }
    }

    /// Up to `want` matching users in the order of `sort`, after `cursor`.
    fn sorted(
        &self,
        sort: &Sort,
        cursor: Option<Cursor>,
        want: usize,
    ) -> Result<Vec<User>, StoreError> {
        let candidates = self.candidates(&self.query.expr)?;
        // Few candidates: read them all and sort them here.
        if let Some(ids) = candidates.as_ref().filter(|c| c.len() <= self.caps.sort) {
            let ids: Vec<String> = ids.iter().cloned().collect();
            let mut found: Vec<(Cursor, User)> = Vec::new();
            for chunk in ids.chunks(self.caps.batch) {
                for user in self.store.users_by_ids(chunk)? {
                    if self.query.matches(&user) {
                        found.push((Cursor::of(&user, &sort.attribute), user));
                    }
                }
            }
            found.sort_by(|(a, _), (b, _)| a.order(b, sort.direction));
            return Ok(found
                .into_iter()
                .filter(|(c, _)| {
                    cursor
                        .as_ref()
                        .is_none_or(|at| c.order(at, sort.direction).is_gt())
                })
                .map(|(_, u)| u)
                .take(want)
                .collect());
        }
        // Many: walk the sort attribute's index in order (reading only candidates, when they
        // are known), then read the users without it.
        let mut out = Vec::new();
        if cursor.as_ref().is_none_or(|c| c.key.is_some()) {
            let from = cursor.as_ref().and_then(|c| {
                Some(IndexEntry {
                    key: c.key.clone()?,
                    id: c.id.clone(),
                })
            });
            out = self.walk(
                &sort.attribute,
                &KeyRange::all(),
                sort.direction,
                from,
                candidates.as_ref(),
                want,
            )?;
        }
        let after = cursor.filter(|c| c.key.is_none()).map(|c| c.id);
        let rest = self.scan(after.as_deref(), want - out.len(), |u| {
            user_index::key(u, &sort.attribute).is_none()
        })?;
        out.extend(rest);
        Ok(out)
    }
}

/// Where a sorted page ends: the last user's key of the sort attribute (`None`: the user has
/// none; such users come after every other, in id order) and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    key: Option<String>,
    id: String,
}

impl Cursor {
    fn of(user: &User, attribute: &str) -> Self {
        Self {
            key: user_index::key(user, attribute),
            id: user.id.clone(),
        }
    }

    fn encode(&self) -> String {
        use base64::Engine;
        let text = match &self.key {
            Some(k) => format!("k{}\n{k}", self.id),
            None => format!("m{}", self.id),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        if let Some(rest) = text.strip_prefix('k') {
            let (id, key) = rest.split_once('\n')?;
            Some(Self {
                key: Some(key.to_owned()),
                id: id.to_owned(),
            })
        } else {
            Some(Self {
                key: None,
                id: text.strip_prefix('m')?.to_owned(),
            })
        }
    }

    /// How `self` sorts against `other` in `direction`; users without a key come last.
    fn order(&self, other: &Cursor, direction: Direction) -> std::cmp::Ordering {
        use std::cmp::Ordering::{Greater, Less};
        match (&self.key, &other.key) {
            (Some(a), Some(b)) => {
                let ascending = (a, &self.id).cmp(&(b, &other.id));
                match direction {
                    Direction::Ascending => ascending,
                    Direction::Descending => ascending.reverse(),
                }
            }
            (None, Some(_)) => Greater,
            (Some(_), None) => Less,
            (None, None) => self.id.cmp(&other.id),
        }
    }
}

#[cfg(test)]
mod tests;
