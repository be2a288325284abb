//! Self-service registration on the hosted pages: off unless the org turns it on; a person
//! signs up, proves the address through the emailed link, chooses a password under the policy
//! and is signed in; an address that already has an account gets the same page and an email
//! saying so, never a second account.

use crate::mail::{SmtpSink, link_token};
use crate::support::{self, TestServer, csrf_field};
use portcullis::authn::registration::RegistrationSettings;
use serde_json::{Value, json};

async fn page(s: &TestServer, path: &str) -> (u16, String) {
    let res = s.browser.get(s.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn sign_up(s: &TestServer, fields: &[(&str, &str)]) -> (u16, String) {
    let (_, form) = page(s, "/signin/register").await;
    let csrf = csrf_field(&form);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let res = s
        .browser
        .post(s.url("/signin/register"))
        .form(&all)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The `n`th (from 0) email to `to`, waiting for it.
async fn nth_mail(sink: &SmtpSink, to: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.count_for(to) <= n {
        assert!(std::time::Instant::now() < deadline, "no email {n} to {to}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    sink.nth_for(to, n)
}

#[tokio::test]
async fn registration_is_off_unless_the_org_turns_it_on() {
    let s = support::start().await;
    let (status, _) = page(&s, "/signin/register").await;
    assert_eq!(status, 404);
    let res = s
        .browser
        .post(s.url("/signin/register"))
        .form(&[
            ("email", "x@example.com"),
            ("firstName", "X"),
            ("lastName", "Y"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let (_, login) = page(&s, "/login").await;
    assert!(!login.contains("/signin/register"), "no sign-up link");
    assert!(s.users_named("x@example.com").await.is_empty());
}

#[tokio::test]
async fn a_person_signs_up_proves_the_address_and_chooses_a_password() {
    let sink = SmtpSink::start().await;
    let smtp = sink.settings();
    let s = support::start_with(move |c| {
        c.smtp = Some(smtp);
        c.registration = RegistrationSettings {
            enabled: true,
            attributes: vec!["department".into()],
            groups: vec!["Members".into()],
        };
    })
    .await;
    let group: Value = s
        .admin_post("/api/v1/groups")
        .json(&json!({ "profile": { "name": "Members" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, login) = page(&s, "/login").await;
    assert!(
        login.contains("href=\"/signin/register\""),
        "the sign-in page links to sign-up"
    );
    let (status, form) = page(&s, "/signin/register").await;
    assert_eq!(status, 200);
    assert!(
        form.contains("name=\"department\""),
        "the org's attribute is asked"
    );

    // A forged form and a bad address are refused; neither creates anything.
    let res = s
        .browser
        .post(s.url("/signin/register"))
        .form(&[
            ("csrf", "forged"),
            ("email", "new@example.com"),
            ("firstName", "New"),
            ("lastName", "Person"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (status, html) = sign_up(
        &s,
        &[
            ("email", "not-an-address"),
            ("firstName", "New"),
            ("lastName", "Person"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("email"), "{html}");
    assert!(html.contains("value=\"New\""), "what was typed is kept");
    assert!(s.users_named("new@example.com").await.is_empty());

    let fields = [
        ("email", "new@example.com"),
        ("firstName", "New"),
        ("lastName", "Person"),
        ("department", "Research"),
    ];
    let (status, done) = sign_up(&s, &fields).await;
    assert_eq!(status, 200);
    assert!(done.contains("data-notice=\"Registered\""), "{done}");
    let mail = sink.wait_for("new@example.com").await;
    let token = link_token(&mail, "/signin/activate/");
    let users = s.users_named("new@example.com").await;
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[0]["status"], "PROVISIONED",
        "not active before the address is proven"
    );
    assert_eq!(users[0]["profile"]["department"], "Research");
    let id = users[0]["id"].as_str().unwrap().to_owned();
    let members: Vec<Value> = s
        .admin_get(&format!(
            "/api/v1/groups/{}/users",
            group["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["id"], id.as_str());

    // The same address before the link was used (the email was lost): the same page, no
    // second account, a fresh link; the first one no longer works.
    let (status, again) = sign_up(&s, &fields).await;
    assert_eq!(status, 200);
    assert!(again.contains("data-notice=\"Registered\""));
    let second = nth_mail(&sink, "new@example.com", 1).await;
    let fresh = link_token(&second, "/signin/activate/");
    assert_ne!(fresh, token);
    assert_eq!(s.users_named("new@example.com").await.len(), 1);
    let stale = format!("/signin/activate/{token}");
    let (_, confirm) = page(&s, &stale).await;
    let res = s
        .browser
        .post(s.url(&stale))
        .form(&[("csrf", csrf_field(&confirm).as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 303, "the older link is spent");
    let token = fresh;

    // The link: confirm, choose a password under the policy, signed in and ACTIVE.
    let link = format!("/signin/activate/{token}");
    let (status, confirm) = page(&s, &link).await;
    assert_eq!(status, 200);
    let res = s
        .browser
        .post(s.url(&link))
        .form(&[("csrf", csrf_field(&confirm).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (status, step) = page(&s, "/signin/step").await;
    assert_eq!(status, 200);
    assert!(step.contains("name=\"new_password\""), "{step}");
    let choose = |password: &'static str| {
        let csrf = csrf_field(&step);
        let (b, url) = (s.browser.clone(), s.url("/signin/step"));
        async move {
            b.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("action", "reset_password"),
                    ("new_password", password),
                    ("confirm_password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        choose("short").await.status(),
        400,
        "the password policy holds"
    );
    let res = choose("Fresh-Signup-Pass-42").await;
    assert_eq!(res.status(), 303);
    assert!(support::set_cookie(&res, "sid").is_some(), "signed in");
    let user: Value = s
        .admin_get(&format!("/api/v1/users/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["status"], "ACTIVE");
    let res = s
        .client
        .post(s.url("/api/v1/authn"))
        .json(&json!({ "username": "new@example.com", "password": "Fresh-Signup-Pass-42" }))
        .send()
        .await
        .unwrap();
    let tx: Value = res.json().await.unwrap();
    assert_eq!(tx["status"], "SUCCESS", "{tx}");

    // Once the account is in use, signing up with its address says so by email, with no link.
    let (status, again) = sign_up(&s, &fields).await;
    assert_eq!(status, 200);
    assert!(again.contains("data-notice=\"Registered\""));
    let third = nth_mail(&sink, "new@example.com", 2).await;
    assert!(third.contains("already has an account"), "{third}");
    assert!(
        !third.contains("/signin/activate/"),
        "no link to take the account over"
    );
    assert_eq!(s.users_named("new@example.com").await.len(), 1);
    // The link worked once.
    let res = s
        .browser
        .post(s.url(&link))
        .form(&[("csrf", csrf_field(&confirm).as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 303);
}

async fn registration_api_server(sink: &SmtpSink) -> TestServer {
    let smtp = sink.settings();
    let s = support::start_with(move |c| {
        c.smtp = Some(smtp);
        c.registration = RegistrationSettings {
            enabled: true,
            attributes: vec!["department".into(), "age".into()],
            groups: vec![],
        };
    })
    .await;
    let res = s
        .admin_post("/api/v1/meta/schemas/user/default")
        .json(&json!({ "definitions": { "custom": { "id": "#custom", "type": "object",
            "properties": { "age": { "title": "Age in years", "type": "integer", "minimum": 16 } } } } }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_registration_api_describes_the_form_and_takes_typed_sign_ups() {
    let off = support::start().await;
    let res = off
        .client
        .get(off.url("/api/v1/registration/form"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");

    let sink = SmtpSink::start().await;
    let s = registration_api_server(&sink).await;
    s.trust_origin("http://localhost:4000", &["CORS"]).await;
    let res = s
        .client
        .get(s.url("/api/v1/registration/form"))
        .header("Origin", "http://localhost:4000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:4000",
        "a widget on a trusted origin may read it"
    );
    // Okta's widget asks first whether it may send its XSRF header.
    let preflight = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/api/v1/registration/form"))
        .header("Origin", "http://localhost:4000")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "x-okta-xsrftoken,x-okta-user-agent-extended,content-type",
        )
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-okta-xsrftoken"), "{allowed}");
    let form: Value = res.json().await.unwrap();
    let policy = form["policyId"].as_str().unwrap().to_owned();
    let schema = &form["profileSchema"];
    assert_eq!(
        schema["fieldOrder"],
        json!(["email", "firstName", "lastName", "department", "age"])
    );
    assert_eq!(schema["properties"]["age"]["type"], "integer");
    assert_eq!(schema["properties"]["age"]["title"], "Age in years");
    assert_eq!(schema["properties"]["department"]["title"], "Department");
    assert_eq!(schema["properties"]["email"]["format"], "email");
    assert!(schema.get("password").is_none() && schema["properties"].get("password").is_none());

    let register = |body: Value, policy: String| {
        let (c, url) = (
            s.client.clone(),
            s.url(&format!("/api/v1/registration/{policy}/register")),
        );
        async move {
            let res = c.post(url).json(&body).send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let profile = json!({ "email": "api@example.com", "firstName": "Api", "lastName": "Person",
                          "department": "Sales", "age": 42 });

    // Refused, in Okta's error format: a wrong policy, fields the form does not have, the
    // schema's rules.
    let (status, body) = register(json!({ "userProfile": profile }), "nope".into()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    let mut with_password = profile.clone();
    with_password["password"] = json!("Chosen-Before-1");
    with_password["admin"] = json!(true);
    let (status, body) = register(json!({ "userProfile": with_password }), policy.clone()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    let causes = body["errorCauses"].to_string();
    assert!(
        causes.contains("password") && causes.contains("admin"),
        "{causes}"
    );
    let mut too_young = profile.clone();
    too_young["age"] = json!(12);
    let (status, body) = register(json!({ "userProfile": too_young }), policy.clone()).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert!(body["errorCauses"].to_string().contains("age"), "{body}");
    assert!(s.users_named("api@example.com").await.is_empty());

    // Many sign-ups with one address at once: one account, and every answer the same.
    let answers = support::all_at_once(12, |_| {
        register(
            json!({ "userProfile": profile, "relayState": "/app" }),
            policy.clone(),
        )
    })
    .await;
    for (status, body) in &answers {
        assert_eq!(
            (*status, body),
            (200, &json!({})),
            "no activationToken, no id"
        );
    }
    let users = s.users_named("api@example.com").await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["status"], "PROVISIONED");
    assert_eq!(users[0]["profile"]["age"], 42, "kept as the integer it is");
    assert_eq!(users[0]["profile"]["department"], "Sales");
    nth_mail(&sink, "api@example.com", 11).await;
    let links = (0..12)
        .filter(|&n| {
            sink.nth_for("api@example.com", n)
                .contains("/signin/activate/")
        })
        .count();
    assert_eq!(links, 12, "a waiting account gets a fresh link each time");
}
