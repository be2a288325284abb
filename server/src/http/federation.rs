//! Sign-in through an upstream identity provider, in the browser: `/sso/idps/{id}` (Okta's
//! widget sends people there; `/authorize?idp=` leads there) sends the person to the
//! provider with state, nonce and PKCE; the provider returns them to
//! `/oauth2/v1/authorize/callback`, where the code is exchanged, the ID token checked and
//! the person signed in (`authn::federation`), on to MFA if the org asks for it, then back to
//! where they started. What the round trip needs is kept in a short-lived cookie of this
//! browser, so the provider's answer is only accepted by the browser that asked; its state is
//! spent once.

use super::AppState;
use super::extract::cookie;
use super::pages::{cookie_header, cookie_name, expired_cookie, problem_page, safe_continue};
use super::signin::{Flow, finish, see_other, to_step};
use crate::authn::federation::{self, FederationError, Identity};
use crate::authn::flow::Outcome;
use crate::authn::transaction::TxOptions;
use crate::clock::Timestamp;
use crate::crypto::{Secret, new_secret};
use crate::directory::idps::{IdentityProvider, IdpStatus, IdpType};
use crate::paths;
use app::Problem;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

const IDP_COOKIE: &str = "pc_idp";
/// How long a person may take at the provider.
const ROUND_TRIP: Duration = Duration::from_secs(600);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::SSO_IDP, get(start))
        .route(paths::IDP_CALLBACK, get(callback))
}

/// The client that talks to providers: TLS with the web's roots, short timeouts, no
/// redirects (a token endpoint that redirects is not followed with a code in hand).
pub(super) fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// What the round trip to the provider needs back, in the browser's cookie.
struct Pending {
    idp: String,
    state: String,
    nonce: String,
    verifier: String,
    from_uri: Option<String>,
}

impl Pending {
    fn encode(&self) -> String {
        let json = json!({ "i": self.idp, "s": self.state, "n": self.nonce,
                           "v": self.verifier, "f": self.from_uri });
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn decode(value: &str) -> Option<Self> {
        let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
        let text = |k: &str| json[k].as_str().map(str::to_owned);
        Some(Self {
            idp: text("i")?,
            state: text("s")?,
            nonce: text("n")?,
            verifier: text("v")?,
            // Checked again: the cookie is the browser's to change.
            from_uri: json["f"].as_str().and_then(safe_continue),
        })
    }
}

/// A page saying why, in the person's language; the round trip's cookie goes.
async fn problem(state: &AppState, headers: &HeaderMap, (p, status): Refusal) -> Response {
    let mut r = problem_page(state, headers, p, status).await;
    r.headers_mut()
        .append(header::SET_COOKIE, expired_cookie(state, IDP_COOKIE));
    r
}

/// Why a step of the round trip cannot go on: the page to show and its status.
type Refusal = (Problem, StatusCode);

const UNAVAILABLE: Refusal = (Problem::IdpUnavailable, StatusCode::NOT_FOUND);
const FAILED: Refusal = (Problem::IdpFailed, StatusCode::BAD_REQUEST);
const INTERNAL: Refusal = (Problem::Internal, StatusCode::SERVICE_UNAVAILABLE);

async fn active_idp(state: &AppState, id: String) -> Option<IdentityProvider> {
    match state.blocking(move |s| s.store.idp(&id)).await {
        Ok(Ok(Some(idp))) if idp.status == IdpStatus::Active => Some(idp),
        Ok(Ok(_)) => None,
        other => {
            tracing::error!(outcome = ?other.map(|o| o.map(|i| i.is_some())), "reading an identity provider failed");
            None
        }
    }
}

/// To the provider, with a fresh state, nonce and PKCE verifier remembered in this browser.
async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match to_provider(&state, id, &query).await {
        Ok(r) => r,
        Err(refusal) => problem(&state, &headers, refusal).await,
    }
}

