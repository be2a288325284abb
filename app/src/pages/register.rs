//! Self-service registration: the email address, the names and the attributes the org asks
//! for. A plain form; the password is chosen after the emailed link confirms the address.

use crate::components::FormError;
use crate::i18n::use_messages;
use crate::{PageState, fields, paths};
use leptos::prelude::*;

/// `mobilePhone` → "Mobile phone": a label for an attribute the org added to the form.
fn label_of(attribute: &str) -> String {
    let mut out = String::new();
    for (i, c) in attribute.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if c == '_' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let error = RwSignal::new(state.error.clone());
    let form = state.register.clone().unwrap_or_default();
    let value = |name: &str| form.values.get(name).cloned().unwrap_or_default();
    let extra = form
        .attributes
        .iter()
        .map(|name| {
            let id = format!("register-{name}");
            view! {
                <div class="pc-field">
                    <label for=id.clone()>{label_of(name)}</label>
                    <input id=id name=name.clone() type="text" value=value(name) />
                </div>
            }
        })
        .collect_view();
    view! {
        <h1>{m.register_title}</h1>
        <p>{m.register_intro}</p>
        <form method="post" action=paths::REGISTER>
            <input type="hidden" name=fields::CSRF value=state.csrf.clone() />
            <FormError message=error />
            <div class="pc-field">
                <label for="register-email">{m.email}</label>
                <input id="register-email" name=fields::EMAIL type="email" autocomplete="email"
                    autocapitalize="none" spellcheck="false" required autofocus value=value(fields::EMAIL) />
            </div>
            <div class="pc-field">
                <label for="register-first-name">{m.first_name}</label>
                <input id="register-first-name" name=fields::FIRST_NAME type="text"
                    autocomplete="given-name" required value=value(fields::FIRST_NAME) />
            </div>
            <div class="pc-field">
                <label for="register-last-name">{m.last_name}</label>
                <input id="register-last-name" name=fields::LAST_NAME type="text"
                    autocomplete="family-name" required value=value(fields::LAST_NAME) />
            </div>
            {extra}
            <button type="submit" class="pc-button">{m.create_account}</button>
        </form>
        <p><a href=paths::LOGIN>{m.back_to_sign_in}</a></p>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn attribute_labels_read_as_words() {
        assert_eq!(super::label_of("mobilePhone"), "Mobile phone");
        assert_eq!(super::label_of("cost_center"), "Cost center");
        assert_eq!(super::label_of("department"), "Department");
    }
}
