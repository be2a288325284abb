//! Passkeys over HTTP, in Okta's `webauthn` factor shapes and Portcullis's passkey sign-in,
//! answered by a software authenticator (P-256, `none` attestation) built here from the
//! WebAuthn spec, so every refusal can be provoked: another origin, a replayed answer, a
//! counter that went back, a deleted passkey.

use crate::mfa::{href, post};
use crate::support::{self, PASSWORD, TestServer, all_at_once};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis::authn::MfaEnrollment;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::sync::Mutex;

/// A platform authenticator with one discoverable credential, verifying its user every time.
struct Authenticator {
    key: EcdsaKeyPair,
    credential_id: Vec<u8>,
    user_handle: Mutex<Vec<u8>>,
    counter: Mutex<u32>,
}

fn b64url(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(v.as_str().unwrap_or_else(|| panic!("not a string: {v}")))
        .unwrap()
}

/// CBOR: a byte string, a text string, a map header (the few shapes an attestation needs).
fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n < 24 {
        out.push(0x40 | u8::try_from(n).unwrap());
    } else if n < 256 {
        out.extend([0x58, u8::try_from(n).unwrap()]);
    } else {
        out.push(0x59);
        out.extend(u16::try_from(n).unwrap().to_be_bytes());
    }
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    out.push(0x60 | u8::try_from(text.len()).unwrap());
    out.extend(text.as_bytes());
}

impl Authenticator {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let mut credential_id = vec![0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&rng, &mut credential_id).unwrap();
        Self {
            key,
            credential_id,
            user_handle: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        }
    }

    fn client_data(kind: &str, challenge: &Value, origin: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false
        }))
        .unwrap()
    }

    /// rpIdHash, flags (user present and verified, and `extra`), the counter, moved on.
    fn auth_data(&self, rp_id: &str, extra: u8) -> Vec<u8> {
        let mut counter = self.counter.lock().unwrap();
        *counter += 1;
        let mut out = Sha256::digest(rp_id.as_bytes()).to_vec();
        out.push(0x05 | extra);
        out.extend(counter.to_be_bytes());
        out
    }

    /// `navigator.credentials.create()` on a page at `origin`: `(attestation, clientData)`,
    /// base64 as Okta's widget sends them.
    fn create(&self, options: &Value, origin: &str) -> (String, String) {
        *self.user_handle.lock().unwrap() = b64url(&options["user"]["id"]);
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let mut auth = self.auth_data(rp_id, 0x40);
        auth.extend([0u8; 16]); // AAGUID
        auth.extend(
            u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth.extend(&self.credential_id);
        let point = self.key.public_key().as_ref(); // 0x04 ‖ x ‖ y
        auth.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]); // kty EC2, ES256, P-256
        cbor_bytes(&mut auth, &point[1..33]);
        auth.push(0x22);
        cbor_bytes(&mut auth, &point[33..65]);
        let mut attestation = vec![0xa3];
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        attestation.push(0xa0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth);
        let client_data = Self::client_data("webauthn.create", &options["challenge"], origin);
        (STANDARD.encode(attestation), STANDARD.encode(client_data))
    }

    /// `navigator.credentials.get()`: Okta's verify body (`clientData`, `authenticatorData`,
    /// `signatureData`), with the credential id and user handle a passkey sign-in sends.
    fn get(&self, options: &Value, origin: &str) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        let auth = self.auth_data(rp_id, 0);
        let client_data = Self::client_data("webauthn.get", &options["challenge"], origin);
        let mut signed = auth.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self
            .key
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        json!({
            "clientData": STANDARD.encode(client_data),
            "authenticatorData": STANDARD.encode(auth),
            "signatureData": STANDARD.encode(signature),
            "credentialId": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "userHandle": STANDARD.encode(&*self.user_handle.lock().unwrap()),
        })
    }

    fn rewind(&self, to: u32) {
        *self.counter.lock().unwrap() = to;
    }
}

fn with(mut answer: Value, state_token: &str) -> Value {
    answer["stateToken"] = json!(state_token);
    answer
}

fn token(tx: &Value) -> String {
    tx["stateToken"].as_str().unwrap().to_owned()
}

