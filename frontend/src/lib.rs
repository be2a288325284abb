//! Entry point of the hosted pages' hydration bundle (`target/site/pkg/portcullis.js`), called
//! by the script Leptos's `HydrationScripts` puts in every page the server renders.

use app::{App, PageState};
use leptos::prelude::*;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let state = PageState::from_document();
    leptos::mount::hydrate_body(move || {
        provide_context(state);
        view! { <App /> }
    });
}
