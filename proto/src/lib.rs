//! What the server, the hosted pages and the widget say to each other, as plain types: the
//! Authentication API transaction as the pages read it, the paths of the hosted pages, and why
//! a request could not continue. No Leptos and no axum, so the server's cores can depend on
//! this crate and not on the pages.

pub mod authn;

use serde::{Deserialize, Serialize};

/// Where the hosted pages live (the server routes them; the pages link to them).
pub mod paths {
    pub const LOGIN: &str = "/login";
    pub const SIGN_OUT: &str = "/login/signout";
    /// Where the consent screen posts the person's answer.
    pub const CONSENT: &str = "/oauth2/v1/consent";
    /// The current authentication step (GET shows it, POST answers it).
    pub const STEP: &str = "/signin/step";
    pub const FORGOT_PASSWORD: &str = "/signin/forgot-password";
    pub const UNLOCK: &str = "/signin/unlock";
    /// Self-service registration (when the org allows it).
    pub const REGISTER: &str = "/signin/register";
    /// The org's brand colour, as a stylesheet (inline styles are not allowed by the CSP).
    pub const BRAND_CSS: &str = "/signin/brand.css";
    pub const SIGNED_OUT: &str = "/signin/signed-out";
    /// A passkey sign-in's challenge (then `…/verify` with the answer).
    pub const AUTHN_PASSKEY: &str = "/api/v1/authn/passkey";
    /// The script that runs passkey ceremonies on the pages and in the widget.
    pub const PASSKEY_JS: &str = "/signin/passkey.js";
    /// Sign-in through an upstream identity provider (Okta's path, as its widget uses it).
    pub const SSO_IDP: &str = "/sso/idps/{id}";
}

/// Why a request could not continue, for the error page (words from the catalogue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    MissingClient,
    UnknownClient,
    MissingRedirect,
    UnregisteredRedirect,
    /// A parameter (such as `redirect_uri`) given twice: which one was meant cannot be known.
    RepeatedParameter,
    /// A form's anti-forgery token did not match (an old tab, or a page of another site).
    FormExpired,
    Internal,
    LogoutHintMissing,
    LogoutUnverified,
    ConsentInvalid,
    ConsentExpired,
    SignedOutMeanwhile,
    /// A custom authorization server that does not exist or is not active.
    UnknownServer,
    /// The identity provider asked for does not exist or is not active.
    IdpUnavailable,
    /// The identity provider's answer could not be used (or it could not be reached).
    IdpFailed,
    /// The person cancelled at the identity provider.
    IdpCancelled,
    /// No account here for the person the provider signed in, and none may be made.
    IdpNoAccount,
    /// The account the provider's person has here may not sign in.
    IdpInactive,
    /// A pushed authorization request (`request_uri`) that is unknown, used or expired.
    RequestExpired,
}
