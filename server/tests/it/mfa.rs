//! The Authentication API's transaction over HTTP: MFA enrollment with a QR code, verification,
//! replay, wrong states, expired passwords, and a restart in the middle of a sign-in.

use crate::support::{self, PASSWORD, TestServer, step_now};
use portcullis::authn::MfaEnrollment;
use portcullis::authn::factors::totp_code;
use serde_json::{Value, json};

pub async fn post(s: &TestServer, href: &str, body: Value) -> (u16, Value) {
    let res = s.client.post(href).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

pub fn href(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
        .to_owned()
}

pub async fn required_mfa_server() -> TestServer {
    support::start_with(|c| c.mfa_enrollment = MfaEnrollment::Required).await
}

/// Signs in, enrolls TOTP by following the links, and returns the shared secret.
pub async fn enroll_totp(s: &TestServer, login: &str) -> String {
    let (status, tx) = post(
        s,
        &s.url("/api/v1/authn"),
        json!({ "username": login, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "MFA_ENROLL");
    let factors = tx["_embedded"]["factors"].as_array().unwrap();
    let totp = factors
        .iter()
        .find(|f| f["factorType"] == "token:software:totp" && f["provider"] == "GOOGLE")
        .unwrap();
    assert_eq!(totp["status"], "NOT_SETUP");
    // Required is "some factor, the person's pick": no one kind is REQUIRED, and no skip.
    assert_eq!(totp["enrollment"], "OPTIONAL");
    assert!(tx["_links"].get("skip").is_none());
    let state_token = tx["stateToken"].as_str().unwrap().to_owned();

    let (status, tx) = post(
        s,
        &href(totp, "/_links/enroll/href"),
        json!({ "stateToken": state_token, "factorType": "token:software:totp", "provider": "GOOGLE" }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "MFA_ENROLL_ACTIVATE");
    let activation = &tx["_embedded"]["factor"]["_embedded"]["activation"];
    assert_eq!(activation["timeStep"], 30);
    assert_eq!(activation["keyLength"], 6);
    assert_eq!(activation["encoding"], "base32");
    let secret = activation["sharedSecret"].as_str().unwrap().to_owned();

    let qr = href(activation, "/_links/qrcode/href");
    assert!(
        !qr.contains(&state_token),
        "the state token never goes into a URL"
    );
    let image = s.client.get(&qr).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(image.text().await.unwrap().contains("<svg"));

    let (status, done) = post(
        s,
        &href(&tx, "/_links/next/href"),
        json!({ "stateToken": state_token, "passCode": totp_code(&secret, step_now()).unwrap() }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
    assert!(done["sessionToken"].as_str().is_some());
    assert_eq!(
        s.client.get(&qr).send().await.unwrap().status(),
        404,
        "QR gone after activation"
    );
    secret
}

#[tokio::test]
async fn totp_enrollment_then_verification_with_replay_refused() {
    let s = required_mfa_server().await;
    s.create_user("mfa@example.com", PASSWORD).await;
    let secret = enroll_totp(&s, "mfa@example.com").await;
    let used = totp_code(&secret, step_now()).unwrap();

    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "mfa@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_REQUIRED");
    assert!(tx.get("sessionToken").is_none());
    let factor = &tx["_embedded"]["factors"][0];
    assert_eq!(factor["factorType"], "token:software:totp");
    assert_eq!(factor["profile"]["credentialId"], "mfa@example.com");
    let verify = href(factor, "/_links/verify/href");
    let token = tx["stateToken"].as_str().unwrap();

    let (status, wrong) = post(
        &s,
        &verify,
        json!({ "stateToken": token, "passCode": "000000" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(wrong["errorCode"], "E0000068");

    let (status, replay) = post(
        &s,
        &verify,
        json!({ "stateToken": token, "passCode": used }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(replay["factorResult"], "PASSCODE_REPLAYED");
    assert_eq!(replay["status"], "MFA_REQUIRED");

    // The next step's code is within the allowed skew and has not been used.
    let next = totp_code(&secret, step_now() + 1).unwrap();
    let (status, done) = post(
        &s,
        &verify,
        json!({ "stateToken": token, "passCode": next }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
}

#[tokio::test]
async fn out_of_state_requests_and_unknown_tokens_are_refused_in_okta_codes() {
    let s = required_mfa_server().await;
    s.create_user("state@example.com", PASSWORD).await;
    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "state@example.com", "password": PASSWORD }),
    )
    .await;
    let token = tx["stateToken"].as_str().unwrap();
    let (status, err) = post(
        &s,
        &s.url("/api/v1/authn/factors/uftany/verify"),
        json!({ "stateToken": token, "passCode": "123456" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(err["errorCode"], "E0000079");

    let (status, err) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "stateToken": "not-a-real-token" }),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(err["errorCode"], "E0000011");

    let (status, _) = post(
        &s,
        &href(&tx, "/_links/cancel/href"),
        json!({ "stateToken": token }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(&s, &s.url("/api/v1/authn"), json!({ "stateToken": token })).await;
    assert_eq!(status, 401, "a cancelled transaction is gone");
}

#[tokio::test]
async fn an_expired_password_is_changed_within_the_policy() {
    let s = support::start().await;
    let user = s.create_user("exp@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/expire_password"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["status"],
        "PASSWORD_EXPIRED"
    );

    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "exp@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(tx["status"], "PASSWORD_EXPIRED");
    assert_eq!(tx["_embedded"]["policy"]["complexity"]["minLength"], 8);
    assert_eq!(tx["_links"]["next"]["name"], "changePassword");
    let change = href(&tx, "/_links/next/href");
    let token = tx["stateToken"].as_str().unwrap();

    let (status, err) = post(
        &s,
        &change,
        json!({ "stateToken": token, "oldPassword": PASSWORD, "newPassword": "short" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(err["errorCode"], "E0000014");
    assert!(
        err["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("Password requirements")
    );

    let (status, done) = post(
        &s,
        &change,
        json!({ "stateToken": token, "oldPassword": PASSWORD, "newPassword": "Brand-New-Gate-7" }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS");
    assert_eq!(
        s.authn("exp@example.com", "Brand-New-Gate-7")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_transaction_survives_a_restart() {
    let s = required_mfa_server().await;
    s.create_user("restart@example.com", PASSWORD).await;
    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "restart@example.com", "password": PASSWORD }),
    )
    .await;
    let token = tx["stateToken"].as_str().unwrap().to_owned();
    let s = s
        .restart_with(|c| c.mfa_enrollment = MfaEnrollment::Required)
        .await;
    let (status, again) = post(&s, &s.url("/api/v1/authn"), json!({ "stateToken": token })).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "MFA_ENROLL");
}

#[tokio::test]
async fn security_questions_are_listed_for_enrollment() {
    let s = support::start().await;
    let list: Value = s
        .client
        .get(s.url("/api/v1/users/anyone/factors/questions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &list[0];
    assert!(first["question"].is_string() && first["questionText"].is_string());
}

#[tokio::test]
async fn sessions_and_factors_survive_a_restart_too() {
    let s = support::start().await;
    let user = s.create_user("keep@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let factor: Value = s
        .admin_post(&format!("/api/v1/users/{id}/factors"))
        .json(&json!({ "factorType": "question", "provider": "OKTA",
                       "profile": { "question": "favorite_movie_quote", "answer": "Here's looking at you" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(factor["status"], "ACTIVE");
    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "keep@example.com", "password": PASSWORD }),
    )
    .await;
    let verify = href(&tx["_embedded"]["factors"][0], "/_links/verify/href");
    let (_, done) = post(
        &s,
        &verify,
        json!({ "stateToken": tx["stateToken"], "answer": "here's LOOKING at you" }),
    )
    .await;
    let session: Value = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": done["sessionToken"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = session["id"].as_str().unwrap().to_owned();
    assert_eq!(session["amr"], json!(["pwd", "kba", "mfa"]));

    let s = s.restart().await;
    let kept = s
        .admin_get(&format!("/api/v1/sessions/{sid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    let factors: Vec<Value> = s
        .admin_get(&format!("/api/v1/users/{id}/factors"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(factors.len(), 1);
    let (_, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "keep@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_REQUIRED");
}

#[tokio::test]
async fn the_factor_policy_says_which_factors_are_required_and_which_are_not_offered() {
    let s = support::start_with(|c| {
        c.mfa_factors = portcullis::authn::factors::FactorPolicy::parse([
            ("google_otp", "REQUIRED"),
            ("okta_otp", "NOT_ALLOWED"),
        ])
        .unwrap();
    })
    .await;
    s.create_user("policy@example.com", PASSWORD).await;
    let (status, tx) = post(
        &s,
        &s.url("/api/v1/authn"),
        json!({ "username": "policy@example.com", "password": PASSWORD,
                "options": { "multiOptionalFactorEnroll": true } }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "MFA_ENROLL");
    let offered: Vec<(String, String)> = tx["_embedded"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["factorType"].as_str().unwrap(),
                    f["provider"].as_str().unwrap()
                ),
                f["enrollment"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            (
                "token:software:totp/GOOGLE".to_owned(),
                "REQUIRED".to_owned()
            ),
            ("question/OKTA".to_owned(), "OPTIONAL".to_owned()),
            ("webauthn/FIDO".to_owned(), "OPTIONAL".to_owned()),
        ],
        "Okta Verify's TOTP is not offered"
    );
    assert!(
        tx["_links"].get("skip").is_none(),
        "a required factor is not set up"
    );
    let token = tx["stateToken"].as_str().unwrap().to_owned();
    let enroll = s.url("/api/v1/authn/factors");

    let (status, refused) = post(
        &s,
        &enroll,
        json!({ "stateToken": token, "factorType": "token:software:totp", "provider": "OKTA" }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["errorCode"], "E0000001");

    // The optional question first: still in MFA_ENROLL, still no skip.
    let (status, tx) = post(
        &s,
        &enroll,
        json!({ "stateToken": token, "factorType": "question", "provider": "OKTA",
                "profile": { "question": "disliked_food", "answer": "cold spinach" } }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "MFA_ENROLL");
    assert!(tx["_links"].get("skip").is_none());

    // Then the required TOTP: the sign-in completes.
    let (_, tx) = post(
        &s,
        &enroll,
        json!({ "stateToken": token, "factorType": "token:software:totp", "provider": "GOOGLE" }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_ENROLL_ACTIVATE", "{tx}");
    let secret = href(&tx, "/_embedded/factor/_embedded/activation/sharedSecret");
    let (_, done) = post(
        &s,
        &href(&tx, "/_links/next/href"),
        json!({ "stateToken": token, "passCode": totp_code(&secret, step_now()).unwrap() }),
    )
    .await;
    // A passkey is still on offer, and optional: skipped.
    assert_eq!(done["status"], "MFA_ENROLL", "{done}");
    let (_, done) = post(
        &s,
        &href(&done, "/_links/skip/href"),
        json!({ "stateToken": token }),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
}
