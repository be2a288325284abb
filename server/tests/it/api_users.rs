//! Users admin API: Okta's shapes, SSWS auth, validation errors, durability.

use crate::support::{self, ADMIN_TOKEN, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn create_user_returns_okta_shape_without_the_password() {
    let s = support::start().await;
    let res = s
        .admin_post("/api/v1/users?activate=true")
        .json(&json!({
            "profile": { "login": "ann@example.com", "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee" },
            "credentials": { "password": { "value": PASSWORD } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains(PASSWORD),
        "{text}"
    );
    let user: Value = serde_json::from_str(&text).unwrap();
    assert!(user["id"].as_str().unwrap().starts_with("00u"));
    assert_eq!(user["status"], "ACTIVE");
    assert_eq!(user["profile"]["login"], "ann@example.com");
    assert_eq!(user["profile"]["firstName"], "Ann");
    assert_eq!(user["credentials"]["provider"]["type"], "OKTA");
    assert!(user["credentials"]["password"].is_object());
    assert!(user["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        user["_links"]["self"]["href"],
        s.url(&format!("/api/v1/users/{}", user["id"].as_str().unwrap()))
    );
}

#[tokio::test]
async fn admin_api_needs_the_ssws_token() {
    let s = support::start().await;
    for auth in [None, Some("SSWS wrong-token-wrong-token"), Some("Bearer x")] {
        let mut req = s.client.get(s.url("/api/v1/users/anyone"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000011");
    }
    let res = s
        .client
        .get(s.url("/api/v1/users/anyone"))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn get_user_by_id_or_login_and_404_in_okta_shape() {
    let s = support::start().await;
    let created = s.create_user("bo@example.com", PASSWORD).await;
    let id = created["id"].as_str().unwrap();
    for key in [id, "bo@example.com", "BO@example.com"] {
        let res = s
            .admin_get(&format!("/api/v1/users/{key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{key}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["id"], id);
    }
    let res = s.admin_get("/api/v1/users/nobody").send().await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
    assert!(body["errorId"].as_str().is_some());
}

#[tokio::test]
async fn duplicate_login_and_weak_password_are_validation_errors() {
    let s = support::start().await;
    s.create_user("cy@example.com", PASSWORD).await;
    let res = s
        .admin_post("/api/v1/users")
        .json(&json!({
            "profile": { "login": "CY@example.com", "email": "cy@example.com", "firstName": "C", "lastName": "Y" },
            "credentials": { "password": { "value": PASSWORD } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000001");
    assert_eq!(body["errorSummary"], "Api validation failed: login");
    assert!(
        body["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    let res = s
        .admin_post("/api/v1/users")
        .json(&json!({
            "profile": { "login": "dee@example.com", "email": "dee@example.com", "firstName": "D", "lastName": "E" },
            "credentials": { "password": { "value": "short" } }
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let cause = body["errorCauses"][0]["errorSummary"].as_str().unwrap();
    assert!(
        cause.starts_with("password: Password requirements were not met"),
        "{cause}"
    );
}

#[tokio::test]
async fn malformed_json_is_e0000003() {
    let s = support::start().await;
    let res = s
        .admin_post("/api/v1/users")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000003");
}

#[tokio::test]
async fn activation_and_password_decide_the_status() {
    let s = support::start().await;
    let staged = s
        .admin_post("/api/v1/users?activate=false")
        .json(&json!({ "profile": { "login": "st@example.com", "email": "st@example.com", "firstName": "S", "lastName": "T" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(staged.json::<Value>().await.unwrap()["status"], "STAGED");
    let provisioned = s
        .admin_post("/api/v1/users")
        .json(&json!({ "profile": { "login": "pr@example.com", "email": "pr@example.com", "firstName": "P", "lastName": "R" } }))
        .send()
        .await
        .unwrap();
    let body: Value = provisioned.json().await.unwrap();
    assert_eq!(body["status"], "PROVISIONED");
    assert!(body["credentials"].get("password").is_none());
    let bad = s
        .admin_post("/api/v1/users?activate=maybe")
        .json(&json!({ "profile": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn users_survive_a_restart() {
    let s = support::start().await;
    let created = s.create_user("dur@example.com", PASSWORD).await;
    let s = s.restart().await;
    let res = s
        .admin_get("/api/v1/users/dur@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], created["id"]);
    assert_eq!(s.authn("dur@example.com", PASSWORD).await.status(), 200);
}

/// Okta's standard attributes beyond the four required ones are kept, shown, changed and
/// cleared; an attribute the profile does not define is refused by name, never dropped.
#[tokio::test]
async fn every_standard_attribute_is_kept_and_an_unknown_one_is_refused() {
    let s = support::start().await;
    let profile = json!({
        "login": "kim@example.com", "email": "kim@example.com", "firstName": "Kim", "lastName": "Ode",
        "title": "Engineer", "department": "Platform", "mobilePhone": "+33 6 12 34 56 78",
        "employeeNumber": "E-1042", "nickName": "K", "city": "Lyon", "countryCode": "FR",
        "locale": "fr_FR", "timezone": "Europe/Paris", "secondEmail": "kim@home.example",
    });
    let res = s
        .admin_post("/api/v1/users?activate=false")
        .json(&json!({ "profile": profile }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let user: Value = res.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    let s = s.restart().await;
    let read: Value = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (k, v) in profile.as_object().unwrap() {
        assert_eq!(&read["profile"][k], v, "{k} after a restart");
    }

    // A partial update sets one attribute and clears another; the rest stay.
    let res = s
        .admin_post(&format!("/api/v1/users/{id}"))
        .json(&json!({ "profile": { "title": "Staff engineer", "nickName": null } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["profile"]["title"], "Staff engineer");
    assert!(updated["profile"].get("nickName").is_none());
    assert_eq!(updated["profile"]["department"], "Platform");

    // An undeclared attribute, on create or update, is Okta's validation error naming it,
    // and nothing is written.
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/users".to_owned()),
        (reqwest::Method::POST, format!("/api/v1/users/{id}")),
        (reqwest::Method::PUT, format!("/api/v1/users/{id}")),
    ] {
        let res = s
            .client
            .request(method.clone(), s.url(&path))
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .json(&json!({ "profile": {
                "login": "lee@example.com", "email": "lee@example.com", "firstName": "Lee",
                "lastName": "Ray", "favouriteColour": "teal" } }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{method} {path}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["errorCode"], "E0000001");
        let causes = e["errorCauses"].to_string();
        assert!(causes.contains("favouriteColour"), "{causes}");
    }
    let res = s
        .admin_post(&format!("/api/v1/users/{id}"))
        .json(&json!({ "profile": { "title": 7 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let after: Value = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["profile"], updated["profile"]);
    let found: Value = s
        .admin_get("/api/v1/users?q=lee")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().map(Vec::len), Some(0), "{found}");

    // A full replace keeps only what it gives.
    let res = s
        .client
        .put(s.url(&format!("/api/v1/users/{id}")))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .json(
            &json!({ "profile": { "login": "kim@example.com", "email": "kim@example.com",
            "firstName": "Kim", "lastName": "Ode", "city": "Nantes" } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.unwrap();
    assert_eq!(replaced["profile"]["city"], "Nantes");
    assert!(replaced["profile"].get("department").is_none());
}

/// Users created through the API, each with a department, for the search tests.
async fn staff(s: &support::TestServer) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for (login, last, department) in [
        ("ann@example.com", "Lee", "Engineering"),
        ("bob@example.com", "Brown", "Sales"),
        ("cyd@example.com", "Lam", "engineering"),
        ("dee@example.com", "Ashe", "Support"),
        ("eve@example.com", "Lindqvist", "Engineering"),
    ] {
        let res = s
            .admin_post("/api/v1/users?activate=true")
            .json(&json!({ "profile": {
                "login": login, "email": login, "firstName": "X", "lastName": last,
                "department": department,
            }}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let user: Value = res.json().await.unwrap();
        made.push((user["id"].as_str().unwrap().to_owned(), login.to_owned()));
    }
    made
}

/// Every page of `GET url`, following `Link: rel="next"` as Okta's SDKs do, as logins.
async fn every_page(s: &support::TestServer, path_and_query: &str) -> Vec<String> {
    let mut url = s.url(path_and_query);
    let mut logins = Vec::new();
    loop {
        let res = s
            .client
            .get(&url)
            .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let next = support::next_link(&res);
        let page: Vec<Value> = res.json().await.unwrap();
        logins.extend(
            page.iter()
                .map(|u| u["profile"]["login"].as_str().unwrap().to_owned()),
        );
        match next {
            Some(n) => url = n,
            None => return logins,
        }
    }
}

/// Okta's `search`: values without case, `and`/`or`/`sw`/`pr`, pages through `Link`, sorted by
/// `sortBy`; a changed attribute is found by its new value only.
#[tokio::test]
async fn search_finds_exactly_the_users_it_describes() {
    let s = support::start().await;
    let made = staff(&s).await;
    let search = |q: &str| format!("/api/v1/users?limit=2&search={}", urlencode(q));

    let mut found = every_page(&s, &search(r#"profile.department eq "ENGINEERING""#)).await;
    found.sort();
    assert_eq!(
        found,
        ["ann@example.com", "cyd@example.com", "eve@example.com"]
    );
    assert_eq!(
        every_page(&s, &search(r#"profile.email eq "bob@example.com""#)).await,
        ["bob@example.com"]
    );
    let sorted = format!(
        "{}&sortBy=profile.lastName&sortOrder=desc",
        search(r#"profile.lastName sw "l" or profile.department eq "support""#)
    );
    assert_eq!(
        every_page(&s, &sorted).await,
        // Lindqvist, Lee, Lam, Ashe.
        [
            "eve@example.com",
            "ann@example.com",
            "cyd@example.com",
            "dee@example.com"
        ]
    );
    let dated = search(
        r#"status eq "ACTIVE" and created gt "2020-01-01T00:00:00.000Z" and not (profile.department pr)"#,
    );
    assert!(every_page(&s, &dated).await.is_empty());
    assert_eq!(
        every_page(&s, &search(&format!(r#"id eq "{}""#, made[3].0))).await,
        ["dee@example.com"]
    );

    // Moved to Sales: found there, and no longer in Engineering.
    let res = s
        .admin_post(&format!("/api/v1/users/{}", made[0].0))
        .json(&json!({ "profile": { "department": "Sales" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut sales = every_page(&s, &search(r#"profile.department eq "sales""#)).await;
    sales.sort();
    assert_eq!(sales, ["ann@example.com", "bob@example.com"]);
    let mut engineering = every_page(&s, &search(r#"profile.department eq "engineering""#)).await;
    engineering.sort();
    assert_eq!(engineering, ["cyd@example.com", "eve@example.com"]);

    // `filter` compares values with their case, as Okta's does.
    assert_eq!(
        every_page(
            &s,
            &format!(
                "/api/v1/users?filter={}",
                urlencode(r#"profile.lastName eq "Lam""#)
            )
        )
        .await,
        ["cyd@example.com"]
    );
    assert!(
        every_page(
            &s,
            &format!(
                "/api/v1/users?filter={}",
                urlencode(r#"profile.lastName eq "lam""#)
            )
        )
        .await
        .is_empty()
    );
}

/// A malformed expression, an unknown attribute, a `filter` using what only `search` may, or
/// several of search/filter/q at once: 400 E0000031 with the reason, never every user.
#[tokio::test]
async fn a_search_that_cannot_be_answered_is_refused_with_the_reason() {
    let s = support::start().await;
    s.create_user("sam@example.com", PASSWORD).await;
    for (query, says) in [
        (
            format!("search={}", urlencode(r#"profile.lastName eq "Nobody"#)),
            "closing quote",
        ),
        (
            format!("search={}", urlencode(r#"profile.shoeSize eq "9""#)),
            "profile.shoeSize",
        ),
        (
            format!("search={}", urlencode("status ne \"ACTIVE\"")),
            "`ne`",
        ),
        (
            format!("filter={}", urlencode(r#"profile.city eq "Oslo""#)),
            "filter",
        ),
        (
            format!("search={}&sortBy=profile.shoeSize", urlencode("id pr")),
            "sortBy",
        ),
        ("search=id%20pr&q=sam".to_owned(), "one of"),
    ] {
        let res = s
            .admin_get(&format!("/api/v1/users?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["errorCode"], "E0000031", "{query}: {e}");
        assert_eq!(e["errorSummary"], "Invalid search criteria.");
        assert!(
            e["errorCauses"][0]["errorSummary"]
                .as_str()
                .unwrap()
                .contains(says),
            "{query}: {e}"
        );
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
