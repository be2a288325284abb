//! The embeddable sign-in widget: client-side rendered Leptos in WASM, mounted by the JS loader
//! (`js/portcullis-signin.js`) into an element of a page on any trusted origin.
//!
//! It walks the Authentication API (`POST {baseUrl}/api/v1/authn`, cross-origin with
//! credentials) using the same form components as the hosted pages.

mod authn;
mod config;
mod view;

use config::WidgetConfig;
use wasm_bindgen::prelude::*;

/// A mounted widget. Dropping or `unmount()` removes it and frees its reactive state.
#[wasm_bindgen]
pub struct WidgetHandle {
    mounted: Option<Box<dyn std::any::Any>>,
}

#[wasm_bindgen]
impl WidgetHandle {
    /// Removes the widget from the page.
    pub fn unmount(&mut self) {
        self.mounted.take();
    }
}

/// Mounts the widget into `el`. `config` is the JSON of the options object (functions removed);
/// `on_success` receives `{status, session: {token}, user}`, `on_error` an `Error`, and
/// `on_event(name, context, detail)` the widget's events (`afterError`).
#[wasm_bindgen]
pub fn mount(
    el: web_sys::HtmlElement,
    config: &str,
    on_success: js_sys::Function,
    on_error: js_sys::Function,
    on_event: js_sys::Function,
) -> Result<WidgetHandle, JsValue> {
    console_error_panic_hook::set_once();
    let config = WidgetConfig::parse(config).map_err(|e| js_sys::Error::new(&e))?;
    let callbacks = view::Callbacks {
        on_success,
        on_error,
        on_event,
    };
    let handle = leptos::mount::mount_to(el, move || view::widget(config, callbacks));
    Ok(WidgetHandle {
        mounted: Some(Box::new(handle)),
    })
}
