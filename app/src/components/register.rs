//! The sign-up form's fields: the email address, the names, and the attributes the org asks
//! for, each as the input its type calls for. The hosted page posts them; the widget reads
//! them and sends them to the registration API.

use crate::fields;
use crate::i18n::use_messages;
use crate::{RegisterField, RegisterForm};
use leptos::prelude::*;

/// `mobilePhone` → "Mobile phone": a label for an attribute the schema gives no title.
pub fn label_of(attribute: &str) -> String {
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

fn attribute(field: &RegisterField, id_prefix: &str, value: String) -> impl IntoView + use<> {
    let id = format!("{id_prefix}register-{}", field.name);
    if field.kind == "boolean" {
        return view! {
            <div class="pc-check">
                <input id=id.clone() name=field.name.clone() type="checkbox" value="true" checked=value == "true" />
                <label for=id>{field.title.clone()}</label>
            </div>
        }
        .into_any();
    }
    let (kind, step) = match field.kind.as_str() {
        "integer" => ("number", Some("1")),
        "number" => ("number", Some("any")),
        _ => ("text", None),
    };
    view! {
        <div class="pc-field">
            <label for=id.clone()>{field.title.clone()}</label>
            <input id=id name=field.name.clone() type=kind step=step value=value required=field.required />
        </div>
    }
    .into_any()
}

/// The fields, filled with what was typed before.
#[component]
pub fn RegisterFields(
    form: RegisterForm,
    #[prop(default = "")] id_prefix: &'static str,
) -> impl IntoView {
    let m = use_messages();
    let value = |name: &str| form.values.get(name).cloned().unwrap_or_default();
    let extra = form
        .attributes
        .iter()
        .map(|f| attribute(f, id_prefix, value(&f.name)))
        .collect_view();
    let id = |name: &str| format!("{id_prefix}register-{name}");
    view! {
        <div class="pc-field">
            <label for=id("email")>{m.email}</label>
            <input id=id("email") name=fields::EMAIL type="email" autocomplete="email"
                autocapitalize="none" spellcheck="false" required autofocus value=value(fields::EMAIL) />
        </div>
        <div class="pc-field">
            <label for=id("first-name")>{m.first_name}</label>
            <input id=id("first-name") name=fields::FIRST_NAME type="text"
                autocomplete="given-name" required value=value(fields::FIRST_NAME) />
        </div>
        <div class="pc-field">
            <label for=id("last-name")>{m.last_name}</label>
            <input id=id("last-name") name=fields::LAST_NAME type="text"
                autocomplete="family-name" required value=value(fields::LAST_NAME) />
        </div>
        {extra}
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
