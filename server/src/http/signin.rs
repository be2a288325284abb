//! The hosted pages for the steps after the password: MFA, enrollment, password change,
//! recovery and unlock. They drive the same transitions as `/api/v1/authn`, keeping the state
//! token in an HttpOnly cookie, and are plain forms: every step works without script, a reload
//! shows the current step again (post, then redirect, then get), and so does the back button.

use super::AppState;
use super::authn::view;
use super::extract::ClientAddr;
use super::extract::cookie;
use super::pages::{
    FormFlow, base_page, cookie_header, cookie_name, csrf_matches, expired_cookie, messages,
    render, render_form, safe_continue, session_cookie_for,
};
use super::rate_limit::Attempt;
use crate::authn::flow::{self, EnrollRequest, FlowError, Outcome};
use crate::authn::passkeys::{Assertion, Attestation, RelyingParty};
use crate::authn::recovery::{self, TokenUse};
use crate::authn::session::exchange_session_token;
use crate::authn::transaction::RecoveryType;
use crate::clock::Timestamp;
use crate::paths;
use app::authn::AuthnTx;
use app::components::steps::StepAction;
use app::i18n::Messages;
use app::{Notice, View};
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// The sign-in in progress: its state token, where to go afterwards, and whether to keep the
/// session beyond the browser session.
const FLOW_COOKIE: &str = "pc_flow";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::STEP, get(show_step).post(answer_step))
        .route(paths::FORGOT_PASSWORD, get(forgot_page).post(forgot_submit))
        .route(paths::UNLOCK, get(unlock_page).post(unlock_submit))
        .route(paths::REGISTER, get(register_page).post(register_submit))
        .route(paths::RESET_LINK, get(link_page).post(link_redeem))
        .route(paths::UNLOCK_LINK, get(link_page).post(link_redeem))
        .route(paths::ACTIVATE_LINK, get(link_page).post(link_redeem))
        .route(paths::SIGNED_OUT, get(signed_out))
}

/// What the flow cookie holds.
#[derive(Debug, Default, Clone)]
pub(super) struct Flow {
    pub token: String,
    pub from_uri: Option<String>,
    pub remember: bool,
}

