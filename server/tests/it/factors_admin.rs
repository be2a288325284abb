//! Factors admin API: an admin enrolls and activates TOTP for a user, sign-in then requires
//! it, and `reset_factors` clears everything for someone who lost their phone.

use crate::support::{self, ADMIN_TOKEN, PASSWORD, step_now};
use portcullis::authn::factors::totp_code;
use serde_json::{Value, json};

#[tokio::test]
async fn admins_enroll_activate_list_and_reset_factors() {
    let s = support::start().await;
    let user = s.create_user("fac@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();

    let res = s
        .admin_post(&format!("/api/v1/users/{id}/factors"))
        .json(&json!({ "factorType": "token:software:totp", "provider": "OKTA" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let factor: Value = res.json().await.unwrap();
    assert_eq!(factor["status"], "PENDING_ACTIVATION");
    let secret = factor["_embedded"]["activation"]["sharedSecret"]
        .as_str()
        .unwrap();
    let activate = factor["_links"]["activate"]["href"].as_str().unwrap();

    let wrong = s
        .client
        .post(activate)
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .json(&json!({ "passCode": "000000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let ok = s
        .client
        .post(activate)
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .json(&json!({ "passCode": totp_code(secret, step_now()).unwrap() }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap()["status"], "ACTIVE");

    let list: Value = s
        .admin_get(&format!("/api/v1/users/{id}/factors"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("_embedded").is_none(), "no secret once active");

    let tx: Value = s
        .authn("fac@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tx["status"], "MFA_REQUIRED");

    let reset = s
        .admin_post(&format!("/api/v1/users/{id}/lifecycle/reset_factors"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let tx: Value = s
        .authn("fac@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tx["status"], "SUCCESS");
}

#[tokio::test]
async fn unknown_users_factors_and_bad_requests_are_okta_errors() {
    let s = support::start().await;
    let user = s.create_user("fac2@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let res = s
        .admin_get("/api/v1/users/nobody/factors")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = s
        .client
        .delete(s.url(&format!("/api/v1/users/{id}/factors/ufsnope")))
        .header("Authorization", format!("SSWS {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = s
        .admin_post(&format!("/api/v1/users/{id}/factors"))
        .json(&json!({ "factorType": "sms", "provider": "OKTA" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errorCode"], "E0000001");
    let res = s
        .client
        .get(s.url(&format!("/api/v1/users/{id}/factors")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "admin only");
}
