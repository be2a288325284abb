//! The sign-in page: a plain form that posts to the server, enhanced after hydration to submit
//! in the background and show errors in place.

use crate::components::{CredentialsFields, FormError};
use crate::i18n::use_messages;
use crate::{PageState, SignedInUser, fields, paths};
use leptos::prelude::*;

#[component]
pub fn LoginPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    match state.signed_in.clone() {
        Some(user) => view! { <SignedIn user csrf=state.csrf /> }.into_any(),
        None => view! { <SignInForm state /> }.into_any(),
    }
}

#[component]
fn SignInForm(state: PageState) -> impl IntoView {
    let m = use_messages();
    let error = RwSignal::new(state.error.clone());
    let csrf = RwSignal::new(state.csrf.clone());
    let busy = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser: this marks the form as enhanced once hydration is done.
    Effect::new(move |_| hydrated.set(true));
    let form_ref = NodeRef::<leptos::html::Form>::new();

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            let Some(form) = form_ref.get() else { return };
            if busy.get_untracked() {
                return;
            }
            busy.set(true);
            leptos::task::spawn_local(async move {
                match enhanced::post_form(&form, paths::LOGIN, m.err_network).await {
                    Ok(reply) => {
                        if let Some(to) = reply.redirect {
                            enhanced::navigate(&to);
                            return;
                        }
                        if let Some(token) = reply.csrf {
                            csrf.set(token);
                        }
                        error.set(reply.error);
                    }
                    Err(message) => error.set(Some(message)),
                }
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, form_ref, busy);
    };

    view! {
            <h1>{m.sign_in_title}</h1>
            <form
                method="post"
                action=paths::LOGIN
                node_ref=form_ref
                on:submit=on_submit
                data-hydrated=move || hydrated.get().then_some("true")
                aria-busy=move || busy.get().then_some("true")
            >
                <input type="hidden" name=fields::CSRF prop:value=move || csrf.get() value=state.csrf.clone() />
                {state.from_uri.clone().map(|uri| view! { <input type="hidden" name=fields::FROM_URI value=uri /> })}
                <FormError message=error />
                <CredentialsFields username=state.username.clone() autofocus=true passkeys=true />
                <div class="pc-check">
                    <input id="remember" type="checkbox" name=fields::REMEMBER value="true" />
                    <label for="remember">{m.remember_me}</label>
                </div>
                <button type="submit" class="pc-button" disabled=move || busy.get()>
                    {m.sign_in}
                </button>
                // Shown by the passkey script where the browser has WebAuthn.
                <input type="hidden" name=fields::PASSKEY_TOKEN value="" />
                <input type="hidden" name=fields::CLIENT_DATA value="" />
                <input type="hidden" name=fields::AUTHENTICATOR_DATA value="" />
                <input type="hidden" name=fields::SIGNATURE_DATA value="" />
                <input type="hidden" name=fields::CREDENTIAL_ID value="" />
                <input type="hidden" name=fields::USER_HANDLE value="" />
                <p class="pc-error" role="alert" data-passkey-error hidden>{m.passkey_failed}</p>
                <button
                    type="button"
                    class="pc-button pc-button-secondary"
                    data-passkey="sign-in"
                    data-passkey-start=paths::AUTHN_PASSKEY
                    hidden
                >
                    {m.passkey_sign_in}
                </button>
            </form>
            {(!state.idps.is_empty()).then(|| {
                let links = state.idps.iter().map(|idp| view! {
                    <a class="pc-button pc-button-secondary pc-idp" href=idp.href.clone()>
                        {m.sign_in_with.replace("{name}", &idp.name)}
                    </a>
                }).collect_view();
                view! {
                    <p class="pc-divider"><span>{m.or}</span></p>
                    <div class="pc-idps">{links}</div>
                }
            })}
            <ul class="pc-links">
                <li><a href=paths::FORGOT_PASSWORD>{m.forgot_password}</a></li>
                <li><a href=paths::UNLOCK>{m.unlock_account}</a></li>
                {state.sign_up.then(|| view! { <li><a href=paths::REGISTER>{m.sign_up_link}</a></li> })}
            </ul>
    }
}

#[component]
fn SignedIn(user: SignedInUser, csrf: String) -> impl IntoView {
    let m = use_messages();
    view! {
            <h1>{m.signed_in_title}</h1>
            <p data-testid="signed-in-user">
                {m.signed_in_as} " " <strong>{user.display_name}</strong> " (" {user.login} ")"
            </p>
            <form method="post" action=paths::SIGN_OUT>
                <input type="hidden" name=fields::CSRF value=csrf />
                <button type="submit" class="pc-button pc-button-secondary">
                    {m.sign_out}
                </button>
            </form>
    }
}

/// Background form submission, for the hydrated page only.
#[cfg(feature = "hydrate")]
mod enhanced {
    use crate::FormReply;

    /// Posts the form's fields URL-encoded, asking for a JSON [`FormReply`].
    pub(super) async fn post_form(
        form: &web_sys::HtmlFormElement,
        action: &str,
        network_error: &'static str,
    ) -> Result<FormReply, String> {
        let data = web_sys::FormData::new_with_form(form).map_err(|_| network_error.to_owned())?;
        let body = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data)
            .map_err(|_| network_error.to_owned())?;
        let response = gloo_net::http::Request::post(action)
            .header("Accept", "application/json")
            .body(body)
            .map_err(|_| network_error.to_owned())?
            .send()
            .await
            .map_err(|_| network_error.to_owned())?;
        response
            .json::<FormReply>()
            .await
            .map_err(|_| network_error.to_owned())
    }

    pub(super) fn navigate(to: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(to);
        }
    }
}
