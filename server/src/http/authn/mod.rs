//! The Authentication API (`/api/v1/authn…`): each endpoint parses its body, runs one transition
//! of the core state machine off the async runtime, and answers in Okta's transaction shape.

pub(super) mod view;

use super::error::ApiError;
use super::extract::ClientAddr;
use super::extract::{OktaJson, is_admin};
use super::rate_limit::Attempt;
use super::{AppState, Services};
use crate::authn::factors::FactorStatus;
use crate::authn::flow::{self, Ctx, EnrollRequest, FlowError, Outcome};
use crate::authn::passkeys::{Assertion, Attestation, RelyingParty};
use crate::authn::recovery;
use crate::authn::transaction::TxOptions;
use crate::authn::transaction::{FactorResult, RecoveryType};
use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::directory::FieldError;
use crate::directory::OriginScope;
use crate::directory::trusted_origins::is_trusted;
use crate::paths;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::authn::{AuthnStatus, AuthnTx};
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::AUTHN, post(primary_or_resume))
        .route(paths::AUTHN_INTROSPECT, post(introspect))
        .route(paths::AUTHN_FACTORS, post(enroll))
        .route(paths::AUTHN_FACTOR_ACTIVATE, post(activate))
        .route(paths::AUTHN_FACTOR_VERIFY, post(verify))
        .route(paths::AUTHN_FACTOR_VERIFY_RESEND, post(resend))
        .route(paths::AUTHN_FACTOR_ACTIVATE_RESEND, post(resend))
        .route(paths::AUTHN_PASSKEY, post(start_passkey))
        .route(paths::AUTHN_PASSKEY_VERIFY, post(finish_passkey))
        .route(paths::AUTHN_PREVIOUS, post(previous))
        .route(paths::AUTHN_SKIP, post(skip))
        .route(paths::AUTHN_CANCEL, post(cancel))
        .route(paths::AUTHN_CHANGE_PASSWORD, post(change_password))
        .route(paths::AUTHN_RESET_PASSWORD, post(reset_password))
        .route(paths::AUTHN_RECOVERY_PASSWORD, post(recover_password))
        .route(paths::AUTHN_RECOVERY_UNLOCK, post(recover_unlock))
        .route(paths::AUTHN_RECOVERY_TOKEN, post(recovery_token))
        .route(paths::AUTHN_RECOVERY_ANSWER, post(recovery_answer))
}

/// Routes that browsers load directly (`<img>`), and reference data for enrollment.
pub(super) fn public_routes() -> Router<AppState> {
    Router::new()
        .route(paths::FACTOR_QR, get(qr_code))
        .route(paths::FACTOR_QUESTIONS, get(questions))
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::AuthenticationFailed => ApiError::AuthenticationFailed,
            FlowError::InvalidToken => ApiError::InvalidToken,
            FlowError::WrongState => ApiError::WrongState,
            FlowError::InvalidPasscode => ApiError::InvalidPasscode,
            FlowError::FactorNotFound => ApiError::NotFound("factor (UserFactor)".into()),
            FlowError::WrongAnswer => ApiError::WrongRecoveryAnswer,
            FlowError::Invalid(fields) => ApiError::Validation(fields),
            FlowError::PasswordRefused(fields) => ApiError::CredentialsRefused(fields),
            FlowError::Store(e) => e.into(),
            FlowError::Hash(e) => e.into(),
        }
    }
}

/// Runs one transition on the blocking pool and answers with the transaction.
async fn transition<F>(state: &AppState, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(&Ctx<'_>) -> Result<Outcome, FlowError> + Send + 'static,
{
    let now = Timestamp::now();
    let mut outcome = state.blocking(move |s| f(&s.ctx(now))).await??;
    if let Outcome::Pending(p) = &mut outcome {
        state.mailer.send_later(std::mem::take(&mut p.outbox));
    }
    let body = match &outcome {
        Outcome::Pending(p) => view::pending(&state.base_url, &state.authn, &state.policy, p),
        Outcome::Success(c) => view::success(c),
        Outcome::Unlocked(user) => view::unlocked(user),
        Outcome::LockedOut => view::locked_out(&state.base_url),
    };
    Ok(no_store(Json(body).into_response()))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn required(field: &'static str, value: Option<String>) -> Result<String, ApiError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            field,
            "The field cannot be left blank",
        )])
    })
}