impl Flow {
    fn encode(&self) -> String {
        let json = serde_json::json!({ "t": self.token, "f": self.from_uri, "r": self.remember });
        // Cookie values may not contain `;` `,` or spaces: base64url keeps it compact.
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode(value: &str) -> Option<Flow> {
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
        let token = json["t"].as_str()?.to_owned();
        (!token.is_empty()).then(|| Flow {
            token,
            from_uri: json["f"].as_str().and_then(safe_continue),
            remember: json["r"].as_bool().unwrap_or(false),
        })
    }

    fn from_headers(state: &AppState, headers: &HeaderMap) -> Option<Flow> {
        cookie(headers, &cookie_name(state, FLOW_COOKIE)).and_then(Flow::decode)
    }
}

/// The cookie that carries `flow` to the step pages.
pub(super) fn flow_cookie(state: &AppState, flow: &Flow) -> HeaderValue {
    cookie_header(state, FLOW_COOKIE, &flow.encode(), None)
}

pub(super) fn see_other(to: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// On to the step pages with `flow` (its transaction waiting at a step).
pub(super) fn to_step(state: &AppState, flow: &Flow) -> Response {
    let mut r = see_other(paths::STEP);
    r.headers_mut()
        .append(header::SET_COOKIE, flow_cookie(state, flow));
    r
}

/// The transaction as the pages show it: the API's JSON, without the state token.
fn page_tx(state: &AppState, p: &flow::Pending) -> AuthnTx {
    let mut tx = view::pending(&state.base_url, &state.authn, &state.policy, p);
    tx.state_token = None;
    tx
}

/// Renders the step `p` is at, with an error message if the last answer was wrong.
async fn render_step(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    p: &flow::Pending,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let mut page = base_page(state, headers, uri, View::Step);
    page.path = paths::STEP.to_owned();
    page.authn = Some(page_tx(state, p));
    page.questions = app::authn::question_choices();
    page.error = error;
    let flow = FormFlow::Step(&p.state_token);
    render_form(state, headers, paths::STEP, flow, page, status).await
}

/// A notice page (check your email, unlocked, signed out…).
async fn notice(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    which: Notice,
    status: StatusCode,
) -> Response {
    let mut page = base_page(state, headers, uri, View::Notice);
    page.notice = which;
    render(state, uri.path(), page, status).await
}

/// Back to the sign-in form with a message (the flow cookie is dropped).
async fn restart(state: &AppState, headers: &HeaderMap, uri: &Uri, message: &str) -> Response {
    let mut page = base_page(state, headers, uri, View::Login);
    page.path = paths::LOGIN.to_owned();
    page.error = Some(message.to_owned());
    page.from_uri = Flow::from_headers(state, headers).and_then(|f| f.from_uri);
    let from = page.from_uri.clone();
    let flow = FormFlow::Login(from.as_deref());
    let mut r = render_form(
        state,
        headers,
        paths::LOGIN,
        flow,
        page,
        StatusCode::BAD_REQUEST,
    )
    .await;
    r.headers_mut()
        .append(header::SET_COOKIE, expired_cookie(state, FLOW_COOKIE));
    r
}

async fn show_step(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let m = messages(&headers, &uri);
    let Some(flow) = Flow::from_headers(&state, &headers) else {
        return see_other(paths::LOGIN);
    };
    let now = Timestamp::now();
    let token = flow.token.clone();
    let outcome = state
        .blocking(move |s| flow::resume(&s.ctx(now), &token))
        .await;
    match outcome {
        Ok(Ok(Outcome::Pending(p))) => {
            render_step(&state, &headers, &uri, &p, None, StatusCode::OK).await
        }
        Ok(Ok(_)) | Ok(Err(FlowError::InvalidToken)) => {
            restart(&state, &headers, &uri, m.err_tx_expired).await
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "showing a sign-in step failed");
            restart(&state, &headers, &uri, m.err_internal).await
        }
        Err(e) => {
            tracing::error!(error = %e, "showing a sign-in step failed");
            restart(&state, &headers, &uri, m.err_internal).await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StepForm {
    csrf: String,
    action: String,
    factor_id: String,
    factor_type: String,
    provider: String,
    passcode: String,
    answer: String,
    question: String,
    old_password: String,
    new_password: String,
    confirm_password: String,
    attestation: String,
    client_data: String,
    authenticator_data: String,
    signature_data: String,
    credential_id: String,
    user_handle: String,
}

impl StepForm {
    /// The browser's answer to a passkey challenge, when the form carries one.
    fn assertion(&self) -> Option<Assertion> {
        (!self.client_data.is_empty()).then(|| Assertion {
            client_data: self.client_data.clone(),
            authenticator_data: self.authenticator_data.clone(),
            signature: self.signature_data.clone(),
            credential_id: opt(&self.credential_id),
            user_handle: opt(&self.user_handle),
        })
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Runs the transition a step form asks for; a passkey's ceremony runs at `rp` (these pages).
fn transition(
    ctx: &flow::Ctx<'_>,
    rp: &RelyingParty,
    token: &str,
    f: &StepForm,
) -> Result<Outcome, FlowError> {
    match StepAction::parse(&f.action) {
        Some(StepAction::Verify) if flow::is_passkey(ctx, token, &f.factor_id)? => {
            flow::verify_passkey(ctx, token, &f.factor_id, rp, f.assertion().as_ref())
        }
        Some(StepAction::Verify) => {
            let input = opt(&f.passcode).or_else(|| opt(&f.answer));
            flow::verify_factor(ctx, token, &f.factor_id, input.as_deref())
        }
        Some(StepAction::Enroll) => flow::enroll_factor(
            ctx,
            token,
            &EnrollRequest {
                factor_type: f.factor_type.clone(),
                provider: f.provider.clone(),
                question: opt(&f.question),
                answer: opt(&f.answer),
                email: None,
                rp: Some(rp.clone()),
            },
        ),
        Some(StepAction::Activate) if !f.attestation.is_empty() => {
            let answer = Attestation {
                attestation: f.attestation.clone(),
                client_data: f.client_data.clone(),
            };
            flow::activate_passkey(ctx, token, &f.factor_id, &answer)
        }
        Some(StepAction::Activate) => {
            flow::activate_factor(ctx, token, &f.factor_id, f.passcode.trim())
        }
        Some(StepAction::Resend) => flow::resend(ctx, token, &f.factor_id),
        Some(StepAction::Prev) => flow::previous(ctx, token),
        Some(StepAction::Skip) => flow::skip(ctx, token),
        Some(StepAction::ChangePassword) => {
            flow::change_password(ctx, token, &f.old_password, &f.new_password)
        }
        Some(StepAction::ResetPassword) => recovery::reset_password(ctx, token, &f.new_password),
        Some(StepAction::Answer) => recovery::answer(ctx, token, &f.answer),
        // Cancel ends the transaction before any transition is looked for.
        Some(StepAction::Cancel) | None => Err(FlowError::WrongState),
    }
}

/// What went wrong, in the person's language.
fn explain(m: &Messages, e: &FlowError, f: &StepForm) -> String {
    match e {
        FlowError::InvalidPasscode
            if StepAction::parse(&f.action) == Some(StepAction::Verify)
                && f.passcode.is_empty() =>
        {
            m.err_wrong_answer.to_owned()
        }
        FlowError::InvalidPasscode if !f.client_data.is_empty() || !f.attestation.is_empty() => {
            m.err_wrong_passkey.to_owned()
        }
        FlowError::InvalidPasscode => m.err_wrong_code.to_owned(),
        FlowError::WrongAnswer => m.err_wrong_answer.to_owned(),
        FlowError::AuthenticationFailed => m.err_failed.to_owned(),
        FlowError::FactorNotFound => m.step_unknown.to_owned(),
        FlowError::PasswordRefused(fields) | FlowError::Invalid(fields) => {
            let reasons: Vec<String> = fields
                .iter()
                .map(|f| m.password_refused(&f.message))
                .collect();
            if reasons.is_empty() {
                m.err_required.to_owned()
            } else {
                reasons.join(" ")
            }
        }
        _ => m.err_internal.to_owned(),
    }
}

async fn answer_step(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<StepForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let m = messages(&headers, &uri);
    let Some(flow) = Flow::from_headers(&state, &headers) else {
        return restart(&state, &headers, &uri, m.err_tx_expired).await;
    };
    let Form(form) = form.unwrap_or_default();
    if !csrf_matches(&state, &headers, &form.csrf, FormFlow::Step(&flow.token)) {
        return see_other(paths::STEP);
    }
    let now = Timestamp::now();
    let action = StepAction::parse(&form.action);
    if action == Some(StepAction::Cancel) {
        let token = flow.token.clone();
        let _ = state
            .blocking(move |s| flow::cancel(&s.ctx(now), &token))
            .await;
        let mut r = see_other(paths::LOGIN);
        r.headers_mut()
            .append(header::SET_COOKIE, expired_cookie(&state, FLOW_COOKIE));
        return r;
    }
    let new_password_step = matches!(
        action,
        Some(StepAction::ChangePassword | StepAction::ResetPassword)
    );
    if new_password_step && form.new_password != form.confirm_password {
        return rerender(
            &state,
            &headers,
            &uri,
            &flow,
            m.err_passwords_differ,
            m.err_tx_expired,
        )
        .await;
    }
    let token = flow.token.clone();
    let form_for_flow = StepForm {
        csrf: String::new(),
        ..form
    };
    let result = state
        .blocking(move |s| {
            let ctx = s.ctx(now);
            let rp = super::authn::relying_party(s, None);
            let outcome = transition(&ctx, &rp, &token, &form_for_flow);
            (outcome, form_for_flow)
        })
        .await;
    let (outcome, form) = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a sign-in step failed");
            return rerender(
                &state,
                &headers,
                &uri,
                &flow,
                m.err_internal,
                m.err_internal,
            )
            .await;
        }
    };
    match outcome {
        Ok(Outcome::Pending(mut p)) => {
            state.mailer.send_later(std::mem::take(&mut p.outbox));
            if p.factor_result
                .is_some_and(|r| r.as_str() == "PASSCODE_REPLAYED")
            {
                return render_step(
                    &state,
                    &headers,
                    &uri,
                    &p,
                    Some(m.err_code_replayed.to_owned()),
                    StatusCode::FORBIDDEN,
                )
                .await;
            }
            let next = Flow {
                token: p.state_token.clone(),
                ..flow
            };
            to_step(&state, &next)
        }
        Ok(Outcome::Success(c)) => finish(&state, &flow, c.session_token.expose(), now).await,
        Ok(Outcome::Unlocked(_)) => {
            let mut r = notice(&state, &headers, &uri, Notice::Unlocked, StatusCode::OK).await;
            r.headers_mut()
                .append(header::SET_COOKIE, expired_cookie(&state, FLOW_COOKIE));
            r
        }
        Ok(Outcome::LockedOut) => {
            let mut r = notice(
                &state,
                &headers,
                &uri,
                Notice::Locked,
                StatusCode::FORBIDDEN,
            )
            .await;
            r.headers_mut()
                .append(header::SET_COOKIE, expired_cookie(&state, FLOW_COOKIE));
            r
        }
        Err(FlowError::InvalidToken) => restart(&state, &headers, &uri, m.err_tx_expired).await,
        // A form from an earlier step (the back button): show where the sign-in really is.
        Err(FlowError::WrongState) => see_other(paths::STEP),
        Err(e) => {
            if matches!(e, FlowError::Store(_) | FlowError::Hash(_)) {
                tracing::error!(error = %e, "a sign-in step failed");
            }
            // A failure that ended the transaction (a lockout) must not read as "too slow".
            let ended = match e {
                FlowError::InvalidPasscode
                | FlowError::WrongAnswer
                | FlowError::AuthenticationFailed => m.err_failed,
                _ => m.err_tx_expired,
            };
            rerender(&state, &headers, &uri, &flow, &explain(m, &e, &form), ended).await
        }
    }
}

/// The current step again, with `message`.
async fn rerender(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    flow: &Flow,
    message: &str,
    if_ended: &str,
) -> Response {
    let now = Timestamp::now();
    let token = flow.token.clone();
    let outcome = state
        .blocking(move |s| flow::resume(&s.ctx(now), &token))
        .await;
    match outcome {
        Ok(Ok(Outcome::Pending(p))) => {
            render_step(
                state,
                headers,
                uri,
                &p,
                Some(message.to_owned()),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        _ => restart(state, headers, uri, if_ended).await,
    }
}

/// The sign-in is complete: the session cookie, then on to the app (or the signed-in page).
pub(super) async fn finish(
    state: &AppState,
    flow: &Flow,
    session_token: &str,
    now: Timestamp,
) -> Response {
    let token = session_token.to_owned();
    let started = state
        .blocking(move |s| exchange_session_token(s.store.as_ref(), &s.sessions, now, &token))
        .await;
    let mut r = see_other(flow.from_uri.as_deref().unwrap_or(paths::LOGIN));
    let h = r.headers_mut();
    match started {
        Ok(Ok(Some((secret, _)))) => {
            h.append(
                header::SET_COOKIE,
                session_cookie_for(state, secret.expose(), flow.remember),
            );
        }
        other => {
            tracing::error!(outcome = ?other.map(|o| o.map(|s| s.is_some())), "exchanging the session token failed")
        }
    }
    h.append(header::SET_COOKIE, expired_cookie(state, FLOW_COOKIE));
    r
}

// --- Forgot password and unlock ---

async fn username_page(state: &AppState, headers: &HeaderMap, uri: &Uri, which: View) -> Response {
    let page = base_page(state, headers, uri, which);
    let flow = FormFlow::Username(which);
    render_form(state, headers, uri.path(), flow, page, StatusCode::OK).await
}

async fn forgot_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    username_page(&state, &headers, &uri, View::ForgotPassword).await
}

async fn unlock_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    username_page(&state, &headers, &uri, View::Unlock).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UsernameForm {
    csrf: String,
    username: String,
}

/// Starts recovery by email. Every username gets the same page and the same timing (the mail
/// goes out in the background), so the page tells nobody which accounts exist.
async fn start_recovery(
    state: AppState,
    addr: String,
    headers: HeaderMap,
    uri: Uri,
    form: UsernameForm,
    kind: RecoveryType,
    view: View,
) -> Response {
    let m = messages(&headers, &uri);
    let flow = FormFlow::Username(view);
    if !csrf_matches(&state, &headers, &form.csrf, flow) || form.username.trim().is_empty() {
        let mut page = base_page(&state, &headers, &uri, view);
        page.username = form.username.clone();
        page.error = Some(if form.username.trim().is_empty() {
            m.err_required.to_owned()
        } else {
            m.err_form_expired.to_owned()
        });
        return render_form(
            &state,
            &headers,
            uri.path(),
            flow,
            page,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let now = Timestamp::now();
    let (login, from) = (form.username.clone(), addr.clone());
    let quota = match (state
        .rate_limit(move |l| l.check_user(Attempt::Recovery, &login, &from, now)))
    .await
    {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    if !quota.allowed {
        return notice(&state, &headers, &uri, Notice::CheckEmail, StatusCode::OK).await;
    }
    let username = form.username.clone();
    let started = state
        .blocking(move |s| recovery::start(&s.ctx(now), &username, kind, &s.base_url, true))
        .await;
    match started {
        Ok(Ok(s)) => state.mailer.send_later(s.emails),
        Ok(Err(e)) => tracing::error!(error = %e, "starting recovery failed"),
        Err(e) => tracing::error!(error = %e, "starting recovery failed"),
    }
    notice(&state, &headers, &uri, Notice::CheckEmail, StatusCode::OK).await
}

async fn forgot_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<UsernameForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Form(form) = form.unwrap_or_default();
    start_recovery(
        state,
        addr,
        headers,
        uri,
        form,
        RecoveryType::Password,
        View::ForgotPassword,
    )
    .await
}

async fn unlock_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<UsernameForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Form(form) = form.unwrap_or_default();
    start_recovery(
        state,
        addr,
        headers,
        uri,
        form,
        RecoveryType::Unlock,
        View::Unlock,
    )
    .await
}

// --- Self-service registration ---

/// The sign-up form (404 unless the org allows registration), with what was typed before.
async fn register_form(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    values: std::collections::BTreeMap<String, String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let attributes = match super::registration::form_fields(state).await {
        Ok(fields) => fields,
        Err(e) => return e.into_response(),
    };
    let mut page = base_page(state, headers, uri, View::Register);
    page.error = error;
    page.register = Some(app::RegisterForm { attributes, values });
    render_form(
        state,
        headers,
        paths::REGISTER,
        FormFlow::Register,
        page,
        status,
    )
    .await
}

async fn register_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if !state.registration.enabled {
        return super::not_found(State(state), headers, uri).await;
    }
    register_form(
        &state,
        &headers,
        &uri,
        Default::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// Takes a sign-up. Whether or not the address has an account, the answer is the same page
/// and an email goes out (a link for a new account, "you already have one" otherwise), so
/// the form tells nobody which addresses are registered.
async fn register_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    uri: Uri,
    form: Result<
        Form<std::collections::HashMap<String, String>>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    if !state.registration.enabled {
        return super::not_found(State(state), headers, uri).await;
    }
    let Form(mut form) = form.unwrap_or_default();
    let m = messages(&headers, &uri);
    let csrf = form.remove(app::fields::CSRF).unwrap_or_default();
    let mut take = |name: &str| form.remove(name).unwrap_or_default();
    let sign_up = crate::authn::registration::SignUp {
        email: take(app::fields::EMAIL),
        first_name: take(app::fields::FIRST_NAME),
        last_name: take(app::fields::LAST_NAME),
        attributes: state
            .registration
            .attributes
            .iter()
            .map(|a| (a.clone(), serde_json::Value::String(take(a))))
            .collect(),
    };
    let values: std::collections::BTreeMap<String, String> = [
        (app::fields::EMAIL.to_owned(), sign_up.email.clone()),
        (
            app::fields::FIRST_NAME.to_owned(),
            sign_up.first_name.clone(),
        ),
        (app::fields::LAST_NAME.to_owned(), sign_up.last_name.clone()),
    ]
    .into_iter()
    .chain(
        sign_up
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())),
    )
    .collect();
    if !csrf_matches(&state, &headers, &csrf, FormFlow::Register) {
        let error = Some(m.err_form_expired.to_owned());
        return register_form(
            &state,
            &headers,
            &uri,
            values,
            error,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    // Counted per address (and per email, as recovery is): a script cannot mail the world.
    let now = Timestamp::now();
    let (email, from) = (sign_up.email.clone(), addr.clone());
    let quota = match state
        .rate_limit(move |l| l.check_user(Attempt::Recovery, &email, &from, now))
        .await
    {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    if !quota.allowed {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Try again in a minute.\n",
        )
            .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    let settings = state.registration.clone();
    let done = state
        .blocking(move |s| {
            crate::authn::registration::register(&s.ctx(now), &settings, &s.base_url, sign_up)
        })
        .await;
    match done {
        Ok(Ok(signed_up)) => {
            state.mailer.send_later(vec![signed_up.email]);
            notice(&state, &headers, &uri, Notice::Registered, StatusCode::OK).await
        }
        Ok(Err(crate::directory::DirectoryError::Invalid(errs))) => {
            let said: Vec<String> = errs
                .iter()
                .map(|e| {
                    let field = if e.field == "login" {
                        "email"
                    } else {
                        &e.field
                    };
                    format!("{field}: {}", e.message)
                })
                .collect();
            register_form(
                &state,
                &headers,
                &uri,
                values,
                Some(said.join(". ")),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Ok(Err(e)) => super::error::ApiError::from(e).into_response(),
        Err(e) => e.into_response(),
    }
}

// --- Emailed links ---

/// Which kind of emailed link a path is.
fn link_kind(path: &str) -> Option<(Notice, TokenUse)> {
    let rest = path.strip_prefix("/signin/")?;
    if rest.starts_with("reset-password/") {
        Some((Notice::ContinueReset, TokenUse::Recovery))
    } else if rest.starts_with("user-unlock/") {
        Some((Notice::ContinueUnlock, TokenUse::Recovery))
    } else if rest.starts_with("activate/") {
        Some((Notice::ContinueActivate, TokenUse::Activation))
    } else {
        None
    }
}

/// An emailed link first shows a page with a button: mail scanners that open links must not
/// spend the one-time token before the person does.
async fn link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(_token): Path<String>,
) -> Response {
    let Some((which, _)) = link_kind(uri.path()) else {
        return see_other(paths::LOGIN);
    };
    let mut page = base_page(&state, &headers, &uri, View::Continue);
    page.notice = which;
    let flow = FormFlow::Link(uri.path());
    render_form(&state, &headers, uri.path(), flow, page, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfForm {
    csrf: String,
}

async fn link_redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(token): Path<String>,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Form(form) = form.unwrap_or_default();
    let Some((_, token_use)) = link_kind(uri.path()) else {
        return see_other(paths::LOGIN);
    };
    if !csrf_matches(&state, &headers, &form.csrf, FormFlow::Link(uri.path())) {
        return see_other(uri.path());
    }
    let now = Timestamp::now();
    let outcome = state
        .blocking(move |s| recovery::verify_token(&s.ctx(now), &token, token_use))
        .await;
    match outcome {
        Ok(Ok(Outcome::Pending(p))) => {
            let flow = Flow {
                token: p.state_token.clone(),
                ..Flow::default()
            };
            to_step(&state, &flow)
        }
        Ok(Ok(Outcome::Unlocked(_))) => {
            notice(&state, &headers, &uri, Notice::Unlocked, StatusCode::OK).await
        }
        Ok(Ok(Outcome::Success(c))) => {
            finish(&state, &Flow::default(), c.session_token.expose(), now).await
        }
        Ok(Ok(Outcome::LockedOut)) => {
            notice(
                &state,
                &headers,
                &uri,
                Notice::Locked,
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Ok(Err(FlowError::InvalidToken)) | Ok(Err(FlowError::WrongState)) => {
            notice(
                &state,
                &headers,
                &uri,
                Notice::LinkInvalid,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "redeeming an emailed link failed");
            notice(
                &state,
                &headers,
                &uri,
                Notice::LinkInvalid,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "redeeming an emailed link failed");
            notice(
                &state,
                &headers,
                &uri,
                Notice::LinkInvalid,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

async fn signed_out(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    notice(&state, &headers, &uri, Notice::SignedOut, StatusCode::OK).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_cookie_round_trips_and_refuses_foreign_continue_urls() {
        let f = Flow {
            token: "abc_DEF-123".into(),
            from_uri: Some("/oauth2/v1/authorize?client_id=x&state=a b".into()),
            remember: true,
        };
        let encoded = f.encode();
        assert!(!encoded.contains(';') && !encoded.contains(' ') && !encoded.contains(','));
        let back = Flow::decode(&encoded).unwrap();
        assert_eq!(back.token, f.token);
        assert_eq!(back.from_uri, f.from_uri);
        assert!(back.remember);
        let evil = Flow {
            token: "t".into(),
            from_uri: Some("https://evil.example/".into()),
            remember: false,
        };
        assert_eq!(Flow::decode(&evil.encode()).unwrap().from_uri, None);
        assert!(Flow::decode("").is_none());
        assert!(Flow::decode("%%%not-base64").is_none());
        // An authorization request with a long state still fits a cookie comfortably.
        let long = Flow {
            token: "t".repeat(43),
            from_uri: Some(format!(
                "/oauth2/v1/authorize?state={}",
                "{\"k\": \"v\"} ".repeat(90)
            )),
            remember: false,
        };
        assert!(long.encode().len() < 2500, "{}", long.encode().len());
    }
}
