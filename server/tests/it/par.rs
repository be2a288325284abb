//! Pushed authorization requests (RFC 9126): the client pushes its request, authenticated,
//! and the browser carries only a one-time `request_uri` — through the sign-in page and the
//! consent screen, and never twice.

use crate::support::{self, PASSWORD, TestServer, location_params, pkce_challenge};
use serde_json::{Value, json};

const WEB_CB: &str = "https://web.example.com/callback";
const VERIFIER: &str = "pushed-request-verifier-0123456789-0123456789-0123";
const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// A confidential web client: (id, secret).
async fn web_client(s: &TestServer, extra: Value) -> (String, String) {
    let mut body = json!({ "client_name": "Pushing web app", "redirect_uris": [WEB_CB],
        "grant_types": ["authorization_code"], "response_types": ["code"] });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let res = s
        .admin_post("/oauth2/v1/clients")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn request(state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", WEB_CB.into()),
        ("scope", "openid profile".into()),
        ("state", state.into()),
        ("nonce", "n-par".into()),
        ("code_challenge", pkce_challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

async fn push(
    s: &TestServer,
    server: &str,
    (id, secret): (&str, &str),
    form: &[(&str, String)],
) -> (u16, Value) {
    let res = s
        .client
        .post(s.url(&format!("{server}/v1/par")))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    if status == 201 {
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    (status, res.json().await.unwrap())
}

fn by_reference(s: &TestServer, server: &str, client: &str, request_uri: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client)
        .append_pair("request_uri", request_uri)
        .finish();
    s.url(&format!("{server}/v1/authorize?{q}"))
}

/// A new person's one-time session token.
async fn session_token(s: &TestServer, login: &str) -> String {
    s.create_user(login, PASSWORD).await;
    s.session_token(login).await
}

/// The named hidden field of a rendered form.
fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\"")).unwrap();
    let tag = &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
    let v = tag.find("value=\"").unwrap() + 7;
    tag[v..v + tag[v..].find('"').unwrap()].replace("&amp;", "&")
}