fn state_token(value: Option<String>) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::InvalidToken)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AuthnOptions {
    multi_optional_factor_enroll: bool,
    warn_before_password_expired: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthnRequest {
    username: Option<String>,
    password: Option<String>,
    state_token: Option<String>,
    /// An activation token (Okta: `POST /authn {token}`).
    token: Option<String>,
    #[serde(default)]
    options: AuthnOptions,
}

/// `POST /api/v1/authn`: primary authentication, or with `stateToken` the current state.
async fn primary_or_resume(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    OktaJson(req): OktaJson<AuthnRequest>,
) -> Result<Response, ApiError> {
    if let Some(token) = req.state_token.filter(|t| !t.is_empty()) {
        return transition(&state, move |ctx| flow::resume(ctx, &token)).await;
    }
    if let Some(token) = req.token.filter(|t| !t.is_empty()) {
        return transition(&state, move |ctx| {
            recovery::verify_token(ctx, &token, recovery::TokenUse::Activation)
        })
        .await;
    }
    let username = req.username.unwrap_or_default();
    let password = req.password.unwrap_or_default();
    let mut missing = Vec::new();
    if username.trim().is_empty() {
        missing.push(FieldError::new(
            "username",
            "The field cannot be left blank",
        ));
    }
    if password.is_empty() {
        missing.push(FieldError::new(
            "password",
            "The field cannot be left blank",
        ));
    }
    if !missing.is_empty() {
        return Err(ApiError::Validation(missing));
    }
    let (login, from) = (username.clone(), addr.clone());
    let quota = (state
        .rate_limit(move |l| l.check_user(Attempt::SignIn, &login, &from, Timestamp::now())))
    .await?;
    if !quota.allowed {
        return Ok(quota.exceeded());
    }
    let options = TxOptions {
        multi_optional_factor_enroll: req.options.multi_optional_factor_enroll,
        warn_before_password_expired: req.options.warn_before_password_expired,
    };
    transition(&state, move |ctx| {
        flow::primary(ctx, &username, &password, options)
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateTokenBody {
    state_token: Option<String>,
}

async fn introspect(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<StateTokenBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    transition(&state, move |ctx| flow::resume(ctx, &token)).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnrollProfile {
    question: Option<String>,
    answer: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollBody {
    state_token: Option<String>,
    factor_type: Option<String>,
    provider: Option<String>,
    #[serde(default)]
    profile: EnrollProfile,
}

/// Where a WebAuthn ceremony runs: the page that asks (its `Origin`) when that is this server
/// or an origin the org trusts for CORS (a widget embedded there), else this server. A
/// browser's answer from any other page then fails the origin check.
pub(in crate::http) fn relying_party(s: &Services, origin: Option<&str>) -> RelyingParty {
    let base = RelyingParty::for_origin(&s.base_url, view::ISSUER_NAME);
    origin
        .filter(|o| {
            base.as_ref().is_some_and(|b| b.origin == *o)
                || is_trusted(s.store.as_ref(), o, OriginScope::Cors)
        })
        .and_then(|o| RelyingParty::for_origin(o, view::ISSUER_NAME))
        .or(base)
        .unwrap_or(RelyingParty {
            id: "localhost".to_owned(),
            origin: s.base_url.clone(),
            name: view::ISSUER_NAME.to_owned(),
        })
}

fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
}

async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    OktaJson(body): OktaJson<EnrollBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let mut req = EnrollRequest {
        factor_type: required("factorType", body.factor_type)?,
        provider: required("provider", body.provider)?,
        question: body.profile.question,
        answer: body.profile.answer,
        email: body.profile.email,
        rp: None,
    };
    let origin = origin_of(&headers);
    let services = state.clone();
    transition(&state, move |ctx| {
        req.rp = Some(relying_party(&services, origin.as_deref()));
        flow::enroll_factor(ctx, &token, &req)
    })
    .await
}

/// A passcode, an answer, or a WebAuthn ceremony's answer (Okta's field names; every binary
/// field base64).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PassCodeBody {
    state_token: Option<String>,
    pass_code: Option<String>,
    answer: Option<String>,
    attestation: Option<String>,
    client_data: Option<String>,
    authenticator_data: Option<String>,
    signature_data: Option<String>,
}

impl PassCodeBody {
    fn assertion(&self) -> Option<Assertion> {
        Some(Assertion {
            client_data: self.client_data.clone()?,
            authenticator_data: self.authenticator_data.clone()?,
            signature: self.signature_data.clone()?,
            credential_id: None,
            user_handle: None,
        })
    }
}

async fn activate(
    State(state): State<AppState>,
    Path(factor_id): Path<String>,
    OktaJson(body): OktaJson<PassCodeBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    if let Some(attestation) = body.attestation.filter(|a| !a.is_empty()) {
        let answer = Attestation {
            attestation,
            client_data: required("clientData", body.client_data)?,
        };
        return transition(&state, move |ctx| {
            flow::activate_passkey(ctx, &token, &factor_id, &answer)
        })
        .await;
    }
    let code = required("passCode", body.pass_code)?;
    transition(&state, move |ctx| {
        flow::activate_factor(ctx, &token, &factor_id, &code)
    })
    .await
}

async fn verify(
    State(state): State<AppState>,
    Path(factor_id): Path<String>,
    headers: HeaderMap,
    OktaJson(body): OktaJson<PassCodeBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token.clone())?;
    let assertion = body.assertion();
    let input = body.pass_code.or(body.answer);
    let origin = origin_of(&headers);
    let services = state.clone();
    transition(&state, move |ctx| {
        if assertion.is_some() || flow::is_passkey(ctx, &token, &factor_id)? {
            let rp = relying_party(&services, origin.as_deref());
            return flow::verify_passkey(ctx, &token, &factor_id, &rp, assertion.as_ref());
        }
        flow::verify_factor(ctx, &token, &factor_id, input.as_deref())
    })
    .await
}

/// `POST /api/v1/authn/passkey`: a challenge for any passkey made for the page asking, under a
/// new state token (`{stateToken, expiresAt, publicKey}`).
async fn start_passkey(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let origin = origin_of(&headers);
    let now = Timestamp::now();
    let (token, tx) = state
        .blocking(move |s| {
            let rp = relying_party(s, origin.as_deref());
            flow::start_passkey_sign_in(&s.ctx(now), &rp)
        })
        .await??;
    let options = tx
        .ceremony
        .as_ref()
        .map(crate::authn::passkeys::request_options)
        .unwrap_or_default();
    Ok(no_store(
        Json(json!({
            "stateToken": token,
            "expiresAt": tx.expires_at.iso8601(),
            "publicKey": options,
        }))
        .into_response(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasskeyAnswer {
    state_token: Option<String>,
    credential_id: Option<String>,
    client_data: Option<String>,
    authenticator_data: Option<String>,
    signature_data: Option<String>,
    user_handle: Option<String>,
    #[serde(default)]
    options: AuthnOptions,
}

/// `POST /api/v1/authn/passkey/verify`: the browser's answer; the transaction goes on as after
/// a password and a second factor (SUCCESS, or a step the policy still asks for).
async fn finish_passkey(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<PasskeyAnswer>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let answer = Assertion {
        client_data: required("clientData", body.client_data)?,
        authenticator_data: required("authenticatorData", body.authenticator_data)?,
        signature: required("signatureData", body.signature_data)?,
        credential_id: body.credential_id,
        user_handle: body.user_handle,
    };
    let options = TxOptions {
        multi_optional_factor_enroll: body.options.multi_optional_factor_enroll,
        warn_before_password_expired: body.options.warn_before_password_expired,
    };
    transition(&state, move |ctx| {
        flow::finish_passkey_sign_in(ctx, &token, &answer, options)
    })
    .await
}

async fn resend(
    State(state): State<AppState>,
    Path(factor_id): Path<String>,
    OktaJson(body): OktaJson<StateTokenBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    transition(&state, move |ctx| flow::resend(ctx, &token, &factor_id)).await
}

async fn previous(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<StateTokenBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    transition(&state, move |ctx| flow::previous(ctx, &token)).await
}

async fn skip(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<StateTokenBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    transition(&state, move |ctx| flow::skip(ctx, &token)).await
}

async fn cancel(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<StateTokenBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let now = Timestamp::now();
    state
        .blocking(move |s| flow::cancel(&s.ctx(now), &token))
        .await??;
    Ok(no_store(Json(view::unauthenticated()).into_response()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordBody {
    state_token: Option<String>,
    old_password: Option<String>,
    new_password: Option<String>,
}

async fn change_password(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<ChangePasswordBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let old = required("oldPassword", body.old_password)?;
    let new = required("newPassword", body.new_password)?;
    transition(&state, move |ctx| {
        flow::change_password(ctx, &token, &old, &new)
    })
    .await
}

/// The QR code of a TOTP factor awaiting activation, as SVG. The URL's last segment is the
/// factor's activation token; once the factor is active the image is gone.
async fn qr_code(
    State(state): State<AppState>,
    Path((user_id, factor_id, token)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("{factor_id} (UserFactor)"));
    let factor = state
        .store
        .factor(&user_id, &factor_id)?
        .filter(|f| f.status == FactorStatus::PendingActivation)
        .ok_or_else(not_found)?;
    let expected = factor.activation_token.as_deref().ok_or_else(not_found)?;
    if !Digest::of(expected).ct_eq(&Digest::of(&token)) {
        return Err(not_found());
    }
    let user = state.store.user(&user_id)?.ok_or_else(not_found)?;
    let uri = factor
        .otpauth_uri(view::ISSUER_NAME, &user.profile.login)
        .ok_or_else(not_found)?;
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(format!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    let mut response = svg.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The security questions a person may choose from.
async fn questions() -> Json<serde_json::Value> {
    Json(serde_json::Value::Array(
        crate::authn::factors::QUESTIONS
            .iter()
            .map(|(key, text)| json!({ "question": key, "questionText": text }))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryBody {
    username: Option<String>,
    factor_type: Option<String>,
}

async fn recover_password(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    OktaJson(body): OktaJson<RecoveryBody>,
) -> Result<Response, ApiError> {
    start_recovery(state, &addr, headers, body, RecoveryType::Password).await
}

async fn recover_unlock(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    OktaJson(body): OktaJson<RecoveryBody>,
) -> Result<Response, ApiError> {
    start_recovery(state, &addr, headers, body, RecoveryType::Unlock).await
}

/// Starts a recovery. Public callers get the same RECOVERY_CHALLENGE for every username and the
/// email goes out in the background; a trusted caller (SSWS) gets the token itself.
async fn start_recovery(
    state: AppState,
    addr: &str,
    headers: HeaderMap,
    body: RecoveryBody,
    kind: RecoveryType,
) -> Result<Response, ApiError> {
    let username = required("username", body.username)?;
    let factor = body.factor_type.unwrap_or_else(|| "EMAIL".to_owned());
    if !factor.eq_ignore_ascii_case("EMAIL") {
        return Err(ApiError::Validation(vec![FieldError::new(
            "factorType",
            "Only EMAIL recovery is available",
        )]));
    }
    let trusted = is_admin(&headers, &state);
    let (login, from) = (username.clone(), addr.to_owned());
    let quota = (state
        .rate_limit(move |l| l.check_user(Attempt::Recovery, &login, &from, Timestamp::now())))
    .await?;
    if !trusted && !quota.allowed {
        return Ok(quota.exceeded());
    }
    let now = Timestamp::now();
    let started = state
        .blocking(move |s| recovery::start(&s.ctx(now), &username, kind, &s.base_url, !trusted))
        .await??;
    if trusted {
        let token = started.token.ok_or(ApiError::RecoveryNotAllowed)?;
        let mut tx = AuthnTx::new(AuthnStatus::Recovery);
        tx.recovery_token = Some(token);
        tx.recovery_type = Some(kind.as_str().to_owned());
        return Ok(no_store(Json(tx).into_response()));
    }
    state.mailer.send_later(started.emails);
    let mut tx = AuthnTx::new(AuthnStatus::RecoveryChallenge);
    tx.factor_result = Some(FactorResult::Waiting.as_str().to_owned());
    tx.factor_type = Some("EMAIL".to_owned());
    tx.recovery_type = Some(kind.as_str().to_owned());
    tx.links.cancel = Some(view::link(&state.base_url, paths::AUTHN_CANCEL, "POST"));
    Ok(no_store(Json(tx).into_response()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryTokenBody {
    recovery_token: Option<String>,
}

async fn recovery_token(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<RecoveryTokenBody>,
) -> Result<Response, ApiError> {
    let token = body
        .recovery_token
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::InvalidToken)?;
    transition(&state, move |ctx| {
        recovery::verify_token(ctx, &token, recovery::TokenUse::Recovery)
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerBody {
    state_token: Option<String>,
    answer: Option<String>,
}

async fn recovery_answer(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<AnswerBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let answer = required("answer", body.answer)?;
    transition(&state, move |ctx| recovery::answer(ctx, &token, &answer)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetPasswordBody {
    state_token: Option<String>,
    new_password: Option<String>,
}

async fn reset_password(
    State(state): State<AppState>,
    OktaJson(body): OktaJson<ResetPasswordBody>,
) -> Result<Response, ApiError> {
    let token = state_token(body.state_token)?;
    let new = required("newPassword", body.new_password)?;
    transition(&state, move |ctx| {
        recovery::reset_password(ctx, &token, &new)
    })
    .await
}
