//! Calls to the Authentication API from the widget.

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug)]
pub(crate) enum SignInError {
    /// The server answered with an Okta error (status, summary); the summary is shown as is.
    Rejected(u16, String),
    /// No usable answer: offline, or the page's origin is not trusted (CORS).
    Unreachable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaError {
    error_summary: String,
}

/// `POST {base}/api/v1/authn {username, password}` → the SUCCESS transaction.
pub(crate) async fn primary(
    base_url: &str,
    username: &str,
    password: &str,
) -> Result<Value, SignInError> {
    let response = gloo_net::http::Request::post(&format!("{base_url}/api/v1/authn"))
        .credentials(web_sys::RequestCredentials::Include)
        .header("Accept", "application/json")
        .json(&json!({ "username": username, "password": password }))
        .map_err(|_| SignInError::Unreachable)?
        .send()
        .await
        .map_err(|_| SignInError::Unreachable)?;
    if response.ok() {
        let body: Value = response
            .json()
            .await
            .map_err(|_| SignInError::Unreachable)?;
        if body.get("status").and_then(Value::as_str) == Some("SUCCESS") {
            return Ok(body);
        }
        return Err(SignInError::Rejected(
            200,
            "This sign-in step is not supported yet.".into(),
        ));
    }
    let status = response.status();
    match response.json::<OktaError>().await {
        Ok(e) => Err(SignInError::Rejected(status, e.error_summary)),
        Err(_) => Err(SignInError::Unreachable),
    }
}

/// The object handed to the host's success callback (Okta widget's non-OIDC shape).
pub(crate) fn success_object(transaction: &Value) -> Value {
    json!({
        "status": "SUCCESS",
        "session": { "token": transaction.get("sessionToken") },
        "user": transaction.pointer("/_embedded/user"),
    })
}
