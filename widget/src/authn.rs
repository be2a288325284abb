//! Calls to the Authentication API from the widget, and the map from a step form's fields to
//! the API request that answers it (the hosted pages post the same forms to the server).

use app::RegisterField;
use app::authn::{AuthnStatus, AuthnTx};
use app::components::steps::StepAction;
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug)]
pub(crate) enum SignInError {
    /// The server answered with an Okta error: status, `errorCode`, and the summary with its
    /// causes, shown as is when no better words are known.
    Rejected(u16, String, String),
    /// No usable answer: offline, or the page's origin is not trusted (CORS).
    Unreachable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaError {
    #[serde(default)]
    error_code: String,
    error_summary: String,
    #[serde(default)]
    error_causes: Vec<Cause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cause {
    error_summary: String,
}

/// `POST {base}{path}` with a JSON body (`GET` without one) → the JSON the server answers
/// with.
pub(crate) async fn call(
    base_url: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, SignInError> {
    let url = format!("{base_url}{path}");
    let request = match body {
        Some(body) => gloo_net::http::Request::post(&url)
            .credentials(web_sys::RequestCredentials::Include)
            .header("Accept", "application/json")
            .json(body)
            .map_err(|_| SignInError::Unreachable)?,
        None => gloo_net::http::Request::get(&url)
            .credentials(web_sys::RequestCredentials::Include)
            .header("Accept", "application/json")
            .build()
            .map_err(|_| SignInError::Unreachable)?,
    };
    let response = request.send().await.map_err(|_| SignInError::Unreachable)?;
    let status = response.status();
    if response.ok() {
        return response
            .json::<Value>()
            .await
            .map_err(|_| SignInError::Unreachable);
    }
    match response.json::<OktaError>().await {
        Ok(e) => {
            let mut text = e.error_summary;
            for c in e.error_causes {
                if !text.contains(&c.error_summary) {
                    text.push(' ');
                    text.push_str(&c.error_summary);
                }
            }
            Err(SignInError::Rejected(status, e.error_code, text))
        }
        Err(_) => Err(SignInError::Unreachable),
    }
}

pub(crate) const AUTHN: &str = "/api/v1/authn";
/// A passkey sign-in: its challenge, then the answer.
pub(crate) const PASSKEY: &str = app::paths::AUTHN_PASSKEY;
pub(crate) const PASSKEY_VERIFY: &str = "/api/v1/authn/passkey/verify";
pub(crate) const RECOVERY_PASSWORD: &str = "/api/v1/authn/recovery/password";
pub(crate) const RECOVERY_UNLOCK: &str = "/api/v1/authn/recovery/unlock";
pub(crate) const RECOVERY_TOKEN: &str = "/api/v1/authn/recovery/token";
pub(crate) const CANCEL: &str = "/api/v1/authn/cancel";
pub(crate) const REGISTRATION_FORM: &str = "/api/v1/registration/form";

/// `POST` here to sign up under registration policy `policy_id`.
pub(crate) fn register_path(policy_id: &str) -> String {
    format!("/api/v1/registration/{policy_id}/register")
}

/// The registration form the server describes (Okta's `policyId` and `profileSchema`): its
/// policy and the attributes it asks for beyond the email and names, in its order.
pub(crate) fn registration_form(answer: &Value) -> Option<(String, Vec<RegisterField>)> {
    let policy_id = answer.get("policyId")?.as_str()?.to_owned();
    let schema = answer.get("profileSchema")?;
    let properties = schema.get("properties")?.as_object()?;
    let listed = |key: &str| -> Vec<&str> {
        schema
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let required = listed("required");
    let mut order = listed("fieldOrder");
    for name in properties.keys() {
        if !order.contains(&name.as_str()) {
            order.push(name);
        }
    }
    let fixed = [
        app::fields::EMAIL,
        app::fields::FIRST_NAME,
        app::fields::LAST_NAME,
    ];
    let attributes = order
        .into_iter()
        .filter(|name| !fixed.contains(name))
        .filter_map(|name| {
            let p = properties.get(name)?;
            let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(RegisterField {
                name: name.to_owned(),
                title: text("title").unwrap_or_else(|| name.to_owned()),
                kind: text("type").unwrap_or_else(|| "string".to_owned()),
                required: required.contains(&name),
            })
        })
        .collect();
    Some((policy_id, attributes))
}

/// The body that signs up with a filled-in form: `userProfile` with each attribute of the
/// type the form gave it (a number for an integer field, `true`/`false` for a check box);
/// empty fields are left out.
pub(crate) fn registration_body(
    fields: &Map<String, Value>,
    attributes: &[RegisterField],
) -> Value {
    let text = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let mut profile = Map::new();
    for k in [
        app::fields::EMAIL,
        app::fields::FIRST_NAME,
        app::fields::LAST_NAME,
    ] {
        profile.insert(k.to_owned(), json!(text(k)));
    }
    for a in attributes {
        let v = text(&a.name);
        let value = match a.kind.as_str() {
            "boolean" => json!(v == "true"),
            _ if v.is_empty() => continue,
            "integer" => v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)),
            "number" => v.parse::<f64>().map_or_else(|_| json!(v), |n| json!(n)),
            _ => json!(v),
        };
        profile.insert(a.name.clone(), value);
    }
    json!({ "userProfile": profile })
}

/// The request that answers a step form: (path, body). `fields` are the form's fields;
/// `status` is the transaction's current status. `None` for an unknown action.
pub(crate) fn step_request(
    status: AuthnStatus,
    state_token: &str,
    fields: &Map<String, Value>,
) -> Option<(String, Value)> {
    let field = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let raw = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let factor = field(app::fields::FACTOR_ID).unwrap_or_default();
    let mut body = json!({ "stateToken": state_token });
    let path = match StepAction::parse(&field(app::fields::ACTION)?)? {
        StepAction::Verify => {
            if let Some(code) = field(app::fields::PASSCODE) {
                body["passCode"] = json!(code);
            }
            if let Some(answer) = field(app::fields::ANSWER) {
                body["answer"] = json!(answer);
            }
            // A passkey's answer, filled in by the passkey script (Okta's field names).
            for (name, key) in [
                (app::fields::CLIENT_DATA, "clientData"),
                (app::fields::AUTHENTICATOR_DATA, "authenticatorData"),
                (app::fields::SIGNATURE_DATA, "signatureData"),
            ] {
                if let Some(v) = field(name) {
                    body[key] = json!(v);
                }
            }
            format!("/api/v1/authn/factors/{factor}/verify")
        }
        StepAction::Enroll => {
            body["factorType"] = json!(field(app::fields::FACTOR_TYPE)?);
            body["provider"] = json!(field(app::fields::PROVIDER)?);
            let mut profile = Map::new();
            if let Some(q) = field(app::fields::QUESTION) {
                profile.insert("question".into(), json!(q));
            }
            if let Some(a) = field(app::fields::ANSWER) {
                profile.insert("answer".into(), json!(a));
            }
            if !profile.is_empty() {
                body["profile"] = Value::Object(profile);
            }
            "/api/v1/authn/factors".to_owned()
        }
        StepAction::Activate if field(app::fields::ATTESTATION).is_some() => {
            body["attestation"] = json!(field(app::fields::ATTESTATION));
            body["clientData"] = json!(field(app::fields::CLIENT_DATA));
            format!("/api/v1/authn/factors/{factor}/lifecycle/activate")
        }
        StepAction::Activate => {
            body["passCode"] = json!(field(app::fields::PASSCODE).unwrap_or_default());
            format!("/api/v1/authn/factors/{factor}/lifecycle/activate")
        }
        StepAction::Resend if status == AuthnStatus::MfaEnrollActivate => {
            format!("/api/v1/authn/factors/{factor}/lifecycle/resend")
        }
        StepAction::Resend => format!("/api/v1/authn/factors/{factor}/verify/resend"),
        StepAction::Prev => "/api/v1/authn/previous".to_owned(),
        StepAction::Skip => "/api/v1/authn/skip".to_owned(),
        StepAction::Cancel => CANCEL.to_owned(),
        StepAction::ChangePassword => {
            body["oldPassword"] = json!(raw(app::fields::OLD_PASSWORD));
            body["newPassword"] = json!(raw(app::fields::NEW_PASSWORD));
            "/api/v1/authn/credentials/change_password".to_owned()
        }
        StepAction::ResetPassword => {
            body["newPassword"] = json!(raw(app::fields::NEW_PASSWORD));
            "/api/v1/authn/credentials/reset_password".to_owned()
        }
        StepAction::Answer => {
            body["answer"] = json!(raw(app::fields::ANSWER));
            "/api/v1/authn/recovery/answer".to_owned()
        }
    };
    Some((path, body))
}

/// The object handed to the host's success callback (Okta widget's non-OIDC shape).
pub(crate) fn success_object(transaction: &AuthnTx) -> Value {
    json!({
        "status": "SUCCESS",
        "session": { "token": transaction.session_token },
        "user": transaction.embedded.user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    #[test]
    fn the_registration_form_is_read_and_answered_with_typed_values() {
        let answer = json!({
            "policyId": "rst1",
            "profileSchema": {
                "properties": {
                    "email": { "type": "string", "title": "Email" },
                    "firstName": { "type": "string" }, "lastName": { "type": "string" },
                    "age": { "type": "integer", "title": "Age" },
                    "newsletter": { "type": "boolean", "title": "Newsletter" },
                    "department": { "type": "string", "title": "Department" },
                },
                "required": ["email", "firstName", "lastName", "department"],
                "fieldOrder": ["email", "firstName", "lastName", "department", "age"],
            },
        });
        let (policy, attributes) = registration_form(&answer).unwrap();
        assert_eq!(policy, "rst1");
        let names: Vec<&str> = attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["department", "age", "newsletter"],
            "in the form's order"
        );
        assert!(attributes[0].required && !attributes[1].required);
        let body = registration_body(
            &form(&[
                ("email", " new@example.com "),
                ("firstName", "New"),
                ("lastName", "Person"),
                ("department", ""),
                ("age", "42"),
            ]),
            &attributes,
        );
        assert_eq!(
            body,
            json!({ "userProfile": {
                "email": "new@example.com", "firstName": "New", "lastName": "Person",
                "age": 42, "newsletter": false,
            } })
        );
        assert!(registration_form(&json!({ "errorCode": "E0000007" })).is_none());
    }

    #[test]
    fn step_forms_map_to_the_authn_api() {
        let (path, body) = step_request(
            AuthnStatus::MfaRequired,
            "st",
            &form(&[
                ("action", "verify"),
                ("factor_id", "f1"),
                ("passcode", " 123456 "),
            ]),
        )
        .unwrap();
        assert_eq!(path, "/api/v1/authn/factors/f1/verify");
        assert_eq!(body, json!({ "stateToken": "st", "passCode": "123456" }));

        let (path, body) = step_request(
            AuthnStatus::MfaEnroll,
            "st",
            &form(&[
                ("action", "enroll"),
                ("factor_type", "question"),
                ("provider", "OKTA"),
                ("question", "disliked_food"),
                ("answer", "okra"),
            ]),
        )
        .unwrap();
        assert_eq!(path, "/api/v1/authn/factors");
        assert_eq!(
            body["profile"],
            json!({ "question": "disliked_food", "answer": "okra" })
        );

        let resend = |status| {
            step_request(
                status,
                "st",
                &form(&[("action", "resend"), ("factor_id", "e1")]),
            )
            .unwrap()
            .0
        };
        assert_eq!(
            resend(AuthnStatus::MfaEnrollActivate),
            "/api/v1/authn/factors/e1/lifecycle/resend"
        );
        assert_eq!(
            resend(AuthnStatus::MfaChallenge),
            "/api/v1/authn/factors/e1/verify/resend"
        );

        let (path, body) = step_request(
            AuthnStatus::PasswordExpired,
            "st",
            &form(&[
                ("action", "change_password"),
                ("old_password", " old "),
                ("new_password", "New-Pass-1 "),
            ]),
        )
        .unwrap();
        assert_eq!(path, "/api/v1/authn/credentials/change_password");
        assert_eq!(
            body["oldPassword"], " old ",
            "passwords are sent exactly as typed"
        );
        assert_eq!(body["newPassword"], "New-Pass-1 ");
        assert!(
            step_request(AuthnStatus::MfaRequired, "st", &form(&[("action", "nope")])).is_none()
        );
    }
}
