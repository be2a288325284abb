//! Shown for any path the pages do not know.

use crate::i18n::use_messages;
use crate::paths;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    let m = use_messages();
    view! {
        <h1>{m.not_found_title}</h1>
        <p>{m.not_found_body} " " <a href=paths::LOGIN>{m.go_to_sign_in}</a>"."</p>
    }
}
