//! Trusted origins API, and CORS on the browser-facing APIs for trusted origins only.

use crate::support::{self, PASSWORD};
use serde_json::Value;

async fn preflight(s: &support::TestServer, origin: &str) -> reqwest::Response {
    s.client
        .request(reqwest::Method::OPTIONS, s.url("/api/v1/authn"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-okta-user-agent-extended",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn trusted_origin_gets_an_exact_cors_echo_with_credentials() {
    let s = support::start().await;
    s.trust_origin("http://localhost:4000", &["CORS"]).await;
    let res = preflight(&s, "http://localhost:4000").await;
    assert!(
        res.status().is_success(),
        "{:?} {:?}",
        res.status(),
        res.headers()
    );
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:4000"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-okta-user-agent-extended"), "{allowed}");

    s.create_user("cors@example.com", PASSWORD).await;
    let res = s
        .client
        .post(s.url("/api/v1/authn"))
        .header("Origin", "http://localhost:4000")
        .json(&serde_json::json!({ "username": "cors@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:4000"
    );
}

#[tokio::test]
async fn untrusted_or_redirect_only_origins_get_no_cors() {
    let s = support::start().await;
    s.trust_origin("http://localhost:4001", &["REDIRECT"]).await;
    for origin in ["http://evil.example", "http://localhost:4001", "null"] {
        let res = preflight(&s, origin).await;
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{origin} must not be allowed"
        );
    }
}

#[tokio::test]
async fn trusted_origins_crud_in_okta_shape() {
    let s = support::start().await;
    let created = s
        .trust_origin("HTTPS://App.Example.com:443/", &["CORS", "REDIRECT"])
        .await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("tos"));
    assert_eq!(created["origin"], "https://app.example.com");
    assert_eq!(created["scopes"][0]["type"], "CORS");
    assert_eq!(created["status"], "ACTIVE");

    let list: Value = s
        .admin_get("/api/v1/trustedOrigins")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = s
        .admin_get(&format!("/api/v1/trustedOrigins/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);

    let dup = s
        .admin_post("/api/v1/trustedOrigins")
        .json(&serde_json::json!({ "name": "again", "origin": "https://app.example.com", "scopes": [{ "type": "CORS" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 400);

    let del = s
        .client
        .delete(s.url(&format!("/api/v1/trustedOrigins/{id}")))
        .header("Authorization", format!("SSWS {}", support::ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let gone = s
        .admin_get(&format!("/api/v1/trustedOrigins/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn invalid_origins_and_scopes_are_refused() {
    let s = support::start().await;
    for (origin, scope) in [
        ("https://a.example/path", "CORS"),
        ("javascript:alert(1)", "CORS"),
        ("https://b.example", "EVERYTHING"),
    ] {
        let res = s
            .admin_post("/api/v1/trustedOrigins")
            .json(&serde_json::json!({ "name": "x", "origin": origin, "scopes": [{ "type": scope }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{origin} {scope}");
        assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000001");
    }
}

#[tokio::test]
async fn widget_assets_load_from_any_origin_and_unknown_api_paths_are_okta_errors() {
    let s = support::start().await;
    std::fs::create_dir_all(s.site.path().join("widget")).unwrap();
    std::fs::write(
        s.site.path().join("widget/portcullis-signin.js"),
        "// loader",
    )
    .unwrap();
    let res = s
        .client
        .get(s.url("/widget/v1/portcullis-signin.js"))
        .header("Origin", "http://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    let res = s
        .client
        .get(s.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000007");
    let res = s
        .client
        .delete(s.url("/api/v1/authn"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000022");
}

#[tokio::test]
async fn the_question_list_a_transaction_links_to_works_cross_origin() {
    // Okta's widget fetches it with credentials and its own header: the preflight must pass.
    let s = support::start().await;
    s.trust_origin("http://localhost:4000", &["CORS"]).await;
    let user = s.create_user("questions@example.com", PASSWORD).await;
    let path = format!(
        "/api/v1/users/{}/factors/questions",
        user["id"].as_str().unwrap()
    );
    let res = s
        .client
        .request(reqwest::Method::OPTIONS, s.url(&path))
        .header("Origin", "http://localhost:4000")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "x-okta-user-agent-extended",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:4000"
    );
    let res = s
        .client
        .get(s.url(&path))
        .header("Origin", "http://localhost:4000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let questions: Value = res.json().await.unwrap();
    assert!(questions.as_array().is_some_and(|q| !q.is_empty()));
    // An origin the org does not trust still gets no CORS answer.
    let res = s
        .client
        .get(s.url(&path))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn an_admin_token_is_accepted_with_or_without_a_space_after_ssws() {
    // Okta's Python SDK sends `SSWS<token>`.
    let s = support::start().await;
    for value in [
        format!("SSWS {}", support::ADMIN_TOKEN),
        format!("SSWS{}", support::ADMIN_TOKEN),
    ] {
        let res = s
            .client
            .get(s.url("/api/v1/users"))
            .header("Authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    for wrong in ["SSWS", "SSWS ", "SSWSnot-the-token-at-all-0000"] {
        let res = s
            .client
            .get(s.url("/api/v1/users"))
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
}

#[tokio::test]
async fn a_trusted_origin_is_replaced_and_deactivated_and_cors_follows() {
    let s = support::start().await;
    let created = s.trust_origin("http://localhost:4100", &["CORS"]).await;
    let id = created["id"].as_str().unwrap().to_owned();
    s.trust_origin("http://localhost:4300", &["CORS"]).await;
    let cors_for = |origin: &'static str| {
        let s = &s;
        async move {
            preflight(s, origin)
                .await
                .headers()
                .get("access-control-allow-origin")
                .is_some()
        }
    };
    assert!(cors_for("http://localhost:4100").await);

    let lifecycle =
        |what: &str| s.admin_post(&format!("/api/v1/trustedOrigins/{id}/lifecycle/{what}"));
    let res = lifecycle("deactivate").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "INACTIVE");
    assert!(
        !cors_for("http://localhost:4100").await,
        "an inactive origin is trusted for nothing"
    );
    let listed: Value = s
        .admin_get("/api/v1/trustedOrigins")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str() && t["status"] == "INACTIVE")
    );
    let res = lifecycle("activate").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(cors_for("http://localhost:4100").await);

    // PUT replaces the origin: the old one loses CORS, the new one has it.
    let put = |body: Value| {
        s.admin_put(&format!("/api/v1/trustedOrigins/{id}"))
            .json(&body)
    };
    let res = put(
        serde_json::json!({ "name": "Moved", "origin": "http://localhost:4200",
        "scopes": [{ "type": "CORS" }, { "type": "REDIRECT" }] }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["origin"], "http://localhost:4200");
    assert_eq!(body["status"], "ACTIVE");
    assert!(!cors_for("http://localhost:4100").await);
    assert!(cors_for("http://localhost:4200").await);
    // An origin listed under another id is a validation error; the record is unchanged.
    let res = put(
        serde_json::json!({ "name": "Clash", "origin": "http://localhost:4300",
        "scopes": [{ "type": "CORS" }] }),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000001");
    assert!(cors_for("http://localhost:4200").await);
    let res = s
        .admin_put("/api/v1/trustedOrigins/tosNOPE")
        .json(
            &serde_json::json!({ "name": "x", "origin": "http://localhost:4400",
            "scopes": [{ "type": "CORS" }] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000007");
}
