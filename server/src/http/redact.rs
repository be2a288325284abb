//! What a request's address may say in the log. Query values are logged only for parameters
//! known to carry nothing secret; every other value (a `sessionToken`, a recovery token, a
//! code, an ID token hint, a password someone put in a URL) is replaced, and so is the token
//! in the path of an emailed link or a QR image. This holds at every log level.

use axum::http::Uri;

/// Parameters whose values are safe to log.
const HARMLESS: &[&str] = &[
    "client_id",
    "response_type",
    "response_mode",
    "scope",
    "redirect_uri",
    "post_logout_redirect_uri",
    "prompt",
    "max_age",
    "display",
    "lang",
    "limit",
    "after",
    "filter",
    "q",
    "search",
    "sendEmail",
    "expand",
    "code_challenge_method",
    "grant_type",
];

/// Path prefixes whose last segment is a secret.
const TOKEN_PATHS: &[&str] = &[
    "/signin/reset-password/",
    "/signin/user-unlock/",
    "/signin/activate/",
];

const HIDDEN: &str = "[redacted]";

/// `uri` as the log may show it.
pub(super) fn loggable(uri: &Uri) -> String {
    let path = uri.path();
    let mut out = match TOKEN_PATHS.iter().find(|p| path.starts_with(*p)) {
        Some(prefix) => format!("{prefix}{HIDDEN}"),
        None if path.contains("/qr/") => match path.rsplit_once('/') {
            Some((head, _)) => format!("{head}/{HIDDEN}"),
            None => path.to_owned(),
        },
        None => path.to_owned(),
    };
    if let Some(query) = uri.query() {
        let mut shown = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if HARMLESS.contains(&name.as_ref()) {
                shown.append_pair(&name, &value);
            } else {
                shown.append_pair(&name, HIDDEN);
            }
        }
        out.push('?');
        out.push_str(&shown.finish());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(uri: &str) -> String {
        loggable(&uri.parse().unwrap())
    }

    #[test]
    fn tokens_in_queries_and_link_paths_are_hidden() {
        let line = show(
            "/oauth2/v1/authorize?client_id=abc&sessionToken=20111secret&state=s1&scope=openid",
        );
        assert_eq!(
            line,
            "/oauth2/v1/authorize?client_id=abc&sessionToken=%5Bredacted%5D&state=%5Bredacted%5D&scope=openid"
        );
        for secret in [
            "/login/sessionCookieRedirect?token=T0KEN&redirectUrl=https%3A%2F%2Fa",
            "/oauth2/v1/logout?id_token_hint=eyJhbGc",
            "/signin/reset-password/T0KEN",
            "/signin/user-unlock/T0KEN",
            "/signin/activate/T0KEN",
            "/api/v1/users/00u1/factors/uft1/qr/T0KEN",
            "/oauth2/v1/token?code=T0KEN&password=T0KEN",
        ] {
            let line = show(secret);
            assert!(
                !line.contains("T0KEN") && !line.contains("eyJhbGc"),
                "{line}"
            );
        }
        assert_eq!(
            show("/api/v1/users?limit=5&q=ann"),
            "/api/v1/users?limit=5&q=ann"
        );
        assert_eq!(show("/login"), "/login");
    }
}
