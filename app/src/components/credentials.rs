//! The username and password fields, and the live region that announces a form's error.

use crate::fields;
use crate::i18n::use_messages;
use leptos::prelude::*;

/// An error message in a live region, announced to screen readers when it appears.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="pc-error" role="alert" aria-live="assertive">
            {move || message.get().filter(|m| !m.is_empty()).map(|m| view! { <p>{m}</p> })}
        </div>
    }
}

/// Labelled username and password inputs. `id_prefix` keeps ids unique when two forms share a
/// document (a host page embedding the widget).
#[component]
pub fn CredentialsFields(
    #[prop(into)] username: String,
    #[prop(optional)] id_prefix: &'static str,
    #[prop(optional)] autofocus: bool,
    /// Leaves out the "Show password" toggle (the widget shows it only when asked to).
    #[prop(optional)]
    hide_toggle: bool,
    /// Offers the person's passkeys in the username's autofill (conditional mediation).
    #[prop(optional)]
    passkeys: bool,
) -> impl IntoView {
    let m = use_messages();
    let username_id = format!("{id_prefix}username");
    let show_id = format!("{id_prefix}show-password");
    let shown = RwSignal::new(false);
    // The toggle needs script: it appears once the page is interactive.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let password_id = format!("{id_prefix}password");
    // Focus the first empty field, so a returning person lands on the password.
    let focus_password = autofocus && !username.is_empty();
    view! {
        <div class="pc-field">
            <label for=username_id.clone()>{m.username}</label>
            <input
                id=username_id
                name=fields::USERNAME
                type="text"
                autocomplete=if passkeys { "username webauthn" } else { "username" }
                autocapitalize="none"
                spellcheck="false"
                required
                autofocus=autofocus && !focus_password
                value=username
            />
        </div>
        <div class="pc-field">
            <label for=password_id.clone()>{m.password}</label>
            <input
                id=password_id
                name=fields::PASSWORD
                type=move || if shown.get() { "text" } else { "password" }
                autocomplete="current-password"
                required
                autofocus=focus_password
            />
        </div>
        <Show when=move || interactive.get() && !hide_toggle>
            <div class="pc-check">
                <input
                    id=show_id.clone()
                    type="checkbox"
                    on:change=move |ev| shown.set(event_target_checked(&ev))
                />
                <label for=show_id.clone()>{m.show_password}</label>
            </div>
        </Show>
    }
}
