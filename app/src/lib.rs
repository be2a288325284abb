//! Portcullis hosted pages (server-rendered, then hydrated) and the form components they share
//! with the embeddable widget.
//!
//! The server decides what a page shows and hands it over as [`PageState`]: it is provided as
//! context during server rendering and embedded in the page as JSON, which the hydration entry
//! point reads back so both sides render the same view.

pub mod components;
pub mod pages;
mod state;

pub use state::{ConsentRequest, ConsentScope, FormReply, PageState, SignedInUser};

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

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
}

/// Paths of the hosted pages and their form targets.
pub mod paths {
    pub const LOGIN: &str = "/login";
    pub const SIGN_OUT: &str = "/login/signout";
    /// Where the consent screen posts the person's answer.
    pub const CONSENT: &str = "/oauth2/v1/consent";
}

#[component]
pub fn App() -> impl IntoView {
    // The consent screen answers an authorization request at that request's own address, so it
    // is chosen by the state the server sent rather than by the path.
    if use_context::<PageState>().is_some_and(|s| s.consent.is_some()) {
        return view! { <pages::ConsentPage /> }.into_any();
    }
    view! {
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::LoginPage />
                <Route path=path!("/error") view=pages::ErrorPage />
            </Routes>
        </Router>
    }
    .into_any()
}

/// The HTML document around [`App`], rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let state_json = state.to_html_json();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <title>{state.title()}</title>
                <link rel="stylesheet" href="/pkg/portcullis.css" />
                <script type="application/json" id=STATE_ELEMENT_ID inner_html=state_json></script>
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Entry point of the hydration bundle, called by the script `HydrationScripts` emits.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let state = PageState::from_document();
    leptos::mount::hydrate_body(move || {
        provide_context(state);
        view! { <App /> }
    });
}
