//! OAuth clients in Okta's model: application type, how the client authenticates at the token
//! endpoint, its redirect URIs and the grants it may use. Registered with RFC 7591 shapes.
//! Generated secrets are high-entropy, so a SHA-256 digest compared in constant time is enough
//! (a password hash on every token request would cap throughput for no gain).

use crate::clock::Timestamp;
use crate::crypto::{Digest, new_secret};
use crate::directory::FieldError;
pub use crate::records::oauth::{
    ApplicationType, AuthMethod, Client, ConsentMethod, GrantType, HmacSecret,
};
use serde::Deserialize;

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "implicit" => Some(Self::Implicit),
            "refresh_token" => Some(Self::RefreshToken),
            "password" => Some(Self::Password),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Implicit => "implicit",
            Self::RefreshToken => "refresh_token",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl HmacSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSecret(<redacted>)")
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    /// Exact match, as RFC 9700 asks: no prefixes, no wildcards.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// Whether `presented` is this client's secret (constant time).
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_digest
            .is_some_and(|d| d.ct_eq(&Digest::of(presented)))
    }
}

/// What a registration asks for (RFC 7591 / Okta `/oauth2/v1/clients`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Registration {
    pub client_name: Option<String>,
    pub application_type: Option<ApplicationType>,
    pub token_endpoint_auth_method: Option<AuthMethod>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// The client's public keys, for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    pub consent_method: Option<ConsentMethod>,
    /// Left out of a replacement: kept as it was.
    pub require_pushed_authorization_requests: Option<bool>,
}

fn valid_redirect(uri: &str, app: ApplicationType) -> bool {
    match url::Url::parse(uri) {
        Ok(u) if u.fragment().is_some() => false,
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.host_str().is_some(),
        // Native apps may use private-use schemes (RFC 8252 §7.1).
        Ok(u) => app == ApplicationType::Native && u.scheme().contains('.'),
        Err(_) => false,
    }
}

/// A response type as the set of what it asks for (RFC 6749 §3.1.1: the order of its words
/// does not matter). "code id_token" is `code` and `id_token`, never "contains `token`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseType {
    pub code: bool,
    pub id_token: bool,
    pub token: bool,
}

impl ResponseType {
    /// `None` for an empty value or an unknown word.
    pub fn parse(rt: &str) -> Option<Self> {
        let mut parsed = Self {
            code: false,
            id_token: false,
            token: false,
        };
        for word in rt.split_whitespace() {
            match word {
                "code" => parsed.code = true,
                "id_token" => parsed.id_token = true,
                "token" => parsed.token = true,
                _ => return None,
            }
        }
        (parsed.code || parsed.id_token || parsed.token).then_some(parsed)
    }

    /// The canonical spelling, words in the order OIDC's registry lists them.
    pub fn as_str(self) -> &'static str {
        match (self.code, self.id_token, self.token) {
            (true, false, false) => "code",
            (false, false, true) => "token",
            (false, true, false) => "id_token",
            (false, true, true) => "id_token token",
            (true, true, false) => "code id_token",
            (true, false, true) => "code token",
            (true, true, true) => "code id_token token",
            (false, false, false) => "",
        }
    }

    /// Only a code: the one response type that may be answered in the query.
    pub fn only_code(self) -> bool {
        self.code && !self.id_token && !self.token
    }

    /// Tokens straight from the authorization endpoint (implicit or hybrid).
    pub fn issues_tokens(self) -> bool {
        self.id_token || self.token
    }
}

/// Normalises a response type (order of words does not matter), or `None` if unknown.
pub fn normalize_response_type(rt: &str) -> Option<&'static str> {
    ResponseType::parse(rt).map(ResponseType::as_str)
}

