//! The widget's views: the sign-in form, then every step of the transaction with the hosted
//! pages' own step components (their forms are read here and sent to the API instead of being
//! posted), password recovery and unlock by email, and the notices that end those flows.

use crate::authn::{self, SignInError};
use crate::config::{WidgetConfig, web_link};
use app::authn::{AuthnStatus, AuthnTx};
use app::components::steps::StepAction;
use app::components::{CredentialsFields, FormError, RegisterFields, StepView};
use app::i18n::{CustomMessages, Lang, Messages, use_messages};
use app::{Notice, RegisterForm, fields};
use leptos::prelude::*;
use serde_json::{Map, Value, json};
use wasm_bindgen::{JsCast, JsValue};

/// What an answer from the server goes on to.
#[derive(Debug, Clone, Copy)]
enum Then {
    /// A transaction: its step, or done.
    Show,
    /// The registration form's description: show the form.
    RegisterForm,
    /// A sign-up was taken: "check your email".
    Registered,
}

pub(crate) struct Callbacks {
    pub(crate) on_success: js_sys::Function,
    pub(crate) on_error: js_sys::Function,
    pub(crate) on_event: js_sys::Function,
}

/// What the widget shows.
#[derive(Debug, Clone, PartialEq)]
enum Screen {
    Primary,
    Step(Box<AuthnTx>),
    Forgot,
    Unlock,
    /// The sign-up form: its registration policy and the attributes it asks for.
    Register(Box<(String, RegisterForm)>),
    Notice(Notice),
    Done(String),
}

impl Screen {
    /// Okta's controller names, reported with `afterRender` and `afterError`.
    fn controller(&self) -> &'static str {
        match self {
            Screen::Primary => "primary-auth",
            Screen::Step(tx) => match tx.status {
                AuthnStatus::MfaRequired | AuthnStatus::MfaChallenge => "mfa-verify",
                AuthnStatus::MfaEnroll => "enroll-choices",
                AuthnStatus::MfaEnrollActivate => "enroll-activate",
                AuthnStatus::PasswordExpired => "password-expired",
                AuthnStatus::PasswordWarn => "password-warn",
                AuthnStatus::PasswordReset => "password-reset",
                AuthnStatus::Recovery => "recovery-question",
                AuthnStatus::Unauthenticated
                | AuthnStatus::Success
                | AuthnStatus::RecoveryChallenge
                | AuthnStatus::LockedOut => "authn-step",
            },
            Screen::Forgot => "forgot-password",
            Screen::Unlock => "account-unlock",
            Screen::Register(_) => "registration",
            Screen::Notice(Notice::Registered) => "registration-complete",
            Screen::Notice(Notice::CheckEmail) => "recovery-challenge",
            Screen::Notice(Notice::Unlocked) => "account-unlocked",
            Screen::Notice(_) => "notice",
            Screen::Done(_) => "success",
        }
    }
}

fn emit(callbacks: &Callbacks, name: &str, context: &Value, detail: Option<&Value>) {
    let parse = |v: &Value| js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL);
    let detail = detail.map_or(JsValue::UNDEFINED, parse);
    let _ = callbacks.on_event.call3(
        &JsValue::NULL,
        &JsValue::from_str(name),
        &parse(context),
        &detail,
    );
}

/// The form's fields as a JSON object (what the step components post).
fn form_fields(form: &web_sys::HtmlFormElement) -> Map<String, Value> {
    let mut out = Map::new();
    let Ok(data) = web_sys::FormData::new_with_form(form) else {
        return out;
    };
    let Ok(Some(entries)) = js_sys::try_iter(&data) else {
        return out;
    };
    for entry in entries.flatten() {
        let pair = js_sys::Array::from(&entry);
        if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            out.insert(k, Value::String(v));
        }
    }
    out
}

/// What the person sees for an API error, in their language where the code is known.
fn explain(m: &Messages, code: &str, summary: &str, answered_question: bool) -> String {
    match code {
        "E0000004" => m.err_failed.to_owned(),
        "E0000068" if answered_question => m.err_wrong_answer.to_owned(),
        "E0000068" => m.err_wrong_code.to_owned(),
        "E0000087" => m.err_wrong_answer.to_owned(),
        "E0000047" => m.err_too_many.to_owned(),
        "E0000014" => m.password_refused(summary),
        _ => summary.to_owned(),
    }
}

const REMEMBERED: &str = "portcullis-widget-username";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The language to show: the `language` option, else the browser's, else English.
fn language(config: &WidgetConfig) -> Lang {
    let browser = web_sys::window().and_then(|w| w.navigator().language());
    config
        .language
        .as_deref()
        .or(browser.as_deref())
        .and_then(Lang::from_tag)
        .unwrap_or_default()
}

