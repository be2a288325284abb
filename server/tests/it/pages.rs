//! The hosted sign-in page as a browser without JavaScript uses it: forms, cookies, CSRF,
//! security headers; and the JSON answers the hydrated page asks for.

use crate::support::{self, PASSWORD, csrf_field};
use app::FormReply;
use reqwest::Response;

async fn get_login(s: &support::TestServer) -> (Response, String) {
    let res = s.browser.get(s.url("/login")).send().await.unwrap();
    let headers = res.headers().clone();
    let html = res.text().await.unwrap();
    let mut rebuilt = http::Response::builder().status(200);
    for (k, v) in &headers {
        rebuilt = rebuilt.header(k, v);
    }
    (Response::from(rebuilt.body(String::new()).unwrap()), html)
}

/// Posts the sign-in form as a browser does: loads the page, then sends `fields` with the
/// page's anti-forgery token.
async fn post_login(s: &support::TestServer, fields: &[(&str, &str)]) -> Response {
    let (_, html) = get_login(s).await;
    let csrf = csrf_field(&html);
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf", &csrf));
    s.browser
        .post(s.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_page_renders_labelled_fields_and_strict_headers() {
    let s = support::start().await;
    let (res, html) = get_login(&s).await;
    // The username also offers the person's passkeys as autofill.
    assert!(
        html.contains("name=\"username\"") && html.contains("autocomplete=\"username webauthn\"")
    );
    assert!(
        html.contains("name=\"password\"") && html.contains("autocomplete=\"current-password\"")
    );
    assert!(html.contains("<label for=\"username\">"));
    assert!(html.contains("method=\"post\"") && html.contains("action=\"/login\""));
    assert!(support::set_cookie(&res, "pc_csrf").is_some());
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "hydration script carries the CSP nonce"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn plain_form_post_signs_in_sets_an_httponly_cookie_and_shows_who() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let res = post_login(
        &s,
        &[("username", "ann@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    let sid = support::set_cookie(&res, "sid").unwrap();
    assert!(
        sid.contains("HttpOnly") && sid.contains("SameSite=Lax"),
        "{sid}"
    );

    let page = s
        .browser
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Signed in as"), "{page}");
    assert!(page.contains("ann@example.com"));

    // Signing out ends the session.
    let csrf = csrf_field(&page);
    let out = s
        .browser
        .post(s.url("/login/signout"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let page = s
        .browser
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Signed in as"));
}

#[tokio::test]
async fn wrong_password_re_renders_the_form_with_an_error_and_the_username() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let (_, html) = get_login(&s).await;
    let csrf = csrf_field(&html);
    let res = s
        .browser
        .post(s.url("/login"))
        .form(&[
            ("username", "ann@example.com"),
            ("password", "Wrong-One-1"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(support::set_cookie(&res, "sid").is_none());
    assert!(support::set_cookie(&res, "pc_csrf").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Unable to sign in"), "{html}");
    assert!(html.contains("value=\"ann@example.com\""));
    assert_eq!(
        csrf_field(&html),
        csrf,
        "a failure changes no privilege, so the browser keeps its anti-forgery token"
    );
}

/// The cause of a flaky end-to-end test, and of a real annoyance: a failed sign-in answered
/// after the person had already opened another form (the unlock page, a second tab) must not
/// void that form's anti-forgery token.
#[tokio::test]
async fn a_failed_sign_in_does_not_void_a_form_opened_meanwhile() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let (_, login) = get_login(&s).await;
    let unlock = s
        .browser
        .get(s.url("/signin/unlock"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for json in [false, true] {
        let mut req = s.browser.post(s.url("/login"));
        if json {
            req = req.header("Accept", "application/json");
        }
        let res = req
            .form(&[
                ("username", "ann@example.com"),
                ("password", "Wrong-One-1"),
                ("csrf", &csrf_field(&login)),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = s
        .browser
        .post(s.url("/signin/unlock"))
        .form(&[
            ("username", "ann@example.com"),
            ("csrf", &csrf_field(&unlock)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(!html.contains("This form has expired"), "{html}");
}

#[tokio::test]
async fn post_without_the_csrf_token_is_refused() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let _ = get_login(&s).await;
    let res = s
        .browser
        .post(s.url("/login"))
        .form(&[
            ("username", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf", "forged-value"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(support::set_cookie(&res, "sid").is_none());
    // Another site's form has no cookie at all.
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[
            ("username", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn scripted_post_gets_json_replies() {
    let s = support::start().await;
    s.create_user("ann@example.com", PASSWORD).await;
    let (_, html) = get_login(&s).await;
    let csrf = csrf_field(&html);
    let bad = s
        .browser
        .post(s.url("/login"))
        .header("Accept", "application/json")
        .form(&[
            ("username", "ann@example.com"),
            ("password", "nope"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let reply: FormReply = bad.json().await.unwrap();
    assert!(reply.error.unwrap().contains("Unable to sign in"));
    let fresh = reply.csrf.unwrap();
    let good = s
        .browser
        .post(s.url("/login"))
        .header("Accept", "application/json")
        .form(&[
            ("username", "ann@example.com"),
            ("password", PASSWORD),
            ("csrf", &fresh),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert!(support::set_cookie(&good, "sid").is_some());
    let reply: FormReply = good.json().await.unwrap();
    assert_eq!(reply.redirect.as_deref(), Some("/login"));
}

#[tokio::test]
async fn unknown_pages_are_a_friendly_404() {
    let s = support::start().await;
    let res = s.client.get(s.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

/// The location a response redirects to.
fn location(res: &Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_pending_sign_in_continues_on_the_step_page_as_plain_forms() {
    let s = support::start().await;
    let user = s.create_user("steps@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let res = s
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/users/{uid}/lifecycle/expire_password"),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = s.browser.get(s.url("/signin/step")).send().await.unwrap();
    assert_eq!(res.status(), 303, "no sign-in in progress");
    assert_eq!(location(&res), "/login");

    let res = post_login(
        &s,
        &[("username", "steps@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/signin/step");
    let flow = support::set_cookie(&res, "pc_flow").expect("the flow cookie");
    assert!(
        flow.contains("HttpOnly") && flow.contains("SameSite=Lax"),
        "{flow}"
    );
    assert!(support::set_cookie(&res, "sid").is_none(), "no session yet");

    let page = s.browser.get(s.url("/signin/step")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Your password has expired"));
    assert!(
        html.contains("autocomplete=\"new-password\"")
            && html.contains("autocomplete=\"current-password\"")
    );
    assert!(
        !html.contains("stateToken"),
        "the state token stays out of the page"
    );
    let csrf = csrf_field(&html);

    // Without the anti-forgery token nothing changes: back to the step.
    let res = s
        .browser
        .post(s.url("/signin/step"))
        .form(&[("action", "change_password"), ("old_password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/signin/step".to_owned())
    );

    let change = |confirm: &'static str| {
        let csrf = csrf.clone();
        let b = s.browser.clone();
        let url = s.url("/signin/step");
        async move {
            b.post(url)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("action", "change_password"),
                    ("old_password", PASSWORD),
                    ("new_password", "Renewed-Gate-77"),
                    ("confirm_password", confirm),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = change("Renewed-Gate-78").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not the same"));
    let res = change("Renewed-Gate-77").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    assert!(support::set_cookie(&res, "sid").is_some(), "signed in");
    assert!(
        support::set_cookie(&res, "pc_flow").is_some_and(|c| c.contains("Max-Age=0")),
        "the flow cookie is cleared"
    );
    let page = s
        .browser
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("steps@example.com"));
}

#[tokio::test]
async fn pages_follow_the_language_asked_for() {
    let s = support::start().await;
    let de = s
        .browser
        .get(s.url("/login"))
        .header("Accept-Language", "de-CH, en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        de.contains("<html lang=\"de\"") && de.contains("Anmelden"),
        "German"
    );
    let fr = s
        .browser
        .get(s.url("/signin/forgot-password?lang=fr"))
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fr.contains("<html lang=\"fr\""), "?lang= wins");
}

#[tokio::test]
async fn the_brand_colour_is_served_as_a_stylesheet_only_when_valid() {
    let s = support::start_with(|c| {
        c.brand.name = "Acme".into();
        c.brand.primary_color = Some("#0b3d91".into());
    })
    .await;
    let css = s
        .client
        .get(s.url("/signin/brand.css"))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let css = css.text().await.unwrap();
    assert!(css.contains("--pc-brand: #0b3d91") && css.contains("--pc-brand-contrast: #ffffff"));
    let html = s
        .browser
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Acme") && html.contains("/signin/brand.css"));
    let bad = portcullis::config::Config::load(portcullis::config::Cli {
        brand_color: Some("red;}*{display:none".into()),
        ..portcullis::config::Cli::default()
    });
    assert!(bad.unwrap_err().to_string().contains("brand_color"));
}

#[tokio::test]
async fn the_brands_api_changes_the_pages_at_once_and_refuses_unsafe_values() {
    let s = support::start().await;
    let theme = "/api/v1/brands/default/themes/default";
    let put = |path: &'static str, body: serde_json::Value| {
        let req = s
            .client
            .put(s.url(path))
            .header("Authorization", format!("SSWS {}", support::ADMIN_TOKEN))
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let res = put(theme, serde_json::json!({ "primaryColorHex": "#ffd400", "logo": "https://cdn.example.com/acme.svg" })).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["primaryColorContrastHex"], "#111111");
    let res = put(
        "/api/v1/brands/default",
        serde_json::json!({ "name": "Acme Corp", "helpUrl": "https://help.example.com" }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let css = s
        .client
        .get(s.url("/signin/brand.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("#ffd400"));
    let html = s
        .browser
        .get(s.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("https://cdn.example.com/acme.svg") && html.contains("alt=\"Acme Corp\"")
    );
    assert!(html.contains("https://help.example.com"));

    let res = put(theme, serde_json::json!({ "primaryColorHex": "red;}" })).await;
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["errorCode"], "E0000001");
    let res = put(theme, serde_json::json!({ "logo": "javascript:alert(1)" })).await;
    assert_eq!(res.status(), 400);
    let res = s.client.get(s.url("/api/v1/brands")).send().await.unwrap();
    assert_eq!(res.status(), 401, "admin only");

    // Kept across a restart.
    let s = s.restart().await;
    let css = s
        .client
        .get(s.url("/signin/brand.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains("#ffd400"));
}

#[tokio::test]
async fn keep_me_signed_in_makes_the_session_cookie_outlive_the_browser() {
    let s = support::start().await;
    s.create_user("keep@example.com", PASSWORD).await;
    for (remember, persistent) in [("", false), ("true", true)] {
        let res = post_login(
            &s,
            &[
                ("username", "keep@example.com"),
                ("password", PASSWORD),
                ("remember", remember),
            ],
        )
        .await;
        let sid = support::set_cookie(&res, "sid").unwrap();
        assert_eq!(sid.contains("Max-Age="), persistent, "{sid}");
    }
}

#[tokio::test]
async fn pages_may_be_framed_only_by_origins_trusted_for_it() {
    let s = support::start().await;
    let csp = |res: &Response| {
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let res = s.browser.get(s.url("/login")).send().await.unwrap();
    assert!(csp(&res).contains("frame-ancestors 'none'"));
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    s.trust_origin("https://portal.example.com", &["IFRAME_EMBED"])
        .await;
    s.trust_origin("https://cors-only.example.com", &["CORS"])
        .await;
    let res = s.browser.get(s.url("/login")).send().await.unwrap();
    let policy = csp(&res);
    assert!(
        policy.contains("frame-ancestors https://portal.example.com;"),
        "{policy}"
    );
    assert!(!policy.contains("cors-only"));
    assert!(res.headers().get("x-frame-options").is_none());
}

#[tokio::test]
async fn with_lockout_shown_a_locked_account_gets_the_locked_page() {
    let s = support::start_with(|c| {
        c.show_lockout = true;
        c.max_failed_attempts = 2;
    })
    .await;
    s.create_user("locked-page@example.com", PASSWORD).await;
    let mut last = String::new();
    for password in ["Wrong-One-1", "Wrong-Two-2", PASSWORD] {
        let res = post_login(
            &s,
            &[
                ("username", "locked-page@example.com"),
                ("password", password),
            ],
        )
        .await;
        last = format!("{} {}", res.status(), res.text().await.unwrap());
    }
    assert!(last.starts_with("403"), "{last}");
    assert!(last.contains("Your account is locked") && last.contains("/signin/unlock"));
}

#[tokio::test]
async fn hosted_forms_are_rate_limited_per_username() {
    // The attempts below must fall in one rate-limit window.
    crate::support::early_in_a_minute(20).await;
    let s = support::start_with(|c| c.rate_limit_per_user = 2).await;
    s.create_user("sprayed@example.com", PASSWORD).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = post_login(
            &s,
            &[
                ("username", "sprayed@example.com"),
                ("password", "Wrong-Spray-1"),
            ],
        )
        .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.text().await.unwrap().contains("Too many attempts"));
        }
    }
    assert_eq!(statuses, [401, 401, 429]);
}

#[tokio::test]
async fn over_https_page_cookies_carry_the_host_prefix() {
    let s = support::start_with(|c| c.base_url = "https://id.example.com".into()).await;
    let res = s
        .client
        .get(format!("{}/login", s.local))
        .send()
        .await
        .unwrap();
    let csrf = support::set_cookie(&res, "__Host-pc_csrf").expect("a __Host- cookie");
    assert!(csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"));
}

#[tokio::test]
async fn language_links_never_point_at_another_site() {
    let s = support::start().await;
    let html = s
        .browser
        .get(s.url("//evil.example/phish"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("href=\"//evil.example"), "{html}");
}

#[tokio::test]
async fn error_pages_explain_in_the_language_asked_for() {
    let s = support::start().await;
    let page = |lang: &'static str| {
        let req = s
            .client
            .get(s.url(
                "/oauth2/v1/authorize?client_id=no-such-app&redirect_uri=https://x.example/cb",
            ))
            .header("Accept-Language", lang);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 400);
            res.text().await.unwrap()
        }
    };
    assert!(
        page("en")
            .await
            .contains("is not registered with this sign-in service")
    );
    assert!(page("de").await.contains("nicht registriert"));
    assert!(page("fr").await.contains("enregistrée"));
}