/// A client's whole metadata replaced (RFC 7592 PUT, an app's PUT): what it is — public or
/// confidential, its authentication method unless given — stays, and so does the secret it
/// holds; a fresh secret (returned) only where none can serve.
pub fn replace(
    old: &Client,
    mut req: Registration,
    now: Timestamp,
) -> Result<(Client, Option<String>), Vec<FieldError>> {
    req.application_type.get_or_insert(old.application_type);
    req.require_pushed_authorization_requests
        .get_or_insert(old.require_pushed_authorization_requests);
    req.token_endpoint_auth_method
        .get_or_insert(old.token_endpoint_auth_method);
    let (mut client, minted) = register(req, old.client_id.clone(), old.created)?;
    if client.is_public() != old.is_public() {
        return Err(vec![FieldError::new(
            "token_endpoint_auth_method",
            "A client cannot switch between public and confidential; register a new one",
        )]);
    }
    let mut issued = None;
    match (&client.hmac_secret, &old.hmac_secret) {
        (Some(_), Some(kept)) => client.hmac_secret = Some(kept.clone()),
        (Some(_), None) => issued = minted,
        (None, _) => {}
    }
    if issued.is_none() {
        client.secret_digest.clone_from(&old.secret_digest);
    }
    client.last_updated = now;
    Ok((client, issued))
}