#[tokio::test]
async fn a_pushed_request_goes_through_the_sign_in_page_by_reference_and_is_used_once() {
    let s = support::start().await;
    let (id, secret) = web_client(&s, json!({})).await;
    s.create_user("pia@example.com", PASSWORD).await;
    let meta: Value = s
        .client
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        s.url("/oauth2/v1/par")
    );

    let (status, pushed) = push(&s, "/oauth2", (&id, &secret), &request("st-par")).await;
    assert_eq!(status, 201, "{pushed}");
    assert_eq!(pushed["expires_in"], 60);
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with(URN), "{request_uri}");

    // No session yet: to the sign-in page, which comes back with a reference, not the request.
    let res = s
        .browser
        .get(by_reference(&s, "/oauth2", &id, &request_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let login = res.headers()["location"].to_str().unwrap().to_owned();
    let from: String = url::Url::parse(&s.url(&login))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "fromURI")
        .unwrap()
        .1
        .into_owned();
    let back: Vec<(String, String)> = url::Url::parse(&s.url(&from))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let names: Vec<&str> = back.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{from}");
    assert_ne!(back[1].1, request_uri, "the way back is a new reference");

    // The pushed reference was spent by that first visit.
    let res = s
        .client
        .get(by_reference(&s, "/oauth2", &id, &request_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );

    let page = s
        .browser
        .get(s.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = s
        .browser
        .post(s.url("/login"))
        .form(&[
            ("username", "pia@example.com"),
            ("password", PASSWORD),
            ("csrf", &field(&page, "csrf")),
            ("from_uri", &field(&page, "from_uri")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let res = s.browser.get(s.url(&back)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let answer = location_params(&res);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(WEB_CB)
    );
    assert_eq!(answer["state"], "st-par", "the pushed parameters answered");
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", answer["code"].as_str()),
            ("redirect_uri", WEB_CB),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["id_token"].is_string());

    // The way back is spent too.
    let res = s.browser.get(s.url(&back)).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn pushes_are_checked_like_authorization_requests_and_required_where_the_client_says() {
    let s = support::start().await;
    let (id, secret) = web_client(&s, json!({})).await;
    let creds = (id.as_str(), secret.as_str());
    let error = |v: &Value| v["error"].as_str().unwrap_or_default().to_owned();

    let (status, body) = push(&s, "/oauth2", (&id, "wrong-secret"), &request("x")).await;
    assert_eq!((status, error(&body).as_str()), (401, "invalid_client"));
    let res = s
        .client
        .post(s.url("/oauth2/v1/par"))
        .form(&request("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a confidential client must authenticate");

    let mut elsewhere = request("x");
    elsewhere[1].1 = "https://evil.example/cb".into();
    let (status, body) = push(&s, "/oauth2", creds, &elsewhere).await;
    assert_eq!((status, error(&body).as_str()), (400, "invalid_request"));
    let mut by_ref = request("x");
    by_ref.push(("request_uri", format!("{URN}nested")));
    let (status, body) = push(&s, "/oauth2", creds, &by_ref).await;
    assert_eq!((status, error(&body).as_str()), (400, "invalid_request"));
    let mut token = request("x");
    token[0].1 = "token".into();
    let (status, body) = push(&s, "/oauth2", creds, &token).await;
    assert_eq!(status, 400);
    assert_eq!(error(&body), "unauthorized_client", "{body}");
    let mut unknown = request("x");
    unknown[2].1 = "openid launch-the-rockets".into();
    let (status, body) = push(&s, "/oauth2", creds, &unknown).await;
    assert_eq!((status, error(&body).as_str()), (400, "invalid_scope"));
    let mut other = request("x");
    other.push(("client_id", "0oasomeoneelse".into()));
    let (status, body) = push(&s, "/oauth2", creds, &other).await;
    assert_eq!((status, error(&body).as_str()), (400, "invalid_request"));
    let mut sealed_looking = request("x");
    sealed_looking.push(("sessionToken", "enc:v1:not-really".into()));
    let (status, body) = push(&s, "/oauth2", creds, &sealed_looking).await;
    assert_eq!((status, error(&body).as_str()), (400, "invalid_request"));

    // A reference works only at the server it was pushed to, for the client that pushed it,
    // and such wrong visits do not use it up.
    let (_, pushed) = push(&s, "/oauth2", creds, &request("x")).await;
    let uri = pushed["request_uri"].as_str().unwrap();
    let (other_id, _) = web_client(&s, json!({})).await;
    for url in [
        by_reference(&s, "/oauth2/default", &id, uri),
        by_reference(&s, "/oauth2", &other_id, uri),
        by_reference(&s, "/oauth2", &id, &format!("{URN}made-up")),
    ] {
        let res = s.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{url}");
    }
    // The right visit, with parameters of its own in the query: they are ignored, the pushed
    // ones answer (and the browser's sessionToken does not sign anyone in).
    let intruder = session_token(&s, "intruder@example.com").await;
    let url = format!(
        "{}&state=forged&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&sessionToken={intruder}",
        by_reference(&s, "/oauth2", &id, uri)
    );
    let res = s.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/login?"), "no one is signed in: {to}");
    assert!(
        !to.contains("evil.example") && !to.contains("forged"),
        "{to}"
    );

    // A client that must push gets invalid_request for a request in the browser's address.
    let (strict, strict_secret) =
        web_client(&s, json!({ "require_pushed_authorization_requests": true })).await;
    let mut plain: Vec<(&str, String)> = request("strict");
    plain.push(("client_id", strict.clone()));
    let pairs: Vec<(&str, &str)> = plain.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = s
        .client
        .get(support::authorize_url(&s, "org", &pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let answer = location_params(&res);
    assert_eq!(answer["error"], "invalid_request");
    assert_eq!(answer["state"], "strict");
    // A replacement that does not mention the requirement (a tool written for Okta) keeps it.
    let res = s
        .admin_put(&format!("/oauth2/v1/clients/{strict}"))
        .json(
            &json!({ "client_name": "Renamed", "redirect_uris": [WEB_CB],
            "grant_types": ["authorization_code"], "response_types": ["code"] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.unwrap();
    assert_eq!(replaced["require_pushed_authorization_requests"], true);
    // Pushed, the same client is served (here straight to the code, with a session token).
    let mut with_token = request("strict");
    with_token.push(("sessionToken", session_token(&s, "sol@example.com").await));
    let (status, pushed) = push(&s, "/oauth2", (&strict, &strict_secret), &with_token).await;
    assert_eq!(status, 201);
    let res = s
        .client
        .get(by_reference(
            &s,
            "/oauth2",
            &strict,
            pushed["request_uri"].as_str().unwrap(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(location_params(&res).contains_key("code"));
}

#[tokio::test]
async fn many_browsers_bringing_one_reference_at_once_get_one_code() {
    let s = support::start().await;
    let (id, secret) = web_client(&s, json!({})).await;
    let token = session_token(&s, "kit@example.com").await;
    // Signed in once, so that every racing visit has a session.
    let mut first = request("warm");
    first.push(("sessionToken", token));
    let (_, pushed) = push(&s, "/oauth2", (&id, &secret), &first).await;
    let res = s
        .browser
        .get(by_reference(
            &s,
            "/oauth2",
            &id,
            pushed["request_uri"].as_str().unwrap(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let (_, pushed) = push(&s, "/oauth2", (&id, &secret), &request("race")).await;
    let url = by_reference(&s, "/oauth2", &id, pushed["request_uri"].as_str().unwrap());
    let browser = s.browser.clone();
    let statuses = support::all_at_once(12, |_| {
        let (browser, url) = (browser.clone(), url.clone());
        async move {
            let res = browser.get(&url).send().await.unwrap();
            let code = res.status() == 303 && location_params(&res).contains_key("code");
            (res.status().as_u16(), code)
        }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|(_, code)| *code).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|(st, _)| *st == 400).count(), 11);
}

#[tokio::test]
async fn a_public_client_pushes_and_the_consent_screen_continues_the_pushed_request() {
    let s = support::start().await;
    let cb = "http://localhost:8080/callback";
    let res = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "Pushing SPA", "application_type": "browser",
            "redirect_uris": [cb], "grant_types": ["authorization_code"],
            "consent_method": "REQUIRED" }),
        )
        .send()
        .await
        .unwrap();
    let client: Value = res.json().await.unwrap();
    let id = client["client_id"].as_str().unwrap();
    let res = s
        .admin_post("/api/v1/authorizationServers/default/scopes")
        .json(
            &json!({ "name": "notes:read", "displayName": "Read your notes",
            "description": "See your notes", "consent": "REQUIRED" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut form = request("spa");
    form[1].1 = cb.into();
    form[2].1 = "openid notes:read".into();
    form.push(("client_id", id.to_owned()));
    form.push(("sessionToken", session_token(&s, "noa@example.com").await));
    let res = s
        .client
        .post(s.url("/oauth2/default/v1/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pushed: Value = res.json().await.unwrap();
    let uri = pushed["request_uri"].as_str().unwrap();

    let res = s
        .browser
        .get(by_reference(&s, "/oauth2/default", id, uri))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the consent screen");
    let html = res.text().await.unwrap();
    assert!(html.contains("Read your notes"));
    let request = field(&html, "request");
    assert!(
        request.contains("request_uri") && !request.contains("redirect_uri"),
        "{request}"
    );
    let res = s
        .browser
        .post(s.url("/oauth2/v1/consent"))
        .form(&[
            ("csrf", field(&html, "csrf").as_str()),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let res = s.browser.get(s.url(&back)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let answer = location_params(&res);
    assert_eq!(answer["state"], "spa");
    assert!(answer.contains_key("code"));
}
