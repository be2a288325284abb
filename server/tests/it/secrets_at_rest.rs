//! Secrets at rest: TOTP seeds, `client_secret_jwt` secrets and private signing keys never
//! reach the data directory or the database in the clear; the master key is needed to start,
//! and can be rotated.

use crate::mfa::{enroll_totp, post};
use crate::support::{self, MASTER_KEY, PASSWORD, TestServer, master_key, step_now};
use portcullis::authn::MfaEnrollment;
use portcullis::authn::factors::totp_code;
use serde_json::{Value, json};

/// The DER of an RSA private key names its algorithm: 1.2.840.113549.1.1.1, as the bytes
/// appear in a stored record.
const RSA_KEY_OID: &str = "6,9,42,134,72,134,247,13,1,1,1";
const NEW_KEY: &str = "bmV3LW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZy0hISE=";

/// A user with TOTP and a client_secret_jwt client: the seed, and the client's id and secret.
async fn secrets(s: &TestServer) -> (String, (String, String)) {
    s.create_user("sealed@example.com", PASSWORD).await;
    let seed = enroll_totp(s, "sealed@example.com").await;
    let client: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "HMAC", "application_type": "service",
            "token_endpoint_auth_method": "client_secret_jwt" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    (
        seed,
        (id, client["client_secret"].as_str().unwrap().to_owned()),
    )
}

/// Client credentials with an HMAC assertion: the server must open the client's secret to
/// check it, and its signing key to answer.
pub async fn hmac_client_gets_a_token(s: &TestServer, (id, secret): &(String, String)) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "iss": id, "sub": id, "aud": s.url("/oauth2/v1/token"),
                 "jti": portcullis::crypto::new_secret(8).expose(), "iat": now, "exp": now + 300 }),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let res = s
        .client
        .post(s.url("/oauth2/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Signs in with the password and a TOTP code from `seed`.
async fn totp_sign_in(s: &TestServer, seed: &str) {
    let (_, tx) = post(
        s,
        &s.url("/api/v1/authn"),
        json!({ "username": "sealed@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(tx["status"], "MFA_REQUIRED", "{tx}");
    let factor = &tx["_embedded"]["factors"][0];
    let verify = factor["_links"]["verify"]["href"].as_str().unwrap();
    // The step after the enrollment's (a code of a step already used is a replay).
    let step = step_now() + 1;
    let (status, done) = post(
        s,
        verify,
        json!({ "stateToken": tx["stateToken"], "passCode": totp_code(seed, step).unwrap() }),
    )
    .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("SUCCESS")),
        "{done}"
    );
}

fn mfa(c: &mut portcullis::config::Config) {
    c.mfa_enrollment = MfaEnrollment::Required;
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_the_master_key_is_needed_and_rotates() {
    let s = support::start_with(mfa).await;
    let (seed, client) = secrets(&s).await;
    let client_secret = client.1.clone();
    crate::idps::create_oidc(&s, "Sealed", "https://idp.example.com").await;
    let stopped = s.stop().await;
    let raw = stopped.raw().await;
    assert!(
        !raw.contains(&seed),
        "the TOTP seed is not stored in the clear"
    );
    assert!(!raw.contains(&client_secret), "nor the client's secret");
    assert!(
        !raw.contains("upstream-secret-0123456789"),
        "nor an identity provider's"
    );
    assert!(!raw.contains(RSA_KEY_OID), "nor a private key");
    assert!(raw.contains("enc:v1:"));

    // Without the key, or with another one, Portcullis refuses to start and says what to set.
    let missing = stopped
        .try_build(|c| c.master_keys = None)
        .await
        .unwrap_err();
    assert!(missing.contains("master_key"), "{missing}");
    let wrong = stopped
        .try_build(|c| c.master_keys = master_key(NEW_KEY, &[]))
        .await
        .unwrap_err();
    assert!(wrong.contains("previous_master_keys"), "{wrong}");

    // A rotation: the new key, with the old one still given, seals everything anew…
    let s = stopped
        .start(|c| {
            mfa(c);
            c.master_keys = master_key(NEW_KEY, &[MASTER_KEY]);
        })
        .await;
    totp_sign_in(&s, &seed).await;
    let stopped = s.stop().await;
    // …so the old key can go.
    let s = stopped
        .start(|c| {
            mfa(c);
            c.master_keys = master_key(NEW_KEY, &[]);
        })
        .await;
    hmac_client_gets_a_token(&s, &client).await;
    let stopped = s.stop().await;
    let raw = stopped.raw().await;
    assert!(!raw.contains(&seed) && !raw.contains(RSA_KEY_OID));
    let old_only = stopped.try_build(|_| {}).await.unwrap_err();
    assert!(old_only.contains("neither"), "{old_only}");
}

#[tokio::test]
async fn without_a_master_key_secrets_are_plain_and_a_key_given_later_seals_them() {
    let s = support::start_with(|c| {
        mfa(c);
        c.master_keys = None;
    })
    .await;
    let (seed, client) = secrets(&s).await;
    let client_secret = client.1.clone();
    let stopped = s.stop().await;
    let raw = stopped.raw().await;
    // The control for the test above: this is what an unsealed store looks like.
    assert!(raw.contains(&seed) && raw.contains(&client_secret) && raw.contains(RSA_KEY_OID));

    // Given a key later, Portcullis seals what is there; from then on the key is needed.
    let s = stopped.start(mfa).await;
    totp_sign_in(&s, &seed).await;
    let stopped = s.stop().await;
    let missing = stopped
        .try_build(|c| c.master_keys = None)
        .await
        .unwrap_err();
    assert!(missing.contains("master_key"), "{missing}");
    if stopped.database.is_some() {
        // PostgreSQL's rows as they are now (sled's log keeps older versions of a record
        // until it compacts them: the README says to renew such secrets).
        let raw = stopped.raw().await;
        assert!(!raw.contains(&seed) && !raw.contains(&client_secret));
        assert!(!raw.contains(RSA_KEY_OID));
    }
    let s = stopped.start(mfa).await;
    hmac_client_gets_a_token(&s, &client).await;
}

/// A pushed authorization request may carry a one-time session token for its few seconds: it
/// is sealed like every other secret, and opened again for the authorization endpoint.
#[tokio::test]
async fn a_session_token_inside_a_pushed_request_is_sealed() {
    let s = support::start().await;
    let client: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "Pusher", "application_type": "browser",
            "redirect_uris": ["http://localhost:8080/cb"], "grant_types": ["authorization_code"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    s.create_user("pushed@example.com", PASSWORD).await;
    let token = s.session_token("pushed@example.com").await;
    let res = s
        .client
        .post(s.url("/oauth2/v1/par"))
        .form(&[
            ("client_id", id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost:8080/cb"),
            ("scope", "openid"),
            (
                "code_challenge",
                &support::pkce_challenge("v".repeat(43).as_str()),
            ),
            ("code_challenge_method", "S256"),
            ("sessionToken", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let pushed: Value = res.json().await.unwrap();
    let s = s.stop().await;
    assert!(!s.raw().await.contains(&token), "not stored in the clear");
    let s = s.start(|_| {}).await;
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &id)
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap())
        .finish();
    let res = s
        .client
        .get(s.url(&format!("/oauth2/v1/authorize?{q}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        support::location_params(&res).contains_key("code"),
        "opened and used"
    );
}
