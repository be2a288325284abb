//! Shown when a request cannot continue and must not be sent back where it came from (an
//! unknown application, an unregistered return address): what happened, in plain words.

use crate::i18n::use_messages;
use crate::{PageState, paths};
use leptos::prelude::*;

#[component]
pub fn ErrorPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let message = match (state.problem, state.error) {
        (Some(p), _) => m.problem(p).to_owned(),
        (None, Some(e)) => e,
        (None, None) => m.error_default.to_owned(),
    };
    view! {
        <h1>{m.error_title}</h1>
        <p role="alert" data-testid="error-message">{message}</p>
        <p>{m.error_next} " " <a href=paths::LOGIN>{m.go_to_sign_in}</a>"."</p>
    }
}
