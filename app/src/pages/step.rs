//! The current authentication step of a sign-in (MFA, enrollment, password change, recovery).

use crate::PageState;
use crate::components::StepView;
use leptos::prelude::*;

#[component]
pub fn StepPage() -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let tx = state.authn.clone().unwrap_or_default();
    view! {
        <StepView tx csrf=state.csrf.clone() error=state.error.clone().unwrap_or_default() questions=state.questions.clone() />
    }
}
