//! Rate limits on the Authentication API: per client address and per username.

use crate::support::{self, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn too_many_attempts_for_one_username_are_refused_with_okta_headers() {
    // The attempts below must fall in one rate-limit window.
    crate::support::early_in_a_minute(20).await;
    let s = support::start_with(|c| c.rate_limit_per_user = 3).await;
    s.create_user("busy@example.com", PASSWORD).await;
    for i in 0..3 {
        let res = s.authn("busy@example.com", "Wrong-Password-1").await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = s.authn("BUSY@example.com", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-rate-limit-limit"], "3");
    assert_eq!(res.headers()["x-rate-limit-remaining"], "0");
    let reset: i64 = res.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(reset > now && reset <= now + 60, "{reset} vs {now}");
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000047");
    // Other people are not held up by one busy username.
    s.create_user("calm@example.com", PASSWORD).await;
    assert_eq!(s.authn("calm@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn too_many_requests_from_one_address_are_refused() {
    // The attempts below must fall in one rate-limit window.
    crate::support::early_in_a_minute(20).await;
    let s = support::start_with(|c| c.rate_limit_per_ip = 4).await;
    let mut last = 0;
    for i in 0..5 {
        let res = s
            .client
            .post(s.url("/api/v1/authn/recovery/password"))
            .json(&json!({ "username": format!("u{i}@example.com") }))
            .send()
            .await
            .unwrap();
        if i < 4 {
            assert_eq!(res.status(), 200);
            assert!(res.headers().contains_key("x-rate-limit-remaining"));
        }
        last = res.status().as_u16();
    }
    assert_eq!(last, 429);
}

/// Sign-ins beyond what the hashing pool runs and queues are answered at once with Okta's
/// rate-limit error; never more hashes run at the same moment than the pool has threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ins_beyond_the_hashing_pool_are_refused_at_once() {
    let s = std::sync::Arc::new(
        support::start_with(|c| {
            c.rate_limit_per_ip = 100_000;
            c.rate_limit_per_user = 100_000;
            c.hash_pool = portcullis::crypto::password::PoolSize {
                workers: 1,
                queue: 1,
            };
        })
        .await,
    );
    s.create_user("crowd@example.com", PASSWORD).await;
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let res = s.authn("crowd@example.com", PASSWORD).await;
                let status = res.status().as_u16();
                let body: serde_json::Value = res.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => assert_eq!(body["status"], "SUCCESS"),
            429 => {
                assert_eq!(body["errorCode"], "E0000047", "{body}");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        refused > 0,
        "12 sign-ins at once into one thread and a queue of one"
    );
    let stats = s.state.hasher.stats();
    assert_eq!(stats.peak_running, 1, "{stats:?}");
    assert_eq!(stats.refused, refused);
}
