//! Apps API: assignment directly and through groups, and clean-up when things are deleted.

use crate::support::{self, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn users_are_assigned_directly_or_through_groups() {
    let s = support::start().await;
    let app: Value = s
        .admin_post("/api/v1/apps")
        .json(&json!({ "name": "oidc_client", "label": "Payroll", "signOnMode": "OPENID_CONNECT" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let aid = app["id"].as_str().unwrap().to_owned();
    assert!(aid.starts_with("0oa"));
    assert_eq!(app["status"], "ACTIVE");

    let alice = s.create_user("alice@example.com", PASSWORD).await;
    let bob = s.create_user("bob@example.com", PASSWORD).await;
    let (alice, bob) = (alice["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let res = s
        .admin_post(&format!("/api/v1/apps/{aid}/users"))
        .json(&json!({ "id": alice }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.admin(
            reqwest::Method::GET,
            &format!("/api/v1/apps/{aid}/users/{alice}")
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        s.admin(
            reqwest::Method::GET,
            &format!("/api/v1/apps/{aid}/users/{bob}")
        )
        .await
        .status(),
        404
    );

    let group: Value = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "Finance" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap();
    s.admin(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{gid}/users/{bob}"),
    )
    .await;
    assert_eq!(
        s.admin(
            reqwest::Method::PUT,
            &format!("/api/v1/apps/{aid}/groups/{gid}")
        )
        .await
        .status(),
        200
    );
    let groups: Vec<Value> = s
        .admin(reqwest::Method::GET, &format!("/api/v1/apps/{aid}/groups"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(groups[0]["id"], gid);

    let delete_active = s
        .admin(reqwest::Method::DELETE, &format!("/api/v1/apps/{aid}"))
        .await;
    assert_eq!(
        delete_active.status(),
        400,
        "an active app cannot be deleted"
    );

    // Unassigning removes the direct assignment only.
    assert_eq!(
        s.admin(
            reqwest::Method::DELETE,
            &format!("/api/v1/apps/{aid}/users/{alice}")
        )
        .await
        .status(),
        204
    );
    let users: Vec<Value> = s
        .admin(reqwest::Method::GET, &format!("/api/v1/apps/{aid}/users"))
        .await
        .json()
        .await
        .unwrap();
    assert!(users.is_empty());
    s.admin(
        reqwest::Method::POST,
        &format!("/api/v1/apps/{aid}/lifecycle/deactivate"),
    )
    .await;
    assert_eq!(
        s.admin(reqwest::Method::DELETE, &format!("/api/v1/apps/{aid}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        s.admin(reqwest::Method::GET, &format!("/api/v1/apps/{aid}"))
            .await
            .status(),
        404
    );
}
