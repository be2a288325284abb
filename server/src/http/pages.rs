//! The hosted pages: server-rendered with Leptos, working as plain forms before (or without)
//! the hydration bundle, with CSRF protection and a strict Content-Security-Policy.

use super::AppState;
use super::extract::ClientAddr;
use super::extract::{cookie, wants_json};
use super::rate_limit::Attempt;
use crate::authn::flow::{self, FlowError, Outcome};
use crate::authn::passkeys::Assertion;
use crate::authn::session::{end_session, exchange_session_token, use_session};
use crate::authn::transaction::TxOptions;
use crate::clock::Timestamp;
use crate::crypto::{Digest, Secret, new_secret};
use crate::directory::OriginScope;
use crate::directory::trusted_origins::is_trusted;
use crate::paths;
use app::i18n::Lang;
use app::{Branding, FormReply, Notice, PageState, Problem, SignedInUser, View};
use axum::body::Body;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::prelude::provide_context;
use serde::Deserialize;

/// The browser session cookie, named as Okta names it.
pub const SESSION_COOKIE: &str = "sid";
/// The anti-forgery cookie; the same value travels in each form's hidden `csrf` field.
const CSRF_COOKIE: &str = "pc_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(paths::LOGIN) }))
        .route(paths::BRAND_CSS, get(brand_css))
        .route(paths::PASSKEY_JS, get(passkey_js))
        .route(paths::LOGIN, get(login_page).post(login_submit))
        .route(paths::SIGN_OUT, post(sign_out))
        .route(paths::SESSION_COOKIE_REDIRECT, get(session_cookie_redirect))
}