pub(crate) fn widget(config: WidgetConfig, callbacks: Callbacks) -> impl IntoView {
    let lang = language(&config);
    provide_context(lang);
    if let Some(overrides) = config.i18n.get(lang.tag()) {
        let custom = lang
            .messages()
            .customized(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        provide_context(CustomMessages(custom));
    }
    let m = use_messages();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let screen = RwSignal::new(Screen::Primary);
    let state_token = StoredValue::new(None::<String>);
    // JS functions are not Send: keep them in local storage, reachable through a Copy handle.
    let callbacks = StoredValue::new_local(callbacks);
    let config = StoredValue::new(config);
    let base_url = StoredValue::new(config.with_value(|c| c.base_url.clone()));

    // Shows `shown`; `afterError` gets the API's own message, as Okta's widget reports it.
    let fail = move |status: u16, name: &str, shown: String, reported: &str| {
        let context = json!({ "controller": screen.with_untracked(Screen::controller) });
        let detail = json!({ "name": name, "message": reported, "statusCode": status });
        callbacks.with_value(|c| emit(c, "afterError", &context, Some(&detail)));
        error.set(Some(shown));
    };

    // A transaction the server answered with: on to its step, or done.
    let show = move |json: Value| {
        // An answer that is not a transaction: back to the start rather than a blank step.
        let tx = serde_json::from_value::<AuthnTx>(json).unwrap_or_default();
        if let Some(t) = &tx.state_token {
            state_token.set_value(Some(t.clone()));
        }
        error.set(None);
        let next = match tx.status {
            AuthnStatus::Success if tx.session_token.is_some() => {
                let result = authn::success_object(&tx);
                let login = result
                    .pointer("/user/profile/login")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let remember = local_storage().filter(|store| {
                    config.with_value(|c| c.features.remember_me)
                        && store
                            .get_item("portcullis-widget-remember")
                            .ok()
                            .flatten()
                            .as_deref()
                            == Some("1")
                });
                if let Some(store) = remember {
                    let _ = store.set_item(REMEMBERED, &login);
                }
                let js = js_sys::JSON::parse(&result.to_string()).unwrap_or(JsValue::NULL);
                callbacks.with_value(|c| {
                    let _ = c.on_success.call1(&JsValue::NULL, &js);
                });
                Screen::Done(login)
            }
            AuthnStatus::Success => Screen::Notice(Notice::Unlocked),
            // A cancelled transaction: back to the sign-in form.
            AuthnStatus::Unauthenticated => Screen::Primary,
            AuthnStatus::RecoveryChallenge => Screen::Notice(Notice::CheckEmail),
            AuthnStatus::LockedOut => Screen::Notice(Notice::Locked),
            AuthnStatus::MfaRequired
            | AuthnStatus::MfaChallenge
            | AuthnStatus::MfaEnroll
            | AuthnStatus::MfaEnrollActivate
            | AuthnStatus::PasswordExpired
            | AuthnStatus::PasswordWarn
            | AuthnStatus::PasswordReset
            | AuthnStatus::Recovery => Screen::Step(Box::new(tx)),
        };
        screen.set(next);
        let context = json!({ "controller": screen.with_untracked(Screen::controller) });
        callbacks.with_value(|c| emit(c, "afterRender", &context, None));
    };

    let go = move |to: Screen| {
        error.set(None);
        screen.set(to);
        let context = json!({ "controller": screen.with_untracked(Screen::controller) });
        callbacks.with_value(|c| emit(c, "afterRender", &context, None));
    };

    // Sends a request (a GET without a body); answers go where `then` says, errors to the
    // error line.
    let request = move |path: String, body: Option<Value>, answered_question: bool, then: Then| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let base_url = base_url.get_value();
        leptos::task::spawn_local(async move {
            match authn::call(&base_url, &path, body.as_ref()).await {
                Ok(answer) => match then {
                    Then::Show => show(answer),
                    Then::RegisterForm => match authn::registration_form(&answer) {
                        Some((policy, attributes)) => {
                            let form = RegisterForm {
                                attributes,
                                values: Default::default(),
                            };
                            go(Screen::Register(Box::new((policy, form))));
                        }
                        None => fail(
                            200,
                            "AuthApiError",
                            m.step_unknown.to_owned(),
                            "not a registration form",
                        ),
                    },
                    Then::Registered => go(Screen::Notice(Notice::Registered)),
                },
                Err(SignInError::Rejected(status, code, summary)) => {
                    if code == "E0000011" {
                        // The transaction ended (expired or cancelled elsewhere): start over.
                        state_token.set_value(None);
                        screen.set(Screen::Primary);
                        fail(
                            status,
                            "AuthApiError",
                            m.err_tx_expired.to_owned(),
                            &summary,
                        );
                    } else {
                        let shown = explain(m, &code, &summary, answered_question);
                        fail(status, "AuthApiError", shown, &summary);
                    }
                }
                Err(SignInError::Unreachable) => {
                    let message = m.err_network.to_owned();
                    fail(0, "AuthSdkError", message.clone(), &message);
                    let err = js_sys::Error::new(&message);
                    callbacks.with_value(|c| {
                        let _ = c.on_error.call1(&JsValue::NULL, &err);
                    });
                }
            }
            busy.set(false);
        });
    };
    let send = move |path: String, body: Value, answered_question: bool| {
        request(path, Some(body), answered_question, Then::Show);
    };

    // Resume a transaction, or a reset from an emailed token, when the host passed one.
    if let Some(token) = config.with_value(|c| c.state_token.clone()) {
        send(
            authn::AUTHN.to_owned(),
            json!({ "stateToken": token }),
            false,
        );
    } else if let Some(token) = config.with_value(|c| c.recovery_token.clone()) {
        send(
            authn::RECOVERY_TOKEN.to_owned(),
            json!({ "recoveryToken": token }),
            false,
        );
    }

    let on_primary = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let f = form_fields(&form);
        let get = |k: &str| {
            f.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let multi = config.with_value(|c| c.features.multi_optional_factor_enroll);
        // The passkey script filled in a passkey's answer: no username or password.
        let passkey = get(fields::PASSKEY_TOKEN);
        if !passkey.is_empty() {
            send(
                authn::PASSKEY_VERIFY.to_owned(),
                json!({ "stateToken": passkey,
                        "clientData": get(fields::CLIENT_DATA),
                        "authenticatorData": get(fields::AUTHENTICATOR_DATA),
                        "signatureData": get(fields::SIGNATURE_DATA),
                        "credentialId": get(fields::CREDENTIAL_ID),
                        "userHandle": get(fields::USER_HANDLE),
                        "options": { "multiOptionalFactorEnroll": multi } }),
                false,
            );
            return;
        }
        let (username, password) = (get(fields::USERNAME), get(fields::PASSWORD));
        if username.trim().is_empty() || password.is_empty() {
            error.set(Some(m.err_missing.to_owned()));
            return;
        }
        if let Some(store) = local_storage() {
            let remember = get(fields::REMEMBER) == "true";
            let _ = store.set_item(
                "portcullis-widget-remember",
                if remember { "1" } else { "0" },
            );
            if !remember {
                let _ = store.remove_item(REMEMBERED);
            }
        }
        send(
            authn::AUTHN.to_owned(),
            json!({ "username": username, "password": password,
                    "options": { "multiOptionalFactorEnroll": multi } }),
            false,
        );
    };

    // Step forms bubble their submit events up to here.
    let on_step = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let f = form_fields(&form);
        let status = screen.with_untracked(|s| match s {
            Screen::Step(tx) => tx.status,
            _ => AuthnStatus::Unauthenticated,
        });
        let action = f
            .get(fields::ACTION)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let new_password = f.get(fields::NEW_PASSWORD).and_then(Value::as_str);
        if new_password.is_some()
            && new_password != f.get(fields::CONFIRM_PASSWORD).and_then(Value::as_str)
        {
            error.set(Some(m.err_passwords_differ.to_owned()));
            return;
        }
        if StepAction::parse(action) == Some(StepAction::Cancel) {
            let token = state_token.get_value().unwrap_or_default();
            state_token.set_value(None);
            screen.set(Screen::Primary);
            send(
                authn::CANCEL.to_owned(),
                json!({ "stateToken": token }),
                false,
            );
            return;
        }
        let token = state_token.get_value().unwrap_or_default();
        let answered_question = f.contains_key(fields::ANSWER) && !f.contains_key(fields::PASSCODE);
        match authn::step_request(status, &token, &f) {
            Some((path, body)) => send(path, body, answered_question),
            None => error.set(Some(m.step_unknown.to_owned())),
        }
    };

    // Forgot password and unlock: a username, then "check your email".
    let on_recover = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let username = form_fields(&form)
            .get(fields::USERNAME)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned();
        if username.is_empty() {
            error.set(Some(m.err_required.to_owned()));
            return;
        }
        let path = if screen.with_untracked(|s| *s == Screen::Unlock) {
            authn::RECOVERY_UNLOCK
        } else {
            authn::RECOVERY_PASSWORD
        };
        send(
            path.to_owned(),
            json!({ "username": username, "factorType": "EMAIL" }),
            false,
        );
    };

    // Sign-up: the form's fields, typed as the server described them, to the policy's API.
    let on_register = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let f = form_fields(&form);
        let Screen::Register(shown) = screen.get_untracked() else {
            return;
        };
        let (policy, described) = *shown;
        let missing = [fields::EMAIL, fields::FIRST_NAME, fields::LAST_NAME]
            .into_iter()
            .chain(
                described
                    .attributes
                    .iter()
                    .filter(|a| a.required)
                    .map(|a| a.name.as_str()),
            )
            .any(|k| {
                f.get(k)
                    .and_then(Value::as_str)
                    .is_none_or(|v| v.trim().is_empty())
            });
        if missing {
            error.set(Some(m.err_required.to_owned()));
            return;
        }
        let body = authn::registration_body(&f, &described.attributes);
        request(
            authn::register_path(&policy),
            Some(body),
            false,
            Then::Registered,
        );
    };
    let open_register = move || {
        request(
            authn::REGISTRATION_FORM.to_owned(),
            None,
            false,
            Then::RegisterForm,
        );
    };

    let (idps, idps_first) = config.with_value(|c| {
        let first = c
            .idp_display
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("PRIMARY"));
        (c.idps.clone(), first)
    });
    let (brand_style, logo, heading, links, buttons) = config.with_value(|c| {
        let style = c.brand_color().map(|c| format!("--pc-brand: {c}"));
        let logo = c.logo_url().map(str::to_owned);
        let heading = c
            .brand_name
            .clone()
            .unwrap_or_else(|| m.sign_in_title.to_owned());
        (
            style,
            logo,
            heading,
            c.help_links.clone(),
            c.custom_buttons.clone(),
        )
    });
    let features = config.with_value(|c| c.features.clone());
    let remembered = local_storage()
        .and_then(|s| s.get_item(REMEMBERED).ok().flatten())
        .filter(|_| features.remember_me);
    let username = config
        .with_value(|c| c.username.clone())
        .or(remembered.clone())
        .unwrap_or_default();

    let passkey_start = config.with_value(|c| format!("{}{}", c.base_url, authn::PASSKEY));
    let primary = move || {
        let forgot = features.email_recovery.then(|| match links.forgot_password.as_deref().and_then(web_link) {
            Some(href) => view! { <li><a href=href.to_owned()>{m.forgot_password}</a></li> }.into_any(),
            None => view! { <li><button type="button" class="pc-link-button" on:click=move |_| go(Screen::Forgot)>{m.forgot_password}</button></li> }.into_any(),
        });
        let unlock = features.self_service_unlock.then(|| match links.unlock.as_deref().and_then(web_link) {
            Some(href) => view! { <li><a href=href.to_owned()>{m.unlock_account}</a></li> }.into_any(),
            None => view! { <li><button type="button" class="pc-link-button" on:click=move |_| go(Screen::Unlock)>{m.unlock_account}</button></li> }.into_any(),
        });
        let sign_up = features.registration.then(|| view! {
            <li><button type="button" class="pc-link-button" data-testid="widget-sign-up" on:click=move |_| open_register()>{m.sign_up_link}</button></li>
        });
        let help = links
            .help
            .as_deref()
            .and_then(web_link)
            .map(|h| view! { <li><a href=h.to_owned()>{m.help}</a></li> });
        let custom = links
            .custom
            .iter()
            .filter_map(|l| {
                let href = web_link(&l.href)?.to_owned();
                Some(view! { <li><a href=href target=l.target.clone()>{l.text.clone()}</a></li> })
            })
            .collect_view();
        let buttons = buttons
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let class = format!("pc-button pc-button-secondary pcw-custom {}", b.class_name.clone().unwrap_or_default());
                view! {
                    <button type="button" class=class on:click=move |_| {
                        callbacks.with_value(|c| emit(c, "customButton", &json!({ "index": i }), None));
                    }>{b.title.clone()}</button>
                }
            })
            .collect_view();
        // Each sends the browser to the provider (the loader builds the URL: through the
        // issuer's /authorize when the widget has an OIDC client, else /sso/idps/{id}).
        let idp_buttons = (!idps.is_empty()).then(|| {
            let each = idps
                .iter()
                .map(|idp| {
                    let class = format!("pc-button pc-button-secondary pc-idp {}", idp.class_name.clone().unwrap_or_default());
                    let id = idp.id.clone();
                    view! {
                        <button type="button" class=class on:click=move |_| {
                            callbacks.with_value(|c| emit(c, "idpButton", &json!({ "id": id }), None));
                        }>{m.sign_in_with.replace("{name}", &idp.label())}</button>
                    }
                })
                .collect_view();
            view! { <div class="pc-idps">{each}</div> }
        });
        let (idps_above, idps_below) = if idps_first {
            (idp_buttons, None)
        } else {
            (None, idp_buttons)
        };
        view! {
            {idps_above.map(|b| view! { {b} <p class="pc-divider"><span>{m.or}</span></p> })}
            <form class="pcw-form" on:submit=on_primary novalidate aria-busy=move || busy.get().then_some("true")>
                <CredentialsFields
                    username=username.clone()
                    id_prefix="pcw-"
                    autofocus=features.auto_focus
                    hide_toggle=!features.show_password_toggle_on_sign_in_page
                    passkeys=true
                />
                {features.remember_me.then(|| view! {
                    <div class="pc-check">
                        <input id="pcw-remember" type="checkbox" name=fields::REMEMBER value="true" checked=remembered.is_some() />
                        <label for="pcw-remember">{m.remember_me}</label>
                    </div>
                })}
                <button type="submit" class="pc-button" disabled=move || busy.get()>{m.sign_in}</button>
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
                    data-passkey-start=passkey_start.clone()
                    hidden
                >
                    {m.passkey_sign_in}
                </button>
            </form>
            {idps_below.map(|b| view! { <p class="pc-divider"><span>{m.or}</span></p> {b} })}
            <div class="pcw-buttons">{buttons}</div>
            <ul class="pc-links">{forgot}{unlock}{sign_up}{help}{custom}</ul>
        }
    };

    let recover = move |unlock: bool| {
        let (title, intro, button) = if unlock {
            (m.unlock_title, m.unlock_intro, m.send_unlock_link)
        } else {
            (m.forgot_title, m.forgot_intro, m.send_reset_link)
        };
        view! {
            <form class="pcw-form" on:submit=on_recover novalidate>
                <h3>{title}</h3>
                <p>{intro}</p>
                <div class="pc-field">
                    <label for="pcw-recover-username">{m.username}</label>
                    <input id="pcw-recover-username" name=fields::USERNAME type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required />
                </div>
                <button type="submit" class="pc-button" disabled=move || busy.get()>{button}</button>
            </form>
            <button type="button" class="pc-link-button" on:click=move |_| go(Screen::Primary)>{m.back_to_sign_in}</button>
        }
    };

    view! {
        <div class="pcw-root" data-portcullis-widget="" style=brand_style lang=lang.tag()>
            <div class="pc-card pcw-card" data-screen=move || screen.with(Screen::controller)>
                {logo.map(|src| view! { <img class="pcw-logo" src=src alt="" /> })}
                <h2>{heading}</h2>
                <FormError message=error />
                {move || match screen.get() {
                    Screen::Primary => primary().into_any(),
                    Screen::Step(tx) => view! {
                        <div class="pcw-step" on:submit=on_step>
                            <StepView tx=*tx csrf=String::new() questions=app::authn::question_choices() />
                        </div>
                    }.into_any(),
                    Screen::Forgot => recover(false).into_any(),
                    Screen::Unlock => recover(true).into_any(),
                    Screen::Register(shown) => view! {
                        <form class="pcw-form" on:submit=on_register novalidate>
                            <h3>{m.register_title}</h3>
                            <p>{m.register_intro}</p>
                            <RegisterFields form=shown.1 id_prefix="pcw-" />
                            <button type="submit" class="pc-button" disabled=move || busy.get()>{m.create_account}</button>
                        </form>
                        <button type="button" class="pc-link-button" on:click=move |_| go(Screen::Primary)>{m.back_to_sign_in}</button>
                    }.into_any(),
                    Screen::Notice(n) => view! {
                        <h3>{n.title(lang)}</h3>
                        <p role="status" data-testid="widget-notice">{n.body(lang)}</p>
                        <button type="button" class="pc-link-button" on:click=move |_| go(Screen::Primary)>{m.back_to_sign_in}</button>
                    }.into_any(),
                    Screen::Done(login) => view! {
                        <p data-testid="widget-signed-in">{m.signed_in_as} " " {login}</p>
                    }.into_any(),
                }}
            </div>
        </div>
    }
}
