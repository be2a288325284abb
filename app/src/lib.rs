//! Portcullis hosted pages (server-rendered, then hydrated) and the form components they share
//! with the embeddable widget.
//!
//! The server decides what a page shows and hands it over as [`PageState`]: it is provided as
//! context during server rendering and embedded in the page as JSON, which the hydration entry
//! point reads back so both sides render the same view.

/// The wire types live in `proto`, where the server's cores use them without Leptos.
pub use proto::{authn, paths};
pub mod components;
pub mod i18n;
pub mod pages;
mod state;

pub use state::{
    Branding, ConsentRequest, ConsentScope, FormReply, IdpButton, Notice, PageState, Problem,
    RegisterField, RegisterForm, SignedInUser, View,
};

use leptos::prelude::*;

/// The id of the `<script type="application/json">` element holding the page state.
pub const STATE_ELEMENT_ID: &str = "pc-state";

/// Form field names shared by the hosted pages, the widget and the tests.
pub mod fields {
    pub const USERNAME: &str = "username";
    pub const PASSWORD: &str = "password";
    pub const CSRF: &str = "csrf";
    pub const FROM_URI: &str = "from_uri";
    pub const REQUEST: &str = "request";
    pub const DECISION: &str = "decision";
    pub const REMEMBER: &str = "remember";
    pub const ACTION: &str = "action";
    pub const FACTOR_ID: &str = "factor_id";
    pub const FACTOR_TYPE: &str = "factor_type";
    pub const PROVIDER: &str = "provider";
    pub const PASSCODE: &str = "passcode";
    pub const ANSWER: &str = "answer";
    pub const QUESTION: &str = "question";
    pub const OLD_PASSWORD: &str = "old_password";
    pub const NEW_PASSWORD: &str = "new_password";
    pub const CONFIRM_PASSWORD: &str = "confirm_password";
    pub const EMAIL: &str = "email";
    pub const FIRST_NAME: &str = "firstName";
    pub const LAST_NAME: &str = "lastName";
    /// A WebAuthn ceremony's answer (base64), filled in by the passkey script.
    pub const ATTESTATION: &str = "attestation";
    pub const CLIENT_DATA: &str = "client_data";
    pub const AUTHENTICATOR_DATA: &str = "authenticator_data";
    pub const SIGNATURE_DATA: &str = "signature_data";
    pub const CREDENTIAL_ID: &str = "credential_id";
    pub const USER_HANDLE: &str = "user_handle";
    /// The state token of a passkey sign-in's challenge.
    pub const PASSKEY_TOKEN: &str = "passkey_token";
}

/// Paths of the hosted pages and their form targets.
#[component]
pub fn App() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    provide_context(state.lang);
    let page = match state.view {
        View::Login => view! { <pages::LoginPage /> }.into_any(),
        View::Step => view! { <pages::StepPage /> }.into_any(),
        View::ForgotPassword => view! { <pages::ForgotPage /> }.into_any(),
        View::Unlock => view! { <pages::UnlockPage /> }.into_any(),
        View::Register => view! { <pages::RegisterPage /> }.into_any(),
        View::Notice => view! { <pages::NoticePage /> }.into_any(),
        View::Continue => view! { <pages::ContinuePage /> }.into_any(),
        View::Consent => view! { <pages::ConsentPage /> }.into_any(),
        View::Error => view! { <pages::ErrorPage /> }.into_any(),
        View::NotFound => view! { <pages::NotFound /> }.into_any(),
    };
    view! { <components::Frame>{page}</components::Frame> }
}

/// The HTML document around [`App`], rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let state_json = state.to_html_json();
    view! {
        <!DOCTYPE html>
        <html lang=state.lang.tag()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <title>{state.title()}</title>
                <link rel="stylesheet" href="/pkg/portcullis.css" />
                <link rel="stylesheet" href=paths::BRAND_CSS />
                <script type="application/json" id=STATE_ELEMENT_ID inner_html=state_json></script>
                <script src=paths::PASSKEY_JS defer></script>
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
