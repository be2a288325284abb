//! Custom authorization servers over real HTTP: the `default` server, the admin API, policy
//! evaluation order, claims (including hostile expressions), audiences, cross-server
//! rejection, key rotation, refresh tokens per client and consent.

use crate::support::{
    PASSWORD, TestServer, authorize_url, location_params, pkce_challenge, set_cookie, start,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;

const CB: &str = "http://localhost:8080/callback";
const VERIFIER: &str = "custom-server-verifier-0123456789-abcdefghijklmnop";
const AS: &str = "/api/v1/authorizationServers";

async fn post_json(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let res = s.admin_post(path).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_json(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let res = s
        .client
        .put(s.url(path))
        .header(
            "Authorization",
            format!("SSWS {}", crate::support::ADMIN_TOKEN),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get_json(s: &TestServer, path: &str) -> (u16, Value) {
    let res = s.admin_get(path).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn register(s: &TestServer, body: Value) -> Value {
    let (status, c) = post_json(s, "/oauth2/v1/clients", body).await;
    assert_eq!(status, 201, "{c}");
    c
}

async fn spa(s: &TestServer, extra: Value) -> String {
    let mut body = json!({ "client_name": "Orders SPA", "application_type": "browser",
        "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"] });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    register(s, body).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A service client: (id, secret).
async fn service(s: &TestServer) -> (String, String) {
    let c = register(
        s,
        json!({ "client_name": "Worker", "application_type": "service",
            "grant_types": ["client_credentials"] }),
    )
    .await;
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The code flow at `server` with a session token: the redirect's parameters.
async fn authorize(
    s: &TestServer,
    server: &str,
    client: &str,
    token: &str,
    scope: &str,
) -> HashMap<String, String> {
    let c = pkce_challenge(VERIFIER);
    let res = s
        .client
        .get(authorize_url(
            s,
            server,
            &[
                ("client_id", client),
                ("redirect_uri", CB),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st"),
                ("nonce", "nn"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256"),
                ("sessionToken", token),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{:?}", res.headers());
    location_params(&res)
}

fn endpoint(server: &str, name: &str) -> String {
    if server == "org" {
        format!("/oauth2/v1/{name}")
    } else {
        format!("/oauth2/{server}/v1/{name}")
    }
}

async fn token(s: &TestServer, server: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = s
        .client
        .post(s.url(&endpoint(server, "token")))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn code_tokens(s: &TestServer, server: &str, client: &str, code: &str) -> (u16, Value) {
    token(
        s,
        server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("redirect_uri", CB),
            ("code", code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn client_credentials(
    s: &TestServer,
    server: &str,
    (id, secret): &(String, String),
    scope: &str,
) -> (u16, Value) {
    let res = s
        .client
        .post(s.url(&endpoint(server, "token")))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Verifies `jwt` with the JWKS of `server`, checking issuer and (if given) audience.
async fn verify(
    s: &TestServer,
    server: &str,
    jwt: &str,
    aud: Option<&str>,
) -> Result<Value, String> {
    let jwks: Value = s
        .client
        .get(s.url(&endpoint(server, "keys")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(jwt).unwrap().kid.unwrap();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return Err("kid not published".into());
    };
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let issuer = if server == "org" {
        s.base.clone()
    } else {
        s.url(&format!("/oauth2/{server}"))
    };
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer.as_str()]);
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    decode::<Value>(jwt, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

async fn userinfo(s: &TestServer, server: &str, at: &str) -> u16 {
    s.client
        .get(s.url(&endpoint(server, "userinfo")))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A custom server with one scope, one policy for `clients` and one rule.
async fn orders_server(s: &TestServer, clients: &[&str], rule: Value) -> String {
    let (st, server) = post_json(
        s,
        AS,
        json!({ "name": "Orders API", "description": "Orders", "audiences": ["api://orders"] }),
    )
    .await;
    assert_eq!(st, 200, "{server}");
    let id = server["id"].as_str().unwrap().to_owned();
    let (st, scope) = post_json(
        s,
        &format!("{AS}/{id}/scopes"),
        json!({ "name": "orders:read", "displayName": "Read your orders",
            "description": "See the orders you placed", "consent": "IMPLICIT" }),
    )
    .await;
    assert_eq!(st, 200, "{scope}");
    let (st, policy) = post_json(
        s,
        &format!("{AS}/{id}/policies"),
        json!({ "type": "OAUTH_AUTHORIZATION_POLICY", "name": "Orders apps",
            "conditions": { "clients": { "include": clients } } }),
    )
    .await;
    assert_eq!(st, 200, "{policy}");
    let pid = policy["id"].as_str().unwrap();
    let (st, r) = post_json(s, &format!("{AS}/{id}/policies/{pid}/rules"), rule).await;
    assert_eq!(st, 200, "{r}");
    id
}

fn rule(name: &str, grants: &[&str], scopes: &[&str], minutes: u32) -> Value {
    json!({ "type": "RESOURCE_ACCESS", "name": name,
        "conditions": { "people": { "groups": { "include": ["EVERYONE"] } },
            "grantTypes": { "include": grants }, "scopes": { "include": scopes } },
        "actions": { "token": { "accessTokenLifetimeMinutes": minutes,
            "refreshTokenWindowMinutes": 60 } } })
}

#[tokio::test]
async fn every_org_has_a_default_server_with_its_own_issuer_and_keys() {
    let s = start().await;
    let meta: Value = s
        .client
        .get(s.url("/oauth2/default/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = s.url("/oauth2/default");
    assert_eq!(meta["issuer"], issuer.as_str());
    assert_eq!(
        meta["token_endpoint"],
        format!("{issuer}/v1/token").as_str()
    );
    assert_eq!(meta["jwks_uri"], format!("{issuer}/v1/keys").as_str());
    assert_eq!(
        meta["registration_endpoint"],
        s.url("/oauth2/v1/clients").as_str(),
        "registration is the org's"
    );
    let oauth_meta: Value = s
        .client
        .get(s.url("/oauth2/default/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oauth_meta["issuer"], issuer.as_str());
    let kid = |v: Value| v["keys"][0]["kid"].as_str().unwrap().to_owned();
    let org: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let def: Value = s
        .client
        .get(s.url("/oauth2/default/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(kid(org), kid(def));

    let (st, listed) = get_json(&s, AS).await;
    assert_eq!(st, 200);
    assert_eq!(listed[0]["id"], "default");
    assert_eq!(listed[0]["audiences"], json!(["api://default"]));
    assert_eq!(listed[0]["issuer"], issuer.as_str());

    let res = s
        .client
        .get(s.url("/oauth2/nope/v1/keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
    // A browser sent to an unknown server's authorize endpoint gets a page that says so.
    let res = s
        .client
        .get(s.url("/oauth2/nope/v1/authorize?client_id=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not exist or is not active")
    );
}

#[tokio::test]
async fn tokens_of_the_default_server_carry_its_audience_and_are_refused_elsewhere() {
    let s = start().await;
    s.create_user("ada@example.com", PASSWORD).await;
    let client = spa(&s, json!({})).await;
    let st = s.session_token("ada@example.com").await;
    let p = authorize(&s, "default", &client, &st, "openid profile offline_access").await;
    let (status, body) = code_tokens(&s, "default", &client, &p["code"]).await;
    assert_eq!(status, 200, "{body}");
    let at = body["access_token"].as_str().unwrap();
    let claims = verify(&s, "default", at, Some("api://default"))
        .await
        .unwrap();
    assert_eq!(
        claims["scp"],
        json!(["openid", "profile", "offline_access"])
    );
    assert_eq!(claims["sub"], "ada@example.com");
    assert_eq!(claims["cid"], client.as_str());
    let idt = verify(
        &s,
        "default",
        body["id_token"].as_str().unwrap(),
        Some(&client),
    )
    .await
    .unwrap();
    assert_eq!(idt["nonce"], "nn");
    assert!(
        verify(&s, "org", at, None).await.is_err(),
        "the org's keys do not verify it"
    );

    assert_eq!(userinfo(&s, "default", at).await, 200);
    assert_eq!(
        userinfo(&s, "org", at).await,
        401,
        "org userinfo refuses it"
    );
    let introspected: Value = s
        .client
        .post(s.url("/oauth2/v1/introspect"))
        .form(&[("client_id", client.as_str()), ("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);

    // A refresh token of the default server refreshes there only.
    let rt = body["refresh_token"].as_str().unwrap();
    let (status, _) = token(
        &s,
        "org",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, refreshed) = token(
        &s,
        "default",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");

    // A code of the org server is not redeemed by the default server.
    let st = s.session_token("ada@example.com").await;
    let p = authorize(&s, "org", &client, &st, "openid").await;
    let (status, err) = code_tokens(&s, "default", &client, &p["code"]).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_admin_api_builds_a_server_whose_policy_decides_scopes_and_lifetimes() {
    let s = start().await;
    let worker = service(&s).await;
    let id = orders_server(
        &s,
        &[&worker.0],
        rule("read only", &["client_credentials"], &["orders:read"], 15),
    )
    .await;
    let (status, body) = client_credentials(&s, &id, &worker, "orders:read").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 900, "the rule's 15 minutes");
    let claims = verify(
        &s,
        &id,
        body["access_token"].as_str().unwrap(),
        Some("api://orders"),
    )
    .await
    .unwrap();
    assert_eq!(claims["scp"], json!(["orders:read"]));
    assert_eq!(claims["sub"], worker.0.as_str());

    let (status, err) = client_credentials(&s, &id, &worker, "orders:delete").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, err) = client_credentials(&s, &id, &worker, "openid").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, err) = client_credentials(&s, &id, &worker, "").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope")),
        "no default scope"
    );

    // A scope the rule does not allow: no rule matches.
    let (st, _) = post_json(
        &s,
        &format!("{AS}/{id}/scopes"),
        json!({ "name": "orders:write" }),
    )
    .await;
    assert_eq!(st, 200);
    let (status, err) = client_credentials(&s, &id, &worker, "orders:write").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("access_denied")),
        "{err}"
    );
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .contains("Policy evaluation failed")
    );

    // Another client is in no policy.
    let other = service(&s).await;
    let (status, err) = client_credentials(&s, &id, &other, "orders:read").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("access_denied"))
    );

    // Reserved and duplicate scope names are refused in Okta's error format.
    for bad in ["openid", "okta.users.read", "*", "orders:read"] {
        let (st, e) = post_json(&s, &format!("{AS}/{id}/scopes"), json!({ "name": bad })).await;
        assert_eq!(st, 400, "{bad}");
        assert_eq!(e["errorCode"], "E0000001");
    }
    // Rule lifetimes outside 5 minutes..1 day are refused.
    let (_, policies) = get_json(&s, &format!("{AS}/{id}/policies")).await;
    let pid = policies[0]["id"].as_str().unwrap();
    let (st, e) = post_json(
        &s,
        &format!("{AS}/{id}/policies/{pid}/rules"),
        rule("too long", &["client_credentials"], &["*"], 2000),
    )
    .await;
    assert_eq!(st, 400, "{e}");

    // Deactivating the server takes its endpoints away.
    let res = s
        .admin(Method::POST, &format!("{AS}/{id}/lifecycle/deactivate"))
        .await;
    assert_eq!(res.status(), 204);
    let (status, _) = client_credentials(&s, &id, &worker, "orders:read").await;
    assert_eq!(status, 404);
    let res = s
        .admin(Method::POST, &format!("{AS}/{id}/lifecycle/activate"))
        .await;
    assert_eq!(res.status(), 204);
    let (status, _) = client_credentials(&s, &id, &worker, "orders:read").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn policies_are_evaluated_by_priority_and_fall_through_when_inactive() {
    let s = start().await;
    let a = service(&s).await;
    let b = service(&s).await;
    let id = orders_server(
        &s,
        &[&a.0],
        rule("short", &["client_credentials"], &["*"], 10),
    )
    .await;
    // A second, catch-all policy created later with a lower priority.
    let (st, p2) = post_json(
        &s,
        &format!("{AS}/{id}/policies"),
        json!({ "name": "Everyone", "priority": 2, "conditions": { "clients": { "include": ["ALL_CLIENTS"] } } }),
    )
    .await;
    assert_eq!(st, 200);
    let p2 = p2["id"].as_str().unwrap().to_owned();
    let (st, _) = post_json(
        &s,
        &format!("{AS}/{id}/policies/{p2}/rules"),
        rule("long", &["client_credentials"], &["*"], 120),
    )
    .await;
    assert_eq!(st, 200);

    let expires = |v: &Value| v["expires_in"].as_u64().unwrap();
    let (_, t) = client_credentials(&s, &id, &a, "orders:read").await;
    assert_eq!(expires(&t), 600, "client a: its own policy comes first");
    let (_, t) = client_credentials(&s, &id, &b, "orders:read").await;
    assert_eq!(expires(&t), 7200, "client b: only the catch-all applies");

    // Put the catch-all first: now it decides for client a too.
    let (st, _) = put_json(
        &s,
        &format!("{AS}/{id}/policies/{p2}"),
        json!({ "name": "Everyone", "priority": 0, "conditions": { "clients": { "include": ["ALL_CLIENTS"] } } }),
    )
    .await;
    assert_eq!(st, 200);
    let (_, t) = client_credentials(&s, &id, &a, "orders:read").await;
    assert_eq!(expires(&t), 7200);

    // Deactivated, it no longer applies.
    let res = s
        .admin(
            Method::POST,
            &format!("{AS}/{id}/policies/{p2}/lifecycle/deactivate"),
        )
        .await;
    assert_eq!(res.status(), 204);
    let (_, t) = client_credentials(&s, &id, &a, "orders:read").await;
    assert_eq!(expires(&t), 600);
    let (status, _) = client_credentials(&s, &id, &b, "orders:read").await;
    assert_eq!(status, 400, "client b has no policy left");
}

#[tokio::test]
async fn claims_come_from_expressions_and_group_filters_and_hostile_ones_are_refused() {
    let s = start().await;
    let user = s.create_user("grace@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    for name in ["Orders-Admins", "Orders-Viewers", "Finance"] {
        let (_, g) = post_json(&s, "/api/v1/groups", json!({ "profile": { "name": name } })).await;
        let gid = g["id"].as_str().unwrap();
        let res = s
            .admin(Method::PUT, &format!("/api/v1/groups/{gid}/users/{uid}"))
            .await;
        assert_eq!(res.status(), 204);
    }
    let client = spa(&s, json!({})).await;
    let id = orders_server(
        &s,
        &["ALL_CLIENTS"],
        rule("people", &["authorization_code"], &["*"], 60),
    )
    .await;
    let claims = format!("{AS}/{id}/claims");
    for (body, why) in [
        (
            json!({ "name": "domain", "claimType": "RESOURCE", "valueType": "EXPRESSION",
            "value": "String.substringAfter(user.email, \"@\")" }),
            "resource expression",
        ),
        (
            json!({ "name": "orders_groups", "claimType": "RESOURCE", "valueType": "GROUPS",
            "group_filter_type": "STARTS_WITH", "value": "Orders" }),
            "groups filter",
        ),
        (
            json!({ "name": "nick", "claimType": "IDENTITY", "valueType": "EXPRESSION",
            "value": "String.toUpperCase(String.substringBefore(user.login, \"@\"))",
            "alwaysIncludeInToken": true }),
            "identity expression",
        ),
        (
            json!({ "name": "reader", "claimType": "RESOURCE", "valueType": "EXPRESSION",
            "value": "Arrays.contains(access.scope, \"orders:read\") ? \"yes\" : \"no\"",
            "conditions": { "scopes": ["orders:read"] } }),
            "scope-conditioned",
        ),
        (
            json!({ "name": "fails_at_runtime", "claimType": "RESOURCE", "valueType": "EXPRESSION",
            "value": "Convert.toInt(user.email)" }),
            "valid syntax, fails on this user",
        ),
    ] {
        let (st, c) = post_json(&s, &claims, body).await;
        assert_eq!(st, 200, "{why}: {c}");
    }
    let long = "1 + ".repeat(700) + "1";
    let deep = "(".repeat(5000) + "1" + &")".repeat(5000);
    for (body, why) in [
        (
            json!({ "name": "sub", "claimType": "RESOURCE", "value": "\"x\"" }),
            "reserved name",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "value": "String.nope(1)" }),
            "unknown function",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "value": "\"unterminated" }),
            "unterminated string",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "value": long }),
            "too long",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "value": deep }),
            "too deep",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "valueType": "GROUPS",
            "group_filter_type": "REGEX", "value": "([a-z" }),
            "broken regex",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "valueType": "GROUPS", "value": "x" }),
            "no filter type",
        ),
        (
            json!({ "name": "bad", "claimType": "RESOURCE", "value": "1",
            "conditions": { "scopes": ["no:such"] } }),
            "unknown scope",
        ),
    ] {
        let (st, e) = post_json(&s, &claims, body).await;
        assert_eq!(st, 400, "{why} must be refused: {e}");
        assert_eq!(e["errorCode"], "E0000001", "{why}");
    }

    let st = s.session_token("grace@example.com").await;
    let p = authorize(&s, &id, &client, &st, "openid orders:read").await;
    let (status, body) = code_tokens(&s, &id, &client, &p["code"]).await;
    assert_eq!(status, 200, "{body}");
    let at = verify(
        &s,
        &id,
        body["access_token"].as_str().unwrap(),
        Some("api://orders"),
    )
    .await
    .unwrap();
    assert_eq!(at["domain"], "example.com");
    assert_eq!(
        at["orders_groups"],
        json!(["Orders-Admins", "Orders-Viewers"])
    );
    assert_eq!(at["reader"], "yes");
    assert!(
        at.get("fails_at_runtime").is_none(),
        "a failing claim is left out, the token still issued"
    );
    assert!(
        at.get("nick").is_none(),
        "identity claims are not in access tokens"
    );
    let idt = verify(&s, &id, body["id_token"].as_str().unwrap(), Some(&client))
        .await
        .unwrap();
    assert_eq!(idt["nick"], "GRACE");
    assert!(idt.get("domain").is_none());

    // Without the scope, the conditioned claim is absent.
    let st = s.session_token("grace@example.com").await;
    let p = authorize(&s, &id, &client, &st, "openid").await;
    let (_, body) = code_tokens(&s, &id, &client, &p["code"]).await;
    let at = verify(&s, &id, body["access_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert!(at.get("reader").is_none());
}

#[tokio::test]
async fn rotating_a_servers_key_keeps_tokens_signed_by_the_old_key_valid() {
    let s = start().await;
    let worker = service(&s).await;
    let id = orders_server(
        &s,
        &[&worker.0],
        rule("cc", &["client_credentials"], &["*"], 60),
    )
    .await;
    let (_, before) = client_credentials(&s, &id, &worker, "orders:read").await;
    let old = before["access_token"].as_str().unwrap().to_owned();
    let (_, keys) = get_json(&s, &format!("{AS}/{id}/credentials/keys")).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["status"], "ACTIVE");

    let (st, rotated) = post_json(
        &s,
        &format!("{AS}/{id}/credentials/lifecycle/keyRotate"),
        json!({ "use": "sig" }),
    )
    .await;
    assert_eq!(st, 200);
    let statuses: Vec<&str> = rotated
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"ACTIVE") && statuses.contains(&"EXPIRED"));

    let (_, after) = client_credentials(&s, &id, &worker, "orders:read").await;
    let new = after["access_token"].as_str().unwrap();
    assert_ne!(
        decode_header(&old).unwrap().kid,
        decode_header(new).unwrap().kid
    );
    assert!(
        verify(&s, &id, &old, Some("api://orders")).await.is_ok(),
        "old key still published"
    );
    assert!(verify(&s, &id, new, Some("api://orders")).await.is_ok());
    let introspected: Value = s
        .client
        .post(s.url(&endpoint(&id, "introspect")))
        .basic_auth(&worker.0, Some(&worker.1))
        .form(&[("token", old.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["aud"], "api://orders");

    // The org's keys did not change.
    let org: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refresh_tokens_are_listed_and_revoked_per_client() {
    let s = start().await;
    s.create_user("lin@example.com", PASSWORD).await;
    let client = spa(&s, json!({})).await;
    let st = s.session_token("lin@example.com").await;
    let p = authorize(&s, "default", &client, &st, "openid offline_access").await;
    let (_, body) = code_tokens(&s, "default", &client, &p["code"]).await;
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let path = format!("{AS}/default/clients/{client}/tokens");
    let (st, listed) = get_json(&s, &path).await;
    assert_eq!(st, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["clientId"], client.as_str());
    assert_eq!(listed[0]["scopes"], json!(["openid", "offline_access"]));
    let tid = listed[0]["id"].as_str().unwrap();
    let (st, one) = get_json(&s, &format!("{path}/{tid}")).await;
    assert_eq!((st, one["id"].as_str()), (200, Some(tid)));

    let res = s.admin(Method::DELETE, &format!("{path}/{tid}")).await;
    assert_eq!(res.status(), 204);
    let (status, err) = token(
        &s,
        "default",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", &rt),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, listed) = get_json(&s, &path).await;
    assert_eq!(listed, json!([]));
}

/// The consent screen's form: (csrf, request) from the rendered page.
fn consent_form(html: &str) -> (String, String) {
    let value_of = |name: &str| {
        let at = html.find(&format!("name=\"{name}\"")).unwrap();
        let rest = &html[at..];
        let v = rest.find("value=\"").unwrap() + 7;
        let end = rest[v..].find('"').unwrap();
        rest[v..v + end].replace("&amp;", "&")
    };
    (value_of("csrf"), value_of("request"))
}

#[tokio::test]
async fn consent_is_asked_once_remembered_and_revocable() {
    let s = start().await;
    let user = s.create_user("mo@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let client = spa(&s, json!({ "consent_method": "REQUIRED" })).await;
    let (st, _) = post_json(
        &s,
        &format!("{AS}/default/scopes"),
        json!({ "name": "calendar:read", "displayName": "Read your calendar",
            "description": "See the events in your calendar", "consent": "REQUIRED" }),
    )
    .await;
    assert_eq!(st, 200);
    // Sign in through the browser client so it holds the session cookie.
    let st = s.session_token("mo@example.com").await;
    let c = pkce_challenge(VERIFIER);
    let params = |prompt: Option<&'static str>| {
        let mut p = vec![
            ("client_id", client.clone()),
            ("redirect_uri", CB.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "openid offline_access calendar:read".to_owned()),
            ("state", "cs".to_owned()),
            ("code_challenge", c.clone()),
            ("code_challenge_method", "S256".to_owned()),
        ];
        if let Some(v) = prompt {
            p.push(("prompt", v.to_owned()));
        }
        p
    };
    let url_of = |p: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorize_url(&s, "default", &pairs)
    };
    let mut first = params(None);
    first.push(("sessionToken", st));
    let res = s.browser.get(url_of(first)).send().await.unwrap();
    assert_eq!(res.status(), 200, "the consent screen");
    assert!(set_cookie(&res, "sid").is_some());
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Read your calendar") && html.contains("See the events in your calendar")
    );
    assert!(html.contains("Orders SPA"));
    let (csrf, request) = consent_form(&html);
    assert!(
        !request.contains("sessionToken"),
        "the spent session token is not carried on"
    );

    // prompt=none cannot show the screen.
    let res = s
        .browser
        .get(url_of(params(Some("none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location_params(&res)["error"], "consent_required");

    // A forged answer without the CSRF token is refused.
    let res = s
        .client
        .post(s.url("/oauth2/v1/consent"))
        .form(&[
            ("csrf", "forged"),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let res = s
        .browser
        .post(s.url("/oauth2/v1/consent"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let res = s.browser.get(s.url(&back)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let code = location_params(&res)["code"].clone();
    let (status, tokens) = code_tokens(&s, "default", &client, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Remembered: no screen the next time, even with prompt=none.
    let res = s
        .browser
        .get(url_of(params(Some("none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(location_params(&res).contains_key("code"));
    // prompt=consent asks again.
    let res = s
        .browser
        .get(url_of(params(Some("consent"))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (st, grants) = get_json(&s, &format!("/api/v1/users/{uid}/grants")).await;
    assert_eq!(st, 200);
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    assert_eq!(grants[0]["clientId"], client.as_str());
    assert_eq!(grants[0]["_embedded"]["scope"]["name"], "calendar:read");
    let res = s
        .admin(Method::DELETE, &format!("/api/v1/users/{uid}/grants"))
        .await;
    assert_eq!(res.status(), 204);
    // Without consent the client keeps no access: its refresh token is revoked too.
    let (status, err) = token(
        &s,
        "default",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let res = s.browser.get(url_of(params(None))).send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "asked again after the admin revoked the grant"
    );

    // Saying no sends access_denied back to the client.
    let html = res.text().await.unwrap();
    let (csrf, request) = consent_form(&html);
    let res = s
        .browser
        .post(s.url("/oauth2/v1/consent"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let p = location_params(&res);
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str()),
        ("access_denied", "cs")
    );
}

#[tokio::test]
async fn automatic_rotation_replaces_old_keys_of_auto_servers_only() {
    let s = start().await;
    let worker = service(&s).await;
    let auto = orders_server(
        &s,
        &[&worker.0],
        rule("cc", &["client_credentials"], &["*"], 60),
    )
    .await;
    let (st, manual) = post_json(
        &s,
        AS,
        json!({ "name": "Manual", "audiences": ["api://manual"],
            "credentials": { "signing": { "rotationMode": "MANUAL" } } }),
    )
    .await;
    assert_eq!(st, 200, "{manual}");
    assert_eq!(manual["credentials"]["signing"]["rotationMode"], "MANUAL");
    let manual = manual["id"].as_str().unwrap().to_owned();
    let (_, before) = client_credentials(&s, &auto, &worker, "orders:read").await;
    let old = before["access_token"].as_str().unwrap().to_owned();
    let count = |v: &Value| v.as_array().unwrap().len();

    // Every key is "too old" for a zero maximum age: one pass of the rotation task.
    let state = s.state.clone();
    tokio::task::spawn_blocking(move || portcullis::rotate_due(&state, std::time::Duration::ZERO))
        .await
        .unwrap();

    let (_, keys) = get_json(&s, &format!("{AS}/{auto}/credentials/keys")).await;
    assert_eq!(count(&keys), 2, "the AUTO server rotated: {keys}");
    let (_, keys) = get_json(&s, &format!("{AS}/{manual}/credentials/keys")).await;
    assert_eq!(count(&keys), 1, "the MANUAL server did not");
    let org: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count(&org["keys"]), 2, "the org server rotated");

    let (_, after) = client_credentials(&s, &auto, &worker, "orders:read").await;
    let new = after["access_token"].as_str().unwrap();
    assert_ne!(
        decode_header(&old).unwrap().kid,
        decode_header(new).unwrap().kid,
        "new tokens use the new key"
    );
    assert!(
        verify(&s, &auto, &old, Some("api://orders")).await.is_ok(),
        "old tokens verify until they expire"
    );
}

#[tokio::test]
async fn servers_their_configuration_and_keys_survive_a_restart() {
    let s = start().await;
    let worker = service(&s).await;
    let id = orders_server(
        &s,
        &[&worker.0],
        rule("cc", &["client_credentials"], &["*"], 30),
    )
    .await;
    let (_, before) = client_credentials(&s, &id, &worker, "orders:read").await;
    let old = before["access_token"].as_str().unwrap().to_owned();
    let s = s.restart().await;
    let (status, after) = client_credentials(&s, &id, &worker, "orders:read").await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["expires_in"], 1800, "the rule survived");
    assert_eq!(
        decode_header(&old).unwrap().kid,
        decode_header(after["access_token"].as_str().unwrap())
            .unwrap()
            .kid,
        "the same signing key"
    );
    // (The restarted server listens on another port, so its issuer URL differs: the old token's
    // `iss` no longer matches; the same kid above shows the key itself was kept.)
    let (_, listed) = get_json(&s, AS).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "default and Orders API: {listed}"
    );
}

async fn delete(s: &TestServer, path: &str) -> u16 {
    s.admin_delete(path).send().await.unwrap().status().as_u16()
}

/// Scopes, claims, policies and rules share one set of handlers: each kind is created, listed,
/// read, replaced and deleted at its own path, and a missing one is a 404 that names its kind.
#[tokio::test]
async fn every_kind_of_server_item_is_created_read_replaced_and_deleted_alike() {
    let s = start().await;
    let client = spa(&s, json!({})).await;
    let id = orders_server(
        &s,
        &[&client],
        rule("First", &["authorization_code"], &["openid"], 60),
    )
    .await;
    let (_, policies) = get_json(&s, &format!("{AS}/{id}/policies")).await;
    let pid = policies[0]["id"].as_str().unwrap().to_owned();
    let kinds = [
        (
            format!("{AS}/{id}/scopes"),
            json!({ "name": "orders:write", "description": "Place orders" }),
            json!({ "name": "orders:place", "description": "Place orders" }),
            "OAuth2Scope",
        ),
        (
            format!("{AS}/{id}/claims"),
            json!({ "name": "dept", "claimType": "RESOURCE", "valueType": "EXPRESSION",
                "value": "\"sales\"", "conditions": { "scopes": [] } }),
            json!({ "name": "department", "claimType": "RESOURCE", "valueType": "EXPRESSION",
                "value": "\"sales\"", "conditions": { "scopes": [] } }),
            "OAuth2Claim",
        ),
        (
            format!("{AS}/{id}/policies"),
            json!({ "type": "OAUTH_AUTHORIZATION_POLICY", "name": "Second",
                "conditions": { "clients": { "include": [client] } } }),
            json!({ "type": "OAUTH_AUTHORIZATION_POLICY", "name": "Second, renamed",
                "conditions": { "clients": { "include": [client] } } }),
            "Policy",
        ),
        (
            format!("{AS}/{id}/policies/{pid}/rules"),
            rule("Second", &["authorization_code"], &["openid"], 30),
            rule("Second, renamed", &["authorization_code"], &["openid"], 30),
            "PolicyRule",
        ),
    ];
    for (at, body, changed, kind) in kinds {
        let (st, before) = get_json(&s, &at).await;
        assert_eq!(st, 200, "{at}: {before}");
        let (st, made) = post_json(&s, &at, body).await;
        assert_eq!(st, 200, "{at}: {made}");
        let item = format!("{at}/{}", made["id"].as_str().unwrap());
        let (_, listed) = get_json(&s, &at).await;
        assert_eq!(
            listed.as_array().unwrap().len(),
            before.as_array().unwrap().len() + 1,
            "{at}"
        );
        let (st, read) = get_json(&s, &item).await;
        assert_eq!((st, &read["id"]), (200, &made["id"]), "{item}");
        assert_eq!(read["_links"]["self"]["href"], s.url(&item), "{item}");
        let (st, replaced) = put_json(&s, &item, changed.clone()).await;
        assert_eq!(st, 200, "{item}: {replaced}");
        assert_eq!(replaced["name"], changed["name"], "{item}");
        assert_eq!(get_json(&s, &item).await.1["name"], changed["name"]);
        assert_eq!(delete(&s, &item).await, 204, "{item}");
        let (st, gone) = get_json(&s, &item).await;
        assert_eq!(st, 404, "{item}");
        assert_eq!(gone["errorCode"], "E0000007");
        let summary = gone["errorSummary"].as_str().unwrap();
        assert!(summary.contains(&format!("({kind})")), "{summary}");
        assert_eq!(delete(&s, &item).await, 404, "{item}");
    }
    let (st, e) = get_json(&s, &format!("{AS}/{id}/policies/00pnope/rules")).await;
    assert_eq!(st, 404);
    assert!(
        e["errorSummary"].as_str().unwrap().contains("(Policy)"),
        "{e}"
    );
    let (st, e) = get_json(&s, &format!("{AS}/ausnope/scopes")).await;
    assert_eq!(st, 404);
    assert!(
        e["errorSummary"]
            .as_str()
            .unwrap()
            .contains("(AuthorizationServer)"),
        "{e}"
    );
}

/// A token's claims, checked against the server's published JWKS with the JWK's own type
/// (as a relying party's library does), and the header's algorithm.
async fn verified_at(s: &TestServer, server: &str, token: &str) -> (String, Value) {
    let jwks: Value = s
        .client
        .get(s.url(&endpoint(server, "keys")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap()
        .clone();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
    let mut v = Validation::new(header.alg);
    v.validate_aud = false;
    let claims = decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
        .unwrap()
        .claims;
    (format!("{:?}", header.alg), claims)
}

#[tokio::test]
async fn a_server_signs_with_es256_or_eddsa_when_asked_and_moves_between_them_by_rotation() {
    let s = start().await;
    let worker = service(&s).await;
    let id = orders_server(
        &s,
        &[&worker.0],
        rule("workers", &["client_credentials"], &["orders:read"], 60),
    )
    .await;
    let (st, bad) = put_json(
        &s,
        &format!("{AS}/{id}"),
        json!({ "name": "Orders API", "audiences": ["api://orders"],
            "credentials": { "signing": { "alg": "HS256" } } }),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(bad["errorCode"], "E0000001");

    let (st, view) = put_json(
        &s,
        &format!("{AS}/{id}"),
        json!({ "name": "Orders API", "audiences": ["api://orders"],
            "credentials": { "signing": { "alg": "ES256" } } }),
    )
    .await;
    assert_eq!(st, 200, "{view}");
    assert_eq!(view["credentials"]["signing"]["alg"], "ES256");
    let meta: Value = s
        .client
        .get(s.url(&format!("/oauth2/{id}/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let (st, t) = client_credentials(&s, &id, &worker, "orders:read").await;
    assert_eq!(st, 200, "{t}");
    let es256 = t["access_token"].as_str().unwrap().to_owned();
    let (alg, claims) = verified_at(&s, &id, &es256).await;
    assert_eq!(
        (alg.as_str(), claims["scp"][0].as_str()),
        ("ES256", Some("orders:read"))
    );

    let (st, _) = put_json(
        &s,
        &format!("{AS}/{id}"),
        json!({ "name": "Orders API", "audiences": ["api://orders"],
            "credentials": { "signing": { "alg": "EdDSA" } } }),
    )
    .await;
    assert_eq!(st, 200);
    let (_, t) = client_credentials(&s, &id, &worker, "orders:read").await;
    let (alg, _) = verified_at(&s, &id, t["access_token"].as_str().unwrap()).await;
    assert_eq!(alg, "EdDSA");
    // The ES256 token issued before still verifies and introspects as active.
    assert_eq!(verified_at(&s, &id, &es256).await.0, "ES256");
    let res = s
        .client
        .post(s.url(&endpoint(&id, "introspect")))
        .basic_auth(&worker.0, Some(&worker.1))
        .form(&[("token", es256.as_str())])
        .send()
        .await
        .unwrap();
    let introspected: Value = res.json().await.unwrap();
    assert_eq!(introspected["active"], true);
    // A rotation keeps the algorithm.
    let (st, keys) = post_json(
        &s,
        &format!("{AS}/{id}/credentials/lifecycle/keyRotate"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200, "{keys}");
    let active: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "ACTIVE")
        .collect();
    assert_eq!((active.len(), active[0]["kty"].as_str()), (1, Some("OKP")));

    // A server created with an algorithm signs with it from its first key on.
    let (st, created) = post_json(
        &s,
        AS,
        json!({ "name": "Fast API", "audiences": ["api://fast"],
            "credentials": { "signing": { "alg": "ES256" } } }),
    )
    .await;
    assert_eq!(st, 200, "{created}");
    let fast = created["id"].as_str().unwrap();
    let (_, keys) = get_json(&s, &format!("{AS}/{fast}/credentials/keys")).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["alg"], "ES256");
}

#[tokio::test]
async fn a_server_can_issue_access_tokens_in_the_jwt_profile_of_rfc_9068() {
    let s = start().await;
    let worker = service(&s).await;
    let id = orders_server(
        &s,
        &[&worker.0],
        rule("workers", &["client_credentials"], &["orders:read"], 60),
    )
    .await;
    let (_, t) = client_credentials(&s, &id, &worker, "orders:read").await;
    let okta = t["access_token"].as_str().unwrap();
    assert_eq!(decode_header(okta).unwrap().typ.as_deref(), Some("JWT"));

    let (st, view) = put_json(
        &s,
        &format!("{AS}/{id}"),
        json!({ "name": "Orders API", "audiences": ["api://orders"],
            "accessTokenProfile": "RFC9068" }),
    )
    .await;
    assert_eq!(st, 200, "{view}");
    assert_eq!(view["accessTokenProfile"], "RFC9068");
    let (_, t) = client_credentials(&s, &id, &worker, "orders:read").await;
    let token = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        decode_header(&token).unwrap().typ.as_deref(),
        Some("at+jwt")
    );
    let (_, claims) = verified_at(&s, &id, &token).await;
    // RFC 9068 §2.2's claims, beside Okta's (which Okta's SDKs read).
    for name in [
        "iss",
        "exp",
        "aud",
        "sub",
        "client_id",
        "iat",
        "jti",
        "scope",
        "cid",
        "scp",
    ] {
        assert!(claims.get(name).is_some(), "{name} in {claims}");
    }
    assert_eq!(claims["client_id"], worker.0.as_str());
    assert_eq!(claims["scope"], "orders:read");
    let res = s
        .client
        .post(s.url(&endpoint(&id, "introspect")))
        .basic_auth(&worker.0, Some(&worker.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);

    let (st, bad) = put_json(
        &s,
        &format!("{AS}/{id}"),
        json!({ "name": "Orders API", "audiences": ["api://orders"],
            "accessTokenProfile": "SOMETHING" }),
    )
    .await;
    assert_eq!(st, 400, "{bad}");
}
