//! Malformed requests across the protocol, Authentication API, admin and form endpoints:
//! overlong values, bad UTF-8, repeated parameters, wrong content types, JSON of the wrong
//! shape, deep nesting. Whatever arrives, the answer is never a 5xx and nothing panics.
//! Runs the real router in-process (no sockets), a bounded number of cases per run.

use crate::support::{ADMIN_TOKEN, MASTER_KEY, master_key};
use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};
use tower::ServiceExt as _;

/// The routes, with `{}` where an id or token goes.
const PATHS: &[&str] = &[
    "/api/v1/authn",
    "/api/v1/authn/introspect",
    "/api/v1/authn/factors",
    "/api/v1/authn/factors/{}/verify",
    "/api/v1/authn/factors/{}/lifecycle/activate",
    "/api/v1/authn/previous",
    "/api/v1/authn/skip",
    "/api/v1/authn/cancel",
    "/api/v1/authn/credentials/change_password",
    "/api/v1/authn/credentials/reset_password",
    "/api/v1/authn/recovery/password",
    "/api/v1/authn/recovery/unlock",
    "/api/v1/authn/recovery/token",
    "/api/v1/authn/recovery/answer",
    "/api/v1/users",
    "/api/v1/users/{}",
    "/api/v1/users/{}/lifecycle/activate",
    "/api/v1/users/{}/lifecycle/reset_password",
    "/api/v1/users/{}/factors",
    "/api/v1/users/{}/factors/{}",
    "/api/v1/users/{}/groups",
    "/api/v1/sessions",
    "/api/v1/sessions/{}",
    "/api/v1/sessions/me",
    "/api/v1/apps",
    "/api/v1/apps/{}",
    "/api/v1/apps/{}/users/{}",
    "/api/v1/groups",
    "/api/v1/groups/{}/users/{}",
    "/api/v1/trustedOrigins",
    "/api/v1/trustedOrigins/{}",
    "/api/v1/authorizationServers",
    "/api/v1/authorizationServers/{}/scopes",
    "/api/v1/authorizationServers/{}/policies",
    "/oauth2/v1/authorize",
    "/oauth2/v1/token",
    "/oauth2/v1/userinfo",
    "/oauth2/v1/introspect",
    "/oauth2/v1/revoke",
    "/oauth2/v1/logout",
    "/oauth2/v1/keys",
    "/oauth2/v1/clients",
    "/oauth2/v1/clients/{}",
    "/oauth2/v1/consent",
    "/oauth2/{}/v1/authorize",
    "/oauth2/{}/v1/token",
    "/oauth2/{}/.well-known/openid-configuration",
    "/.well-known/openid-configuration",
    "/login",
    "/login/signout",
    "/login/sessionCookieRedirect",
    "/signin/step",
    "/signin/forgot-password",
    "/signin/unlock",
    "/signin/reset-password/{}",
    "/signin/user-unlock/{}",
    "/signin/activate/{}",
    "/nowhere/{}",
];

/// Parameter names the endpoints read, and a few they do not.
const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code",
    "code_challenge",
    "code_challenge_method",
    "code_verifier",
    "grant_type",
    "refresh_token",
    "token",
    "token_type_hint",
    "username",
    "password",
    "sessionToken",
    "id_token_hint",
    "post_logout_redirect_uri",
    "prompt",
    "max_age",
    "client_assertion",
    "client_assertion_type",
    "redirectUrl",
    "fromURI",
    "csrf",
    "limit",
    "after",
    "filter",
    "q",
    "lang",
    "x",
];

/// Segments and values that break naive code.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,12}",
        Just(String::new()),
        Just("%FF%FE%00".to_owned()),
        Just("%C3%28".to_owned()),
        Just("..%2F..%2Fetc".to_owned()),
        Just("default".to_owned()),
        Just("org".to_owned()),
        Just("a".repeat(5000)),
        Just("%0d%0aSet-Cookie:%20x=1".to_owned()),
        Just("\u{202e}\u{0}".to_owned()),
        Just("https://evil.example/cb".to_owned()),
        "[ -~]{0,40}",
    ]
}

/// A JSON value of any shape, nested a little.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        nasty_text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec((prop::sample::select(NAMES.to_vec()), inner), 0..6).prop_map(
                |pairs| {
                    serde_json::Value::Object(
                        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                    )
                }
            ),
        ]
    })
}

#[derive(Debug, Clone)]
enum Payload {
    None,
    Json(serde_json::Value),
    /// Nested far deeper than any parser should follow.
    DeepJson(usize),
    Form(Vec<(String, String)>),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    payload: Payload,
    content_type: Option<&'static str>,
    admin: bool,
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned),
                nasty_text()
            ],
            nasty_text(),
        ),
        0..8,
    )
}

