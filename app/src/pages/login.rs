//! The sign-in page: a plain form that posts to the server, enhanced after hydration to submit
//! in the background and show errors in place.

use crate::components::{CredentialsFields, FormError};
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
                match enhanced::post_form(&form, paths::LOGIN).await {
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
        <main class="pc-card">
            <h1>"Sign in"</h1>
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
                <CredentialsFields username=state.username.clone() autofocus=true />
                <button type="submit" class="pc-button" disabled=move || busy.get()>
                    "Sign in"
                </button>
            </form>
        </main>
    }
}

#[component]
fn SignedIn(user: SignedInUser, csrf: String) -> impl IntoView {
    view! {
        <main class="pc-card">
            <h1>"You are signed in"</h1>
            <p data-testid="signed-in-user">
                "Signed in as " <strong>{user.display_name}</strong> " (" {user.login} ")"
            </p>
            <form method="post" action=paths::SIGN_OUT>
                <input type="hidden" name=fields::CSRF value=csrf />
                <button type="submit" class="pc-button pc-button-secondary">
                    "Sign out"
                </button>
            </form>
        </main>
    }
}

/// Background form submission, for the hydrated page only.
#[cfg(feature = "hydrate")]
mod enhanced {
    use crate::FormReply;

    const NETWORK_ERROR: &str =
        "We could not reach the server. Check your connection and try again.";

    /// Posts the form's fields URL-encoded, asking for a JSON [`FormReply`].
    pub(super) async fn post_form(
        form: &web_sys::HtmlFormElement,
        action: &str,
    ) -> Result<FormReply, String> {
        let data = web_sys::FormData::new_with_form(form).map_err(|_| NETWORK_ERROR.to_owned())?;
        let body = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data)
            .map_err(|_| NETWORK_ERROR.to_owned())?;
        let response = gloo_net::http::Request::post(action)
            .header("Accept", "application/json")
            .body(body)
            .map_err(|_| NETWORK_ERROR.to_owned())?
            .send()
            .await
            .map_err(|_| NETWORK_ERROR.to_owned())?;
        response
            .json::<FormReply>()
            .await
            .map_err(|_| NETWORK_ERROR.to_owned())
    }

    pub(super) fn navigate(to: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(to);
        }
    }
}
