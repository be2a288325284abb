//! Users API breadth: listing with Link pagination, search and filter, profile updates,
//! lifecycle transitions, activation tokens and admin password resets.

use crate::support::{self, ADMIN_TOKEN, PASSWORD, TestServer, next_link};
use serde_json::{Value, json};

async fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let res = s.client.post(s.url(path)).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn listing_pages_with_link_headers_and_searches() {
    let s = support::start().await;
    for i in 0..5 {
        s.create_user(&format!("page{i}@example.com"), PASSWORD)
            .await;
    }
    s.create_user("zed@other.example", PASSWORD).await;
    let mut url = s.url("/api/v1/users?limit=2&q=page");
    let mut logins = Vec::new();
    loop {
        let res = s
            .client
            .get(&url)
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let next = next_link(&res);
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.len() <= 2);
        logins.extend(
            page.iter()
                .map(|u| u["profile"]["login"].as_str().unwrap().to_owned()),
        );
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    logins.sort();
    assert_eq!(
        logins,
        (0..5)
            .map(|i| format!("page{i}@example.com"))
            .collect::<Vec<_>>()
    );

    let id = s
        .admin_get("/api/v1/users/page0@example.com")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.admin_post(&format!("/api/v1/users/{id}/lifecycle/suspend"))
        .send()
        .await
        .unwrap();
    let suspended: Vec<Value> = s
        .admin_get("/api/v1/users?filter=status%20eq%20%22SUSPENDED%22")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(suspended.len(), 1);
    assert_eq!(suspended[0]["id"], id.as_str());
    let bad = s
        .admin_get("/api/v1/users?limit=1000")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn profile_updates_partial_and_full_and_login_renames() {
    let s = support::start().await;
    let user = s.create_user("up@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}"))
        .json(&json!({ "profile": { "firstName": "Updated", "login": "renamed@example.com" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["profile"]["firstName"], "Updated");
    assert_eq!(
        body["profile"]["lastName"], "Person",
        "partial update keeps other fields"
    );
    assert_eq!(s.authn("renamed@example.com", PASSWORD).await.status(), 200);
    assert_eq!(s.authn("up@example.com", PASSWORD).await.status(), 401);

    let res = s
        .client
        .put(s.url(&format!("/api/v1/users/{id}")))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .json(&json!({ "profile": { "login": "renamed@example.com", "email": "renamed@example.com" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        400,
        "PUT replaces the profile: names are required"
    );
}

#[tokio::test]
async fn suspension_blocks_sign_in_and_ends_sessions() {
    let s = support::start().await;
    let user = s.create_user("sus@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let token = s
        .authn("sus@example.com", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["sessionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let session: Value = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap();
    let (status, _) = post(
        &s,
        &format!("/api/v1/users/{id}/lifecycle/suspend"),
        json!({}),
    )
    .await;
    assert_eq!(status, 401, "lifecycle calls are admin only");
    s.admin_post(&format!("/api/v1/users/{id}/lifecycle/suspend"))
        .send()
        .await
        .unwrap();
    assert_eq!(s.authn("sus@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        s.admin_get(&format!("/api/v1/sessions/{sid}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let again = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/suspend"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    s.admin_post(&format!("/api/v1/users/{id}/lifecycle/unsuspend"))
        .send()
        .await
        .unwrap();
    assert_eq!(s.authn("sus@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_provisioned_user_activates_with_the_token_and_chooses_a_password() {
    let s = support::start().await;
    let res = s
        .admin_post("/api/v1/users?activate=false")
        .json(&json!({ "profile": { "login": "new@example.com", "email": "new@example.com", "firstName": "N", "lastName": "U" } }))
        .send()
        .await
        .unwrap();
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let act: Value = s
        .admin_post(&format!(
            "/api/v1/users/{id}/lifecycle/activate?sendEmail=false"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = act["activationToken"].as_str().unwrap();
    assert!(act["activationUrl"].as_str().unwrap().ends_with(token));

    // An activation token is not a recovery token.
    let (status, _) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(status, 401);
    let (status, tx) = post(&s, "/api/v1/authn", json!({ "token": token })).await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "PASSWORD_RESET");
    let (status, done) = post(
        &s,
        "/api/v1/authn/credentials/reset_password",
        json!({ "stateToken": tx["stateToken"], "newPassword": "First-Choice-99" }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
    let user: Value = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "ACTIVE");
    assert!(user["activated"].is_string());
}

#[tokio::test]
async fn admin_reset_password_and_two_step_delete() {
    let s = support::start().await;
    let user = s.create_user("reset@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let reset: Value = s
        .admin_post(&format!(
            "/api/v1/users/{id}/lifecycle/reset_password?sendEmail=false"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = reset["resetPasswordUrl"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(
        s.authn("reset@example.com", PASSWORD).await.status(),
        401,
        "in RECOVERY"
    );
    let (_, tx) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(tx["status"], "PASSWORD_RESET");
    let (status, done) = post(
        &s,
        "/api/v1/authn/credentials/reset_password",
        json!({ "stateToken": tx["stateToken"], "newPassword": "Brand-New-Key-55" }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        s.authn("reset@example.com", "Brand-New-Key-55")
            .await
            .status(),
        200
    );

    let del = |s: &TestServer| {
        s.client
            .delete(s.url(&format!("/api/v1/users/{id}")))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
    };
    assert_eq!(del(&s).await.unwrap().status(), 204);
    let status = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["status"]
        .clone();
    assert_eq!(status, "DEPROVISIONED");
    assert_eq!(del(&s).await.unwrap().status(), 204);
    assert_eq!(
        s.admin_get(&format!("/api/v1/users/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
