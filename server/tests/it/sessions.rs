//! Sessions API: a session token redeemed for a session (admin), the browser's own session by
//! cookie (`/sessions/me`), refresh and close.

use crate::support::{self, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn a_session_token_becomes_a_session_once_and_admins_manage_it() {
    let s = support::start().await;
    let user = s.create_user("sess@example.com", PASSWORD).await;
    let token = s.session_token("sess@example.com").await;
    let res = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(session["userId"], user["id"]);
    assert_eq!(session["login"], "sess@example.com");
    assert_eq!(session["status"], "ACTIVE");
    assert_eq!(session["amr"], json!(["pwd"]));

    let again = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "a session token is good once");

    let read = s
        .admin_get(&format!("/api/v1/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let refreshed = s
        .admin_post(&format!("/api/v1/sessions/{id}/lifecycle/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let closed = s
        .admin_delete(&format!("/api/v1/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 204);
    let gone = s
        .admin_get(&format!("/api/v1/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(gone.json::<Value>().await.unwrap()["errorCode"], "E0000007");
}

#[tokio::test]
async fn sessions_me_follows_the_cookie_until_it_is_closed() {
    let s = support::start().await;
    s.create_user("me@example.com", PASSWORD).await;
    let none = s
        .browser
        .get(s.url("/api/v1/sessions/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    let token = s.session_token("me@example.com").await;
    let redirect = s
        .browser
        .get(s.url(&format!(
            "/login/sessionCookieRedirect?token={token}&redirectUrl={}",
            s.url("/login")
        )))
        .send()
        .await
        .unwrap();
    assert!(redirect.status().is_redirection());

    let me: Value = s
        .browser
        .get(s.url("/api/v1/sessions/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], "me@example.com");
    assert_eq!(me["_links"]["self"]["href"], s.url("/api/v1/sessions/me"));
    let refreshed = s
        .browser
        .post(s.url("/api/v1/sessions/me/lifecycle/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);

    let closed = s
        .browser
        .delete(s.url("/api/v1/sessions/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 204);
    let after = s
        .browser
        .get(s.url("/api/v1/sessions/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn sessions_me_allows_credentialed_cors_from_trusted_origins_only() {
    let s = support::start().await;
    s.trust_origin("http://localhost:4100", &["CORS"]).await;
    for (origin, allowed) in [
        ("http://localhost:4100", true),
        ("http://elsewhere.example", false),
    ] {
        let res = s
            .client
            .request(reqwest::Method::OPTIONS, s.url("/api/v1/sessions/me"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "DELETE")
            .send()
            .await
            .unwrap();
        let echoed = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(echoed.as_deref() == Some(origin), allowed, "{origin}");
    }
}

/// A confidential client that may use the password grant, and a refresh token for `login`.
async fn refresh_token_of(s: &support::TestServer, login: &str) -> (String, String, String) {
    let c: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "Ops", "redirect_uris": ["http://localhost:8080/cb"],
            "grant_types": ["authorization_code", "password", "refresh_token"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    );
    let tokens: Value = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", login),
            ("password", PASSWORD),
            ("scope", "openid offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (id, secret, refresh)
}

async fn refresh_works(
    s: &support::TestServer,
    (id, secret, token): &(String, String, String),
) -> bool {
    s.client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test]
async fn an_admin_ends_every_session_of_a_person_and_optionally_their_tokens() {
    let s = support::start().await;
    let user = s.create_user("breached@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap().to_owned();
    let other = s.create_user("bystander@example.com", PASSWORD).await;
    let _ = other;
    // Two sessions, an unspent session token, a bystander's session and a refresh token.
    let mut sessions = Vec::new();
    for login in [
        "breached@example.com",
        "breached@example.com",
        "bystander@example.com",
    ] {
        let token = s.session_token(login).await;
        let session: Value = s
            .admin_post("/api/v1/sessions")
            .json(&json!({ "sessionToken": token }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sessions.push(session["id"].as_str().unwrap().to_owned());
    }
    let unspent = s.session_token("breached@example.com").await;
    let grant = refresh_token_of(&s, "breached@example.com").await;
    let end = |query: &str| {
        s.admin_delete(&format!("/api/v1/users/{uid}/sessions{query}"))
            .send()
    };
    assert_eq!(end("").await.unwrap().status(), 204);
    let status_of = |id: String| {
        let s = &s;
        async move {
            s.admin_get(&format!("/api/v1/sessions/{id}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status_of(sessions[0].clone()).await, 404);
    assert_eq!(status_of(sessions[1].clone()).await, 404);
    assert_eq!(
        status_of(sessions[2].clone()).await,
        200,
        "others keep theirs"
    );
    let res = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": unspent }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "a session token from before opens nothing"
    );
    assert!(
        refresh_works(&s, &grant).await,
        "without oauthTokens, tokens stay"
    );
    // Signing in again works at once.
    let fresh = s.session_token("breached@example.com").await;
    let res = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": fresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let grant = refresh_token_of(&s, "breached@example.com").await;
    assert_eq!(end("?oauthTokens=true").await.unwrap().status(), 204);
    assert!(
        !refresh_works(&s, &grant).await,
        "oauthTokens=true revokes refresh tokens"
    );

    let res = s
        .admin_delete("/api/v1/users/00uNOBODY/sessions")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000007");
    let res = s
        .client
        .delete(s.url(&format!("/api/v1/users/{uid}/sessions")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "admins only");
}
