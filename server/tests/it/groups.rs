//! Groups API: CRUD, members both ways, and a group that requires MFA for its members.

use crate::support::{self, ADMIN_TOKEN, PASSWORD, TestServer};
use serde_json::{Value, json};

async fn create_group(s: &TestServer, name: &str, mfa: Option<&str>) -> Value {
    let mut profile = json!({ "name": name, "description": "test group" });
    if let Some(m) = mfa {
        profile["mfaEnrollment"] = json!(m);
    }
    let res = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": profile }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn groups_crud_and_members() {
    let s = support::start().await;
    let g = create_group(&s, "Engineering", None).await;
    let gid = g["id"].as_str().unwrap();
    assert!(gid.starts_with("00g"));
    assert_eq!(g["type"], "OKTA_GROUP");
    assert_eq!(g["profile"]["name"], "Engineering");

    let dup = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "engineering" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 400);

    let user = s.create_user("member@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    assert_eq!(
        s.admin(
            reqwest::Method::PUT,
            &format!("/api/v1/groups/{gid}/users/{uid}")
        )
        .await
        .status(),
        204
    );
    let members: Vec<Value> = s
        .admin(reqwest::Method::GET, &format!("/api/v1/groups/{gid}/users"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["id"], uid);
    let of_user: Vec<Value> = s
        .admin(reqwest::Method::GET, &format!("/api/v1/users/{uid}/groups"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(of_user[0]["id"], gid);

    let renamed = s
        .client
        .put(s.url(&format!("/api/v1/groups/{gid}")))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .json(&json!({ "profile": { "name": "Platform", "description": "renamed" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        renamed.json::<Value>().await.unwrap()["profile"]["name"],
        "Platform"
    );
    let found: Vec<Value> = s
        .admin_get("/api/v1/groups?q=plat")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    assert_eq!(
        s.admin(reqwest::Method::DELETE, &format!("/api/v1/groups/{gid}"))
            .await
            .status(),
        204
    );
    let of_user: Vec<Value> = s
        .admin(reqwest::Method::GET, &format!("/api/v1/users/{uid}/groups"))
        .await
        .json()
        .await
        .unwrap();
    assert!(of_user.is_empty(), "memberships go with the group");
    assert_eq!(
        s.admin(reqwest::Method::GET, &format!("/api/v1/groups/{gid}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        s.admin(
            reqwest::Method::PUT,
            &format!("/api/v1/groups/{gid}/users/{uid}")
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn a_group_can_require_mfa_for_its_members_only() {
    let s = support::start().await;
    let g = create_group(&s, "Admins", Some("REQUIRED")).await;
    let gid = g["id"].as_str().unwrap();
    let admin_user = s.create_user("boss@example.com", PASSWORD).await;
    s.create_user("staff@example.com", PASSWORD).await;
    let uid = admin_user["id"].as_str().unwrap();
    s.admin(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{gid}/users/{uid}"),
    )
    .await;

    let boss: Value = s
        .authn("boss@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(boss["status"], "MFA_ENROLL");
    assert_eq!(boss["_embedded"]["factors"][0]["enrollment"], "REQUIRED");
    let staff: Value = s
        .authn("staff@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff["status"], "SUCCESS");

    let bad = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "X", "mfaEnrollment": "SOMETIMES" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
