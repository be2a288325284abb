//! The System Log (`/api/v1/logs`): sign-ins, their failures, lockouts, MFA, token grants and
//! admin changes are recorded in Okta's LogEvent shape, filtered, searched and polled.

use crate::support::{self, ADMIN_TOKEN, PASSWORD, TestServer};
use serde_json::{Value, json};

/// A page of the log and its `next` link.
async fn logs(s: &TestServer, query: &str) -> (Vec<Value>, Option<String>) {
    let res = s
        .admin_get(&format!("/api/v1/logs?{query}"))
        .header("User-Agent", "log-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{query}");
    let next = support::next_link(&res);
    (res.json().await.unwrap(), next)
}

fn enc(t: &str) -> String {
    url::form_urlencoded::byte_serialize(t.as_bytes()).collect()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sign_ins_failures_lockouts_and_admin_changes_are_in_the_log() {
    let s = support::start_with(|c| c.max_failed_attempts = 2).await;
    let user = s.create_user("logged@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let ok = s
        .client
        .post(s.url("/api/v1/authn"))
        .header("User-Agent", "signer/2.0")
        .json(&json!({ "username": "logged@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for _ in 0..2 {
        let res = s.authn("logged@example.com", "wrong-Passw0rd").await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        s.authn("nobody@example.com", "wrong-Passw0rd")
            .await
            .status(),
        401
    );

    let (all, _) = logs(&s, "").await;
    let seen = types(&all);
    assert!(
        seen.contains(&"user.lifecycle.create".to_owned()),
        "{seen:?}"
    );
    let start = all
        .iter()
        .find(|e| e["eventType"] == "user.session.start" && e["outcome"]["result"] == "SUCCESS")
        .expect("a successful sign-in");
    assert_eq!(start["actor"]["id"], id.as_str());
    assert_eq!(start["actor"]["alternateId"], "logged@example.com");
    assert_eq!(start["client"]["userAgent"]["rawUserAgent"], "signer/2.0");
    assert_eq!(start["client"]["ipAddress"], "127.0.0.1");
    assert_eq!(start["version"], "0");
    assert!(start["uuid"].as_str().unwrap().len() == 36);
    assert!(start["transaction"]["id"].is_string());
    assert_eq!(
        start["debugContext"]["debugData"]["requestUri"],
        "/api/v1/authn"
    );

    let failures = format!(
        "filter={}",
        enc(r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#)
    );
    let (failed, _) = logs(&s, &failures).await;
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["outcome"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "UNKNOWN_USER"]
    );
    let (locks, _) = logs(
        &s,
        &format!("filter={}", enc(r#"eventType eq "user.account.lock""#)),
    )
    .await;
    assert_eq!(locks.len(), 1);
    assert_eq!(locks[0]["actor"]["id"], id.as_str());

    // An admin change names its target and its actor (the bootstrap token acts as Portcullis).
    let unlocked = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 200);
    let (admin, _) = logs(
        &s,
        &format!("filter={}", enc(&format!(r#"target.id eq "{id}""#))),
    )
    .await;
    let unlock = admin
        .iter()
        .find(|e| e["eventType"] == "user.account.unlock_by_admin")
        .expect("the unlock");
    assert_eq!(unlock["actor"]["type"], "SystemPrincipal");
    assert_eq!(unlock["target"][0]["type"], "User");

    // Keywords, newest first, and a bad filter.
    let (words, _) = logs(&s, "q=UNKNOWN_USER").await;
    assert_eq!(words.len(), 1);
    let (newest, _) = logs(&s, "sortOrder=DESCENDING&limit=1").await;
    assert_eq!(newest[0]["eventType"], "user.account.unlock_by_admin");
    let bad = s
        .admin_get("/api/v1/logs?filter=eventType%20eq")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["errorCode"], "E0000053");
}

/// Okta's polling: a request without `until` always has a `next` link, even on an empty page,
/// and following it yields only what happened since.
#[tokio::test]
async fn the_log_is_polled_through_its_next_link() {
    let s = support::start().await;
    s.create_user("poll1@example.com", PASSWORD).await;
    let (first, next) = logs(&s, "limit=1000").await;
    assert!(!first.is_empty());
    let always = "a polling page always has a next link";
    let mut url = next.expect(always);
    let poll = |url: String| {
        let s = &s;
        async move {
            let res = s
                .client
                .get(&url)
                .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
                .send()
                .await
                .unwrap();
            let next = support::next_link(&res);
            let events: Vec<Value> = res.json().await.unwrap();
            (events, next)
        }
    };
    let (empty, next) = poll(url.clone()).await;
    assert!(empty.is_empty(), "nothing new yet");
    url = next.expect(always);
    s.create_user("poll2@example.com", PASSWORD).await;
    let (fresh, _) = poll(url).await;
    assert_eq!(types(&fresh), ["user.lifecycle.create"]);
}
