//! Many parallel requests against one record: whatever they do, the outcome is that of some
//! serial order. Each test fires its requests at once from many tasks over real HTTP.

use crate::mfa::{enroll_totp, href, post, required_mfa_server};
use crate::support::{self, PASSWORD, TestServer, all_at_once, step_now};
use portcullis::authn::factors::totp_code;
use serde_json::{Value, json};
use std::sync::Arc;

/// Raised limits: these tests are about the store, not the rate limiter.
async fn unlimited() -> TestServer {
    support::start_with(|c| {
        c.rate_limit_per_ip = 100_000;
        c.rate_limit_per_user = 100_000;
        c.hash_pool.queue = 256;
    })
    .await
}

async fn user_status(s: &TestServer, id: &str) -> String {
    let user: Value = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    user["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_all_count_and_lock_the_account() {
    let s = Arc::new(unlimited().await);
    let user = s.create_user("burst@example.com", PASSWORD).await;
    let codes = all_at_once(24, |i| {
        let s = s.clone();
        async move {
            s.authn("burst@example.com", &format!("Wrong-Guess-{i}"))
                .await
                .status()
                .as_u16()
        }
    })
    .await;
    assert!(codes.iter().all(|c| *c == 401), "{codes:?}");
    let id = user["id"].as_str().unwrap();
    assert_eq!(user_status(&s, id).await, "LOCKED_OUT");
    assert_eq!(
        s.authn("burst@example.com", PASSWORD).await.status(),
        401,
        "the right password does not open a locked account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deactivation_during_sign_ins_is_not_undone() {
    let s = Arc::new(unlimited().await);
    let user = s.create_user("leaver@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let signing_in = {
        let s = s.clone();
        tokio::spawn(async move {
            all_at_once(12, |i| {
                let s = s.clone();
                async move {
                    // Wrong and right passwords mixed: both paths write the user record.
                    let pw = if i % 2 == 0 {
                        PASSWORD
                    } else {
                        "Not-The-One-1"
                    };
                    let res = s.authn("leaver@example.com", pw).await;
                    let body: Value = res.json().await.unwrap();
                    body["sessionToken"].as_str().map(str::to_owned)
                }
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let res = s
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/users/{id}/lifecycle/deactivate"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens: Vec<String> = signing_in.await.unwrap().into_iter().flatten().collect();
    assert_eq!(user_status(&s, &id).await, "DEPROVISIONED");
    // A session token issued before the deactivation opens no session after it.
    for token in tokens {
        let res = s
            .admin_post("/api/v1/sessions")
            .json(&json!({ "sessionToken": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "a deactivated user got a session");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000004", "{body}");
    }
    assert_eq!(s.authn("leaver@example.com", PASSWORD).await.status(), 401);
}

/// Signs in `n` times and returns each transaction's state token and verify link.
async fn waiting_for_mfa(s: &TestServer, login: &str, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (status, tx) = post(
            s,
            &s.url("/api/v1/authn"),
            json!({ "username": login, "password": PASSWORD }),
        )
        .await;
        assert_eq!(status, 200, "{tx}");
        assert_eq!(tx["status"], "MFA_REQUIRED");
        out.push((
            tx["stateToken"].as_str().unwrap().to_owned(),
            href(&tx["_embedded"]["factors"][0], "/_links/verify/href"),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_totp_code_is_spent_once_across_parallel_sign_ins() {
    let s = Arc::new(required_mfa_server().await);
    s.create_user("twice@example.com", PASSWORD).await;
    let secret = enroll_totp(&s, "twice@example.com").await;
    let pending = Arc::new(waiting_for_mfa(&s, "twice@example.com", 12).await);
    let code = totp_code(&secret, step_now() + 1).unwrap();
    let results = all_at_once(pending.len(), |i| {
        let s = s.clone();
        let pending = pending.clone();
        let code = code.clone();
        async move {
            let (token, verify) = &pending[i];
            post(&s, verify, json!({ "stateToken": token, "passCode": code })).await
        }
    })
    .await;
    let succeeded = results
        .iter()
        .filter(|(_, body)| body["status"] == "SUCCESS")
        .count();
    assert_eq!(succeeded, 1, "{results:?}");
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert!(
            body["status"] == "SUCCESS" || body["factorResult"] == "PASSCODE_REPLAYED",
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_state_token_completes_once() {
    // A security question: its answer can be given any number of times, so only the
    // transaction itself decides which of the parallel verifications completes it.
    let s = Arc::new(unlimited().await);
    let user = s.create_user("once@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}/factors"))
        .json(&json!({ "factorType": "question", "provider": "OKTA",
                       "profile": { "question": "disliked_food", "answer": "Cold porridge" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (token, verify) = waiting_for_mfa(&s, "once@example.com", 1).await.remove(0);
    let results = all_at_once(8, |_| {
        let s = s.clone();
        let (token, verify) = (token.clone(), verify.clone());
        async move {
            post(
                &s,
                &verify,
                json!({ "stateToken": token, "answer": "cold porridge" }),
            )
            .await
        }
    })
    .await;
    let completed = results
        .iter()
        .filter(|(_, body)| body["sessionToken"].is_string())
        .count();
    assert_eq!(completed, 1, "{results:?}");
    for (status, body) in &results {
        assert!(
            *status == 200 || body["errorCode"] == "E0000011" || body["errorCode"] == "E0000079",
            "{status} {body}"
        );
    }
}
