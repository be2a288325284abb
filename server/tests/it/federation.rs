//! Signing in through an upstream identity provider, with a second Portcullis as the
//! provider: `/sso/idps/{id}` and `/authorize?idp=` send the browser there with state, nonce
//! and PKCE; the callback exchanges the code, checks the ID token, and signs the person in —
//! created just in time, or linked to the account with their verified address — and MFA
//! still applies. Replays, foreign states and unverified addresses are refused.

use crate::support::{self, PASSWORD, TestServer};
use reqwest::{Client, redirect};
use serde_json::{Value, json};

/// The upstream org, with a web app whose redirect URI is the downstream's callback.
struct Upstream {
    server: TestServer,
    client_id: String,
    client_secret: String,
}

async fn upstream(downstream: &TestServer) -> Upstream {
    let server = support::start().await;
    let res = server
        .admin_post("/oauth2/v1/clients")
        .json(&json!({
            "client_name": "Downstream Portcullis",
            "application_type": "web",
            "redirect_uris": [downstream.url("/oauth2/v1/authorize/callback")],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let app: Value = res.json().await.unwrap();
    Upstream {
        client_id: app["client_id"].as_str().unwrap().to_owned(),
        client_secret: app["client_secret"].as_str().unwrap().to_owned(),
        server,
    }
}

/// The provider as an admin of the downstream org creates it: with its endpoints, or (with
/// `discovered`) with its issuer alone, the endpoints read from its discovery document.
async fn provider(down: &TestServer, up: &Upstream, policy: Value) -> String {
    provider_as(down, up, policy, false).await
}

async fn provider_as(down: &TestServer, up: &Upstream, policy: Value, discovered: bool) -> String {
    let base = up.server.url("");
    let mut body = crate::idps::oidc("Upstream org", &base);
    if discovered {
        body["protocol"]
            .as_object_mut()
            .unwrap()
            .remove("endpoints");
    }
    body["protocol"]["credentials"]["client"] =
        json!({ "client_id": up.client_id, "client_secret": up.client_secret });
    body["policy"] = policy;
    let res = down
        .admin_post("/api/v1/idps")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let idp: Value = res.json().await.unwrap();
    idp["id"].as_str().unwrap().to_owned()
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// From the downstream's `start` URL to the callback URL the upstream sends the browser to,
/// signed in upstream as `login`.
async fn round_trip(b: &Client, up: &Upstream, start: &str, login: &str) -> String {
    let res = b.get(start).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to_upstream = location(&res);
    assert!(
        to_upstream.starts_with(&up.server.url("/oauth2/"))
            && to_upstream.contains("/v1/authorize?"),
        "{to_upstream}"
    );
    let q: std::collections::HashMap<String, String> = url::Url::parse(&to_upstream)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q["state"].is_empty() && !q["nonce"].is_empty());
    let token = up.server.session_token(login).await;
    let res = b
        .get(format!("{to_upstream}&sessionToken={token}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    location(&res)
}

async fn signed_in_as(down: &TestServer, b: &Client) -> Option<String> {
    let res = b.get(down.url("/api/v1/sessions/me")).send().await.unwrap();
    if res.status() != 200 {
        return None;
    }
    let me: Value = res.json().await.unwrap();
    Some(me["login"].as_str().unwrap_or_default().to_owned())
}

fn jit() -> Value {
    json!({
        "provisioning": { "action": "AUTO", "groups": { "action": "NONE" } },
        "accountLink": { "action": "AUTO" },
        "subject": { "userNameTemplate": { "template": "idpuser.email" }, "matchType": "USERNAME" },
    })
}

#[tokio::test]
async fn a_person_signs_in_upstream_and_comes_back_signed_in_to_a_new_account() {
    let down = support::start().await;
    let up = upstream(&down).await;
    up.server.create_user("alice@upstream.test", PASSWORD).await;
    let idp = provider_as(&down, &up, jit(), true).await;

    // The sign-in page offers the provider, with the way back.
    let page = down
        .browser
        .get(down.url("/login?fromURI=%2Foauth2%2Fv1%2Fauthorize%3Fclient_id%3Dx"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = format!("/sso/idps/{idp}?fromURI=%2Foauth2%2Fv1%2Fauthorize%3Fclient_id%3Dx");
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
    assert!(page.contains("Sign in with Upstream org"));

    let b = browser();
    let start = down.url(&link);
    let callback = round_trip(&b, &up, &start, "alice@upstream.test").await;
    assert!(
        callback.starts_with(&down.url("/oauth2/v1/authorize/callback?")),
        "{callback}"
    );
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        location(&res),
        "/oauth2/v1/authorize?client_id=x",
        "back where they began"
    );
    assert_eq!(
        signed_in_as(&down, &b).await.as_deref(),
        Some("alice@upstream.test")
    );
    let made = down.users_named("alice@upstream.test").await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["status"], "ACTIVE");
    assert_eq!(made[0]["profile"]["email"], "alice@upstream.test");
    // No password here: the upstream is how this person signs in.
    let res = down.authn("alice@upstream.test", PASSWORD).await;
    assert_eq!(res.status(), 401);

    // The same answer again is refused (its state was spent), and signs nobody in.
    let again = browser();
    let res = again.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400, "no round trip of this browser");
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400, "a replay in the same browser");

    // A second sign-in, from /authorize?idp=, reaches the same account.
    let c = browser();
    let res = down
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "App", "application_type": "browser",
            "redirect_uris": ["http://localhost:8080/callback"] }),
        )
        .send()
        .await
        .unwrap();
    let app: Value = res.json().await.unwrap();
    let authorize = down.url(&format!(
        "/oauth2/v1/authorize?idp={idp}&client_id={}&response_type=code&scope=openid&state=s\
         &redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&nonce=n\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        app["client_id"].as_str().unwrap()
    ));
    let res = c.get(&authorize).send().await.unwrap();
    let to_sso = location(&res);
    assert!(
        to_sso.starts_with(&format!("/sso/idps/{idp}?fromURI=")),
        "{to_sso}"
    );
    assert!(
        !to_sso.contains("idp%3D"),
        "the way back does not loop: {to_sso}"
    );
    let callback = round_trip(&c, &up, &down.url(&to_sso), "alice@upstream.test").await;
    let res = c.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with("/oauth2/v1/authorize?"), "{back}");
    // …and the app's authorization request goes on to its code.
    let res = c.get(down.url(&back)).send().await.unwrap();
    let to_app = location(&res);
    assert!(
        to_app.starts_with("http://localhost:8080/callback?code="),
        "{to_app}"
    );
    assert_eq!(
        signed_in_as(&down, &c).await.as_deref(),
        Some("alice@upstream.test")
    );
    assert_eq!(down.users_named("alice@upstream.test").await.len(), 1);
}

