//! OAuth 2.0 / OIDC flows against the org authorization server, over real HTTP.

use crate::support::{self, PASSWORD, TestServer, location_params, pkce_challenge};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const SPA_CB: &str = "http://localhost:8080/callback";
const WEB_CB: &str = "https://web.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more";

async fn register(s: &TestServer, body: Value) -> Value {
    let res = s
        .admin_post("/oauth2/v1/clients")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn spa(s: &TestServer) -> String {
    let c = register(
        s,
        json!({ "client_name": "SPA", "application_type": "browser",
        "redirect_uris": [SPA_CB], "post_logout_redirect_uris": ["http://localhost:8080/bye"],
        "grant_types": ["authorization_code", "refresh_token"] }),
    )
    .await;
    c["client_id"].as_str().unwrap().to_owned()
}

async fn session_token(s: &TestServer, login: &str) -> String {
    s.create_user(login, PASSWORD).await;
    s.session_token(login).await
}

/// Verifies a JWT against the server's published JWKS.
async fn verify(s: &TestServer, token: &str, aud: Option<&str>) -> Value {
    let jwks: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[s.base.as_str()]);
    match aud {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    decode::<Value>(token, &key, &v).unwrap().claims
}

async fn code_for(s: &TestServer, client_id: &str, token: &str, scope: &str) -> String {
    let c = pkce_challenge(VERIFIER);
    let res = s
        .client
        .get(support::authorize_url(
            s,
            "org",
            &[
                ("client_id", client_id),
                ("redirect_uri", SPA_CB),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st-1"),
                ("nonce", "n-1"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256"),
                ("sessionToken", token),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{:?}", res.headers());
    assert!(
        support::set_cookie(&res, "sid").is_some(),
        "a sessionToken also sets the session cookie"
    );
    let p = location_params(&res);
    assert_eq!(p["state"], "st-1");
    p["code"].clone()
}

async fn exchange(s: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status == 200 {
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn spa_code_with_pkce_gives_verifiable_tokens_and_userinfo() {
    let s = support::start().await;
    let client = spa(&s).await;
    let token = session_token(&s, "oidc@example.com").await;
    let code = code_for(&s, &client, &token, "openid profile email offline_access").await;
    let (status, body) = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["refresh_token"].is_string());

    let id = verify(&s, body["id_token"].as_str().unwrap(), Some(&client)).await;
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "oidc@example.com");
    assert_eq!(id["preferred_username"], "oidc@example.com");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["acr"], "urn:okta:loa:1fa:pwd", "a password alone");
    let at = body["access_token"].as_str().unwrap();
    let expected_at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(at.as_bytes())[..16]);
    assert_eq!(id["at_hash"], expected_at_hash.as_str());
    let access = verify(&s, at, None).await;
    assert_eq!(access["cid"], client.as_str());
    assert_eq!(access["sub"], "oidc@example.com");
    assert_eq!(access["ver"], 1);
    assert!(access["jti"].as_str().unwrap().starts_with("AT."));

    let info: Value = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["email"], "oidc@example.com");
    // RFC 6750 §2.2: the token may come in a POST body instead, but not both ways at once.
    let res = s
        .client
        .post(s.url("/oauth2/v1/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sub"], id["sub"]);
    let res = s
        .client
        .post(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Public clients name themselves to revoke, as okta-auth-js does: Basic base64(client_id)
    // with no colon. Another client's name revokes nothing.
    let colonless = |id: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(id)
        )
    };
    let res = s
        .client
        .post(s.url("/oauth2/v1/revoke"))
        .header("Authorization", colonless("someone-else"))
        .form(&[("token", at), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .client
        .post(s.url("/oauth2/v1/revoke"))
        .header("Authorization", colonless(&client))
        .form(&[("token", at), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401, "the public client's revocation took");
    let bad = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let s = support::start().await;
    let client = spa(&s).await;
    let token = session_token(&s, "replay@example.com").await;
    let code = code_for(&s, &client, &token, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", SPA_CB),
        ("code_verifier", VERIFIER),
    ];
    let (_, first) = exchange(&s, &form).await;
    let (status, again) = exchange(&s, &form).await;
    assert_eq!(status, 400);
    assert_eq!(again["error"], "invalid_grant");
    let info = s
        .client
        .get(s.url("/oauth2/v1/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        info.status(),
        401,
        "the first exchange's access token is revoked"
    );
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_enforced() {
    let s = support::start().await;
    let client = spa(&s).await;
    let token = session_token(&s, "pkce@example.com").await;
    let code = code_for(&s, &client, &token, "openid").await;
    let (status, body) = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier-x",
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A public client must send a challenge; the error goes back to its redirect URI.
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", &client),
                ("redirect_uri", SPA_CB),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "x"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let p = location_params(&res);
    assert_eq!(p["error"], "invalid_request");
    assert_eq!(p["state"], "x");

    // An unknown client or an unregistered redirect URI: an error page, never a redirect.
    for (cid, cb) in [
        ("nope", SPA_CB),
        (client.as_str(), "http://evil.example/cb"),
    ] {
        let res = s
            .client
            .get(support::authorize_url(
                &s,
                "org",
                &[
                    ("client_id", cid),
                    ("redirect_uri", cb),
                    ("response_type", "code"),
                    ("scope", "openid"),
                ],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none());
        assert!(res.text().await.unwrap().contains("Something went wrong"));
    }
}

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required_by_post_message() {
    let s = support::start().await;
    let client = spa(&s).await;
    s.trust_origin("http://localhost:8080", &["CORS"]).await;
    let c = pkce_challenge(VERIFIER);
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", &client),
                ("redirect_uri", SPA_CB),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "silent"),
                ("prompt", "none"),
                ("response_mode", "okta_post_message"),
                ("code_challenge", &c),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors http://localhost:8080"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("\"error\":\"login_required\""), "{html}");
    assert!(html.contains("\"state\":\"silent\""));
    assert!(
        html.contains("\"http://localhost:8080\""),
        "targetOrigin is the redirect URI's origin"
    );
}

#[tokio::test]
async fn without_a_session_the_person_signs_in_and_comes_back() {
    let s = support::start().await;
    let client = spa(&s).await;
    s.create_user("round@example.com", PASSWORD).await;
    let c = pkce_challenge(VERIFIER);
    let url = support::authorize_url(
        &s,
        "org",
        &[
            ("client_id", &client),
            ("redirect_uri", SPA_CB),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "rt"),
            ("login_hint", "round@example.com"),
            ("code_challenge", &c),
            ("code_challenge_method", "S256"),
        ],
    );
    let res = s.browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let login = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        login.starts_with("/login?fromURI=%2Foauth2%2Fv1%2Fauthorize"),
        "{login}"
    );
    let page = s
        .browser
        .get(s.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"round@example.com\""),
        "login_hint prefills the username"
    );
    let grab = |name: &str| {
        let at = page.find(&format!("name=\"{name}\"")).unwrap();
        let tag = &page[page[..at].rfind('<').unwrap()..at + page[at..].find('>').unwrap()];
        let v = tag.find("value=\"").unwrap() + 7;
        tag[v..v + tag[v..].find('"').unwrap()].replace("&amp;", "&")
    };
    let (csrf, from) = (grab("csrf"), grab("from_uri"));
    let res = s
        .browser
        .post(s.url("/login"))
        .form(&[
            ("username", "round@example.com"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("from_uri", &from),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("/oauth2/v1/authorize?"));
    let res = s.browser.get(s.url(&back)).send().await.unwrap();
    let p = location_params(&res);
    assert_eq!(p["state"], "rt");
    assert!(p.contains_key("code"));
}

#[tokio::test]
async fn confidential_clients_authenticate_and_services_get_client_credentials() {
    let s = support::start().await;
    let web = register(
        &s,
        json!({ "client_name": "Web", "redirect_uris": [WEB_CB],
        "grant_types": ["authorization_code", "password"] }),
    )
    .await;
    let (id, secret) = (
        web["client_id"].as_str().unwrap(),
        web["client_secret"].as_str().unwrap(),
    );
    s.create_user("ropc@example.com", PASSWORD).await;
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(id, Some("wrong"))
        .form(&[
            ("grant_type", "password"),
            ("username", "ropc@example.com"),
            ("password", PASSWORD),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ropc@example.com"),
            ("password", PASSWORD),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["id_token"].is_string());

    let svc = register(
        &s,
        json!({ "client_name": "Batch", "application_type": "service" }),
    )
    .await;
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(
            svc["client_id"].as_str().unwrap(),
            Some(svc["client_secret"].as_str().unwrap()),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let claims = verify(&s, body["access_token"].as_str().unwrap(), None).await;
    assert_eq!(claims["sub"], svc["client_id"]);

    let (status, err) = exchange(
        &s,
        &[
            ("grant_type", "device_code"),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn refresh_rotation_introspection_revocation_and_logout() {
    let s = support::start().await;
    let client = spa(&s).await;
    let token = session_token(&s, "rot@example.com").await;
    let code = code_for(&s, &client, &token, "openid offline_access").await;
    let (_, first) = exchange(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = exchange(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", r1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "public clients rotate");
    // Within the grace window, the old token still works (two tabs at once).
    let (status, _) = exchange(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", r1),
        ],
    )
    .await;
    assert_eq!(status, 200);

    let intro = |t: String| {
        let s = &s;
        let client = client.clone();
        async move {
            let res = s
                .client
                .post(s.url("/oauth2/v1/introspect"))
                .form(&[("client_id", client.as_str()), ("token", t.as_str())])
                .send()
                .await
                .unwrap();
            res.json::<Value>().await.unwrap()
        }
    };
    let at = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(intro(at.clone()).await["active"], true);
    assert_eq!(intro(r2.to_owned()).await["active"], true);
    let res = s
        .client
        .post(s.url("/oauth2/v1/revoke"))
        .form(&[("client_id", client.as_str()), ("token", r2)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(intro(r2.to_owned()).await["active"], false);
    let (status, _) = exchange(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", r1),
        ],
    )
    .await;
    assert_eq!(status, 400, "revoking a refresh token revokes its family");
    s.client
        .post(s.url("/oauth2/v1/revoke"))
        .form(&[("client_id", client.as_str()), ("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(intro(at).await["active"], false);

    let id_token = first["id_token"].as_str().unwrap();
    let res = s.client.get(s.url(&format!("/oauth2/v1/logout?id_token_hint={id_token}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fbye&state=out"))).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "http://localhost:8080/bye?state=out"
    );
    let res = s.client.get(s.url(&format!("/oauth2/v1/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example"))).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn implicit_id_token_token_comes_in_the_fragment_with_hashes() {
    let s = support::start().await;
    let c = register(&s, json!({ "client_name": "Legacy SPA", "application_type": "browser", "redirect_uris": [SPA_CB],
        "grant_types": ["implicit"], "response_types": ["id_token token", "id_token"] })).await;
    let client = c["client_id"].as_str().unwrap();
    let token = session_token(&s, "imp@example.com").await;
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", client),
                ("redirect_uri", SPA_CB),
                ("response_type", "token id_token"),
                ("scope", "openid email"),
                ("state", "i"),
                ("sessionToken", &token),
            ],
        ))
        .send()
        .await
        .unwrap();
    let p = location_params(&res);
    assert_eq!(p["error"], "invalid_request", "nonce is required");
    let token = session_token(&s, "imp2@example.com").await;
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", client),
                ("redirect_uri", SPA_CB),
                ("response_type", "id_token token"),
                ("scope", "openid email"),
                ("state", "i"),
                ("nonce", "nn"),
                ("sessionToken", &token),
            ],
        ))
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with(&format!("{SPA_CB}#")), "{loc}");
    let p = location_params(&res);
    let id = verify(&s, &p["id_token"], Some(client)).await;
    assert_eq!(id["nonce"], "nn");
    assert!(id["at_hash"].is_string());
    assert_eq!(p["token_type"], "Bearer");
}

#[tokio::test]
async fn hybrid_flows_return_code_and_tokens_with_c_hash_and_form_post_posts_them() {
    let s = support::start().await;
    let c = register(
        &s,
        json!({ "client_name": "Hybrid", "redirect_uris": [WEB_CB],
        "grant_types": ["authorization_code", "implicit"],
        "response_types": ["code id_token", "code token", "code id_token token"] }),
    )
    .await;
    let client = c["client_id"].as_str().unwrap();
    let token = session_token(&s, "hybrid@example.com").await;
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", client),
                ("redirect_uri", WEB_CB),
                ("response_type", "code id_token"),
                ("scope", "openid"),
                ("state", "h"),
                ("nonce", "hn"),
                ("sessionToken", &token),
            ],
        ))
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.starts_with(&format!("{WEB_CB}#")),
        "hybrid defaults to the fragment: {loc}"
    );
    let p = location_params(&res);
    let id = verify(&s, &p["id_token"], Some(client)).await;
    let expected_c_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(p["code"].as_bytes())[..16]);
    assert_eq!(id["c_hash"], expected_c_hash.as_str());

    // form_post: an auto-submitting form to the redirect URI, allowed by its CSP.
    let token = session_token(&s, "formpost@example.com").await;
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", client),
                ("redirect_uri", WEB_CB),
                ("response_type", "code token"),
                ("response_mode", "form_post"),
                ("scope", "openid"),
                ("state", "fp"),
                ("sessionToken", &token),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action https://web.example.com"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{WEB_CB}\"")));
    assert!(html.contains("name=\"code\"") && html.contains("name=\"access_token\""));
    assert!(html.contains("name=\"state\" value=\"fp\""));

    // Tokens never go in the query.
    let res = s
        .client
        .get(support::authorize_url(
            &s,
            "org",
            &[
                ("client_id", client),
                ("redirect_uri", WEB_CB),
                ("response_type", "code token"),
                ("response_mode", "query"),
                ("scope", "openid"),
                ("state", "q"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location_params(&res)["error"], "unsupported_response_mode");
}

#[tokio::test]
async fn private_key_jwt_clients_authenticate_with_signed_assertions_used_once() {
    let s = support::start().await;
    // The client's own key pair, kept in a store of its own.
    let keys_dir = tempfile::tempdir().unwrap();
    let key_store = portcullis::store::SledStore::open(keys_dir.path()).unwrap();
    let now = portcullis::clock::Timestamp::now();
    let ring = portcullis::oauth::keys::KeyRing::load(&key_store, "client", now).unwrap();
    let reg = register(
        &s,
        json!({ "client_name": "Signer", "application_type": "service",
        "token_endpoint_auth_method": "private_key_jwt", "jwks": ring.jwks() }),
    )
    .await;
    let id = reg["client_id"].as_str().unwrap().to_owned();
    assert!(reg.get("client_secret").is_none());

    let secs = now.millis() / 1000;
    let assertion = |jti: &str, aud: &str| {
        ring.signer()
            .sign(&json!({ "iss": id, "sub": id, "aud": aud, "jti": jti, "iat": secs, "exp": secs + 300 }))
            .unwrap()
    };
    let token_url = s.url("/oauth2/v1/token");
    let ask = |a: String| {
        let s = &s;
        async move {
            exchange(
                s,
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ],
            )
            .await
        }
    };
    let (status, body) = ask(assertion("one", &token_url)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = ask(assertion("one", &token_url)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "a jti works once"
    );
    let (status, _) = ask(assertion("two", "https://elsewhere.example/token")).await;
    assert_eq!(status, 401, "the audience must be this server");

    // Someone else's key cannot sign for this client.
    let other_dir = tempfile::tempdir().unwrap();
    let other_store = portcullis::store::SledStore::open(other_dir.path()).unwrap();
    let other = portcullis::oauth::keys::KeyRing::load(&other_store, "x", now).unwrap();
    let forged = other
        .signer()
        .sign(&json!({ "iss": id, "sub": id, "aud": token_url, "jti": "three", "iat": secs, "exp": secs + 300 }))
        .unwrap();
    let (status, _) = ask(forged).await;
    assert_eq!(status, 401);

    let bad = s
        .admin_post("/oauth2/v1/clients")
        .json(&json!({ "application_type": "service", "token_endpoint_auth_method": "private_key_jwt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "private_key_jwt needs jwks");
}

#[tokio::test]
async fn client_secret_jwt_clients_authenticate_with_an_hmac_assertion() {
    let s = support::start().await;
    let reg = register(
        &s,
        json!({ "client_name": "HMAC", "application_type": "service",
        "token_endpoint_auth_method": "client_secret_jwt" }),
    )
    .await;
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |key: &str, jti: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &json!({ "iss": id, "sub": id, "aud": s.url("/oauth2/v1/token"), "jti": jti, "iat": now, "exp": now + 300 }),
            &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let ask = |a: String| {
        let s = &s;
        async move {
            exchange(
                s,
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ],
            )
            .await
        }
    };
    let (status, body) = ask(sign(&secret, "a")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = ask(sign("not-the-secret-not-the-secret-not-the-secret", "b")).await;
    assert_eq!(status, 401);
    // The secret itself is not accepted in place of an assertion.
    let (status, _) = exchange(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, 401);
}
