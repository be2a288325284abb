//! The consent screen: an application asks for access to scopes that need the person's
//! agreement. A plain form; both answers post back to the server, which remembers a yes.

use crate::{PageState, fields, paths};
use leptos::prelude::*;

#[component]
pub fn ConsentPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
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
        <main class="pc-card">
            <h1>"Allow access?"</h1>
            <p data-testid="consent-client">
                <strong>{consent.client_name}</strong>
                " would like to:"
            </p>
            <ul class="pc-scopes" data-testid="consent-scopes">{scopes}</ul>
            <p class="pc-hint">"You can take this back later by asking your administrator."</p>
            <form method="post" action=paths::CONSENT>
                <input type="hidden" name=fields::CSRF value=state.csrf />
                <input type="hidden" name=fields::REQUEST value=consent.request />
                <div class="pc-actions">
                    <button type="submit" name=fields::DECISION value="allow" class="pc-button">
                        "Allow access"
                    </button>
                    <button type="submit" name=fields::DECISION value="deny" class="pc-button pc-button-secondary">
                        "Don't allow"
                    </button>
                </div>
            </form>
        </main>
    }
}