/// What a page's forms belong to. Their anti-forgery value is bound to it (and to the
/// browser's cookie), so a value taken from one flow's form — another authorization request's
/// consent, another link, another transaction — is refused by every other.
#[derive(Debug, Clone, Copy)]
pub(super) enum FormFlow<'a> {
    /// The sign-in page, and its sign-out form when someone is signed in: where it continues.
    Login(Option<&'a str>),
    /// A step of the authentication transaction with this state token.
    Step(&'a str),
    /// The username form that starts a password reset or an unlock.
    Username(View),
    /// The confirmation page of the emailed link at this path.
    Link(&'a str),
    /// The consent screen of this authorization request.
    Consent(&'a str),
    /// The confirmation of the logout request with this query.
    Logout(&'a str),
    /// The sign-up form.
    Register,
}

impl FormFlow<'_> {
    fn binding(self) -> String {
        match self {
            Self::Login(from) => format!("login\0{}", from.unwrap_or_default()),
            Self::Step(state_token) => format!("step\0{state_token}"),
            Self::Username(view) => format!("username\0{view:?}"),
            Self::Link(path) => format!("link\0{path}"),
            Self::Consent(request) => format!("consent\0{request}"),
            Self::Logout(query) => format!("logout\0{query}"),
            Self::Register => "register".to_owned(),
        }
    }
}

/// Renders a page with forms: the anti-forgery value for `flow` filled in, and the cookie set
/// when the browser had none.
pub(super) async fn render_form(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    flow: FormFlow<'_>,
    mut page: PageState,
    status: StatusCode,
) -> Response {
    let (csrf, set_csrf) = csrf_token(state, headers, flow);
    page.csrf = csrf;
    let mut r = render(state, path, page, status).await;
    if let Some(c) = set_csrf {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Renders the Leptos app for `path` with `page` as its state, adding the security headers.
pub async fn render(state: &AppState, path: &str, page: PageState, status: StatusCode) -> Response {
    let nonce = new_secret(18).expose().to_owned();
    let options = state.leptos.clone();
    let context_nonce = nonce.clone();
    let handler = leptos_axum::render_app_async_with_context(
        move || {
            provide_context(page.clone());
            provide_context(leptos::nonce::Nonce::from_value(context_nonce.clone()));
        },
        move || app::shell(options.clone()),
    );
    let request = Request::builder()
        .uri(
            path.parse::<Uri>()
                .unwrap_or_else(|_| Uri::from_static("/")),
        )
        .body(Body::empty());
    let mut response = match request {
        Ok(request) => handler(request).await,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    page_headers(
        response.headers_mut(),
        &nonce,
        &framers(state),
        state.secure_cookies,
    );
    response
}

/// Origins the org trusts to frame its pages (IFRAME_EMBED), as a `frame-ancestors` source
/// list; `'none'` when there are none.
fn framers(state: &AppState) -> String {
    let origins: Vec<String> = match state.store.trusted_origins() {
        Ok(all) => all
            .into_iter()
            .filter(|t| t.allows(OriginScope::IframeEmbed))
            .map(|t| t.origin)
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "listing trusted origins failed");
            Vec::new()
        }
    };
    if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    }
}

fn page_headers(h: &mut HeaderMap, nonce: &str, frame_ancestors: &str, secure: bool) {
    // Logos may come from https anywhere (and from http when this server is on plain http).
    let images = if secure { "https:" } else { "https: http:" };
    // No `form-action`: browsers apply it to the redirects after a post too, and signing in
    // for an app ends in a redirect to that app's registered (other-origin) address.
    let csp = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: {images}; connect-src 'self'; \
         frame-ancestors {frame_ancestors}; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if frame_ancestors == "'none'" {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The name a page cookie goes by: over https with the `__Host-` prefix, so a sibling domain
/// cannot plant one (browsers only accept it Secure, for `/`, without a Domain).
/// The error page for `problem`, in the language the browser asks for.
pub(super) async fn problem_page(
    state: &AppState,
    headers: &HeaderMap,
    problem: Problem,
    status: StatusCode,
) -> Response {
    let mut page = base_page(state, headers, &Uri::from_static("/"), View::Error);
    page.problem = Some(problem);
    render(state, "/error", page, status).await
}

pub(super) fn cookie_name(state: &AppState, name: &str) -> String {
    if state.secure_cookies {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

pub(super) fn cookie_header(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) -> HeaderValue {
    let name = cookie_name(state, name);
    // Pages framed by a trusted site post their forms from a cross-site frame: the form cookies
    // must be sent there too (the CSRF token still guards every form).
    let same_site = if state.secure_cookies && framers(state) != "'none'" {
        "None"
    } else {
        "Lax"
    };
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if state.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The `sid` cookie. Over https it is `SameSite=None; Secure`, so that a hidden iframe from a
/// trusted site can renew tokens where the browser still sends third-party cookies; over plain
/// http browsers refuse `SameSite=None`, so it is `Lax`.
pub(super) fn session_cookie(state: &AppState, secret: &str) -> HeaderValue {
    let same_site = if state.secure_cookies { "None" } else { "Lax" };
    let mut c = format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite={same_site}");
    if state.secure_cookies {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Deletes the `sid` cookie: the same name and attributes as [`session_cookie`], so that the
/// browser drops that cookie and not another.
pub(super) fn expired_session_cookie(state: &AppState) -> HeaderValue {
    let base = session_cookie(state, "");
    let value = format!("{}; Max-Age=0", base.to_str().unwrap_or_default());
    HeaderValue::from_str(&value).unwrap_or(base)
}

/// The session cookie; with "keep me signed in" it outlives the browser session (until the
/// session's own maximum lifetime).
pub(super) fn session_cookie_for(state: &AppState, secret: &str, remember: bool) -> HeaderValue {
    let base = session_cookie(state, secret);
    if !remember {
        return base;
    }
    let value = format!(
        "{}; Max-Age={}",
        base.to_str().unwrap_or_default(),
        state.sessions.max.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or(base)
}

/// The state every page starts from: the language (`?lang=` or `Accept-Language`), the org's
/// branding, and the page's own address without `lang` (for the language links).
fn negotiate(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(asked, accept)
}

/// The messages in the language the request asks for (`?lang=` or `Accept-Language`), for
/// handlers that answer in words before they build a page.
pub(super) fn messages(headers: &HeaderMap, uri: &Uri) -> &'static app::i18n::Messages {
    let asked = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    negotiate(headers, asked.as_deref()).messages()
}

pub(super) fn base_page(state: &AppState, headers: &HeaderMap, uri: &Uri, view: View) -> PageState {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let asked = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let lang = negotiate(headers, asked);
    let mut keep = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.iter().filter(|(k, _)| k != "lang") {
        keep.append_pair(k, v);
    }
    let rest = keep.finish();
    // `//host/x` would make the language links point at another site.
    let own = uri.path();
    let own = if own.starts_with("//") || own.starts_with("/\\") {
        "/"
    } else {
        own
    };
    let path = if rest.is_empty() {
        own.to_owned()
    } else {
        format!("{own}?{rest}")
    };
    let brand = state.brand();
    PageState {
        view,
        lang,
        path,
        branding: Branding {
            name: brand.name,
            logo_url: brand.logo_url,
            help_url: brand.help_url,
        },
        sign_up: state.registration.enabled,
        ..PageState::default()
    }
}

/// `GET /signin/brand.css`: the brand colour (inline styles are not allowed by the CSP).
/// The passkey script (see the file): one small file for the pages and the widget's hosts,
/// cached for a day.
async fn passkey_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        include_str!("passkey.js"),
    )
        .into_response()
}

async fn brand_css(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        state.brand().css(),
    )
        .into_response()
}

/// Deletes cookie `name`.
pub(super) fn expired_cookie(state: &AppState, name: &str) -> HeaderValue {
    cookie_header(state, name, "", Some(0))
}

/// The person signed in on this browser, if the session cookie names a live session.
fn signed_in_user(state: &AppState, now: Timestamp, headers: &HeaderMap) -> Option<SignedInUser> {
    let sid = cookie(headers, SESSION_COOKIE)?;
    let session = use_session(state.store.as_ref(), &state.sessions, now, sid)
        .ok()
        .flatten()?;
    let user = state.store.user(&session.user_id).ok().flatten()?;
    Some(SignedInUser {
        display_name: format!("{} {}", user.profile.first_name, user.profile.last_name),
        login: user.profile.login,
    })
}

/// The form value for `flow` under the browser's CSRF cookie if this server minted it, or
/// under a fresh one, with the cookie to set.
fn csrf_token(
    state: &AppState,
    headers: &HeaderMap,
    flow: FormFlow<'_>,
) -> (String, Option<HeaderValue>) {
    let (token, header) = match cookie(headers, &cookie_name(state, CSRF_COOKIE)) {
        Some(v) if state.csrf.verify(v) => (v.to_owned(), None),
        _ => {
            let fresh = state.csrf.mint();
            let header = cookie_header(state, CSRF_COOKIE, &fresh, None);
            (fresh, Some(header))
        }
    };
    (state.csrf.bind(&token, &flow.binding()), header)
}

/// Whether a form of `flow` came with the value bound to the browser's cookie and that flow,
/// and the cookie is one this server minted (a planted cookie is refused).
pub(super) fn csrf_matches(
    state: &AppState,
    headers: &HeaderMap,
    submitted: &str,
    flow: FormFlow<'_>,
) -> bool {
    !submitted.is_empty()
        && cookie(headers, &cookie_name(state, CSRF_COOKIE)).is_some_and(|c| {
            state.csrf.verify(c)
                && Digest::of(&state.csrf.bind(c, &flow.binding())).ct_eq(&Digest::of(submitted))
        })
}

/// Where a sign-in may continue to: only an authorization request of this server, as a path,
/// so the parameter cannot become an open redirect.
pub(super) fn safe_continue(uri: &str) -> Option<String> {
    let ok =
        uri.starts_with("/oauth2/") && !uri.contains('\\') && !uri.chars().any(char::is_control);
    ok.then(|| uri.to_owned())
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LoginQuery {
    #[serde(rename = "fromURI")]
    from_uri: Option<String>,
    /// Show the form even to someone signed in (an app asked for a fresh sign-in).
    reauth: Option<String>,
    /// An app's hint of who is signing in (OIDC `login_hint`): prefills the username.
    #[serde(rename = "login_hint")]
    login_hint: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let from_uri = query.from_uri.as_deref().and_then(safe_continue);
    let signed_in = signed_in_user(&state, Timestamp::now(), &headers);
    if let (Some(_), Some(to), None) = (&signed_in, &from_uri, &query.reauth) {
        return Redirect::to(to).into_response();
    }
    let mut page = base_page(&state, &headers, &uri, View::Login);
    page.signed_in = signed_in.filter(|_| query.reauth.is_none());
    page.from_uri = from_uri;
    page.username = query.login_hint.unwrap_or_default();
    page.idps = idp_buttons(&state, page.from_uri.as_deref()).await;
    let path = uri.path_and_query().map_or(paths::LOGIN, |p| p.as_str());
    let from = page.from_uri.clone();
    let flow = FormFlow::Login(from.as_deref());
    render_form(&state, &headers, path, flow, page, StatusCode::OK).await
}

/// The active identity providers, as links that sign in there and come back to `from_uri`.
pub(super) async fn idp_buttons(state: &AppState, from_uri: Option<&str>) -> Vec<app::IdpButton> {
    let all = match state.blocking(|s| s.store.idps()).await {
        Ok(Ok(all)) => all,
        other => {
            // The page still works without them: people sign in with a password.
            tracing::warn!(outcome = ?other.map(|o| o.map(|v| v.len())), "listing identity providers failed");
            return Vec::new();
        }
    };
    all.into_iter()
        .filter(|i| i.status == crate::directory::idps::IdpStatus::Active)
        .map(|i| {
            let mut href = paths::SSO_IDP.replace("{id}", &i.id);
            if let Some(from) = from_uri {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("fromURI", from);
                href = format!("{href}?{}", q.finish());
            }
            app::IdpButton { name: i.name, href }
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    from_uri: String,
    remember: String,
    /// A passkey sign-in: the challenge's state token and the browser's answer.
    passkey_token: String,
    client_data: String,
    authenticator_data: String,
    signature_data: String,
    credential_id: String,
    user_handle: String,
}

impl LoginForm {
    fn passkey(&self) -> Option<(String, Assertion)> {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        (!self.passkey_token.is_empty()).then(|| {
            (
                self.passkey_token.clone(),
                Assertion {
                    client_data: self.client_data.clone(),
                    authenticator_data: self.authenticator_data.clone(),
                    signature: self.signature_data.clone(),
                    credential_id: some(&self.credential_id),
                    user_handle: some(&self.user_handle),
                },
            )
        })
    }
}

/// Answers a failed sign-in: JSON for the hydrated form, the re-rendered page for a plain post.
///
/// The anti-forgery token stays what the browser has: a failure changes no privilege, and a
/// new token here would void every other form the browser still has open (a second tab, the
/// next page loaded while this answer was on its way). A browser without a valid token gets
/// one, so its next try works.
async fn login_failed(
    state: &AppState,
    headers: &HeaderMap,
    json: bool,
    status: StatusCode,
    message: &str,
    mut page: PageState,
) -> Response {
    let from = page.from_uri.clone();
    let (csrf, set_csrf) = csrf_token(state, headers, FormFlow::Login(from.as_deref()));
    let mut response = if json {
        let reply = FormReply {
            error: Some(message.to_owned()),
            csrf: Some(csrf),
            ..FormReply::default()
        };
        let mut r = (status, Json(reply)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    } else {
        page.csrf = csrf;
        page.error = Some(message.to_owned());
        render(state, paths::LOGIN, page, status).await
    };
    if let Some(c) = set_csrf {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Where the browser goes next: the JSON reply of the hydrated form, or a redirect.
fn go_to(json: bool, to: &str) -> Response {
    let mut r = if json {
        Json(FormReply {
            redirect: Some(to.to_owned()),
            ..FormReply::default()
        })
        .into_response()
    } else {
        Redirect::to(to).into_response()
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Signs the person in: checks the form and authenticates. Done at once, the one-time session
/// token becomes a session cookie; with more steps to go (MFA, a password change), the
/// transaction continues on the step pages.
async fn login_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let json = wants_json(&headers);
    let Form(form) = form.unwrap_or_default();
    let from_uri = safe_continue(&form.from_uri);
    let mut page = base_page(&state, &headers, &uri, View::Login);
    page.path = paths::LOGIN.to_owned();
    page.username = form.username.clone();
    page.from_uri = from_uri.clone();
    let m = page.lang.messages();
    if !csrf_matches(
        &state,
        &headers,
        &form.csrf,
        FormFlow::Login(from_uri.as_deref()),
    ) {
        return login_failed(
            &state,
            &headers,
            json,
            StatusCode::FORBIDDEN,
            m.err_form_expired,
            page,
        )
        .await;
    }
    let passkey = form.passkey();
    if passkey.is_none() && (form.username.trim().is_empty() || form.password.is_empty()) {
        return login_failed(
            &state,
            &headers,
            json,
            StatusCode::BAD_REQUEST,
            m.err_missing,
            page,
        )
        .await;
    }
    let now = Timestamp::now();
    let (login, from) = (form.username.clone(), addr.clone());
    // A passkey's answer cannot be guessed: only passwords are counted per username.
    let quota = match passkey {
        Some(_) => None,
        None => {
            match (state.rate_limit(move |l| l.check_user(Attempt::SignIn, &login, &from, now)))
                .await
            {
                Ok(q) => Some(q),
                Err(e) => return e.into_response(),
            }
        }
    };
    if quota.is_some_and(|q| !q.allowed) {
        return login_failed(
            &state,
            &headers,
            json,
            StatusCode::TOO_MANY_REQUESTS,
            m.err_too_many,
            page,
        )
        .await;
    }
    let remember = form.remember == "true";
    let result = state
        .blocking(move |s| {
            let ctx = s.ctx(now);
            let outcome = match &passkey {
                Some((token, answer)) => {
                    flow::finish_passkey_sign_in(&ctx, token, answer, TxOptions::default()).map_err(
                        |e| match e {
                            // An old or spent challenge: the same "try again" as a refusal.
                            FlowError::InvalidToken => FlowError::AuthenticationFailed,
                            e => e,
                        },
                    )
                }
                None => flow::primary(&ctx, &form.username, &form.password, TxOptions::default()),
            };
            match outcome {
                Ok(Outcome::Success(c)) => Ok(SignIn::Done(c.session_token)),
                Ok(Outcome::Pending(p)) => {
                    s.mailer.send_later(p.outbox);
                    Ok(SignIn::MoreSteps(p.state_token))
                }
                Ok(Outcome::LockedOut) => Ok(SignIn::Locked),
                Ok(Outcome::Unlocked(_)) | Err(FlowError::AuthenticationFailed) => {
                    Ok(SignIn::Failed)
                }
                Err(e) => Err(e),
            }
        })
        .await;
    let flow = super::signin::Flow {
        token: String::new(),
        from_uri,
        remember,
    };
    match result {
        Ok(Ok(SignIn::Done(token))) => {
            let mut r = super::signin::finish(&state, &flow, token.expose(), now).await;
            if json {
                let to = r
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(paths::LOGIN)
                    .to_owned();
                let cookies: Vec<HeaderValue> = r
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .cloned()
                    .collect();
                r = go_to(true, &to);
                for c in cookies {
                    r.headers_mut().append(header::SET_COOKIE, c);
                }
            }
            r.headers_mut().append(
                header::SET_COOKIE,
                cookie_header(&state, CSRF_COOKIE, new_secret(24).expose(), None),
            );
            r
        }
        Ok(Ok(SignIn::MoreSteps(token))) => {
            let mut r = go_to(json, paths::STEP);
            let flow = super::signin::Flow { token, ..flow };
            r.headers_mut().append(
                header::SET_COOKIE,
                super::signin::flow_cookie(&state, &flow),
            );
            r
        }
        Ok(Ok(SignIn::Locked)) => {
            if json {
                return go_to(true, &format!("{}?locked=1", paths::UNLOCK));
            }
            let mut page = base_page(&state, &headers, &uri, View::Notice);
            page.notice = Notice::Locked;
            render(&state, paths::LOGIN, page, StatusCode::FORBIDDEN).await
        }
        Ok(Ok(SignIn::Failed)) => {
            login_failed(
                &state,
                &headers,
                json,
                StatusCode::UNAUTHORIZED,
                m.err_failed,
                page,
            )
            .await
        }
        Ok(Err(FlowError::Hash(crate::crypto::password::HashError::Busy))) => {
            // Every hashing thread is busy: answered at once, to be tried again shortly.
            login_failed(
                &state,
                &headers,
                json,
                StatusCode::TOO_MANY_REQUESTS,
                m.err_too_many,
                page,
            )
            .await
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            login_failed(
                &state,
                &headers,
                json,
                StatusCode::INTERNAL_SERVER_ERROR,
                m.err_internal,
                page,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in task failed");
            login_failed(
                &state,
                &headers,
                json,
                StatusCode::INTERNAL_SERVER_ERROR,
                m.err_internal,
                page,
            )
            .await
        }
    }
}

/// How a sign-in form post ended.
enum SignIn {
    Done(Secret),
    MoreSteps(String),
    Locked,
    Failed,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignOutForm {
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Form(form) = form.unwrap_or_default();
    // The sign-out button is on the sign-in page of someone signed in (nowhere to continue).
    if !csrf_matches(&state, &headers, &form.csrf, FormFlow::Login(None)) {
        return Redirect::to(paths::LOGIN).into_response();
    }
    let mut response = Redirect::to(paths::SIGNED_OUT).into_response();
    if let Some(Err(e)) =
        cookie(&headers, SESSION_COOKIE).map(|sid| end_session(state.store.as_ref(), sid))
    {
        tracing::error!(error = %e, "ending a session failed");
    }
    response
        .headers_mut()
        .append(header::SET_COOKIE, expired_session_cookie(&state));
    response
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CookieRedirect {
    token: String,
    redirect_url: String,
}

/// The redirect URL as parsed and written out again, if this server may send browsers there:
/// this server itself, or a trusted origin (REDIRECT).
/// Control characters are refused rather than dropped (the URL parser would silently remove
/// tabs and newlines), so what is checked is exactly what is followed.
fn redirect_allowed(state: &AppState, url: &str) -> Option<String> {
    if url.chars().any(char::is_control) {
        return None;
    }
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin().ascii_serialization();
    let own = url::Url::parse(&state.base_url)
        .map(|u| u.origin().ascii_serialization())
        .ok();
    let allowed = own.as_deref() == Some(origin.as_str())
        || is_trusted(state.store.as_ref(), &origin, OriginScope::Redirect);
    allowed.then(|| parsed.to_string())
}

/// `GET /login/sessionCookieRedirect?token=…&redirectUrl=…`: redeems the one-time session token,
/// sets the session cookie and redirects. The URL is checked first, so a token is not spent on
/// a redirect that will be refused; an unknown or spent token redirects without a session.
async fn session_cookie_redirect(
    State(state): State<AppState>,
    query: Result<Query<CookieRedirect>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(q) = query.unwrap_or_default();
    let Some(target) = redirect_allowed(&state, &q.redirect_url) else {
        let page = PageState {
            error: Some(
                "The site that sent you here asked to return to an address this server does not trust."
                    .into(),
            ),
            ..PageState::default()
        };
        return render(&state, paths::LOGIN, page, StatusCode::BAD_REQUEST).await;
    };
    let now = Timestamp::now();
    let token = q.token;
    let started = state
        .blocking(move |s| exchange_session_token(s.store.as_ref(), &s.sessions, now, &token))
        .await;
    let mut response = Redirect::to(&target).into_response();
    match started {
        Ok(Ok(Some((secret, _)))) => {
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, secret.expose()));
        }
        Ok(Ok(None)) => tracing::info!("session cookie redirect with an unknown or spent token"),
        Ok(Err(e)) => tracing::error!(error = %e, "session cookie redirect failed"),
        Err(e) => tracing::error!(error = %e, "session cookie redirect task failed"),
    }
    response
}
