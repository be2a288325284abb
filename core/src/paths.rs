//! Endpoint paths, defined once: the router and the `_links` it returns are built from these.

pub const AUTHN: &str = "/api/v1/authn";
/// Resumes a transaction (okta-auth-js `tx.introspect`): the same as `AUTHN` with a state token.
pub const AUTHN_INTROSPECT: &str = "/api/v1/authn/introspect";
pub const AUTHN_FACTORS: &str = "/api/v1/authn/factors";
pub const AUTHN_FACTOR_ACTIVATE: &str = "/api/v1/authn/factors/{id}/lifecycle/activate";
pub const AUTHN_FACTOR_VERIFY: &str = "/api/v1/authn/factors/{id}/verify";
pub const AUTHN_FACTOR_VERIFY_RESEND: &str = "/api/v1/authn/factors/{id}/verify/resend";
pub const AUTHN_FACTOR_ACTIVATE_RESEND: &str = "/api/v1/authn/factors/{id}/lifecycle/resend";
/// A passkey sign-in (Portcullis's own: Okta's classic API has none): a challenge for any
/// passkey, then the browser's answer.
pub const AUTHN_PASSKEY: &str = proto::paths::AUTHN_PASSKEY;
pub const AUTHN_PASSKEY_VERIFY: &str = "/api/v1/authn/passkey/verify";
pub const AUTHN_PREVIOUS: &str = "/api/v1/authn/previous";
pub const AUTHN_SKIP: &str = "/api/v1/authn/skip";
pub const AUTHN_CANCEL: &str = "/api/v1/authn/cancel";
pub const AUTHN_CHANGE_PASSWORD: &str = "/api/v1/authn/credentials/change_password";
pub const AUTHN_RESET_PASSWORD: &str = "/api/v1/authn/credentials/reset_password";
pub const AUTHN_RECOVERY_PASSWORD: &str = "/api/v1/authn/recovery/password";
pub const AUTHN_RECOVERY_UNLOCK: &str = "/api/v1/authn/recovery/unlock";
pub const AUTHN_RECOVERY_TOKEN: &str = "/api/v1/authn/recovery/token";
pub const AUTHN_RECOVERY_ANSWER: &str = "/api/v1/authn/recovery/answer";
/// The QR image of a TOTP factor awaiting activation; `{token}` is its activation token.
pub const FACTOR_QR: &str = "/api/v1/users/{id}/factors/{fid}/qr/{token}";
pub const FACTOR_QUESTIONS: &str = "/api/v1/users/{id}/factors/questions";
pub const USER_FACTORS: &str = "/api/v1/users/{id}/factors";
pub const USER_FACTOR: &str = "/api/v1/users/{id}/factors/{fid}";
pub const USER_FACTOR_ACTIVATE: &str = "/api/v1/users/{id}/factors/{fid}/lifecycle/activate";
pub const USER_RESET_FACTORS: &str = "/api/v1/users/{id}/lifecycle/reset_factors";
pub const USERS: &str = "/api/v1/users";
pub const USER: &str = "/api/v1/users/{id}";
pub const USER_UNLOCK: &str = "/api/v1/users/{id}/lifecycle/unlock";
pub const USER_EXPIRE_PASSWORD: &str = "/api/v1/users/{id}/lifecycle/expire_password";
pub const USER_ACTIVATE: &str = "/api/v1/users/{id}/lifecycle/activate";
pub const USER_DEACTIVATE: &str = "/api/v1/users/{id}/lifecycle/deactivate";
pub const USER_SUSPEND: &str = "/api/v1/users/{id}/lifecycle/suspend";
pub const USER_UNSUSPEND: &str = "/api/v1/users/{id}/lifecycle/unsuspend";
pub const USER_RESET_PASSWORD: &str = "/api/v1/users/{id}/lifecycle/reset_password";
/// A user's admin roles, and one of them (`{rid}`).
pub const USER_ROLES: &str = "/api/v1/users/{id}/roles";
pub const USER_ROLE: &str = "/api/v1/users/{id}/roles/{rid}";
pub const API_TOKENS: &str = "/api/v1/api-tokens";
/// A user schema (only `default`).
pub const USER_SCHEMA: &str = "/api/v1/meta/schemas/user/{id}";
/// The System Log.
pub const LOGS: &str = "/api/v1/logs";
pub const API_TOKEN: &str = "/api/v1/api-tokens/{id}";
/// The token the request itself carries.
pub const API_TOKEN_CURRENT: &str = "/api/v1/api-tokens/current";
pub const SESSIONS: &str = "/api/v1/sessions";
/// Every session of one user (admins end them all at once).
pub const USER_SESSIONS: &str = "/api/v1/users/{id}/sessions";
pub const SESSION: &str = "/api/v1/sessions/{id}";
pub const SESSION_REFRESH: &str = "/api/v1/sessions/{id}/lifecycle/refresh";
pub const SESSION_ME: &str = "/api/v1/sessions/me";
pub const SESSION_ME_REFRESH: &str = "/api/v1/sessions/me/lifecycle/refresh";
pub const APPS: &str = "/api/v1/apps";
pub const APP: &str = "/api/v1/apps/{id}";
pub const APP_ACTIVATE: &str = "/api/v1/apps/{id}/lifecycle/activate";
pub const APP_DEACTIVATE: &str = "/api/v1/apps/{id}/lifecycle/deactivate";
pub const APP_USERS: &str = "/api/v1/apps/{id}/users";
pub const APP_USER: &str = "/api/v1/apps/{id}/users/{uid}";
pub const APP_GROUPS: &str = "/api/v1/apps/{id}/groups";
pub const APP_GROUP: &str = "/api/v1/apps/{id}/groups/{gid}";
pub const GROUPS: &str = "/api/v1/groups";
pub const GROUP: &str = "/api/v1/groups/{id}";
pub const GROUP_USERS: &str = "/api/v1/groups/{id}/users";
pub const GROUP_USER: &str = "/api/v1/groups/{id}/users/{uid}";
pub const USER_GROUPS: &str = "/api/v1/users/{id}/groups";
pub const REGISTRATION_FORM: &str = "/api/v1/registration/form";
pub const REGISTRATION_REGISTER: &str = "/api/v1/registration/{policy_id}/register";
pub const IDPS: &str = "/api/v1/idps";
pub const IDP: &str = "/api/v1/idps/{id}";
pub const IDP_ACTIVATE: &str = "/api/v1/idps/{id}/lifecycle/activate";
pub const IDP_DEACTIVATE: &str = "/api/v1/idps/{id}/lifecycle/deactivate";
/// The redirect URI an admin registers at every upstream provider (Okta's).
pub const IDP_CALLBACK: &str = "/oauth2/v1/authorize/callback";
pub const TRUSTED_ORIGINS: &str = "/api/v1/trustedOrigins";
pub const TRUSTED_ORIGIN: &str = "/api/v1/trustedOrigins/{id}";
pub const TRUSTED_ORIGIN_ACTIVATE: &str = "/api/v1/trustedOrigins/{id}/lifecycle/activate";
pub const TRUSTED_ORIGIN_DEACTIVATE: &str = "/api/v1/trustedOrigins/{id}/lifecycle/deactivate";
pub const LOGIN: &str = proto::paths::LOGIN;
pub const SIGN_OUT: &str = proto::paths::SIGN_OUT;
pub const STEP: &str = proto::paths::STEP;
pub const FORGOT_PASSWORD: &str = proto::paths::FORGOT_PASSWORD;
pub const REGISTER: &str = proto::paths::REGISTER;
pub const SSO_IDP: &str = proto::paths::SSO_IDP;
pub const UNLOCK: &str = proto::paths::UNLOCK;
pub const BRAND_CSS: &str = proto::paths::BRAND_CSS;
pub const PASSKEY_JS: &str = proto::paths::PASSKEY_JS;
/// Emailed links (the paths `authn::recovery::link_email` writes).
pub const RESET_LINK: &str = "/signin/reset-password/{token}";
pub const UNLOCK_LINK: &str = "/signin/user-unlock/{token}";
pub const ACTIVATE_LINK: &str = "/signin/activate/{token}";
pub const SIGNED_OUT: &str = proto::paths::SIGNED_OUT;
/// Exchanges a one-time session token for the session cookie, then redirects (Okta's path).
pub const SESSION_COOKIE_REDIRECT: &str = "/login/sessionCookieRedirect";
/// OpenID Connect discovery of the org authorization server (issuer = the base URL).
pub const OIDC_DISCOVERY: &str = "/.well-known/openid-configuration";
pub const OAUTH_DISCOVERY: &str = "/.well-known/oauth-authorization-server";
pub const OAUTH_AUTHORIZE: &str = "/oauth2/v1/authorize";
pub const OAUTH_TOKEN: &str = "/oauth2/v1/token";
pub const OAUTH_USERINFO: &str = "/oauth2/v1/userinfo";
pub const OAUTH_INTROSPECT: &str = "/oauth2/v1/introspect";
pub const OAUTH_REVOKE: &str = "/oauth2/v1/revoke";
pub const OAUTH_LOGOUT: &str = "/oauth2/v1/logout";
pub const OAUTH_KEYS: &str = "/oauth2/v1/keys";
/// Pushed authorization requests (RFC 9126).
pub const OAUTH_PAR: &str = "/oauth2/v1/par";
/// Dynamic client registration (RFC 7591), admin-authenticated.
pub const OAUTH_CLIENTS: &str = "/oauth2/v1/clients";
pub const OAUTH_CLIENT: &str = "/oauth2/v1/clients/{id}";
pub const OAUTH_CLIENT_NEW_SECRET: &str = "/oauth2/v1/clients/{id}/lifecycle/newSecret";
/// A custom authorization server's endpoints (`{server}` is its id).
pub const AS_OIDC_DISCOVERY: &str = "/oauth2/{server}/.well-known/openid-configuration";
pub const AS_OAUTH_DISCOVERY: &str = "/oauth2/{server}/.well-known/oauth-authorization-server";
pub const AS_AUTHORIZE: &str = "/oauth2/{server}/v1/authorize";
pub const AS_TOKEN: &str = "/oauth2/{server}/v1/token";
pub const AS_USERINFO: &str = "/oauth2/{server}/v1/userinfo";
pub const AS_INTROSPECT: &str = "/oauth2/{server}/v1/introspect";
pub const AS_REVOKE: &str = "/oauth2/{server}/v1/revoke";
pub const AS_LOGOUT: &str = "/oauth2/{server}/v1/logout";
pub const AS_KEYS: &str = "/oauth2/{server}/v1/keys";
pub const AS_PAR: &str = "/oauth2/{server}/v1/par";
/// Where the consent screen posts the person's answer.
pub const CONSENT: &str = proto::paths::CONSENT;
/// Authorization-server admin API.
pub const AUTH_SERVERS: &str = "/api/v1/authorizationServers";
pub const AUTH_SERVER: &str = "/api/v1/authorizationServers/{id}";
pub const AUTH_SERVER_ACTIVATE: &str = "/api/v1/authorizationServers/{id}/lifecycle/activate";
pub const AUTH_SERVER_DEACTIVATE: &str = "/api/v1/authorizationServers/{id}/lifecycle/deactivate";
pub const AUTH_SERVER_KEYS: &str = "/api/v1/authorizationServers/{id}/credentials/keys";
pub const AUTH_SERVER_ROTATE: &str =
    "/api/v1/authorizationServers/{id}/credentials/lifecycle/keyRotate";