async fn to_provider(
    state: &AppState,
    id: String,
    query: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    let idp = active_idp(state, id).await.ok_or(UNAVAILABLE)?;
    let pending = Pending {
        idp: idp.id.clone(),
        state: new_secret(24).expose().to_owned(),
        nonce: new_secret(24).expose().to_owned(),
        verifier: new_secret(32).expose().to_owned(),
        from_uri: query.get("fromURI").and_then(|f| safe_continue(f)),
    };
    let mut to = url::Url::parse(&idp.authorization_url).map_err(|_| UNAVAILABLE)?;
    {
        let mut q = to.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &idp.client_id)
            .append_pair("redirect_uri", &callback_uri(state))
            .append_pair("scope", &idp.scopes.join(" "))
            .append_pair("state", &pending.state);
        if idp.kind != IdpType::Github {
            q.append_pair("nonce", &pending.nonce);
        }
        if idp.pkce_required {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
            q.append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    let mut r = see_other(to.as_str());
    r.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(
            state,
            IDP_COOKIE,
            &pending.encode(),
            Some(ROUND_TRIP.as_secs()),
        ),
    );
    Ok(r)
}

fn callback_uri(state: &AppState) -> String {
    format!("{}{}", state.base_url, paths::IDP_CALLBACK)
}

/// Why the provider's answer could not be used, for the log (the page says it plainly).
pub(super) struct Upstream(pub(super) String);

pub(super) async fn json_of(res: reqwest::Response, what: &str) -> Result<Value, Upstream> {
    let status = res.status();
    let body = res
        .text()
        .await
        .map_err(|e| Upstream(format!("{what}: {e}")))?;
    if !status.is_success() {
        return Err(Upstream(format!("{what} answered {status}: {body:.300}")));
    }
    serde_json::from_str(&body).map_err(|e| Upstream(format!("{what} is not JSON: {e}")))
}

/// The code exchanged at the provider's token endpoint, and who it says signed in.
async fn identify(
    idp: &IdentityProvider,
    state: &AppState,
    code: &str,
    pending: &Pending,
) -> Result<Identity, Result<Upstream, FederationError>> {
    let upstream = |e: Upstream| Err(Ok(e));
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", callback_uri(state)),
    ];
    if idp.pkce_required {
        form.push(("code_verifier", pending.verifier.clone()));
    }
    let mut req = http()
        .post(&idp.token_url)
        .header(header::ACCEPT, "application/json");
    // GitHub takes the client's credentials in the form; OpenID providers by default in
    // HTTP Basic (client_secret_basic).
    if idp.kind == IdpType::Github {
        form.push(("client_id", idp.client_id.clone()));
        form.push(("client_secret", idp.client_secret.clone()));
    } else {
        req = req.basic_auth(
            form_encode(&idp.client_id),
            Some(form_encode(&idp.client_secret)),
        );
    }
    let sent = req
        .form(&form)
        .send()
        .await
        .map_err(|e| Ok(Upstream(format!("token endpoint: {e}"))))?;
    let tokens = json_of(sent, "token endpoint").await.or_else(upstream)?;
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let bearer = |url: &str| {
        http()
            .get(url)
            .bearer_auth(&access)
            .header(header::ACCEPT, "application/json")
            .send()
    };
    if idp.kind == IdpType::Github {
        let url = idp.userinfo_url.as_deref().unwrap_or_default();
        let user = bearer(url)
            .await
            .map_err(|e| Ok(Upstream(format!("user API: {e}"))))?;
        let user = json_of(user, "user API").await.or_else(upstream)?;
        let emails = match bearer(&format!("{url}/emails")).await {
            Ok(res) => json_of(res, "emails API").await.ok(),
            Err(_) => None,
        };
        return federation::identity_from_user_api(&user, emails.as_ref()).map_err(Err);
    }
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| Ok(Upstream("the token response has no id_token".into())))?;
    let jwks_url = idp.jwks_url.as_deref().unwrap_or_default();
    let kid = federation::key_id(id_token);
    let keys = match state.idp_keys.for_token(jwks_url, kid.as_deref()).await {
        Ok(keys) => keys,
        Err(e) => return Err(Ok(e)),
    };
    let verify = |keys: &Value| {
        federation::verify_id_token(idp, keys, id_token, &pending.nonce, Timestamp::now())
    };
    let mut who = match verify(&keys) {
        Ok(who) => who,
        // Perhaps a key replaced under the same id (or tokens that name none): once more with
        // the set fetched again, if it was not just fetched.
        Err(refused) => match state.idp_keys.refetched(jwks_url).await {
            Some(fresh) => verify(&fresh).map_err(Err)?,
            None => return Err(Err(refused)),
        },
    };
    // More about the person from userinfo, when the provider has it and it is about the same
    // subject (claims of the ID token win).
    if let Some(url) = idp.userinfo_url.as_deref().filter(|_| !access.is_empty())
        && let Ok(res) = bearer(url).await
        && let Ok(Value::Object(info)) = json_of(res, "userinfo").await
        && info.get("sub").and_then(Value::as_str) == Some(who.subject.as_str())
    {
        for (k, v) in info {
            who.claims.entry(k).or_insert(v);
        }
    }
    Ok(who)
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before HTTP Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The provider's answer: checked against this browser's round trip, spent once, exchanged,
/// and the person signed in.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut r = match signed_in_from(&state, &headers, &query).await {
        Ok(r) => r,
        Err(refusal) => return problem(&state, &headers, refusal).await,
    };
    r.headers_mut()
        .append(header::SET_COOKIE, expired_cookie(&state, IDP_COOKIE));
    r
}

