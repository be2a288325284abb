//! The user schema API: custom attributes declared, then kept, checked, searched and removed.

use crate::support::{self, TestServer};
use serde_json::{Value, json};

async fn declare(s: &TestServer, properties: Value) -> (u16, Value) {
    let res = s
        .admin_post("/api/v1/meta/schemas/user/default")
        .json(
            &json!({ "definitions": { "custom": { "id": "#custom", "type": "object",
                                                     "properties": properties } } }),
        )
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn create(s: &TestServer, login: &str, extra: Value) -> (u16, Value) {
    let mut profile = json!({ "login": login, "email": login, "firstName": "C", "lastName": "A" });
    for (k, v) in extra.as_object().unwrap() {
        profile[k] = v.clone();
    }
    let res = s
        .admin_post("/api/v1/users?activate=false")
        .json(&json!({ "profile": profile }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn causes(e: &Value) -> String {
    e["errorCauses"].to_string()
}

#[tokio::test]
async fn custom_attributes_are_declared_kept_checked_searched_and_removed() {
    let s = support::start().await;
    let schema: Value = s
        .admin_get("/api/v1/meta/schemas/user/default")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        schema["definitions"]["base"]["properties"]["login"]["required"],
        true
    );
    assert!(schema["definitions"]["base"]["properties"]["employeeNumber"].is_object());
    assert_eq!(schema["definitions"]["custom"]["properties"], json!({}));

    let (status, schema) = declare(
        &s,
        json!({
            "twitterUserName": { "title": "Twitter username", "type": "string", "maxLength": 20 },
            "costTier": { "title": "Cost tier", "type": "string", "enum": ["gold", "silver"] },
        }),
    )
    .await;
    assert_eq!(status, 200, "{schema}");
    assert_eq!(
        schema["definitions"]["custom"]["properties"]["twitterUserName"]["maxLength"],
        20
    );

    let (status, user) = create(
        &s,
        "cust@example.com",
        json!({ "twitterUserName": "@cust", "costTier": "gold" }),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["profile"]["twitterUserName"], "@cust");
    let (status, e) = create(
        &s,
        "long@example.com",
        json!({ "twitterUserName": "x".repeat(21) }),
    )
    .await;
    assert_eq!((status, e["errorCode"].as_str()), (400, Some("E0000001")));
    assert!(causes(&e).contains("twitterUserName"), "{e}");
    let (status, e) = create(&s, "tier@example.com", json!({ "costTier": "bronze" })).await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("gold, silver"), "{e}");

    let found: Vec<Value> = s
        .admin_get("/api/v1/users?search=profile.twitterUserName%20eq%20%22%40CUST%22")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], user["id"]);

    let (status, e) = declare(&s, json!({ "age": { "title": "Age", "type": "integer" } })).await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("integer"), "{e}");
    let (status, _) = declare(
        &s,
        json!({ "title": { "title": "Title", "type": "string" } }),
    )
    .await;
    assert_eq!(status, 400, "a base property cannot be redeclared");

    // Required: a new profile without it is refused.
    let (status, _) = declare(
        &s,
        json!({ "badge": { "title": "Badge", "type": "string", "required": true } }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, e) = create(&s, "nobadge@example.com", json!({})).await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("badge"), "{e}");

    // Removed: no longer accepted, nor searched.
    let (status, schema) = declare(&s, json!({ "twitterUserName": null, "badge": null })).await;
    assert_eq!(status, 200);
    assert!(schema["definitions"]["custom"]["properties"]["twitterUserName"].is_null());
    let (status, e) = create(
        &s,
        "late@example.com",
        json!({ "twitterUserName": "@late" }),
    )
    .await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("not defined"), "{e}");
    let res = s
        .admin_get("/api/v1/users?search=profile.twitterUserName%20pr")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The user who held it can still be changed; what they held is let go.
    let res = s
        .admin_post(&format!("/api/v1/users/{}", user["id"].as_str().unwrap()))
        .json(&json!({ "profile": { "costTier": "silver" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["profile"]["costTier"], "silver");
    assert!(changed["profile"]["twitterUserName"].is_null());
}