#[tokio::test]
async fn an_existing_account_is_linked_by_verified_address_and_mfa_still_applies() {
    let down = support::start_with(|c| {
        c.mfa_enrollment = portcullis::authn::MfaEnrollment::Required;
    })
    .await;
    let up = upstream(&down).await;
    up.server.create_user("bob@example.com", PASSWORD).await;
    let bob = down.create_user("bob@example.com", PASSWORD).await;
    let mut policy = jit();
    policy["provisioning"]["action"] = json!("DISABLED");
    let idp = provider(&down, &up, policy).await;
    // Bob has a second factor here: it is still asked after the upstream sign-in.
    crate::mfa::enroll_totp(&down, "bob@example.com").await;

    let b = browser();
    let start = down.url(&format!("/sso/idps/{idp}"));
    let callback = round_trip(&b, &up, &start, "bob@example.com").await;
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/signin/step", "on to the second factor");
    assert_eq!(
        signed_in_as(&down, &b).await,
        None,
        "not signed in before MFA"
    );
    let step = b
        .get(down.url("/signin/step"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(step.contains("name=\"passcode\""), "{step}");
    assert_eq!(
        down.users_named("bob@example.com").await.len(),
        1,
        "linked, not copied"
    );
    assert_eq!(
        down.users_named("bob@example.com").await[0]["id"],
        bob["id"]
    );

    // Someone the upstream knows who has no account here, with provisioning off: a page
    // that says so, and still no account.
    up.server.create_user("carol@example.com", PASSWORD).await;
    let c = browser();
    let callback = round_trip(&c, &up, &start, "carol@example.com").await;
    let res = c.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let page = res.text().await.unwrap();
    assert!(page.contains("no account here"), "{page}");
    assert!(down.users_named("carol@example.com").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_sign_ins_make_one_account_and_bad_answers_are_refused() {
    let down = support::start().await;
    let up = upstream(&down).await;
    up.server.create_user("dana@upstream.test", PASSWORD).await;
    let idp = provider(&down, &up, jit()).await;
    let start = down.url(&format!("/sso/idps/{idp}"));

    // Eight browsers each finish a first sign-in of the same person at once.
    let mut ready = Vec::new();
    for _ in 0..8 {
        let b = browser();
        let callback = round_trip(&b, &up, &start, "dana@upstream.test").await;
        ready.push((b, callback));
    }
    let shared = std::sync::Arc::new(ready.clone());
    let statuses = support::all_at_once(ready.len(), |i| {
        let shared = shared.clone();
        async move {
            let (b, cb) = &shared[i];
            b.get(cb).send().await.unwrap().status().as_u16()
        }
    })
    .await;
    assert_eq!(statuses, vec![303; 8]);
    assert_eq!(
        down.users_named("dana@upstream.test").await.len(),
        1,
        "one account"
    );
    for (b, _) in &ready {
        assert_eq!(
            signed_in_as(&down, b).await.as_deref(),
            Some("dana@upstream.test")
        );
    }

    // A state this browser never sent, an upstream error, an unknown or inactive provider.
    let b = browser();
    let res = b.get(&start).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let res = b
        .get(down.url("/oauth2/v1/authorize/callback?code=x&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b.get(&start).send().await.unwrap();
    let sent: std::collections::HashMap<String, String> = url::Url::parse(&location(&res))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let res = b
        .get(down.url(&format!(
            "/oauth2/v1/authorize/callback?error=access_denied&state={}",
            sent["state"]
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("cancelled"));
    let res = b
        .get(down.url("/sso/idps/0oanothere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    down.admin_post(&format!("/api/v1/idps/{idp}/lifecycle/deactivate"))
        .send()
        .await
        .unwrap();
    let res = b.get(&start).send().await.unwrap();
    assert_eq!(res.status(), 404, "an inactive provider is not used");
    let page = b
        .get(down.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("/sso/idps/"), "nor offered");
}

/// The provider's keys as fetched through a relay that counts the fetches.
async fn counted_keys(
    keys_url: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fetches = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let relay = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (counter, keys_url) = (counter.clone(), keys_url.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let res = reqwest::get(&keys_url).await.unwrap();
                let cache = res.headers()[reqwest::header::CACHE_CONTROL].clone();
                (
                    [(axum::http::header::CACHE_CONTROL, cache)],
                    res.text().await.unwrap(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, relay).await });
    (at, fetches)
}

#[tokio::test]
async fn the_providers_keys_are_kept_between_sign_ins_and_fetched_again_when_it_rotates_them() {
    use std::sync::atomic::Ordering;
    let down = support::start().await;
    let up = upstream(&down).await;
    up.server.create_user("erin@upstream.test", PASSWORD).await;
    // The upstream's `default` server, whose keys its admin can rotate.
    let issuer = up.server.url("/oauth2/default");
    let (keys, fetches) = counted_keys(format!("{issuer}/v1/keys")).await;
    let mut body = crate::idps::oidc("Upstream org", &issuer);
    let endpoints = &mut body["protocol"]["endpoints"];
    for (name, path) in [
        ("authorization", "authorize"),
        ("token", "token"),
        ("userInfo", "userinfo"),
    ] {
        endpoints[name]["url"] = json!(format!("{issuer}/v1/{path}"));
    }
    endpoints["jwks"]["url"] = json!(keys);
    body["protocol"]["credentials"]["client"] =
        json!({ "client_id": up.client_id, "client_secret": up.client_secret });
    body["policy"] = jit();
    let res = down
        .admin_post("/api/v1/idps")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let idp: Value = res.json().await.unwrap();
    let start = down.url(&format!("/sso/idps/{}", idp["id"].as_str().unwrap()));
    let sign_in = || async {
        let b = browser();
        let callback = round_trip(&b, &up, &start, "erin@upstream.test").await;
        let res = b.get(&callback).send().await.unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(
            signed_in_as(&down, &b).await.as_deref(),
            Some("erin@upstream.test")
        );
    };

    for _ in 0..3 {
        sign_in().await;
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "fetched once for three sign-ins"
    );

    // The provider rotates: its next ID token names a key the kept set lacks.
    let res = up
        .server
        .admin_post("/api/v1/authorizationServers/default/credentials/lifecycle/keyRotate")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    sign_in().await;
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "fetched again for the new key"
    );
    sign_in().await;
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
