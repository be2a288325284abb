//! Shown for any path the pages do not know.

use crate::paths;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="pc-card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<a href=paths::LOGIN>"Go to sign-in"</a>"."</p>
        </main>
    }
}
