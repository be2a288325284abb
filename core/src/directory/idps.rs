//! Upstream identity providers as an admin configures them (Okta's IdPs API): a generic
//! OpenID Connect provider with its endpoints, or a preset (Google, Microsoft, GitHub) whose
//! endpoints are known; what happens to a person the upstream vouches for (provisioning,
//! account linking, the username it gives them). The checks here are the API's; signing in
//! through a provider is the authn core's.

use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
use crate::crypto::new_id;
pub use crate::records::federation::{IdentityProvider, IdpAction, IdpStatus, IdpType, MatchType};
use crate::store::{Store, StoreError};

/// What an admin sends for a provider, before the checks. Endpoints of a preset are ignored
/// (its own are used); a missing `client_secret` on a replace keeps the stored one.
#[derive(Debug, Clone)]
pub struct IdpSpec {
    pub kind: IdpType,
    pub name: String,
    pub issuer: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    /// Empty: the type's default scopes.
    pub scopes: Vec<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub pkce_required: bool,
    pub provisioning: IdpAction,
    pub provisioning_groups: Vec<String>,
    pub account_link: IdpAction,
    pub username_template: Option<String>,
    pub match_type: MatchType,
    pub max_clock_skew_ms: i64,
}

/// A preset's endpoints: issuer, authorization, token, userinfo, JWKS.
struct Preset {
    issuer: Option<&'static str>,
    authorization: &'static str,
    token: &'static str,
    userinfo: Option<&'static str>,
    jwks: Option<&'static str>,
    scopes: &'static [&'static str],
    username_template: &'static str,
}

fn preset(kind: IdpType) -> Option<Preset> {
    match kind {
        IdpType::Oidc => None,
        IdpType::Google => Some(Preset {
            issuer: Some("https://accounts.google.com"),
            authorization: "https://accounts.google.com/o/oauth2/auth",
            token: "https://www.googleapis.com/oauth2/v3/token",
            userinfo: Some("https://openidconnect.googleapis.com/v1/userinfo"),
            jwks: Some("https://www.googleapis.com/oauth2/v3/certs"),
            scopes: &["openid", "email", "profile"],
            username_template: "idpuser.email",
        }),
        IdpType::Microsoft => Some(Preset {
            // The common endpoints sign with the tenant's issuer: `{tenantid}` stands for it.
            issuer: Some("https://login.microsoftonline.com/{tenantid}/v2.0"),
            authorization: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            userinfo: Some("https://graph.microsoft.com/oidc/userinfo"),
            jwks: Some("https://login.microsoftonline.com/common/discovery/v2.0/keys"),
            scopes: &["openid", "email", "profile"],
            username_template: "idpuser.email",
        }),
        IdpType::Github => Some(Preset {
            issuer: None,
            authorization: "https://github.com/login/oauth/authorize",
            token: "https://github.com/login/oauth/access_token",
            userinfo: Some("https://api.github.com/user"),
            jwks: None,
            scopes: &["read:user", "user:email"],
            username_template: "idpuser.email",
        }),
    }
}

