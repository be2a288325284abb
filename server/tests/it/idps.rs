//! The identity providers admin API in Okta's shape: a generic OpenID Connect provider with
//! its endpoints, presets whose endpoints are filled in, checks by field, lifecycle, full
//! replace, and a client secret that is taken but never shown.

use crate::support::{self, TestServer};
use serde_json::{Value, json};

/// Okta's JSON for a generic OpenID Connect provider at `issuer`.
pub fn oidc(name: &str, issuer: &str) -> Value {
    json!({
        "type": "OIDC",
        "name": name,
        "protocol": {
            "type": "OIDC",
            "endpoints": {
                "authorization": { "url": format!("{issuer}/oauth2/v1/authorize"), "binding": "HTTP-REDIRECT" },
                "token": { "url": format!("{issuer}/oauth2/v1/token"), "binding": "HTTP-POST" },
                "userInfo": { "url": format!("{issuer}/oauth2/v1/userinfo"), "binding": "HTTP-REDIRECT" },
                "jwks": { "url": format!("{issuer}/oauth2/v1/keys"), "binding": "HTTP-REDIRECT" },
            },
            "scopes": ["openid", "profile", "email"],
            "issuer": { "url": issuer },
            "credentials": { "client": {
                "client_id": "downstream-client",
                "client_secret": "upstream-secret-0123456789",
                "pkce_required": "true",
            } },
        },
        "policy": {
            "provisioning": { "action": "AUTO", "profileMaster": false, "groups": { "action": "NONE" } },
            "accountLink": { "action": "AUTO", "filter": null },
            "subject": { "userNameTemplate": { "template": "idpuser.email" }, "matchType": "USERNAME" },
            "maxClockSkew": 120000,
        },
    })
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn causes(err: &Value) -> String {
    err["errorCauses"].to_string()
}

/// Creates an OIDC provider and returns it as the API answered.
pub async fn create_oidc(s: &TestServer, name: &str, issuer: &str) -> Value {
    let (status, idp) = send(s.admin_post("/api/v1/idps").json(&oidc(name, issuer))).await;
    assert_eq!(status, 200, "{idp}");
    idp
}

#[tokio::test]
async fn an_openid_provider_is_created_read_replaced_deactivated_and_deleted() {
    let s = support::start().await;
    let idp = create_oidc(&s, "Upstream", "http://127.0.0.1:9/upstream").await;
    let id = idp["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("0oa"), "{id}");
    assert_eq!(idp["type"], "OIDC");
    assert_eq!(idp["status"], "ACTIVE");
    assert_eq!(
        idp["protocol"]["endpoints"]["token"]["url"],
        "http://127.0.0.1:9/upstream/oauth2/v1/token"
    );
    assert_eq!(
        idp["protocol"]["credentials"]["client"]["pkce_required"],
        true
    );
    assert_eq!(idp["policy"]["maxClockSkew"], 120000);
    assert!(
        idp["protocol"]["credentials"]["client"]
            .get("client_secret")
            .is_none(),
        "the secret is never shown: {idp}"
    );
    assert_eq!(
        idp["_links"]["clientRedirectUri"]["href"],
        s.url("/oauth2/v1/authorize/callback"),
        "the redirect URI to register upstream"
    );

    let (status, read) = send(s.admin_get(&format!("/api/v1/idps/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(read["name"], "Upstream");

    // A full replace without a secret keeps the stored one; the id and status stay.
    let mut changed = oidc("Renamed", "http://127.0.0.1:9/upstream");
    changed["protocol"]["credentials"]["client"]
        .as_object_mut()
        .unwrap()
        .remove("client_secret");
    changed["policy"]["accountLink"]["action"] = json!("DISABLED");
    let (status, replaced) = send(s.admin_put(&format!("/api/v1/idps/{id}")).json(&changed)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(replaced["name"], "Renamed");
    assert_eq!(replaced["policy"]["accountLink"]["action"], "DISABLED");
    assert_eq!(replaced["created"], idp["created"]);

    let (status, off) =
        send(s.admin_post(&format!("/api/v1/idps/{id}/lifecycle/deactivate"))).await;
    assert_eq!((status, off["status"].as_str()), (200, Some("INACTIVE")));
    assert!(off["_links"]["activate"]["href"].is_string());
    let (_, on) = send(s.admin_post(&format!("/api/v1/idps/{id}/lifecycle/activate"))).await;
    assert_eq!(on["status"], "ACTIVE");

    let res = s
        .admin_delete(&format!("/api/v1/idps/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, gone) = send(s.admin_get(&format!("/api/v1/idps/{id}"))).await;
    assert_eq!(
        (status, gone["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    let res = s
        .admin_delete(&format!("/api/v1/idps/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn presets_fill_in_their_endpoints_and_lists_filter_by_name_and_type() {
    let s = support::start().await;
    let (status, google) = send(s.admin_post("/api/v1/idps").json(&json!({
        "type": "GOOGLE",
        "name": "Google",
        "protocol": { "type": "OIDC", "scopes": [],
            "credentials": { "client": { "client_id": "g-id", "client_secret": "g-secret" } } },
        "policy": { "provisioning": { "action": "AUTO" }, "accountLink": { "action": "AUTO" } },
    })))
    .await;
    assert_eq!(status, 200, "{google}");
    assert_eq!(
        google["protocol"]["endpoints"]["authorization"]["url"],
        "https://accounts.google.com/o/oauth2/auth"
    );
    assert_eq!(
        google["protocol"]["issuer"]["url"],
        "https://accounts.google.com"
    );
    assert_eq!(
        google["protocol"]["scopes"],
        json!(["openid", "email", "profile"])
    );
    let (status, github) = send(s.admin_post("/api/v1/idps").json(&json!({
        "type": "GITHUB",
        "name": "GitHub",
        "protocol": { "type": "OAUTH2",
            "credentials": { "client": { "client_id": "gh-id", "client_secret": "gh-secret" } } },
    })))
    .await;
    assert_eq!(status, 200, "{github}");
    assert_eq!(github["protocol"]["type"], "OAUTH2");
    assert!(github["protocol"]["endpoints"].get("jwks").is_none());
    create_oidc(&s, "Company SSO", "https://sso.example.com").await;

    let list = |query: &'static str| {
        let req = s.admin_get(&format!("/api/v1/idps{query}"));
        async move { send(req).await.1 }
    };
    assert_eq!(list("").await.as_array().unwrap().len(), 3);
    let by_type = list("?type=GOOGLE").await;
    assert_eq!(by_type.as_array().unwrap().len(), 1);
    assert_eq!(by_type[0]["name"], "Google");
    let by_name = list("?q=comp").await;
    assert_eq!(by_name.as_array().unwrap().len(), 1);
    assert_eq!(by_name[0]["name"], "Company SSO");
    let first = list("?limit=2").await;
    assert_eq!(first.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_providers_are_refused_by_field() {
    let s = support::start().await;
    let refused = |body: Value| {
        let req = s.admin_post("/api/v1/idps").json(&body);
        async move {
            let (status, err) = send(req).await;
            assert_eq!(
                (status, err["errorCode"].as_str()),
                (400, Some("E0000001")),
                "{err}"
            );
            causes(&err)
        }
    };
    // A plain-http upstream anywhere but on this machine would carry codes in the clear.
    let why = refused(oidc("Plain", "http://idp.example.com")).await;
    assert!(why.contains("protocol.endpoints.token.url"), "{why}");
    let mut no_secret = oidc("No secret", "https://idp.example.com");
    no_secret["protocol"]["credentials"]["client"]["client_secret"] = json!("");
    assert!(refused(no_secret).await.contains("client_secret"));
    let mut no_openid = oidc("No openid", "https://idp.example.com");
    no_openid["protocol"]["scopes"] = json!(["email"]);
    assert!(refused(no_openid).await.contains("openid"));
    let mut template = oidc("Template", "https://idp.example.com");
    template["policy"]["subject"]["userNameTemplate"]["template"] =
        json!("String.toUpperCase(idpuser.email)");
    assert!(refused(template).await.contains("userNameTemplate"));
    let mut groups = oidc("Groups", "https://idp.example.com");
    groups["policy"]["provisioning"]["groups"] =
        json!({ "action": "ASSIGN", "assignments": ["00gmissing"] });
    assert!(refused(groups).await.contains("00gmissing"));
    let mut kind = oidc("SAML", "https://idp.example.com");
    kind["type"] = json!("SAML2");
    assert!(refused(kind).await.contains("SAML2"));
    assert_eq!(
        send(s.admin_get("/api/v1/idps"))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing was created"
    );
    // Without a token: 401, as every admin API.
    let res = s.client.get(s.url("/api/v1/idps")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// A generic provider given its issuer alone: the endpoints come from its discovery document,
/// which must be reachable and name that same issuer.
#[tokio::test]
async fn a_provider_given_only_its_issuer_is_discovered() {
    let s = support::start().await;
    let upstream = support::start().await;
    let create = |issuer: String| {
        let mut body = oidc("Discovered", &issuer);
        body["protocol"]
            .as_object_mut()
            .unwrap()
            .remove("endpoints");
        s.admin_post("/api/v1/idps").json(&body).send()
    };
    let res = create(upstream.base.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let idp: Value = res.json().await.unwrap();
    let endpoints = &idp["protocol"]["endpoints"];
    assert_eq!(
        endpoints["authorization"]["url"],
        json!(upstream.url("/oauth2/v1/authorize"))
    );
    assert_eq!(
        endpoints["token"]["url"],
        json!(upstream.url("/oauth2/v1/token"))
    );
    assert_eq!(
        endpoints["jwks"]["url"],
        json!(upstream.url("/oauth2/v1/keys"))
    );
    assert_eq!(
        endpoints["userInfo"]["url"],
        json!(upstream.url("/oauth2/v1/userinfo"))
    );

    // Nobody there, or a document for another issuer (the same server under another name).
    let port = upstream.base.rsplit(':').next().unwrap().to_owned();
    for issuer in [
        "http://127.0.0.1:1".to_owned(),
        format!("http://localhost:{port}"),
    ] {
        let res = create(issuer.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{issuer}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000001");
        assert!(causes(&body).contains("protocol.issuer.url"), "{body}");
    }
}
