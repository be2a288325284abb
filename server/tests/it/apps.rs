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

/// A confidential OIDC web app for the code flow with refresh tokens.
fn payroll_app() -> Value {
    json!({
        "label": "Payroll", "signOnMode": "OPENID_CONNECT",
        "credentials": { "oauthClient": { "token_endpoint_auth_method": "client_secret_basic" } },
        "settings": { "oauthClient": {
            "application_type": "web", "redirect_uris": ["https://payroll.example.com/cb"],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"] } },
    })
}

/// The code flow for `client` with `login`'s session token: the redirect's parameters.
async fn authorize(
    s: &support::TestServer,
    client: &str,
    login: &str,
) -> std::collections::HashMap<String, String> {
    let tx: Value = s.authn(login, PASSWORD).await.json().await.unwrap();
    let token = tx["sessionToken"].as_str().unwrap();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client)
        .append_pair("redirect_uri", "https://payroll.example.com/cb")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid offline_access")
        .append_pair("state", "s1")
        .append_pair("sessionToken", token);
    let res = s
        .client
        .get(s.url(&format!("/oauth2/v1/authorize?{}", q.finish())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    loc.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn an_oidc_app_is_a_client_that_only_its_assigned_people_may_use() {
    let s = support::start().await;
    let res = s
        .admin_post("/api/v1/apps")
        .json(&payroll_app())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let app: Value = res.json().await.unwrap();
    let aid = app["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app["credentials"]["oauthClient"]["client_id"],
        aid.as_str(),
        "the client id is the app id"
    );
    let secret = app["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = s.create_user("payee@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();

    let p = authorize(&s, &aid, "payee@example.com").await;
    assert_eq!(p["error"], "access_denied");
    assert_eq!(
        p["error_description"],
        "User is not assigned to the client application."
    );
    assert_eq!(p["state"], "s1");

    // Assigned through a group, the person gets a code and tokens.
    let group: Value = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "Payroll users" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap();
    s.admin(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{gid}/users/{uid}"),
    )
    .await;
    s.admin(
        reqwest::Method::PUT,
        &format!("/api/v1/apps/{aid}/groups/{gid}"),
    )
    .await;
    let p = authorize(&s, &aid, "payee@example.com").await;
    let code = p.get("code").expect("a code once assigned").clone();
    let token = |form: Vec<(&'static str, String)>| {
        let req = s
            .client
            .post(s.url("/oauth2/v1/token"))
            .basic_auth(&aid, Some(&secret))
            .form(&form);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, tokens) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", "https://payroll.example.com/cb".into()),
    ])
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Out of the group, the refresh token no longer works.
    s.admin(
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/{gid}/users/{uid}"),
    )
    .await;
    let (status, err) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
    ])
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("access_denied")),
        "{err}"
    );

    // A deactivated app serves nobody.
    s.admin_post(&format!("/api/v1/apps/{aid}/users"))
        .json(&json!({ "id": uid }))
        .send()
        .await
        .unwrap();
    let (status, _) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
    ])
    .await;
    assert_eq!(status, 200, "assigned directly now");
    s.admin(
        reqwest::Method::POST,
        &format!("/api/v1/apps/{aid}/lifecycle/deactivate"),
    )
    .await;
    let (status, err) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("access_denied"))
    );
    // Deleting the app deletes its client.
    let res = s
        .admin(reqwest::Method::DELETE, &format!("/api/v1/apps/{aid}"))
        .await;
    assert_eq!(res.status(), 204);
    let res = s
        .admin(reqwest::Method::GET, &format!("/oauth2/v1/clients/{aid}"))
        .await;
    assert_eq!(res.status(), 404);

    // Invalid client settings are refused with the reasons.
    let res = s
        .admin_post("/api/v1/apps")
        .json(&json!({ "label": "Broken", "signOnMode": "OPENID_CONNECT",
            "settings": { "oauthClient": { "application_type": "web", "redirect_uris": ["not a url"],
                "grant_types": ["authorization_code"] } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["errorCode"], "E0000001");
}

#[tokio::test]
async fn an_oidc_app_shows_its_oauth_client_and_put_replaces_it_keeping_the_secret() {
    let s = support::start().await;
    let app: Value = s
        .admin_post("/api/v1/apps")
        .json(&payroll_app())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let aid = app["id"].as_str().unwrap().to_owned();
    let secret = app["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // GET and the list show settings.oauthClient and credentials.oauthClient (no secret: only
    // its digest is kept).
    let read: Value = s
        .admin_get(&format!("/api/v1/apps/{aid}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oauth = &read["settings"]["oauthClient"];
    assert_eq!(
        oauth["redirect_uris"],
        json!(["https://payroll.example.com/cb"])
    );
    assert_eq!(oauth["application_type"], "web");
    assert_eq!(
        oauth["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        read["credentials"]["oauthClient"]["client_id"],
        aid.as_str()
    );
    assert_eq!(
        read["credentials"]["oauthClient"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert!(
        read["credentials"]["oauthClient"]
            .get("client_secret")
            .is_none()
    );
    let listed: Value = s
        .admin_get("/api/v1/apps")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == aid.as_str())
        .unwrap();
    assert_eq!(
        mine["settings"]["oauthClient"]["redirect_uris"],
        oauth["redirect_uris"]
    );

    // PUT: a new label and redirect URI; the secret the app holds keeps working.
    let put = |body: Value| {
        s.admin_put(&format!("/api/v1/apps/{aid}"))
            .json(&body)
            .send()
    };
    let res = put(json!({
        "label": "Payroll 2", "signOnMode": "OPENID_CONNECT",
        "settings": { "oauthClient": {
            "application_type": "web", "redirect_uris": ["https://pay.example.com/cb"],
            "grant_types": ["authorization_code"], "response_types": ["code"] } },
    }))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.unwrap();
    assert_eq!(replaced["label"], "Payroll 2");
    assert_eq!(replaced["status"], "ACTIVE");
    assert_eq!(
        replaced["settings"]["oauthClient"]["redirect_uris"],
        json!(["https://pay.example.com/cb"])
    );
    let authorize_to = |redirect: &'static str| {
        let s = &s;
        let aid = aid.clone();
        async move {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("client_id", &aid)
                .append_pair("redirect_uri", redirect)
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair("state", "s1");
            s.client
                .get(s.url(&format!("/oauth2/v1/authorize?{}", q.finish())))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The old redirect URI is no longer registered (an error page, no redirect); the new one is.
    assert_eq!(authorize_to("https://payroll.example.com/cb").await, 400);
    assert_eq!(authorize_to("https://pay.example.com/cb").await, 303);
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(&aid, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client",
        "the kept secret authenticates the client (else invalid_client), and its grant types \
         were replaced (refresh_token is gone)"
    );

    // Bad input is an Okta validation error; an unknown app is 404.
    let res = put(json!({ "label": "", "settings": { "oauthClient": { "redirect_uris": [] } } }))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000001");
    let res = put(json!({ "label": "Plain" })).await.unwrap();
    assert_eq!(res.status(), 400, "an OIDC app keeps its oauthClient");
    let res = s
        .admin_put("/api/v1/apps/0oaNOPE")
        .json(&json!({ "label": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn apps_are_listed_by_status_and_name_prefix() {
    let s = support::start().await;
    let mut ids = Vec::new();
    for label in ["Payroll", "Paystubs", "Wiki"] {
        let app: Value = s
            .admin_post("/api/v1/apps")
            .json(&json!({ "name": "bookmark", "label": label, "signOnMode": "BOOKMARK" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(app["id"].as_str().unwrap().to_owned());
    }
    s.admin_post(&format!("/api/v1/apps/{}/lifecycle/deactivate", ids[1]))
        .send()
        .await
        .unwrap();
    let labels = |query: &'static str| {
        let s = &s;
        async move {
            let res = s
                .admin_get(&format!("/api/v1/apps{query}"))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            let mut labels: Vec<String> = body
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x["label"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            labels.sort();
            (status, labels)
        }
    };
    assert_eq!(
        labels("?q=pay").await,
        (200, vec!["Payroll".into(), "Paystubs".into()])
    );
    assert_eq!(
        labels("?filter=status%20eq%20%22ACTIVE%22").await,
        (200, vec!["Payroll".into(), "Wiki".into()])
    );
    assert_eq!(
        labels("?q=pay&filter=status%20eq%20%22INACTIVE%22").await,
        (200, vec!["Paystubs".into()])
    );
    assert_eq!(labels("?filter=label%20sw%20%22x%22").await.0, 400);
    assert_eq!(
        labels("?search=label%20sw%20%22PAY%22%20and%20not%20(status%20eq%20%22INACTIVE%22)").await,
        (200, vec!["Payroll".into()])
    );
    assert_eq!(
        labels("?filter=name%20eq%20%22bookmark%22%20and%20status%20eq%20%22INACTIVE%22").await,
        (200, vec!["Paystubs".into()])
    );
    // Okta's `user.id` and `group.id` filters: the apps a person is assigned to, directly or
    // through a group, and a group's.
    let user = s.create_user("assigned@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap().to_owned();
    let group: Value = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "Wiki readers" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_str().unwrap().to_owned();
    s.admin_put(&format!("/api/v1/groups/{gid}/users/{uid}"))
        .send()
        .await
        .unwrap();
    let assigned = s
        .admin_post(&format!("/api/v1/apps/{}/users", ids[0]))
        .json(&json!({ "id": uid }))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), 200, "{:?}", assigned.text().await);
    s.admin_put(&format!("/api/v1/apps/{}/groups/{gid}", ids[2]))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let found = |query: String| {
        let s = &s;
        async move {
            let body: Value = s
                .admin_get(&format!("/api/v1/apps{query}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut labels: Vec<String> = body
                .as_array()
                .unwrap_or_else(|| panic!("{query}: {body}"))
                .iter()
                .map(|x| x["label"].as_str().unwrap().to_owned())
                .collect();
            labels.sort();
            labels
        }
    };
    assert_eq!(
        found(format!("?filter=user.id%20eq%20%22{uid}%22")).await,
        ["Payroll", "Wiki"]
    );
    assert_eq!(
        found(format!("?filter=group.id%20eq%20%22{gid}%22")).await,
        ["Wiki"]
    );
    assert!(
        found("?filter=user.id%20eq%20%2200unobody%22".into())
            .await
            .is_empty()
    );
}