/// An endpoint must be https, except on the loopback interface (an upstream on the same
/// machine, as in development and tests).
pub fn endpoint_ok(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    let loopback = matches!(
        u.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(u.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        || u.host_str() == Some("localhost");
    (u.scheme() == "https" || (u.scheme() == "http" && loopback))
        && u.username().is_empty()
        && u.fragment().is_none()
}

/// The username templates Portcullis evaluates: one attribute of what the upstream says.
pub fn template_attribute(template: &str) -> Option<&str> {
    let attr = template.strip_prefix("idpuser.")?;
    (!attr.is_empty() && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(attr)
}

/// The spec checked and completed into a provider's fields (id, status and dates aside).
fn checked(
    store: &dyn Store,
    spec: IdpSpec,
    stored_secret: Option<&str>,
) -> Result<IdentityProvider, DirectoryError> {
    let mut errs = Vec::new();
    fn must(errs: &mut Vec<FieldError>, ok: bool, field: &'static str, why: &'static str) {
        if !ok {
            errs.push(FieldError::new(field, why));
        }
    }
    must(
        &mut errs,
        !spec.name.trim().is_empty(),
        "name",
        "The field cannot be left blank",
    );
    must(
        &mut errs,
        !spec.client_id.trim().is_empty(),
        "protocol.credentials.client.client_id",
        "The field cannot be left blank",
    );
    let secret = spec
        .client_secret
        .filter(|s| !s.is_empty())
        .or_else(|| stored_secret.map(str::to_owned))
        .unwrap_or_default();
    must(
        &mut errs,
        !secret.is_empty(),
        "protocol.credentials.client.client_secret",
        "The field cannot be left blank",
    );
    let (issuer, authorization, token, userinfo, jwks, default_scopes, default_template) =
        match preset(spec.kind) {
            Some(p) => (
                p.issuer.map(str::to_owned),
                p.authorization.to_owned(),
                p.token.to_owned(),
                p.userinfo.map(str::to_owned),
                p.jwks.map(str::to_owned),
                p.scopes.iter().map(|s| (*s).to_owned()).collect(),
                p.username_template,
            ),
            None => {
                let required = [
                    ("protocol.issuer.url", &spec.issuer),
                    (
                        "protocol.endpoints.authorization.url",
                        &spec.authorization_url,
                    ),
                    ("protocol.endpoints.token.url", &spec.token_url),
                    ("protocol.endpoints.jwks.url", &spec.jwks_url),
                ];
                for (field, url) in required {
                    must(
                        &mut errs,
                        url.as_deref().is_some_and(endpoint_ok),
                        field,
                        "Must be an https URL (http only on the loopback interface)",
                    );
                }
                must(
                    &mut errs,
                    spec.userinfo_url.as_deref().is_none_or(endpoint_ok),
                    "protocol.endpoints.userInfo.url",
                    "Must be an https URL (http only on the loopback interface)",
                );
                (
                    spec.issuer,
                    spec.authorization_url.unwrap_or_default(),
                    spec.token_url.unwrap_or_default(),
                    spec.userinfo_url,
                    spec.jwks_url,
                    vec![
                        "openid".to_owned(),
                        "email".to_owned(),
                        "profile".to_owned(),
                    ],
                    "idpuser.email",
                )
            }
        };
    let mut scopes = if spec.scopes.is_empty() {
        default_scopes
    } else {
        spec.scopes
    };
    scopes.dedup();
    must(
        &mut errs,
        spec.kind == IdpType::Github || scopes.iter().any(|s| s == "openid"),
        "protocol.scopes",
        "An OpenID Connect provider needs the openid scope",
    );
    let username_template = spec
        .username_template
        .unwrap_or_else(|| default_template.to_owned());
    must(
        &mut errs,
        template_attribute(&username_template).is_some(),
        "policy.subject.userNameTemplate.template",
        "Use idpuser.<attribute>, e.g. idpuser.email",
    );
    must(
        &mut errs,
        spec.max_clock_skew_ms >= 0,
        "policy.maxClockSkew",
        "Must not be negative",
    );
    for group in &spec.provisioning_groups {
        if store.group(group)?.is_none() {
            errs.push(FieldError::new(
                "policy.provisioning.groups.assignments",
                format!("No group {group}"),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(DirectoryError::Invalid(errs));
    }
    Ok(IdentityProvider {
        id: String::new(),
        kind: spec.kind,
        name: spec.name.trim().to_owned(),
        status: IdpStatus::Active,
        issuer,
        authorization_url: authorization,
        token_url: token,
        userinfo_url: userinfo,
        jwks_url: jwks,
        scopes,
        client_id: spec.client_id.trim().to_owned(),
        client_secret: secret,
        pkce_required: spec.pkce_required,
        provisioning: spec.provisioning,
        provisioning_groups: spec.provisioning_groups,
        account_link: spec.account_link,
        username_template,
        match_type: spec.match_type,
        max_clock_skew_ms: spec.max_clock_skew_ms,
        created: Timestamp::from_millis(0),
        last_updated: Timestamp::from_millis(0),
    })
}

pub fn create(
    store: &dyn Store,
    now: Timestamp,
    spec: IdpSpec,
) -> Result<IdentityProvider, DirectoryError> {
    let mut idp = checked(store, spec, None)?;
    idp.id = new_id("0oa");
    idp.created = now;
    idp.last_updated = now;
    store.put_idp(&idp)?;
    Ok(idp)
}

/// Okta's PUT: everything replaced but the id, status and creation time (and the secret,
/// when none is sent). `None` when there is no such provider.
pub fn replace(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    spec: IdpSpec,
) -> Result<Option<IdentityProvider>, DirectoryError> {
    let Some(current) = store.idp(id)? else {
        return Ok(None);
    };
    let sent_secret = spec.client_secret.clone().filter(|s| !s.is_empty());
    let next = checked(store, spec, Some(&current.client_secret))?;
    Ok(store.modify_idp(id, &mut |idp| {
        *idp = IdentityProvider {
            id: idp.id.clone(),
            status: idp.status,
            created: idp.created,
            last_updated: now,
            // The secret as it is now, unless a new one was sent.
            client_secret: sent_secret
                .clone()
                .unwrap_or_else(|| idp.client_secret.clone()),
            ..next.clone()
        };
        true
    })?)
}

pub fn set_status(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    status: IdpStatus,
) -> Result<Option<IdentityProvider>, StoreError> {
    store.modify_idp(id, &mut |idp| {
        if idp.status == status {
            return false;
        }
        idp.status = status;
        idp.last_updated = now;
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_but_for_loopback() {
        assert!(endpoint_ok("https://idp.example.com/authorize"));
        assert!(endpoint_ok("http://127.0.0.1:4000/authorize"));
        assert!(endpoint_ok("http://localhost:4000/keys"));
        assert!(!endpoint_ok("http://idp.example.com/authorize"));
        assert!(!endpoint_ok("ftp://idp.example.com"));
        assert!(!endpoint_ok("https://user@idp.example.com/"));
        assert!(!endpoint_ok("not a url"));
    }

    #[test]
    fn templates_name_one_upstream_attribute() {
        assert_eq!(template_attribute("idpuser.email"), Some("email"));
        assert_eq!(
            template_attribute("idpuser.preferred_username"),
            Some("preferred_username")
        );
        assert_eq!(template_attribute("idpuser."), None);
        assert_eq!(template_attribute("appuser.email"), None);
        assert_eq!(template_attribute("idpuser.email + '@x'"), None);
    }
}