async fn signed_in_from(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    let pending = cookie(headers, &cookie_name(state, IDP_COOKIE))
        .and_then(Pending::decode)
        .ok_or(FAILED)?;
    let given = query.get("state").map(String::as_str).unwrap_or_default();
    if !Secret::new(given)
        .digest()
        .ct_eq(&Secret::new(pending.state.as_str()).digest())
    {
        tracing::info!("identity provider callback with a state this browser did not send");
        return Err(FAILED);
    }
    if let Some(error) = query.get("error") {
        tracing::info!(%error, description = ?query.get("error_description"), "the identity provider refused the sign-in");
        if error == "access_denied" {
            return Err((Problem::IdpCancelled, StatusCode::BAD_REQUEST));
        }
        return Err(FAILED);
    }
    let code = query.get("code").ok_or(FAILED)?;
    // One answer per round trip, however many times the callback is replayed.
    let key = format!(
        "idp-state:{}",
        crate::crypto::hex(Secret::new(pending.state.as_str()).digest().as_bytes())
    );
    let until = Timestamp::now().plus(ROUND_TRIP);
    match state
        .blocking(move |s| s.store.spend_once(&key, until))
        .await
    {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Err(FAILED),
        other => {
            tracing::error!(outcome = ?other, "spending an identity provider state failed");
            return Err(INTERNAL);
        }
    }
    let idp = active_idp(state, pending.idp.clone())
        .await
        .ok_or(UNAVAILABLE)?;
    let who = identify(&idp, state, code, &pending).await.map_err(|e| {
        let why = match e {
            Ok(Upstream(why)) => why,
            Err(refused) => refused.to_string(),
        };
        tracing::warn!(idp = %idp.id, %why, "sign-in through an identity provider failed");
        (Problem::IdpFailed, StatusCode::BAD_GATEWAY)
    })?;
    let now = Timestamp::now();
    let signed = state
        .blocking(move |s| federation::sign_in(&s.ctx(now), &idp, &who, TxOptions::default()))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "federated sign-in failed");
            INTERNAL
        })?;
    let flow = Flow {
        token: String::new(),
        from_uri: pending.from_uri,
        remember: false,
    };
    match signed {
        Ok(Outcome::Pending(p)) => Ok(to_step(
            state,
            &Flow {
                token: p.state_token.clone(),
                ..flow
            },
        )),
        Ok(Outcome::Success(c)) => Ok(finish(state, &flow, c.session_token.expose(), now).await),
        Err(FederationError::NoAccount) => Err((Problem::IdpNoAccount, StatusCode::FORBIDDEN)),
        Err(FederationError::Inactive) | Ok(_) => {
            Err((Problem::IdpInactive, StatusCode::FORBIDDEN))
        }
        Err(e) => {
            tracing::error!(error = %e, "federated sign-in failed");
            Err(INTERNAL)
        }
    }
}
