//! Self-service recovery by email, with a real SMTP server: forgotten password, security
//! question, reset, unlock; the same answer for unknown users; one-time links.

use crate::mail::{SmtpSink, link_token};
use crate::support::{self, PASSWORD, TestServer};
use serde_json::{Value, json};

async fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let res = s.client.post(s.url(path)).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn mail_server() -> (SmtpSink, TestServer) {
    let sink = SmtpSink::start().await;
    let smtp = sink.settings();
    let s = support::start_with(move |c| c.smtp = Some(smtp)).await;
    (sink, s)
}

#[tokio::test]
async fn forgot_password_by_email_resets_and_signs_in() {
    let (sink, s) = mail_server().await;
    s.create_user("rec@example.com", PASSWORD).await;
    let (status, challenge) = post(
        &s,
        "/api/v1/authn/recovery/password",
        json!({ "username": "rec@example.com", "factorType": "EMAIL" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(challenge["status"], "RECOVERY_CHALLENGE");
    assert_eq!(challenge["factorResult"], "WAITING");
    assert_eq!(challenge["recoveryType"], "PASSWORD");
    assert!(challenge.get("stateToken").is_none());

    let mail = sink.wait_for("rec@example.com").await;
    assert!(mail.contains("Subject: Reset your password"), "{mail}");
    let token = link_token(&mail, "/signin/reset-password/");
    assert!(token.len() >= 40);

    // No security question: the token leads straight to PASSWORD_RESET.
    let (status, tx) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "PASSWORD_RESET");
    assert_eq!(tx["_links"]["next"]["name"], "resetPassword");
    assert_eq!(tx["_embedded"]["policy"]["complexity"]["minLength"], 8);
    let state_token = tx["stateToken"].as_str().unwrap();

    let (status, weak) = post(
        &s,
        "/api/v1/authn/credentials/reset_password",
        json!({ "stateToken": state_token, "newPassword": "weak" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(weak["errorCode"], "E0000014");
    let (status, done) = post(
        &s,
        "/api/v1/authn/credentials/reset_password",
        json!({ "stateToken": state_token, "newPassword": "Fresh-Start-2027" }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
    assert!(done["sessionToken"].is_string());
    assert_eq!(
        s.authn("rec@example.com", "Fresh-Start-2027")
            .await
            .status(),
        200
    );
    assert_eq!(s.authn("rec@example.com", PASSWORD).await.status(), 401);

    // The link worked once.
    let (status, again) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(again["errorCode"], "E0000011");
}

#[tokio::test]
async fn unknown_usernames_get_the_same_answer_and_no_email() {
    let (sink, s) = mail_server().await;
    s.create_user("known@example.com", PASSWORD).await;
    let ask = |who: &'static str| {
        let s = &s;
        async move {
            post(
                s,
                "/api/v1/authn/recovery/password",
                json!({ "username": who, "factorType": "EMAIL" }),
            )
            .await
        }
    };
    let (status_known, known) = ask("known@example.com").await;
    let (status_unknown, unknown) = ask("ghost@example.com").await;
    assert_eq!((status_known, status_unknown), (200, 200));
    assert_eq!(known, unknown);
    sink.wait_for("known@example.com").await;
    assert_eq!(sink.count_for("ghost@example.com"), 0);
}

#[tokio::test]
async fn the_security_question_guards_recovery_when_one_is_set() {
    let (sink, s) = mail_server().await;
    s.create_user("q@example.com", PASSWORD).await;
    // Enroll a security question through the optional enrollment step.
    let (_, tx) = post(
        &s,
        "/api/v1/authn",
        json!({ "username": "q@example.com", "password": PASSWORD, "options": { "multiOptionalFactorEnroll": true } }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_ENROLL");
    let (status, done) = post(
        &s,
        "/api/v1/authn/factors",
        json!({ "stateToken": tx["stateToken"], "factorType": "question", "provider": "OKTA",
                "profile": { "question": "disliked_food", "answer": "Brussels sprouts" } }),
    )
    .await;
    assert_eq!(status, 200, "{done}");

    post(
        &s,
        "/api/v1/authn/recovery/password",
        json!({ "username": "q@example.com" }),
    )
    .await;
    let token = link_token(
        &sink.wait_for("q@example.com").await,
        "/signin/reset-password/",
    );
    let (_, tx) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(tx["status"], "RECOVERY");
    assert_eq!(
        tx["_embedded"]["user"]["recovery_question"]["question"],
        "What is the food you least liked as a child?"
    );
    let st = tx["stateToken"].as_str().unwrap();
    let (status, wrong) = post(
        &s,
        "/api/v1/authn/recovery/answer",
        json!({ "stateToken": st, "answer": "kale" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(wrong["errorCode"], "E0000087");
    let (status, reset) = post(
        &s,
        "/api/v1/authn/recovery/answer",
        json!({ "stateToken": st, "answer": "brussels SPROUTS" }),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["status"], "PASSWORD_RESET");
}

#[tokio::test]
async fn a_locked_account_is_unlocked_by_email() {
    let sink = SmtpSink::start().await;
    let smtp = sink.settings();
    let s = support::start_with(move |c| {
        c.smtp = Some(smtp);
        c.max_failed_attempts = 2;
    })
    .await;
    s.create_user("locked@example.com", PASSWORD).await;
    for _ in 0..2 {
        s.authn("locked@example.com", "Wrong-Password-1").await;
    }
    assert_eq!(s.authn("locked@example.com", PASSWORD).await.status(), 401);

    let (_, challenge) = post(
        &s,
        "/api/v1/authn/recovery/unlock",
        json!({ "username": "locked@example.com", "factorType": "EMAIL" }),
    )
    .await;
    assert_eq!(challenge["recoveryType"], "UNLOCK");
    let mail = sink.wait_for("locked@example.com").await;
    assert!(mail.contains("Subject: Unlock your account"));
    let token = link_token(&mail, "/signin/user-unlock/");
    let (status, done) = post(
        &s,
        "/api/v1/authn/recovery/token",
        json!({ "recoveryToken": token }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
    assert_eq!(done["recoveryType"], "UNLOCK");
    assert!(done.get("sessionToken").is_none());
    assert_eq!(s.authn("locked@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn trusted_callers_get_the_token_and_hear_about_unknown_users() {
    let s = support::start().await;
    s.create_user("trusted@example.com", PASSWORD).await;
    let res = s
        .admin_post("/api/v1/authn/recovery/password")
        .json(&json!({ "username": "trusted@example.com", "factorType": "EMAIL" }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert!(body["recoveryToken"].as_str().unwrap().len() >= 40);
    let res = s
        .admin_post("/api/v1/authn/recovery/password")
        .json(&json!({ "username": "nobody@example.com", "factorType": "EMAIL" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000095");
}

/// The 6-digit code in the newest "Your sign-in code" message to `to`.
async fn mailed_code(sink: &SmtpSink, to: &str, nth: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.count_for(to) < nth {
        assert!(
            std::time::Instant::now() < deadline,
            "code {nth} for {to} did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = sink.nth_for(to, nth - 1);
    let at = mail.find("code is ").expect("a code") + "code is ".len();
    mail[at..at + 6].to_owned()
}

#[tokio::test]
async fn the_email_factor_enrolls_and_challenges_with_mailed_codes() {
    let sink = SmtpSink::start().await;
    let smtp = sink.settings();
    let s = support::start_with(move |c| {
        c.smtp = Some(smtp);
        c.mfa_enrollment = portcullis::authn::MfaEnrollment::Required;
    })
    .await;
    s.create_user("otp@example.com", PASSWORD).await;
    let (_, tx) = post(
        &s,
        "/api/v1/authn",
        json!({ "username": "otp@example.com", "password": PASSWORD }),
    )
    .await;
    let offered: Vec<&str> = tx["_embedded"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["factorType"].as_str())
        .collect();
    assert!(offered.contains(&"email"), "{offered:?}");
    let token = tx["stateToken"].as_str().unwrap().to_owned();
    let (status, activate) = post(
        &s,
        "/api/v1/authn/factors",
        json!({ "stateToken": token, "factorType": "email", "provider": "OKTA" }),
    )
    .await;
    assert_eq!(status, 200, "{activate}");
    assert_eq!(activate["status"], "MFA_ENROLL_ACTIVATE");
    assert_eq!(activate["factorResult"], "WAITING");
    assert_eq!(
        activate["_embedded"]["factor"]["profile"]["email"],
        "o…@example.com"
    );
    assert_eq!(activate["_links"]["resend"][0]["name"], "email");
    let code = mailed_code(&sink, "otp@example.com", 1).await;
    let next = activate["_links"]["next"]["href"].as_str().unwrap();
    let res = s
        .client
        .post(next)
        .json(&json!({ "stateToken": token, "passCode": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "SUCCESS");

    let (_, tx) = post(
        &s,
        "/api/v1/authn",
        json!({ "username": "otp@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_REQUIRED");
    let token = tx["stateToken"].as_str().unwrap().to_owned();
    let verify = tx["_embedded"]["factors"][0]["_links"]["verify"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s
        .client
        .post(&verify)
        .json(&json!({ "stateToken": token }))
        .send()
        .await
        .unwrap();
    let challenge: Value = res.json().await.unwrap();
    assert_eq!(challenge["status"], "MFA_CHALLENGE");
    assert_eq!(challenge["factorResult"], "WAITING");
    let code = mailed_code(&sink, "otp@example.com", 2).await;
    let res = s
        .client
        .post(&verify)
        .json(&json!({ "stateToken": token, "passCode": code }))
        .send()
        .await
        .unwrap();
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["status"], "SUCCESS", "{done}");
    // The code worked once.
    let (_, tx) = post(
        &s,
        "/api/v1/authn",
        json!({ "username": "otp@example.com", "password": PASSWORD }),
    )
    .await;
    let res = s
        .client
        .post(&verify)
        .json(&json!({ "stateToken": tx["stateToken"], "passCode": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
