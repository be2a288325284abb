//! `POST /api/v1/authn`: success shape, no user enumeration, lockout, one-time session tokens.

use crate::support::{self, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn right_password_gives_success_with_a_session_token() {
    let s = support::start().await;
    let user = s.create_user("ann@example.com", PASSWORD).await;
    let res = s.authn("Ann@Example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "SUCCESS");
    assert!(body["sessionToken"].as_str().unwrap().len() >= 40);
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["_embedded"]["user"]["id"], user["id"]);
    assert_eq!(
        body["_embedded"]["user"]["profile"]["login"],
        "ann@example.com"
    );
    assert!(body.get("stateToken").is_none());
}

#[tokio::test]
async fn unknown_user_and_wrong_password_answer_identically() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("errorId");
        v
    };
    let wrong = s.authn("ann@example.com", "Not-The-Password-1").await;
    assert_eq!(wrong.status(), 401);
    let wrong = strip(wrong.json().await.unwrap());
    let unknown = s.authn("nobody@example.com", "Not-The-Password-1").await;
    assert_eq!(unknown.status(), 401);
    let unknown = strip(unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["errorCode"], "E0000004");
    assert_eq!(wrong["errorSummary"], "Authentication failed");
}

#[tokio::test]
async fn missing_fields_and_bad_json_are_client_errors() {
    let s = support::start().await;
    let res = s
        .client
        .post(s.url("/api/v1/authn"))
        .json(&json!({ "username": "x@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000001");
    let res = s
        .client
        .post(s.url("/api/v1/authn"))
        .header("content-type", "application/json")
        .body("[")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000003");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_until_an_admin_unlocks_it() {
    let s = support::start_with(|c| c.max_failed_attempts = 3).await;
    let user = s.create_user("lock@example.com", PASSWORD).await;
    for _ in 0..3 {
        assert_eq!(
            s.authn("lock@example.com", "Wrong-Password-9")
                .await
                .status(),
            401
        );
    }
    // Locked: even the right password fails, and says nothing more than any failure.
    let res = s.authn("lock@example.com", PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000004");
    let status = s
        .admin_get("/api/v1/users/lock@example.com")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["status"]
        .clone();
    assert_eq!(status, "LOCKED_OUT");

    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.authn("lock@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn session_token_is_redeemed_once_for_a_cookie() {
    let s = support::start().await;
    s.create_user("tok@example.com", PASSWORD).await;
    let body: Value = s
        .authn("tok@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = body["sessionToken"].as_str().unwrap();
    let url = format!(
        "/login/sessionCookieRedirect?token={token}&redirectUrl={}",
        s.url("/login")
    );
    let first = s.client.get(s.url(&url)).send().await.unwrap();
    assert!(first.status().is_redirection());
    assert!(support::set_cookie(&first, "sid").is_some());
    let second = s.client.get(s.url(&url)).send().await.unwrap();
    assert!(second.status().is_redirection());
    assert!(
        support::set_cookie(&second, "sid").is_none(),
        "a token works once"
    );
}

#[tokio::test]
async fn session_cookie_redirect_refuses_untrusted_targets_without_spending_the_token() {
    let s = support::start().await;
    s.create_user("tok2@example.com", PASSWORD).await;
    let body: Value = s
        .authn("tok2@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = body["sessionToken"].as_str().unwrap();
    let evil = s
        .client
        .get(s.url(&format!(
            "/login/sessionCookieRedirect?token={token}&redirectUrl=https://evil.example/steal"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 400);
    assert!(evil.headers().get("location").is_none());

    s.trust_origin("http://localhost:9999", &["REDIRECT"]).await;
    let ok = s
        .client
        .get(s.url(&format!(
            "/login/sessionCookieRedirect?token={token}&redirectUrl=http://localhost:9999/app"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.headers()["location"], "http://localhost:9999/app");
    assert!(support::set_cookie(&ok, "sid").is_some());
}

#[tokio::test]
async fn a_locked_account_answers_locked_out_only_when_the_org_opts_in() {
    let s = support::start_with(|c| {
        c.max_failed_attempts = 2;
        c.show_lockout = true;
    })
    .await;
    s.create_user("shown@example.com", PASSWORD).await;
    assert_eq!(
        s.authn("shown@example.com", "Wrong-Password-1")
            .await
            .status(),
        401
    );
    let res = s.authn("shown@example.com", "Wrong-Password-1").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "LOCKED_OUT");
    assert_eq!(body["_links"]["next"]["name"], "unlock");
    assert!(
        body["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/authn/recovery/unlock")
    );
    // Unknown users still get the generic answer.
    assert_eq!(s.authn("nobody@example.com", PASSWORD).await.status(), 401);
}