/// A person on a server that requires MFA enrolls a passkey during sign-in; returns the
/// authenticator and the user's id.
async fn enroll(s: &TestServer, login: &str) -> (Authenticator, String) {
    let user = s.create_user(login, PASSWORD).await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (status, tx) = post(
        s,
        &s.url("/api/v1/authn"),
        json!({ "username": login, "password": PASSWORD }),
    )
    .await;
    assert_eq!((status, tx["status"].as_str()), (200, Some("MFA_ENROLL")));
    let offered = tx["_embedded"]["factors"].as_array().unwrap();
    let webauthn = offered
        .iter()
        .find(|f| f["factorType"] == "webauthn" && f["provider"] == "FIDO")
        .unwrap_or_else(|| panic!("no webauthn factor offered: {tx}"));
    assert_eq!(webauthn["status"], "NOT_SETUP");
    let (status, tx) = post(
        s,
        &href(webauthn, "/_links/enroll/href"),
        json!({ "stateToken": token(&tx), "factorType": "webauthn", "provider": "FIDO" }),
    )
    .await;
    assert_eq!(status, 200, "{tx}");
    assert_eq!(tx["status"], "MFA_ENROLL_ACTIVATE");
    let factor = &tx["_embedded"]["factor"];
    assert_eq!(
        (&factor["factorType"], &factor["provider"]),
        (&json!("webauthn"), &json!("FIDO"))
    );
    // Okta's activation object, which its widget hands to `navigator.credentials.create()`.
    let activation = &factor["_embedded"]["activation"];
    assert_eq!(activation["rp"]["id"], "127.0.0.1");
    assert_eq!(
        activation["user"]["id"],
        json!(user_id),
        "the user handle is the id"
    );
    assert_eq!(activation["user"]["name"], json!(login));
    assert_eq!(activation["attestation"], "none");
    assert_eq!(
        activation["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(
        activation["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert!(
        activation["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .contains(&json!({ "type": "public-key", "alg": -7 }))
    );
    assert!(b64url(&activation["challenge"]).len() >= 16);

    let key = Authenticator::new();
    let (attestation, client_data) = key.create(activation, &s.base);
    let (status, done) = post(
        s,
        &href(&tx, "/_links/next/href"),
        json!({ "stateToken": token(&tx), "attestation": attestation, "clientData": client_data }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "SUCCESS", "{done}");
    (key, user_id)
}

async fn password_then_mfa(s: &TestServer, login: &str) -> Value {
    let (status, tx) = post(
        s,
        &s.url("/api/v1/authn"),
        json!({ "username": login, "password": PASSWORD }),
    )
    .await;
    assert_eq!((status, tx["status"].as_str()), (200, Some("MFA_REQUIRED")));
    tx
}

async fn required_mfa() -> TestServer {
    support::start_with(|c| c.mfa_enrollment = MfaEnrollment::Required).await
}

#[tokio::test]
async fn a_passkey_enrolled_at_sign_in_is_a_second_factor_and_signs_in_alone() {
    let s = required_mfa().await;
    let (key, user_id) = enroll(&s, "kit@example.com").await;

    // The Factors API lists it, with the credential's id.
    let factors: Value = s
        .admin_get(&format!("/api/v1/users/{user_id}/factors"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = factors
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factorType"] == "webauthn")
        .unwrap_or_else(|| panic!("{factors}"));
    assert_eq!(listed["status"], "ACTIVE");
    assert_eq!(
        listed["profile"]["credentialId"],
        json!(URL_SAFE_NO_PAD.encode(&key.credential_id))
    );

    // MFA by factor id: the challenge, then the answer posted to the same URL (as the widget).
    let tx = password_then_mfa(&s, "kit@example.com").await;
    let factor = tx["_embedded"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factorType"] == "webauthn")
        .unwrap();
    let verify = href(factor, "/_links/verify/href");
    let (status, challenge) = post(&s, &verify, json!({ "stateToken": token(&tx) })).await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["status"], "MFA_CHALLENGE");
    let options = &challenge["_embedded"]["factor"]["_embedded"]["challenge"];
    assert_eq!(options["userVerification"], "required");
    assert_eq!(
        challenge["_embedded"]["factor"]["profile"]["credentialId"],
        listed["profile"]["credentialId"]
    );
    let (status, done) = post(
        &s,
        &verify,
        with(key.get(options, &s.base), &token(&challenge)),
    )
    .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("SUCCESS")),
        "{done}"
    );

    // MFA by type: any of the person's passkeys.
    let tx = password_then_mfa(&s, "kit@example.com").await;
    let by_type = s.url("/api/v1/authn/factors/webauthn/verify");
    let (_, challenge) = post(&s, &by_type, json!({ "stateToken": token(&tx) })).await;
    assert_eq!(challenge["status"], "MFA_CHALLENGE", "{challenge}");
    assert_eq!(challenge["factorType"], "webauthn");
    assert_eq!(
        challenge["_embedded"]["factors"][0]["factorType"],
        "webauthn"
    );
    let options = &challenge["_embedded"]["challenge"];
    let (_, done) = post(
        &s,
        &by_type,
        with(key.get(options, &s.base), &token(&challenge)),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");

    // Passwordless: any discoverable credential; the answer names the user. Two factors.
    let (status, start) = post(&s, &s.url("/api/v1/authn/passkey"), json!({})).await;
    assert_eq!(status, 200, "{start}");
    assert_eq!(start["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(start["publicKey"]["userVerification"], "required");
    let (status, done) = post(
        &s,
        &s.url("/api/v1/authn/passkey/verify"),
        with(key.get(&start["publicKey"], &s.base), &token(&start)),
    )
    .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("SUCCESS")),
        "{done}"
    );
    assert_eq!(done["_embedded"]["user"]["id"], json!(user_id));
    let session: Value = s
        .admin_post("/api/v1/sessions")
        .json(&json!({ "sessionToken": done["sessionToken"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["amr"], json!(["hwk", "user", "mfa"]), "{session}");
    assert_eq!(session["mfaActive"], true);
}

#[tokio::test]
async fn another_origin_a_replayed_answer_a_rewound_counter_and_a_deleted_passkey_are_refused() {
    let s = required_mfa().await;
    let (key, user_id) = enroll(&s, "lee@example.com").await;
    let start = s.url("/api/v1/authn/passkey");
    let verify = s.url("/api/v1/authn/passkey/verify");

    // An answer made on another page: refused, like any failed sign-in.
    let (_, begun) = post(&s, &start, json!({})).await;
    let (status, refused) = post(
        &s,
        &verify,
        with(
            key.get(&begun["publicKey"], "https://evil.example"),
            &token(&begun),
        ),
    )
    .await;
    assert_eq!((status, &refused["errorCode"]), (401, &json!("E0000004")));
    // The same at MFA, in Okta's error for a wrong answer.
    let tx = password_then_mfa(&s, "lee@example.com").await;
    let by_type = s.url("/api/v1/authn/factors/webauthn/verify");
    let (_, challenge) = post(&s, &by_type, json!({ "stateToken": token(&tx) })).await;
    let options = &challenge["_embedded"]["challenge"];
    let (status, refused) = post(
        &s,
        &by_type,
        with(key.get(options, "http://localhost:1"), &token(&challenge)),
    )
    .await;
    assert_eq!((status, &refused["errorCode"]), (403, &json!("E0000068")));
    // …and the challenge it answered is spent: the right answer to it no longer works.
    let (status, _) = post(
        &s,
        &by_type,
        with(key.get(options, &s.base), &token(&challenge)),
    )
    .await;
    assert_eq!(status, 403);

    // One answer sent twelve times at once: one sign-in.
    let (_, begun) = post(&s, &start, json!({})).await;
    let answer = with(key.get(&begun["publicKey"], &s.base), &token(&begun));
    let client = s.client.clone();
    let results = all_at_once(12, |_| {
        let (client, url, answer) = (client.clone(), verify.clone(), answer.clone());
        async move {
            let res = client.post(url).json(&answer).send().await.unwrap();
            res.status().as_u16()
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|s| *s == 200 || *s == 401),
        "{results:?}"
    );

    // A counter that went back: a cloned key.
    let (_, begun) = post(&s, &start, json!({})).await;
    key.rewind(1);
    let (status, _) = post(
        &s,
        &verify,
        with(key.get(&begun["publicKey"], &s.base), &token(&begun)),
    )
    .await;
    assert_eq!(status, 401);
    key.rewind(100);

    // Deleted through the Factors API: that passkey signs nobody in.
    let factors: Value = s
        .admin_get(&format!("/api/v1/users/{user_id}/factors"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = factors
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factorType"] == "webauthn")
        .and_then(|f| f["id"].as_str())
        .unwrap()
        .to_owned();
    let (_, begun) = post(&s, &start, json!({})).await;
    let res = s
        .admin_delete(&format!("/api/v1/users/{user_id}/factors/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, refused) = post(
        &s,
        &verify,
        with(key.get(&begun["publicKey"], &s.base), &token(&begun)),
    )
    .await;
    assert_eq!((status, &refused["errorCode"]), (401, &json!("E0000004")));
}

#[tokio::test]
async fn a_widget_on_a_trusted_origin_makes_passkeys_for_its_own_site() {
    let s = required_mfa().await;
    s.trust_origin("http://localhost:3902", &["CORS"]).await;
    s.create_user("max@example.com", PASSWORD).await;
    let enroll_from = |origin: &'static str| {
        let s = &s;
        async move {
            let (_, tx) = post(
                s,
                &s.url("/api/v1/authn"),
                json!({ "username": "max@example.com", "password": PASSWORD }),
            )
            .await;
            let res = s
                .client
                .post(s.url("/api/v1/authn/factors"))
                .header("Origin", origin)
                .json(&json!({ "stateToken": token(&tx), "factorType": "webauthn", "provider": "FIDO" }))
                .send()
                .await
                .unwrap();
            let tx: Value = res.json().await.unwrap();
            tx["_embedded"]["factor"]["_embedded"]["activation"]["rp"]["id"].clone()
        }
    };
    assert_eq!(enroll_from("http://localhost:3902").await, "localhost");
    // An origin nobody trusted gets this server's own relying party: its browser will refuse.
    assert_eq!(enroll_from("http://localhost:3999").await, "127.0.0.1");
}
