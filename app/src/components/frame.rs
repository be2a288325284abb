//! The frame around every hosted page: the org's name or logo, the page, and a footer with the
//! help link and the language choice.

use crate::PageState;
use crate::i18n::{Lang, use_messages};
use leptos::prelude::*;

#[component]
pub fn Frame(children: Children) -> impl IntoView {
    let state = use_context::<PageState>().unwrap_or_default();
    let m = use_messages();
    let brand = state.branding.clone();
    let name = if brand.name.is_empty() {
        "Portcullis".to_owned()
    } else {
        brand.name.clone()
    };
    let header = match brand.logo_url.clone() {
        Some(src) => view! { <img class="pc-logo" src=src alt=name.clone() /> }.into_any(),
        None => view! { <span class="pc-brand-name">{name.clone()}</span> }.into_any(),
    };
    // Language links keep the page's own address (only for pages shown by GET).
    let path = state.path.clone();
    let languages = Lang::ALL
        .iter()
        .map(|l| {
            let current = *l == state.lang;
            let href = format!("{path}{}lang={}", if path.contains('?') { '&' } else { '?' }, l.tag());
            let label = match l {
                Lang::En => "English",
                Lang::De => "Deutsch",
                Lang::Fr => "Français",
            };
            view! {
                <li>
                    <a href=href lang=l.tag() hreflang=l.tag() aria-current=current.then_some("true")>{label}</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <header class="pc-header">{header}</header>
        <main class="pc-card">{children()}</main>
        <footer class="pc-page-footer">
            {brand.help_url.clone().map(|h| view! { <a href=h>{m.help}</a> })}
            <nav aria-label=m.language>
                <ul class="pc-languages">{languages}</ul>
            </nav>
        </footer>
    }
}
