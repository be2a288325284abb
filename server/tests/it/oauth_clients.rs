//! The org authorization server's metadata, keys and client registration.

use crate::support::{self, ADMIN_TOKEN};
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_is_built_from_the_served_paths() {
    let s = support::start().await;
    let res = s
        .client
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let meta: Value = res.json().await.unwrap();
    assert_eq!(meta["issuer"], s.base.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        s.url("/oauth2/v1/authorize")
    );
    assert_eq!(meta["jwks_uri"], s.url("/oauth2/v1/keys"));
    assert_eq!(meta["registration_endpoint"], s.url("/oauth2/v1/clients"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        meta["response_modes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("okta_post_message"))
    );
    let oauth: Value = s
        .client
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oauth["token_endpoint"], meta["token_endpoint"]);
    // Browsers preflight it when a client library adds its own headers.
    let preflight = s
        .client
        .request(
            reqwest::Method::OPTIONS,
            s.url("/.well-known/openid-configuration"),
        )
        .header("Origin", "https://any-app.example")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "x-okta-user-agent-extended",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    // The advertised JWKS is served.
    let jwks = s
        .client
        .get(meta["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
}

#[tokio::test]
async fn the_signing_key_is_published_and_kept_across_restarts() {
    let s = support::start().await;
    let jwks: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert!(key["n"].as_str().unwrap().len() > 300, "a 2048-bit modulus");
    assert!(key.get("d").is_none(), "no private part");
    let kid = key["kid"].clone();
    let s = s.restart().await;
    let again: Value = s
        .client
        .get(s.url("/oauth2/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["keys"][0]["kid"], kid);
}

#[tokio::test]
async fn clients_register_in_rfc_7591_shapes() {
    let s = support::start().await;
    let body = json!({
        "client_name": "Payroll",
        "application_type": "web",
        "redirect_uris": ["https://payroll.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
    });
    let anon = s
        .client
        .post(s.url("/oauth2/v1/clients"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let res = s
        .admin_post("/oauth2/v1/clients")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let web: Value = res.json().await.unwrap();
    let id = web["client_id"].as_str().unwrap().to_owned();
    let secret = web["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 40);
    assert_eq!(web["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        web["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );

    let read: Value = s
        .admin_get(&format!("/oauth2/v1/clients/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        read.get("client_secret").is_none(),
        "the secret is shown once"
    );

    let rotated: Value = s
        .admin_post(&format!("/oauth2/v1/clients/{id}/lifecycle/newSecret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["client_secret"], secret.as_str());

    let spa: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "SPA", "application_type": "browser",
                       "redirect_uris": ["http://localhost:8080/cb"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spa["token_endpoint_auth_method"], "none");
    assert!(spa.get("client_secret").is_none());

    let bad = s
        .admin_post("/oauth2/v1/clients")
        .json(&json!({ "redirect_uris": ["not a uri"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );

    let del = s
        .client
        .delete(s.url(&format!("/oauth2/v1/clients/{id}")))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(
        s.admin_get(&format!("/oauth2/v1/clients/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