pub const AUTH_SERVER_SCOPES: &str = "/api/v1/authorizationServers/{id}/scopes";
pub const AUTH_SERVER_SCOPE: &str = "/api/v1/authorizationServers/{id}/scopes/{item}";
pub const AUTH_SERVER_CLAIMS: &str = "/api/v1/authorizationServers/{id}/claims";
pub const AUTH_SERVER_CLAIM: &str = "/api/v1/authorizationServers/{id}/claims/{item}";
pub const AUTH_SERVER_POLICIES: &str = "/api/v1/authorizationServers/{id}/policies";
pub const AUTH_SERVER_POLICY: &str = "/api/v1/authorizationServers/{id}/policies/{item}";
pub const AUTH_SERVER_POLICY_ACTIVATE: &str =
    "/api/v1/authorizationServers/{id}/policies/{item}/lifecycle/activate";
pub const AUTH_SERVER_POLICY_DEACTIVATE: &str =
    "/api/v1/authorizationServers/{id}/policies/{item}/lifecycle/deactivate";
pub const AUTH_SERVER_RULES: &str = "/api/v1/authorizationServers/{id}/policies/{item}/rules";
pub const AUTH_SERVER_RULE: &str = "/api/v1/authorizationServers/{id}/policies/{item}/rules/{rule}";
pub const AUTH_SERVER_RULE_ACTIVATE: &str =
    "/api/v1/authorizationServers/{id}/policies/{item}/rules/{rule}/lifecycle/activate";