/// Validates a registration; returns the client and its secret (shown once), if it has one.
pub fn register(
    req: Registration,
    client_id: String,
    now: Timestamp,
) -> Result<(Client, Option<String>), Vec<FieldError>> {
    let mut errs = Vec::new();
    let app = req.application_type.unwrap_or(ApplicationType::Web);
    let method = req.token_endpoint_auth_method.unwrap_or(match app {
        ApplicationType::Web | ApplicationType::Service => AuthMethod::ClientSecretBasic,
        ApplicationType::Browser | ApplicationType::Native => AuthMethod::None,
    });
    if app == ApplicationType::Browser && method != AuthMethod::None {
        errs.push(FieldError::new(
            "token_endpoint_auth_method",
            "A browser (SPA) client cannot keep a secret: use none, with PKCE",
        ));
    }
    if app == ApplicationType::Service && method == AuthMethod::None {
        errs.push(FieldError::new(
            "token_endpoint_auth_method",
            "A service client must authenticate",
        ));
    }
    let jwks = match (method, &req.jwks) {
        (AuthMethod::PrivateKeyJwt, Some(set)) => match super::assertion::parse_jwks(set) {
            Ok(_) => Some(set.clone()),
            Err(why) => {
                errs.push(FieldError::new("jwks", why));
                None
            }
        },
        (AuthMethod::PrivateKeyJwt, None) => {
            errs.push(FieldError::new(
                "jwks",
                "private_key_jwt needs the client's public keys in jwks",
            ));
            None
        }
        _ => None,
    };
    let default_grants: &[&str] = match app {
        ApplicationType::Service => &["client_credentials"],
        _ => &["authorization_code"],
    };
    let grant_names: Vec<String> = if req.grant_types.is_empty() {
        default_grants.iter().map(|s| (*s).to_owned()).collect()
    } else {
        req.grant_types.clone()
    };
    let mut grants = Vec::new();
    for g in &grant_names {
        match GrantType::parse(g) {
            Some(g) if !grants.contains(&g) => grants.push(g),
            Some(_) => {}
            None => errs.push(FieldError::new(
                "grant_types",
                format!("Unknown grant type `{g}`"),
            )),
        }
    }
    if app == ApplicationType::Service && grants.iter().any(|g| *g != GrantType::ClientCredentials)
    {
        errs.push(FieldError::new(
            "grant_types",
            "A service client may only use client_credentials",
        ));
    }
    if app != ApplicationType::Service
        && grants.contains(&GrantType::ClientCredentials)
        && method == AuthMethod::None
    {
        errs.push(FieldError::new(
            "grant_types",
            "client_credentials needs a client that authenticates",
        ));
    }
    let response_types: Vec<String> = if req.response_types.is_empty() {
        if grants.contains(&GrantType::AuthorizationCode) {
            vec!["code".to_owned()]
        } else {
            vec![]
        }
    } else {
        let mut out = Vec::new();
        for rt in &req.response_types {
            match normalize_response_type(rt) {
                Some(n) => out.push(n.to_owned()),
                None => errs.push(FieldError::new(
                    "response_types",
                    format!("Unknown response type `{rt}`"),
                )),
            }
        }
        out
    };
    let redirecting = grants
        .iter()
        .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
    if redirecting && req.redirect_uris.is_empty() {
        errs.push(FieldError::new(
            "redirect_uris",
            "At least one redirect URI is required for these grant types",
        ));
    }
    for uri in req
        .redirect_uris
        .iter()
        .chain(&req.post_logout_redirect_uris)
    {
        if !valid_redirect(uri, app) {
            errs.push(FieldError::new(
                "redirect_uris",
                format!("`{uri}` is not an absolute URI without a fragment"),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let has_secret = matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt
    );
    let secret = has_secret.then(|| new_secret(30).expose().to_owned());
    let client = Client {
        client_id,
        client_name: req
            .client_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Unnamed client".to_owned()),
        application_type: app,
        token_endpoint_auth_method: method,
        secret_digest: secret.as_deref().map(Digest::of),
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grant_types: grants,
        response_types,
        jwks,
        hmac_secret: secret
            .clone()
            .filter(|_| method == AuthMethod::ClientSecretJwt)
            .map(HmacSecret),
        consent_method: req.consent_method.unwrap_or_default(),
        require_pushed_authorization_requests: req
            .require_pushed_authorization_requests
            .unwrap_or_default(),
        created: now,
        last_updated: now,
    };
    Ok((client, secret))
}

/// A new secret for a confidential client (`lifecycle/newSecret`); the old one stops working.
pub fn new_client_secret(client: &mut Client, now: Timestamp) -> Option<String> {
    // Only clients that authenticate with a secret have one to replace.
    client.secret_digest?;
    let secret = new_secret(30).expose().to_owned();
    client.secret_digest = Some(Digest::of(&secret));
    if client.hmac_secret.is_some() {
        client.hmac_secret = Some(HmacSecret(secret.clone()));
    }
    client.last_updated = now;
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(app: ApplicationType) -> Registration {
        Registration {
            application_type: Some(app),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..Registration::default()
        }
    }

    #[test]
    fn defaults_follow_the_application_type() {
        let (web, secret) = register(
            reg(ApplicationType::Web),
            "c1".into(),
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(
            web.token_endpoint_auth_method,
            AuthMethod::ClientSecretBasic
        );
        assert!(web.secret_matches(secret.as_deref().unwrap()));
        assert!(!web.secret_matches("nope"));
        assert_eq!(web.response_types, ["code"]);
        let (spa, secret) = register(
            reg(ApplicationType::Browser),
            "c2".into(),
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert!(spa.is_public() && secret.is_none());
        let svc = Registration {
            application_type: Some(ApplicationType::Service),
            ..Registration::default()
        };
        let (svc, _) = register(svc, "c3".into(), Timestamp::from_millis(0)).unwrap();
        assert_eq!(svc.grant_types, [GrantType::ClientCredentials]);
    }

    #[test]
    fn refuses_unsafe_or_unknown_settings() {
        let mut r = reg(ApplicationType::Browser);
        r.token_endpoint_auth_method = Some(AuthMethod::ClientSecretPost);
        assert!(register(r, "x".into(), Timestamp::from_millis(0)).is_err());
        let mut r = reg(ApplicationType::Web);
        r.redirect_uris = vec!["https://app.example.com/cb#frag".into()];
        assert!(register(r, "x".into(), Timestamp::from_millis(0)).is_err());
        let mut r = reg(ApplicationType::Web);
        r.grant_types = vec!["magic".into()];
        assert!(register(r, "x".into(), Timestamp::from_millis(0)).is_err());
        let mut r = reg(ApplicationType::Web);
        r.redirect_uris.clear();
        assert!(register(r, "x".into(), Timestamp::from_millis(0)).is_err());
    }

    #[test]
    fn response_types_are_normalised_in_any_order() {
        assert_eq!(
            normalize_response_type("token id_token"),
            Some("id_token token")
        );
        assert_eq!(
            normalize_response_type("id_token code"),
            Some("code id_token")
        );
        assert_eq!(normalize_response_type("code code"), Some("code"));
        assert_eq!(normalize_response_type("code device"), None);
        assert_eq!(normalize_response_type(""), None);
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let (c, _) = register(
            reg(ApplicationType::Web),
            "c".into(),
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert!(c.has_redirect_uri("https://app.example.com/cb"));
        assert!(!c.has_redirect_uri("https://app.example.com/cb/"));
        assert!(!c.has_redirect_uri("https://app.example.com/cb?x=1"));
    }
}
