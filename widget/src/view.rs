//! The widget's view: the shared credential fields in a form that talks to the API directly.

use crate::authn::{self, SignInError};
use crate::config::WidgetConfig;
use app::components::{CredentialsFields, FormError};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

pub(crate) struct Callbacks {
    pub(crate) on_success: js_sys::Function,
    pub(crate) on_error: js_sys::Function,
    pub(crate) on_event: js_sys::Function,
}

/// Okta's `afterError(context, error)`: `{controller}` and `{name, message, statusCode}`.
fn after_error(callbacks: &Callbacks, name: &str, message: &str, status: u16) {
    let context = serde_json::json!({ "controller": "primary-auth" }).to_string();
    let error =
        serde_json::json!({ "name": name, "message": message, "statusCode": status }).to_string();
    let parse = |s: &str| js_sys::JSON::parse(s).unwrap_or(JsValue::NULL);
    let _ = callbacks.on_event.call3(
        &JsValue::NULL,
        &JsValue::from_str("afterError"),
        &parse(&context),
        &parse(&error),
    );
}

const UNREACHABLE: &str =
    "We could not reach the sign-in service. Try again, or contact the site's support.";

pub(crate) fn widget(config: WidgetConfig, callbacks: Callbacks) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let signed_in = RwSignal::new(None::<String>);
    // JS functions are not Send: keep them in local storage, reachable through a Copy handle.
    let callbacks = StoredValue::new_local(callbacks);
    let base_url = config.base_url.clone();
    let heading = config
        .brand_name
        .clone()
        .unwrap_or_else(|| "Sign in".to_owned());
    let brand_style = config.brand_color().map(|c| format!("--pc-brand: {c}"));
    let logo = config.logo_url().map(str::to_owned);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let value = |name: &str| {
            form.elements()
                .named_item(name)
                .and_then(|el| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(el).ok())
                .map(|input| input.value())
                .unwrap_or_default()
        };
        let username = value(app::fields::USERNAME);
        let password = value(app::fields::PASSWORD);
        if username.trim().is_empty() || password.is_empty() {
            error.set(Some("Enter your username and password.".into()));
            return;
        }
        busy.set(true);
        error.set(None);
        let base_url = base_url.clone();
        leptos::task::spawn_local(async move {
            match authn::primary(&base_url, &username, &password).await {
                Ok(tx) => {
                    let result = authn::success_object(&tx);
                    let login = result
                        .pointer("/user/profile/login")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned();
                    signed_in.set(Some(login));
                    let js = js_sys::JSON::parse(&result.to_string()).unwrap_or(JsValue::NULL);
                    callbacks.with_value(|c| {
                        let _ = c.on_success.call1(&JsValue::NULL, &js);
                    });
                }
                Err(SignInError::Rejected(status, summary)) => {
                    callbacks.with_value(|c| after_error(c, "AuthApiError", &summary, status));
                    error.set(Some(summary));
                }
                Err(SignInError::Unreachable) => {
                    callbacks.with_value(|c| after_error(c, "AuthSdkError", UNREACHABLE, 0));
                    error.set(Some(UNREACHABLE.into()));
                    let err = js_sys::Error::new(UNREACHABLE);
                    callbacks.with_value(|c| {
                        let _ = c.on_error.call1(&JsValue::NULL, &err);
                    });
                }
            }
            busy.set(false);
        });
    };

    view! {
        <div class="pcw-root" data-portcullis-widget="" style=brand_style>
            {move || match signed_in.get() {
                Some(login) => view! {
                    <div class="pc-card pcw-card">
                        <h2>"Signed in"</h2>
                        <p data-testid="widget-signed-in">"Signed in as " {login}</p>
                    </div>
                }.into_any(),
                None => view! {
                    <form class="pc-card pcw-card" on:submit=on_submit.clone() novalidate aria-busy=move || busy.get().then_some("true")>
                        {logo.clone().map(|src| view! { <img class="pcw-logo" src=src alt="" /> })}
                        <h2>{heading.clone()}</h2>
                        <FormError message=error />
                        <CredentialsFields username=config.username.clone().unwrap_or_default() id_prefix="pcw-" />
                        <button type="submit" class="pc-button" disabled=move || busy.get()>"Sign in"</button>
                    </form>
                }.into_any(),
            }}
        </div>
    }
}
