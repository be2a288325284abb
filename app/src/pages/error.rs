//! Shown when a request cannot continue and must not be sent back where it came from (an
//! unknown application, an unregistered return address): what happened, in plain words.

use crate::{PageState, paths};
use leptos::prelude::*;

#[component]
pub fn ErrorPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let message = state
        .error
        .unwrap_or_else(|| "The request could not be completed.".to_owned());
    view! {
        <main class="pc-card">
            <h1>"Something went wrong"</h1>
            <p role="alert" data-testid="error-message">{message}</p>
            <p>"You can close this window and start again from the application, or "
                <a href=paths::LOGIN>"go to sign-in"</a>"."</p>
        </main>
    }
}
