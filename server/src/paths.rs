//! Endpoint paths, defined once: the router and the `_links` it returns are built from these.

pub const AUTHN: &str = "/api/v1/authn";
pub const USERS: &str = "/api/v1/users";
pub const USER: &str = "/api/v1/users/{id}";
pub const USER_UNLOCK: &str = "/api/v1/users/{id}/lifecycle/unlock";
pub const TRUSTED_ORIGINS: &str = "/api/v1/trustedOrigins";
pub const TRUSTED_ORIGIN: &str = "/api/v1/trustedOrigins/{id}";
pub const LOGIN: &str = app::paths::LOGIN;
pub const SIGN_OUT: &str = app::paths::SIGN_OUT;
/// Exchanges a one-time session token for the session cookie, then redirects (Okta's path).
pub const SESSION_COOKIE_REDIRECT: &str = "/login/sessionCookieRedirect";
/// The hydration bundle and the page stylesheet.
pub const PKG: &str = "/pkg";
/// The widget's loader, bundle and stylesheet, loaded by pages of other origins.
pub const WIDGET: &str = "/widget/v1";

/// `base` + `template` with `{id}` replaced: an absolute `_links` href.
pub fn href(base: &str, template: &str, id: &str) -> String {
    format!("{base}{}", template.replace("{id}", id))
}
