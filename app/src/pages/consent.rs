//! The consent screen: an application asks for access to scopes that need the person's
//! agreement. A plain form; both answers post back to the server, which remembers a yes.

use crate::i18n::use_messages;
use crate::{PageState, fields, paths};
use leptos::prelude::*;

#[component]
pub fn ConsentPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let consent = state.consent.clone().unwrap_or_default();
    let scopes = consent
        .scopes
        .into_iter()
        .map(|s| {
            view! {
                <li data-scope=s.name.clone()>
                    <strong>{s.label}</strong>
                    {(!s.description.is_empty()).then(|| view! { <span class="pc-hint">{s.description}</span> })}
                </li>
            }
        })
        .collect_view();
    view! {
            <h1>{m.consent_title}</h1>
            <p data-testid="consent-client">
                <strong>{consent.client_name}</strong>
                " " {m.consent_wants}
            </p>
            <ul class="pc-scopes" data-testid="consent-scopes">{scopes}</ul>
            <p class="pc-hint">{m.consent_revoke_hint}</p>
            <form method="post" action=paths::CONSENT>
                <input type="hidden" name=fields::CSRF value=state.csrf />
                <input type="hidden" name=fields::REQUEST value=consent.request />
                <div class="pc-actions">
                    <button type="submit" name=fields::DECISION value="allow" class="pc-button">
                        {m.consent_allow}
                    </button>
                    <button type="submit" name=fields::DECISION value="deny" class="pc-button pc-button-secondary">
                        {m.consent_deny}
                    </button>
                </div>
            </form>
    }
}
