//! Self-service registration: the email address, the names and the attributes the org asks
//! for. A plain form; the password is chosen after the emailed link confirms the address.

use crate::components::{FormError, RegisterFields};
use crate::i18n::use_messages;
use crate::{PageState, fields, paths};
use leptos::prelude::*;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let error = RwSignal::new(state.error.clone());
    let form = state.register.clone().unwrap_or_default();
    view! {
        <h1>{m.register_title}</h1>
        <p>{m.register_intro}</p>
        <form method="post" action=paths::REGISTER>
            <input type="hidden" name=fields::CSRF value=state.csrf.clone() />
            <FormError message=error />
            <RegisterFields form />
            <button type="submit" class="pc-button">{m.create_account}</button>
        </form>
        <p><a href=paths::LOGIN>{m.back_to_sign_in}</a></p>
    }
}
