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
    // Some factor, the person's pick: each is offered, none skippable.
    assert_eq!(boss["_embedded"]["factors"][0]["enrollment"], "OPTIONAL");
    assert!(boss["_links"].get("skip").is_none());
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

/// Okta's `search` and `filter` on groups: by name, description, type and times; a filter on
/// what only a search may name, or a malformed one, is 400 E0000031.
#[tokio::test]
async fn groups_are_found_by_search_and_filter() {
    let s = support::start().await;
    let eng = create_group(&s, "Engineering", None).await;
    let sales: Value = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "Sales team", "description": "They sell" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = |query: String| {
        let s = &s;
        async move {
            let res = s
                .admin_get(&format!("/api/v1/groups?{query}"))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            let mut ids: Vec<String> = body
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|g| g["id"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            (status, ids, body)
        }
    };
    let enc = |t: &str| url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    let (eng, sales) = (
        eng["id"].as_str().unwrap().to_owned(),
        sales["id"].as_str().unwrap().to_owned(),
    );
    let mut both = vec![eng.clone(), sales.clone()];
    both.sort();
    assert_eq!(
        found(format!("search={}", enc(r#"profile.name sw "ENG""#)))
            .await
            .1,
        vec![eng.clone()]
    );
    assert_eq!(
        found(format!(
            "search={}",
            enc(r#"profile.description co "sell""#)
        ))
        .await
        .1,
        vec![sales.clone()]
    );
    assert_eq!(
        found(format!("filter={}", enc(r#"type eq "OKTA_GROUP""#)))
            .await
            .1,
        both
    );
    assert_eq!(
        found(format!(
            "search={}",
            enc(r#"lastUpdated gt "2020-01-01T00:00:00.000Z" and not (profile.description co "SELL")"#)
        ))
        .await
        .1,
        [eng]
    );
    for bad in [
        r#"filter=profile.name%20eq%20%22Sales%20team%22"#,
        "search=profile.name%20eq",
    ] {
        let (status, _, body) = found(bad.to_owned()).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["errorCode"], "E0000031", "{bad}");
    }
}