pub const AUTH_SERVER_RULE_DEACTIVATE: &str =
    "/api/v1/authorizationServers/{id}/policies/{item}/rules/{rule}/lifecycle/deactivate";
pub const AUTH_SERVER_CLIENT_TOKENS: &str =
    "/api/v1/authorizationServers/{id}/clients/{item}/tokens";
pub const AUTH_SERVER_CLIENT_TOKEN: &str =
    "/api/v1/authorizationServers/{id}/clients/{item}/tokens/{token}";
/// A user's consent grants.
pub const USER_GRANTS: &str = "/api/v1/users/{id}/grants";
pub const USER_GRANT: &str = "/api/v1/users/{id}/grants/{item}";
/// The hydration bundle and the page stylesheet.
pub const PKG: &str = "/pkg";
/// The widget's loader, bundle and stylesheet, loaded by pages of other origins.
pub const WIDGET: &str = "/widget/v1";

/// `base` + `template` with `{id}` replaced: an absolute `_links` href.
pub fn href(base: &str, template: &str, id: &str) -> String {
    format!("{base}{}", template.replace("{id}", id))
}

/// Liveness: the process serves requests.
pub const HEALTHZ: &str = "/healthz";
/// Readiness: the node takes traffic (not draining, the store answers).
pub const READYZ: &str = "/readyz";
