//! What an attacker's review found (issue #12): each attack performed, beside the legitimate
//! path that must keep working.

use crate::support::{self, PASSWORD, TestServer, csrf_field, location_params};
use serde_json::{Value, json};

const CB: &str = "http://localhost:8080/callback";
const BYE: &str = "http://localhost:8080/bye";

/// A confidential client that may use the password grant: (id, secret).
async fn password_client(s: &TestServer) -> (String, String) {
    let c: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(&json!({ "client_name": "ROPC", "redirect_uris": [CB],
            "grant_types": ["authorization_code", "password"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn password_grant(
    s: &TestServer,
    from: &reqwest::Client,
    (id, secret): &(String, String),
    username: &str,
    password: &str,
) -> reqwest::Response {
    from.post(s.url("/oauth2/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
}

/// A client whose requests come from another loopback address.
fn from_address(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_password_grant_is_rate_limited_and_its_failures_lock_the_account() {
    // The attempts below must fall in one rate-limit window.
    crate::support::early_in_a_minute(20).await;
    let s = support::start_with(|c| {
        c.rate_limit_per_user = 3;
        c.max_failed_attempts = 5;
    })
    .await;
    let client = password_client(&s).await;
    s.create_user("ropc@example.com", PASSWORD).await;
    // The legitimate path: tokens for the right password.
    let res = password_grant(&s, &s.client, &client, "ropc@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    // Guesses: two more fill the minute's three attempts, the next is refused before any
    // password is checked, in Okta's shape with its headers.
    for _ in 0..2 {
        let res = password_grant(&s, &s.client, &client, "ropc@example.com", "Guess-1234").await;
        assert_eq!(res.status(), 400);
    }
    let res = password_grant(&s, &s.client, &client, "ROPC@example.com", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-rate-limit-limit"], "3");
    assert_eq!(res.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000047");

    // Failed password grants count toward lockout like any failed sign-in (from other
    // addresses, each within its own limit).
    for last in 2..5u8 {
        let other = from_address([127, 0, 0, last]);
        let res = password_grant(&s, &other, &client, "ropc@example.com", "Guess-1234").await;
        assert_eq!(res.status(), 400);
    }
    let user: Value = s
        .admin_get("/api/v1/users/ropc@example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "LOCKED_OUT", "{user}");
}

#[tokio::test]
async fn a_strangers_failures_elsewhere_do_not_keep_the_owner_out() {
    // The attempts below must fall in one rate-limit window.
    crate::support::early_in_a_minute(20).await;
    let s = support::start_with(|c| c.rate_limit_per_user = 3).await;
    s.create_user("owner@example.com", PASSWORD).await;
    let stranger = from_address([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let res = stranger
            .post(s.url("/api/v1/authn"))
            .json(&json!({ "username": "owner@example.com", "password": "Guess-1234" }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "the stranger is limited");
    // Recovery is counted apart from sign-in, and the owner's own address apart from theirs.
    let res = stranger
        .post(s.url("/api/v1/authn/recovery/password"))
        .json(&json!({ "username": "owner@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.authn("owner@example.com", PASSWORD).await.status(), 200);
}

/// Signs `login` in through `/api/v1/authn` and the authorization endpoint: the ID token.
async fn id_token_for(s: &TestServer, client_id: &str, login: &str) -> String {
    let body: Value = s.authn(login, PASSWORD).await.json().await.unwrap();
    let token = body["sessionToken"].as_str().unwrap();
    let verifier = "a-verifier-long-enough-for-pkce-0123456789-abcdefghijk";
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let res = s
        .client
        .get(authorize(
            s,
            &[
                ("client_id", client_id),
                ("redirect_uri", CB),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "s"),
                ("nonce", "n"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("sessionToken", token),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let p = location_params(&res);
    assert_eq!(p["iss"], s.base, "RFC 9207: the issuer names itself");
    let tokens: Value = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &p["code"]),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["id_token"].as_str().unwrap().to_owned()
}

fn authorize(s: &TestServer, params: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    s.url(&format!("/oauth2/v1/authorize?{}", q.finish()))
}

async fn spa(s: &TestServer) -> String {
    let c: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "SPA", "application_type": "browser",
            "redirect_uris": [CB], "post_logout_redirect_uris": [BYE],
            "grant_types": ["authorization_code"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    c["client_id"].as_str().unwrap().to_owned()
}

/// A browser signed in as `login` (the session cookie in its jar).
async fn signed_in_browser(s: &TestServer, login: &str) -> reqwest::Client {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body: Value = s.authn(login, PASSWORD).await.json().await.unwrap();
    let token = body["sessionToken"].as_str().unwrap();
    let res = browser
        .get(s.url("/login/sessionCookieRedirect"))
        .query(&[("token", token), ("redirectUrl", &s.url("/"))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    browser
}

async fn session_alive(s: &TestServer, browser: &reqwest::Client) -> bool {
    let res = browser.get(s.url("/api/v1/sessions/me")).send().await;
    res.unwrap().status() == 200
}

#[tokio::test]
async fn logout_with_someone_elses_id_token_asks_before_ending_the_session() {
    let s = support::start().await;
    let client = spa(&s).await;
    s.create_user("victim@example.com", PASSWORD).await;
    s.create_user("attacker@example.com", PASSWORD).await;
    let attackers_hint = id_token_for(&s, &client, "attacker@example.com").await;
    let victim = signed_in_browser(&s, "victim@example.com").await;
    assert!(session_alive(&s, &victim).await);

    let link = s.url(&format!(
        "/oauth2/v1/logout?id_token_hint={attackers_hint}&post_logout_redirect_uri={}",
        urlencoding(BYE)
    ));
    let res = victim.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200, "a page that asks, not a redirect");
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign out?"), "{html}");
    assert!(
        session_alive(&s, &victim).await,
        "opening the link ended nothing"
    );
    // A forged submission (no token of this site) ends nothing either.
    let res = victim
        .post(&link)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(session_alive(&s, &victim).await);
    // The person confirms: signed out, and sent where the app asked.
    let csrf = csrf_field(&html);
    let res = victim
        .post(&link)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], BYE);
    assert!(!session_alive(&s, &victim).await);

    // The legitimate path: the person's own hint signs them out at once.
    let attacker = signed_in_browser(&s, "attacker@example.com").await;
    let own = s.url(&format!(
        "/oauth2/v1/logout?id_token_hint={attackers_hint}&post_logout_redirect_uri={}&state=x",
        urlencoding(BYE)
    ));
    let res = attacker.get(&own).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("{BYE}?state=x"));
    let cleared = support::set_cookie(&res, "sid").expect("the session cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!session_alive(&s, &attacker).await);
}

fn urlencoding(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test]
async fn over_https_sign_out_clears_the_cookie_the_session_was_set_in() {
    let s = support::start_with(|c| c.base_url = "https://id.example.com".into()).await;
    let res = s
        .client
        .get(format!("{}/login", s.local))
        .send()
        .await
        .unwrap();
    let cookie = support::set_cookie(&res, "__Host-pc_csrf").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let csrf = csrf_field(&res.text().await.unwrap());
    let res = s
        .client
        .post(format!("{}/login/signout", s.local))
        .header("cookie", format!("{cookie}; sid=some-session"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cleared = support::set_cookie(&res, "sid").expect("the sid cookie itself is cleared");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("Secure"),
        "{cleared}"
    );
}

#[tokio::test]
async fn repeated_oauth_parameters_are_refused_on_every_endpoint() {
    let s = support::start().await;
    let client = spa(&s).await;
    s.create_user("twice@example.com", PASSWORD).await;
    let base = [
        ("client_id", client.as_str()),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "s"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    // Two redirect URIs: nowhere to answer, so a page, and no code for either.
    let mut twice = base.to_vec();
    twice.extend([
        ("redirect_uri", "https://evil.example/cb"),
        ("redirect_uri", CB),
    ]);
    let res = s.client.get(authorize(&s, &twice)).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    // Any other repeat goes back to the (single, registered) redirect URI as invalid_request.
    let mut scope_twice = base.to_vec();
    scope_twice.extend([("redirect_uri", CB), ("scope", "openid profile")]);
    let res = s
        .client
        .get(authorize(&s, &scope_twice))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let p = location_params(&res);
    assert_eq!(p["error"], "invalid_request", "{p:?}");
    assert!(p["error_description"].contains("'scope'"));
    assert_eq!(p["iss"], s.base);
    // The legitimate request goes on to sign-in.
    let mut once = base.to_vec();
    once.push(("redirect_uri", CB));
    let res = s.client.get(authorize(&s, &once)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        !res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=")
    );

    for (path, body) in [
        (
            "/oauth2/v1/token",
            format!(
                "grant_type=authorization_code&code=a&code=b&client_id={client}&redirect_uri={}",
                urlencoding(CB)
            ),
        ),
        (
            "/oauth2/v1/token",
            format!("grant_type=client_credentials&client_id={client}&client_id=other"),
        ),
        (
            "/oauth2/v1/introspect",
            format!("token=a&token=b&client_id={client}"),
        ),
        (
            "/oauth2/v1/revoke",
            format!("token=a&client_id={client}&token=b"),
        ),
    ] {
        let res = s
            .client
            .post(s.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path} {body}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], "invalid_request", "{path} {body}: {e}");
    }
    let discovery: Value = s
        .client
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
}

#[tokio::test]
async fn a_session_cookie_redirect_to_a_url_with_control_characters_spends_nothing() {
    let s = support::start().await;
    s.create_user("ctl@example.com", PASSWORD).await;
    let body: Value = s
        .authn("ctl@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = body["sessionToken"].as_str().unwrap();
    let bad = format!("{}/x\r\nSet-Cookie: a=b", s.base);
    let res = s
        .client
        .get(s.url("/login/sessionCookieRedirect"))
        .query(&[("token", token), ("redirectUrl", &bad)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The token was not spent: the good URL still gets a session.
    let good = format!("{}/app?x=1", s.base);
    let res = s
        .client
        .get(s.url("/login/sessionCookieRedirect"))
        .query(&[("token", token), ("redirectUrl", &good)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], good.as_str());
    assert!(support::set_cookie(&res, "sid").is_some());
}

async fn post_json(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let res = s.client.post(s.url(path)).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A recovery link's token, as a trusted caller gets it.
async fn reset_link(s: &TestServer, login: &str) -> String {
    let body: Value = s
        .admin_post("/api/v1/authn/recovery/password")
        .json(&json!({ "username": login, "factorType": "EMAIL" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["recoveryToken"].as_str().unwrap().to_owned()
}

/// Follows a reset link through to a new password; the final answer.
async fn reset_with(s: &TestServer, link: &str, new_password: &str) -> (u16, Value) {
    let (status, tx) = post_json(
        s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": link }),
    )
    .await;
    if status != 200 {
        return (status, tx);
    }
    assert_eq!(tx["status"], "PASSWORD_RESET", "{tx}");
    post_json(
        s,
        "/api/v1/authn/credentials/reset_password",
        json!({ "stateToken": tx["stateToken"], "newPassword": new_password }),
    )
    .await
}

const VERIFIER: &str = "a-verifier-long-enough-for-pkce-0123456789-abcdefghijk";

/// A public client that may refresh, and a code for `login` through it (PKCE, `VERIFIER`).
async fn spa_code(s: &TestServer, login: &str, password: &str) -> (String, String) {
    let c: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "SPA", "application_type": "browser",
            "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = c["client_id"].as_str().unwrap().to_owned();
    let body: Value = s.authn(login, password).await.json().await.unwrap();
    let challenge = support::pkce_challenge(VERIFIER);
    let res = s
        .client
        .get(authorize(
            s,
            &[
                ("client_id", &client),
                ("redirect_uri", CB),
                ("response_type", "code"),
                ("scope", "openid offline_access"),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("sessionToken", body["sessionToken"].as_str().unwrap()),
            ],
        ))
        .send()
        .await
        .unwrap();
    (client, location_params(&res)["code"].clone())
}

async fn redeem(s: &TestServer, client: &str, code: &str) -> (u16, Value) {
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// A refresh token for `login` from the code flow of a public client that may refresh.
async fn refresh_token_for(s: &TestServer, login: &str) -> (String, String) {
    let (client, code) = spa_code(s, login, PASSWORD).await;
    let (_, tokens) = redeem(s, &client, &code).await;
    (client, tokens["refresh_token"].as_str().unwrap().to_owned())
}

async fn refresh(s: &TestServer, client: &str, token: &str) -> u16 {
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

#[tokio::test]
async fn a_password_reset_ends_stolen_sessions_and_refresh_tokens() {
    let s = support::start().await;
    s.create_user("stolen@example.com", PASSWORD).await;
    let thief = signed_in_browser(&s, "stolen@example.com").await;
    let (client, stolen_refresh) = refresh_token_for(&s, "stolen@example.com").await;
    assert!(session_alive(&s, &thief).await);
    assert_eq!(refresh(&s, &client, &stolen_refresh).await, 200);

    let link = reset_link(&s, "stolen@example.com").await;
    let (status, done) = reset_with(&s, &link, "Brand-New-Pass-77").await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");

    assert!(!session_alive(&s, &thief).await, "the old session ended");
    assert_eq!(refresh(&s, &client, &stolen_refresh).await, 400);
    let intro: Value = s
        .client
        .post(s.url("/oauth2/v1/introspect"))
        .form(&[
            ("client_id", client.as_str()),
            ("token", stolen_refresh.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], false);
    // The owner, with the new password, is in: the session the reset gave them works, and
    // so does a new sign-in.
    let session = done["sessionToken"].as_str().unwrap();
    let owner = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    owner
        .get(s.url("/login/sessionCookieRedirect"))
        .query(&[("token", session), ("redirectUrl", &s.url("/"))])
        .send()
        .await
        .unwrap();
    assert!(session_alive(&s, &owner).await);
    assert_eq!(
        s.authn("stolen@example.com", "Brand-New-Pass-77")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_code_issued_before_a_password_reset_is_not_redeemed_after_it() {
    let s = support::start().await;
    s.create_user("codes@example.com", PASSWORD).await;
    let (client, stolen) = spa_code(&s, "codes@example.com", PASSWORD).await;
    let link = reset_link(&s, "codes@example.com").await;
    assert_eq!(reset_with(&s, &link, "Brand-New-Pass-77").await.0, 200);

    let (status, body) = redeem(&s, &client, &stolen).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A code from a sign-in with the new password is redeemed as usual.
    let (client, code) = spa_code(&s, "codes@example.com", "Brand-New-Pass-77").await;
    let (status, body) = redeem(&s, &client, &code).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_newer_link_or_a_password_change_voids_older_links() {
    let s = support::start().await;
    let user = s.create_user("links@example.com", PASSWORD).await;
    let first = reset_link(&s, "links@example.com").await;
    let second = reset_link(&s, "links@example.com").await;
    let (status, _) = reset_with(&s, &first, "Older-Link-Pass-1").await;
    assert_eq!(status, 401, "the older link is void");
    let (status, done) = reset_with(&s, &second, "Newer-Link-Pass-2").await;
    assert_eq!((status, done["status"].as_str()), (200, Some("SUCCESS")));

    // A link sent before the password was changed some other way (here by an admin) is void.
    let third = reset_link(&s, "links@example.com").await;
    let res = s
        .admin_post(&format!("/api/v1/users/{}", user["id"].as_str().unwrap()))
        .json(&json!({ "credentials": { "password": { "value": "Admin-Set-Pass-3" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = reset_with(&s, &third, "Late-Link-Pass-4").await;
    assert_eq!(status, 401);
    assert_eq!(
        s.authn("links@example.com", "Admin-Set-Pass-3")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_transaction_begun_before_a_password_change_cannot_finish_after_it() {
    let s = support::start().await;
    let user = s.create_user("midway@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/expire_password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tx: Value = s
        .authn("midway@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tx["status"], "PASSWORD_EXPIRED", "{tx}");
    // Meanwhile an admin sets a password (the account was compromised, say).
    let res = s
        .admin_post(&format!("/api/v1/users/{id}"))
        .json(&json!({ "credentials": { "password": { "value": "Admin-Chosen-9" } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = post_json(
        &s,
        "/api/v1/authn/credentials/change_password",
        json!({ "stateToken": tx["stateToken"], "oldPassword": PASSWORD,
                "newPassword": "Attacker-Pick-1" }),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errorCode"], "E0000011");
    // The legitimate path: a transaction begun now completes.
    let (status, _) = post_json(
        &s,
        "/api/v1/authn",
        json!({ "username": "midway@example.com", "password": "Admin-Chosen-9" }),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_recovery_links_holder_cannot_guess_the_security_answer_without_limit() {
    let s = support::start_with(|c| c.max_failed_attempts = 100).await;
    s.create_user("guarded@example.com", PASSWORD).await;
    let (_, tx) = post_json(
        &s,
        "/api/v1/authn",
        json!({ "username": "guarded@example.com", "password": PASSWORD,
                "options": { "multiOptionalFactorEnroll": true } }),
    )
    .await;
    let (status, _) = post_json(
        &s,
        "/api/v1/authn/factors",
        json!({ "stateToken": tx["stateToken"], "factorType": "question", "provider": "OKTA",
                "profile": { "question": "disliked_food", "answer": "Brussels sprouts" } }),
    )
    .await;
    assert_eq!(status, 200);
    let answer = |st: String, a: &'static str| {
        let s = &s;
        async move {
            post_json(
                s,
                "/api/v1/authn/recovery/answer",
                json!({ "stateToken": st, "answer": a }),
            )
            .await
        }
    };
    let recovery = |link: String| {
        let s = &s;
        async move {
            let (_, tx) = post_json(
                s,
                "/api/v1/authn/recovery/token",
                json!({ "recoveryToken": link }),
            )
            .await;
            assert_eq!(tx["status"], "RECOVERY", "{tx}");
            tx["stateToken"].as_str().unwrap().to_owned()
        }
    };
    let st = recovery(reset_link(&s, "guarded@example.com").await).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(answer(st.clone(), "kale").await.0);
    }
    assert_eq!(
        statuses,
        [403, 403, 403, 403, 401],
        "five tries, then the link is spent"
    );
    let (status, _) = answer(st, "brussels sprouts").await;
    assert_eq!(
        status, 401,
        "even the right answer is too late on that link"
    );
    // A new link, and the right answer, work.
    let st = recovery(reset_link(&s, "guarded@example.com").await).await;
    let (status, reset) = answer(st, "brussels sprouts").await;
    assert_eq!(
        (status, reset["status"].as_str()),
        (200, Some("PASSWORD_RESET"))
    );
}

#[tokio::test]
async fn replacing_a_client_keeps_its_secret_and_what_it_is() {
    let s = support::start().await;
    let reg: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "HMAC", "application_type": "service",
            "token_endpoint_auth_method": "client_secret_jwt" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let creds = (
        id.clone(),
        reg["client_secret"].as_str().unwrap().to_owned(),
    );
    let put = |body: Value| {
        let s = &s;
        let id = id.clone();
        async move {
            s.client
                .put(s.url(&format!("/oauth2/v1/clients/{id}")))
                .header("authorization", format!("SSWS {}", support::ADMIN_TOKEN))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Renamed, with the rest left out: still a service that signs with the same secret.
    let res = put(json!({ "client_name": "HMAC renamed" })).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client_name"], "HMAC renamed");
    assert_eq!(body["application_type"], "service");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_jwt");
    assert!(body.get("client_secret").is_none(), "no new secret: {body}");
    crate::secrets_at_rest::hmac_client_gets_a_token(&s, &creds).await;
    // A replacement without the client's name is not a replacement.
    let res = put(json!({ "grant_types": ["client_credentials"] })).await;
    assert_eq!(res.status(), 400);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"], "invalid_client_metadata", "{e}");
}

#[tokio::test]
async fn a_planted_csrf_cookie_is_not_accepted() {
    let s = support::start().await;
    s.create_user("planted@example.com", PASSWORD).await;
    // Someone who can set cookies for this host (a sibling subdomain, plain http) plants a
    // token of their own and submits a form that carries it.
    let planted = "Planted0123456789abcdefghijklmnopqrstuvwxyz";
    let res = s
        .client
        .post(s.url("/login"))
        .header("cookie", format!("pc_csrf={planted}"))
        .form(&[
            ("csrf", planted),
            ("username", "planted@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(support::set_cookie(&res, "sid").is_none());
    // The page replaces a cookie it did not mint; with its own token the form works.
    let res = s
        .client
        .get(s.url("/login"))
        .header("cookie", format!("pc_csrf={planted}"))
        .send()
        .await
        .unwrap();
    let minted = support::set_cookie(&res, "pc_csrf").expect("a fresh cookie");
    let minted = minted.split(';').next().unwrap().to_owned();
    assert!(!minted.contains(planted));
    let csrf = csrf_field(&res.text().await.unwrap());
    let res = s
        .client
        .post(s.url("/login"))
        .header("cookie", minted)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "planted@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(support::set_cookie(&res, "sid").is_some());
}

#[tokio::test]
async fn a_form_value_taken_from_another_flow_is_refused() {
    let s = support::start().await;
    s.create_user("flows@example.com", PASSWORD).await;
    let first = "/oauth2/v1/authorize?client_id=first&state=1";
    let other = "/oauth2/v1/authorize?client_id=other&state=2";
    let page = |path: String, cookie: Option<String>| {
        let s = &s;
        async move {
            let mut req = s.client.get(s.url(&path));
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            req.send().await.unwrap()
        }
    };
    let res = page(format!("/login?fromURI={}", urlencoding(first)), None).await;
    let cookie = support::set_cookie(&res, "pc_csrf").expect("a CSRF cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let for_first = csrf_field(&res.text().await.unwrap());
    // The same browser's form of the password-reset page carries another value.
    let res = page("/signin/forgot-password".to_owned(), Some(cookie.clone())).await;
    let for_reset = csrf_field(&res.text().await.unwrap());
    assert_ne!(for_first, for_reset);
    // The cookie alone is no longer what a form carries.
    let plain = cookie.split_once('=').unwrap().1.to_owned();

    let sign_in = |csrf: String, from: &'static str| {
        let (s, cookie) = (&s, cookie.clone());
        async move {
            s.client
                .post(s.url("/login"))
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", "flows@example.com"),
                    ("password", PASSWORD),
                    ("from_uri", from),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    for (csrf, from) in [
        (for_first.clone(), other),
        (for_reset, first),
        (plain, first),
    ] {
        let res = sign_in(csrf, from).await;
        assert_eq!(res.status(), 403);
        assert!(support::set_cookie(&res, "sid").is_none());
    }
    // The value of the form it was rendered in works.
    let res = sign_in(for_first, first).await;
    assert_eq!(res.status(), 303);
    assert!(support::set_cookie(&res, "sid").is_some());
}
