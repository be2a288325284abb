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

    let (status, e) = declare(&s, json!({ "age": { "title": "Age", "type": "object" } })).await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("object"), "{e}");
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

async fn search(s: &TestServer, query: &str) -> (u16, Value) {
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    let res = s
        .admin_get("/api/v1/users")
        .query(&pairs)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn logins(found: &Value) -> Vec<&str> {
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["profile"]["login"].as_str().unwrap())
        .collect()
}

/// Boolean, integer, number and array attributes keep their JSON type through a restart, are
/// refused with the wrong type, and search and sort as their type (9 before 10, not after).
#[tokio::test]
async fn typed_custom_attributes_keep_their_type_and_search_and_sort_by_it() {
    let s = support::start().await;
    let (status, schema) = declare(
        &s,
        json!({
            "age": { "title": "Age", "type": "integer", "minimum": 0, "maximum": 150 },
            "contractor": { "title": "Contractor", "type": "boolean" },
            "score": { "title": "Score", "type": "number" },
            "tags": { "title": "Tags", "type": "array",
                      "items": { "type": "string", "enum": ["red", "blue", "green"] } },
            "floors": { "title": "Floors", "type": "array", "items": { "type": "integer" } },
        }),
    )
    .await;
    assert_eq!(status, 200, "{schema}");
    let custom = &schema["definitions"]["custom"]["properties"];
    assert_eq!(custom["age"]["type"], "integer");
    assert_eq!(custom["age"]["maximum"], 150);
    assert_eq!(custom["tags"]["items"]["type"], "string");
    assert_eq!(
        custom["tags"]["items"]["enum"],
        json!(["red", "blue", "green"])
    );
    assert_eq!(custom["floors"]["items"]["type"], "integer");

    for (login, age, contractor, score, tags) in [
        ("nine@example.com", 9, true, 2.5, json!(["red"])),
        (
            "ten@example.com",
            10,
            false,
            -1.25,
            json!(["blue", "green"]),
        ),
        ("forty@example.com", 40, true, 100.0, json!(["blue"])),
    ] {
        let (status, user) = create(
            &s,
            login,
            json!({ "age": age, "contractor": contractor, "score": score, "tags": tags,
                    "floors": [1, 2] }),
        )
        .await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["profile"]["age"], age);
    }
    // The wrong type, a value out of range, an element not allowed: each named, nothing kept.
    for (bad, named) in [
        (json!({ "age": "9" }), "age"),
        (json!({ "age": 9.5 }), "age"),
        (json!({ "age": 151 }), "age"),
        (json!({ "contractor": "yes" }), "contractor"),
        (json!({ "score": [1] }), "score"),
        (json!({ "tags": ["purple"] }), "tags"),
        (json!({ "tags": "red" }), "tags"),
        (json!({ "floors": [1, "2"] }), "floors"),
        (json!({ "title": 7 }), "title"),
    ] {
        let (status, e) = create(&s, "bad@example.com", bad.clone()).await;
        assert_eq!(
            (status, e["errorCode"].as_str()),
            (400, Some("E0000001")),
            "{bad}"
        );
        assert!(causes(&e).contains(named), "{bad}: {e}");
    }
    let (_, none) = search(&s, "search=profile.login eq \"bad@example.com\"").await;
    assert_eq!(none, json!([]));

    let s = s.restart().await;
    let (_, found) = search(&s, "search=profile.age gt 9").await;
    let mut adults = logins(&found);
    adults.sort_unstable();
    assert_eq!(adults, ["forty@example.com", "ten@example.com"]);
    let (_, found) = search(&s, "search=profile.age pr&sortBy=profile.age").await;
    assert_eq!(
        logins(&found),
        ["nine@example.com", "ten@example.com", "forty@example.com"]
    );
    assert_eq!(found[0]["profile"]["contractor"], true);
    assert_eq!(found[0]["profile"]["score"], 2.5);
    assert_eq!(found[1]["profile"]["tags"], json!(["blue", "green"]));
    let (_, found) = search(&s, "search=profile.score lt 0").await;
    assert_eq!(logins(&found), ["ten@example.com"]);
    let (_, found) = search(
        &s,
        "search=profile.contractor eq true&sortBy=profile.score&sortOrder=desc",
    )
    .await;
    assert_eq!(logins(&found), ["forty@example.com", "nine@example.com"]);
    let (_, found) = search(&s, "search=profile.tags eq \"BLUE\"&sortBy=profile.age").await;
    assert_eq!(logins(&found), ["ten@example.com", "forty@example.com"]);
    let (_, found) = search(&s, "search=profile.floors eq 2 and profile.age le 9").await;
    assert_eq!(logins(&found), ["nine@example.com"]);
    // What a type cannot do is a 400, not an answer.
    for bad in [
        "search=profile.age sw \"4\"",
        "search=profile.age eq \"old\"",
        "search=profile.contractor gt true",
        "search=profile.contractor eq \"maybe\"",
        "search=profile.tags pr&sortBy=profile.tags",
    ] {
        let (status, e) = search(&s, bad).await;
        assert_eq!(
            (status, e["errorCode"].as_str()),
            (400, Some("E0000031")),
            "{bad}: {e}"
        );
    }

    // A partial update changes one typed value and keeps the others; null clears.
    let (_, found) = search(&s, "search=profile.login eq \"nine@example.com\"").await;
    let id = found[0]["id"].as_str().unwrap().to_owned();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}"))
        .json(&json!({ "profile": { "age": 11, "tags": null } }))
        .send()
        .await
        .unwrap();
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["profile"]["age"], 11);
    assert_eq!(changed["profile"]["contractor"], true);
    assert!(changed["profile"]["tags"].is_null(), "{changed}");
    let (_, found) = search(&s, "search=profile.age lt 10").await;
    assert_eq!(found, json!([]));

    // A declared type does not change under values already held.
    let (status, e) = declare(&s, json!({ "age": { "title": "Age", "type": "string" } })).await;
    assert_eq!(status, 400);
    assert!(causes(&e).contains("cannot change"), "{e}");
}