fn case() -> impl Strategy<Value = Case> {
    // Mostly the methods the endpoints answer, so that most cases reach a handler.
    let method = prop_oneof![
        4 => Just(Method::POST),
        3 => Just(Method::GET),
        1 => Just(Method::PUT),
        1 => Just(Method::DELETE),
        1 => prop::sample::select(vec![Method::PATCH, Method::OPTIONS]),
    ];
    let path = (
        prop::sample::select(PATHS.to_vec()),
        prop::collection::vec(nasty_text(), 2),
    )
        .prop_map(|(template, fill)| {
            let mut path = template.to_owned();
            for f in fill {
                // A segment may not hold a raw slash or '?': those start other paths.
                let seg: String = f
                    .chars()
                    .filter(|c| !matches!(c, '/' | '?' | '#'))
                    .collect();
                path = path.replacen("{}", &seg, 1);
            }
            path
        });
    let payload = prop_oneof![
        Just(Payload::None),
        json().prop_map(Payload::Json),
        (100usize..3000).prop_map(Payload::DeepJson),
        pairs().prop_map(Payload::Form),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Payload::Bytes),
    ];
    let content_type = prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
    ]);
    (method, path, pairs(), payload, content_type, any::<bool>()).prop_map(
        |(method, path, query, payload, content_type, admin)| Case {
            method,
            path,
            query,
            payload,
            content_type,
            admin,
        },
    )
}

fn request(case: &Case) -> Option<Request<Body>> {
    let mut uri = case.path.clone();
    if !case.query.is_empty() {
        // Values are written as given: percent signs and all, so bad escapes arrive too.
        let q: Vec<String> = case
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        uri = format!("{uri}?{}", q.join("&"));
    }
    let body = match &case.payload {
        Payload::None => Vec::new(),
        Payload::Json(v) => serde_json::to_vec(v).ok()?,
        Payload::DeepJson(depth) => {
            let mut s = "[".repeat(*depth);
            s.push_str(&"]".repeat(*depth));
            s.into_bytes()
        }
        Payload::Form(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes(),
        Payload::Bytes(b) => b.clone(),
    };
    let mut builder = Request::builder().method(case.method.clone()).uri(uri);
    if let Some(ct) = case.content_type {
        builder = builder.header("content-type", ct);
    }
    if case.admin {
        builder = builder.header("authorization", format!("SSWS {ADMIN_TOKEN}"));
    }
    builder = builder
        .header("host", "127.0.0.1")
        .header("origin", "https://evil.example");
    // A URI the HTTP layer itself would refuse never reaches the router.
    builder.body(Body::from(body)).ok()
}

/// Leaves `%` escapes as they are (valid or not) and escapes what a URI cannot hold.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' | '~' | '%' => out.push(c),
            other => {
                let mut buf = [0u8; 4];
                for b in other.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

#[test]
fn malformed_requests_never_get_a_5xx_or_a_panic() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    let router = rt.block_on(async {
        let database = crate::support::test_database().await;
        let mut config = portcullis::config::Config::for_dirs(
            data.path().to_path_buf(),
            site.path().to_path_buf(),
        );
        config.bootstrap_api_token = Some(ADMIN_TOKEN.into());
        config.master_keys = master_key(MASTER_KEY, &[]);
        config.rate_limit_per_ip = 1_000_000;
        config.rate_limit_per_user = 1_000_000;
        config.database = database.map(|url| portcullis::store::PgSettings {
            url,
            pool_size: 4,
            timeout: std::time::Duration::from_secs(5),
        });
        portcullis::build(&config).unwrap().0
    });
    let cases: u32 = std::env::var("PORTCULLIS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(Cases {
        cases,
        failure_persistence: None,
        ..Cases::default()
    });
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    runner
        .run(&case(), |case| {
            let Some(req) = request(&case) else {
                return Ok(());
            };
            let status = rt.block_on(async {
                let answer = tokio::time::timeout(
                    std::time::Duration::from_secs(30),
                    router.clone().oneshot(req),
                )
                .await;
                match answer {
                    Ok(Ok(res)) => res.status().as_u16(),
                    Ok(Err(never)) => match never {},
                    Err(_) => 0,
                }
            });
            prop_assert!(status != 0, "no answer within 30 s");
            prop_assert!(status < 500, "{status} for {case:?}");
            *seen.lock().unwrap().entry(status).or_default() += 1;
            Ok(())
        })
        .unwrap();
    // The cases reached the handlers, not just the router's 404.
    let seen = seen.into_inner().unwrap();
    eprintln!("answers by status: {seen:?}");
    let reached = |range: std::ops::Range<u16>| seen.keys().any(|s| range.contains(s));
    assert!(
        reached(200..300) && reached(400..404) && seen.len() >= 6,
        "{seen:?}"
    );
}
