//! The language, end to end: parse and evaluate, limits, Okta's examples, fuzzing.

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
