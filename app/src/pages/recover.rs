//! Forgot password, unlock account, and the notices that end such flows ("check your email",
//! "unlocked", "signed out"…).

use crate::components::FormError;
use crate::i18n::use_messages;
use crate::{PageState, fields, paths};
use leptos::prelude::*;

/// A username form that asks for a recovery email.
#[component]
fn UsernameForm(
    action: &'static str,
    title: &'static str,
    intro: &'static str,
    button: &'static str,
) -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let error = RwSignal::new(state.error.clone());
    view! {
        <h1>{title}</h1>
        <p>{intro}</p>
        <form method="post" action=action>
            <input type="hidden" name=fields::CSRF value=state.csrf.clone() />
            <FormError message=error />
            <div class="pc-field">
                <label for="recover-username">{m.username}</label>
                <input
                    id="recover-username"
                    name=fields::USERNAME
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    autofocus
                    value=state.username.clone()
                />
            </div>
            <button type="submit" class="pc-button">{button}</button>
        </form>
        <p><a href=paths::LOGIN>{m.back_to_sign_in}</a></p>
    }
}

#[component]
pub fn ForgotPage() -> impl IntoView {
    let m = use_messages();
    view! {
        <UsernameForm action=paths::FORGOT_PASSWORD title=m.forgot_title intro=m.forgot_intro button=m.send_reset_link />
    }
}

#[component]
pub fn UnlockPage() -> impl IntoView {
    let m = use_messages();
    view! {
        <UsernameForm action=paths::UNLOCK title=m.unlock_title intro=m.unlock_intro button=m.send_unlock_link />
    }
}

#[component]
pub fn NoticePage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let notice = state.notice;
    let unlock = (notice == crate::Notice::Locked)
        .then(|| view! { <p><a href=paths::UNLOCK>{m.unlock_account}</a></p> });
    view! {
        <h1>{notice.title(state.lang)}</h1>
        <p role="status" data-testid="notice" data-notice=format!("{notice:?}")>{notice.body(state.lang)}</p>
        {unlock}
        <p><a href=paths::LOGIN>{m.back_to_sign_in}</a></p>
    }
}

/// An emailed link: one button that spends its one-time token.
#[component]
pub fn ContinuePage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let notice = state.notice;
    view! {
        <h1>{notice.title(state.lang)}</h1>
        <p>{notice.body(state.lang)}</p>
        <form method="post">
            <input type="hidden" name=fields::CSRF value=state.csrf.clone() />
            <button type="submit" class="pc-button" autofocus>{m.continue_}</button>
        </form>
    }
}
