//! One view per authentication step (MFA choice, verify, enrollment, password change, recovery
//! question, reset). Each is a plain form with an `action` field, so it works as a form post on
//! the hosted pages and can be read with `FormData` by the widget.

use super::FormError;
use crate::authn::{AuthnStatus, AuthnTx, FactorInfo, PasswordRule};
use crate::i18n::{Messages, use_messages};
use crate::{fields, paths};
use leptos::prelude::*;

/// The `action` values a step form posts.
pub use proto::authn::StepAction;

/// A security question a person may choose when enrolling: (key, text).
pub type QuestionChoice = (String, String);

/// The hidden fields every step form carries.
#[component]
fn Hidden(csrf: String, action: StepAction) -> impl IntoView {
    view! {
        <input type="hidden" name=fields::CSRF value=csrf />
        <input type="hidden" name=fields::ACTION value=action.as_str() />
    }
}

/// A small form with one button (resend, back, skip, cancel).
#[component]
fn ActionButton(
    csrf: String,
    action: StepAction,
    label: &'static str,
    #[prop(optional)] factor_id: Option<String>,
) -> impl IntoView {
    view! {
        <form method="post" action=paths::STEP class="pc-inline">
            <Hidden csrf action />
            {factor_id.map(|id| view! { <input type="hidden" name=fields::FACTOR_ID value=id /> })}
            <button type="submit" class="pc-link-button">{label}</button>
        </form>
    }
}

fn factor_name(m: &Messages, f: &FactorInfo) -> &'static str {
    if f.is_totp() && f.provider == "GOOGLE" {
        m.factor_google
    } else if f.is_totp() {
        m.factor_okta
    } else if f.is_email() {
        m.factor_email
    } else if f.is_question() {
        m.factor_question
    } else if f.is_passkey() {
        m.factor_passkey
    } else {
        m.factor_other
    }
}

/// A labelled one-time code input.
#[component]
fn CodeField(id: String, label: &'static str) -> impl IntoView {
    view! {
        <div class="pc-field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=fields::PASSCODE
                type="text"
                inputmode="numeric"
                autocomplete="one-time-code"
                pattern="[0-9]*"
                maxlength="8"
                required
                autofocus
            />
        </div>
    }
}

/// A form answered by the browser's WebAuthn ceremony (`create` or `get`, with `options`):
/// the passkey script runs it on submit and fills the hidden fields.
#[component]
fn PasskeyForm(
    csrf: String,
    action: StepAction,
    factor_id: String,
    kind: &'static str,
    options: String,
    label: &'static str,
) -> impl IntoView {
    let m = use_messages();
    let answers = if kind == "create" {
        vec![fields::ATTESTATION, fields::CLIENT_DATA]
    } else {
        vec![
            fields::CLIENT_DATA,
            fields::AUTHENTICATOR_DATA,
            fields::SIGNATURE_DATA,
            fields::CREDENTIAL_ID,
            fields::USER_HANDLE,
        ]
    };
    view! {
        <form method="post" action=paths::STEP data-passkey=kind data-passkey-options=options>
            <Hidden csrf action />
            <input type="hidden" name=fields::FACTOR_ID value=factor_id />
            {answers.into_iter().map(|name| view! { <input type="hidden" name=name value="" /> }).collect_view()}
            <p class="pc-error" role="alert" data-passkey-error hidden>{m.passkey_failed}</p>
            <noscript><p class="pc-hint">{m.passkey_needs_script}</p></noscript>
            <button type="submit" class="pc-button">{label}</button>
        </form>
    }
}

/// The step `tx` is waiting at; `error` is the last submission's problem.
#[component]
pub fn StepView(
    tx: AuthnTx,
    csrf: String,
    #[prop(optional)] error: Option<String>,
    #[prop(optional)] questions: Vec<QuestionChoice>,
) -> impl IntoView {
    let m = use_messages();
    let error = RwSignal::new(error);
    let cancel = tx.links.cancel.is_some().then(
        || view! { <ActionButton csrf=csrf.clone() action=StepAction::Cancel label=m.cancel /> },
    );
    let body = match tx.status {
        AuthnStatus::MfaRequired => {
            view! { <MfaRequired tx=tx.clone() csrf=csrf.clone() /> }.into_any()
        }
        AuthnStatus::MfaChallenge => {
            view! { <MfaChallenge tx=tx.clone() csrf=csrf.clone() /> }.into_any()
        }
        AuthnStatus::MfaEnroll => {
            view! { <MfaEnroll tx=tx.clone() csrf=csrf.clone() questions /> }.into_any()
        }
        AuthnStatus::MfaEnrollActivate => {
            view! { <EnrollActivate tx=tx.clone() csrf=csrf.clone() /> }.into_any()
        }
        AuthnStatus::PasswordExpired | AuthnStatus::PasswordWarn | AuthnStatus::PasswordReset => {
            view! { <NewPassword tx=tx.clone() csrf=csrf.clone() /> }.into_any()
        }
        AuthnStatus::Recovery => {
            view! { <RecoveryAnswer tx=tx.clone() csrf=csrf.clone() /> }.into_any()
        }
        // Not steps a form answers: the server shows its own pages for these.
        AuthnStatus::Unauthenticated
        | AuthnStatus::Success
        | AuthnStatus::RecoveryChallenge
        | AuthnStatus::LockedOut => view! { <p>{m.step_unknown}</p> }.into_any(),
    };
    view! {
        <FormError message=error />
        {body}
        <div class="pc-footer">{cancel}</div>
    }
}

#[component]
fn MfaRequired(tx: AuthnTx, csrf: String) -> impl IntoView {
    let m = use_messages();
    let factors = tx.embedded.factors.clone();
    let items = factors
        .into_iter()
        .map(|f| {
            let id = f.id.clone().unwrap_or_default();
            let name = factor_name(m, &f);
            let csrf = csrf.clone();
            let body = if f.is_totp() {
                let input_id = format!("code-{id}");
                view! {
                    <p class="pc-hint">{m.totp_verify_hint}</p>
                    <CodeField id=input_id label=m.code_label />
                    <button type="submit" class="pc-button">{m.verify}</button>
                }
                .into_any()
            } else if f.is_passkey() {
                view! {
                    <p class="pc-hint">{m.passkey_verify_intro}</p>
                    <button type="submit" class="pc-button">{m.passkey_use}</button>
                }
                .into_any()
            } else if f.is_question() {
                let input_id = format!("answer-{id}");
                let question = f.question_text().unwrap_or_default().to_owned();
                view! {
                    <div class="pc-field">
                        <label for=input_id.clone()>{question}</label>
                        <input id=input_id name=fields::ANSWER type="password" autocomplete="off" required />
                    </div>
                    <button type="submit" class="pc-button">{m.verify}</button>
                }
                .into_any()
            } else {
                let to = f.email().unwrap_or_default().to_owned();
                view! {
                    <p class="pc-hint">{m.email_send_hint} " " <strong>{to}</strong></p>
                    <button type="submit" class="pc-button">{m.email_send}</button>
                }
                .into_any()
            };
            view! {
                <section class="pc-factor" data-factor=f.kind_key()>
                    <h2>{name}</h2>
                    <form method="post" action=paths::STEP>
                        <Hidden csrf action=StepAction::Verify />
                        <input type="hidden" name=fields::FACTOR_ID value=id />
                        {body}
                    </form>
                </section>
            }
        })
        .collect_view();
    view! {
        <h1>{m.mfa_required_title}</h1>
        <p>{m.mfa_required_intro}</p>
        {items}
    }
}

#[component]
fn MfaChallenge(tx: AuthnTx, csrf: String) -> impl IntoView {
    let m = use_messages();
    let factor = tx.embedded.factor.clone().unwrap_or_default();
    let id = factor.id.clone().unwrap_or_default();
    let by_id = factor.embedded.as_ref().and_then(|e| e.challenge.clone());
    if let Some(challenge) = by_id.or_else(|| tx.embedded.challenge.clone()) {
        let id = if factor.is_passkey() {
            id
        } else {
            tx.factor_type.clone().unwrap_or_default()
        };
        return view! {
            <h1>{m.passkey_verify_title}</h1>
            <p>{m.passkey_verify_intro}</p>
            <PasskeyForm
                csrf=csrf.clone()
                action=StepAction::Verify
                factor_id=id
                kind="get"
                options=challenge.to_string()
                label=m.passkey_use
            />
            <div class="pc-row">
                {tx.links.prev.is_some().then(|| view! {
                    <ActionButton csrf=csrf.clone() action=StepAction::Prev label=m.other_method />
                })}
            </div>
        }
        .into_any();
    }
    let to = factor.email().unwrap_or_default().to_owned();
    view! {
        <h1>{m.email_code_title}</h1>
        <p>{m.email_code_sent} " " <strong>{to}</strong></p>
        <form method="post" action=paths::STEP>
            <Hidden csrf=csrf.clone() action=StepAction::Verify />
            <input type="hidden" name=fields::FACTOR_ID value=id.clone() />
            <CodeField id="email-code".to_owned() label=m.code_label />
            <button type="submit" class="pc-button">{m.verify}</button>
        </form>
        <div class="pc-row">
            {tx.links.resend.is_some().then(|| view! {
                <ActionButton csrf=csrf.clone() action=StepAction::Resend label=m.resend factor_id=id.clone() />
            })}
            {tx.links.prev.is_some().then(|| view! {
                <ActionButton csrf=csrf.clone() action=StepAction::Prev label=m.other_method />
            })}
        </div>
    }
    .into_any()
}

#[component]
fn MfaEnroll(tx: AuthnTx, csrf: String, questions: Vec<QuestionChoice>) -> impl IntoView {
    let m = use_messages();
    let items = tx
        .embedded
        .factors
        .clone()
        .into_iter()
        .map(|f| {
            let csrf = csrf.clone();
            let name = factor_name(m, &f);
            let done = f.status.as_deref() == Some("ACTIVE");
            let required = !done && f.enrollment.as_deref() == Some("REQUIRED");
            let extra = if f.is_question() && !done {
                let options = questions
                    .iter()
                    .map(|(k, t)| view! { <option value=k.clone()>{t.clone()}</option> })
                    .collect_view();
                view! {
                    <div class="pc-field">
                        <label for="enroll-question">{m.question_choose}</label>
                        <select id="enroll-question" name=fields::QUESTION required>{options}</select>
                    </div>
                    <div class="pc-field">
                        <label for="enroll-answer">{m.question_answer}</label>
                        <input id="enroll-answer" name=fields::ANSWER type="text" autocomplete="off" minlength="4" required />
                    </div>
                }
                .into_any()
            } else {
                ().into_any()
            };
            let action = if done {
                view! { <p class="pc-done">{m.factor_set_up}</p> }.into_any()
            } else {
                view! {
                    <form method="post" action=paths::STEP>
                        <Hidden csrf action=StepAction::Enroll />
                        <input type="hidden" name=fields::FACTOR_TYPE value=f.factor_type.clone() />
                        <input type="hidden" name=fields::PROVIDER value=f.provider.clone() />
                        {extra}
                        <button type="submit" class="pc-button">{m.set_up}</button>
                    </form>
                }
                .into_any()
            };
            view! {
                <section class="pc-factor" data-factor=f.kind_key()>
                    <h2>
                        {name}
                        {required.then(|| view! { " " <span class="pc-badge">{m.factor_required}</span> })}
                    </h2>
                    {action}
                </section>
            }
        })
        .collect_view();
    view! {
        <h1>{m.mfa_enroll_title}</h1>
        <p>{m.mfa_enroll_intro}</p>
        {items}
        {tx.links.skip.is_some().then(|| view! {
            <ActionButton csrf=csrf.clone() action=StepAction::Skip label=m.skip_for_now />
        })}
    }
}

#[component]
fn EnrollActivate(tx: AuthnTx, csrf: String) -> impl IntoView {
    let m = use_messages();
    let factor = tx.embedded.factor.clone().unwrap_or_default();
    let id = factor.id.clone().unwrap_or_default();
    let back = tx.links.prev.is_some().then(|| {
        view! { <ActionButton csrf=csrf.clone() action=StepAction::Prev label=m.back /> }
    });
    if factor.is_email() {
        let to = factor.email().unwrap_or_default().to_owned();
        return view! {
            <h1>{m.email_enroll_title}</h1>
            <p>{m.email_code_sent} " " <strong>{to}</strong></p>
            <form method="post" action=paths::STEP>
                <Hidden csrf=csrf.clone() action=StepAction::Activate />
                <input type="hidden" name=fields::FACTOR_ID value=id.clone() />
                <CodeField id="activate-code".to_owned() label=m.code_label />
                <button type="submit" class="pc-button">{m.verify}</button>
            </form>
            <div class="pc-row">
                <ActionButton csrf=csrf.clone() action=StepAction::Resend label=m.resend factor_id=id />
                {back}
            </div>
        }
        .into_any();
    }
    if factor.is_passkey() {
        let options = factor
            .activation()
            .map(|a| serde_json::Value::Object(a.webauthn.clone()).to_string())
            .unwrap_or_default();
        return view! {
            <h1>{m.passkey_enroll_title}</h1>
            <p>{m.passkey_enroll_intro}</p>
            <PasskeyForm
                csrf=csrf.clone()
                action=StepAction::Activate
                factor_id=id
                kind="create"
                options
                label=m.passkey_create
            />
            <div class="pc-row">{back}</div>
        }
        .into_any();
    }
    let activation = factor.activation().cloned().unwrap_or_default();
    let qr = activation.qr_href().map(str::to_owned);
    let secret = activation.shared_secret.clone().unwrap_or_default();
    view! {
        <h1>{m.totp_enroll_title}</h1>
        <ol class="pc-steps">
            <li>{m.totp_enroll_scan}</li>
            <li>{m.totp_enroll_code}</li>
        </ol>
        {qr.map(|src| view! { <img class="pc-qr" src=src alt=m.totp_qr_alt width="200" height="200" /> })}
        <p class="pc-hint">{m.totp_manual}</p>
        <p><code class="pc-secret" data-testid="totp-secret">{secret}</code></p>
        <form method="post" action=paths::STEP>
            <Hidden csrf=csrf.clone() action=StepAction::Activate />
            <input type="hidden" name=fields::FACTOR_ID value=id />
            <CodeField id="activate-code".to_owned() label=m.code_label />
            <button type="submit" class="pc-button">{m.verify}</button>
        </form>
        <div class="pc-row">{back}</div>
    }
    .into_any()
}

/// Password expired, about to expire, or being reset: the new password with the policy's
/// requirements ticked off as the person types.
#[component]
fn NewPassword(tx: AuthnTx, csrf: String) -> impl IntoView {
    let m = use_messages();
    let reset = tx.status == AuthnStatus::PasswordReset;
    let (title, intro, action) = match tx.status {
        AuthnStatus::PasswordWarn => (
            m.password_warn_title,
            m.password_warn_intro,
            StepAction::ChangePassword,
        ),
        AuthnStatus::PasswordReset => (
            m.password_reset_title,
            m.password_reset_intro,
            StepAction::ResetPassword,
        ),
        _ => (
            m.password_expired_title,
            m.password_expired_intro,
            StepAction::ChangePassword,
        ),
    };
    let days = tx
        .embedded
        .policy
        .as_ref()
        .and_then(|p| p.expiration.as_ref())
        .and_then(|e| e.password_expire_days);
    let username = tx
        .embedded
        .user
        .as_ref()
        .map(|u| u.profile.login.clone())
        .unwrap_or_default();
    let rules = tx
        .embedded
        .policy
        .as_ref()
        .and_then(|p| p.complexity.as_ref())
        .map(PasswordRule::list)
        .unwrap_or_default();
    let typed = RwSignal::new(String::new());
    // Someone may type before the script has loaded: once the page is interactive, the list
    // starts from what is already in the field rather than from nothing.
    let new_password = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = new_password.get() {
            typed.set(input.value());
        }
    });
    let requirements = rules
        .into_iter()
        .map(|rule| {
            let text = m.rule(rule);
            let username = username.clone();
            let met = Memo::new(move |_| rule.met(&typed.get(), &username));
            view! {
                <li class:pc-met=move || met.get() data-met=move || if met.get() { "true" } else { "false" }>{text}</li>
            }
        })
        .collect_view();
    view! {
        <h1>{title}</h1>
        <p>{intro} {days.map(|d| format!(" {}", m.days_left(d)))}</p>
        // Whose password this is: an emailed link someone else sent must not go unnoticed.
        <p class="pc-hint" data-testid="account">{m.account} ": " <strong>{username.clone()}</strong></p>
        <form method="post" action=paths::STEP>
            <Hidden csrf=csrf.clone() action />
            <input type="text" name=fields::USERNAME autocomplete="username" value=username.clone() hidden readonly />
            {(!reset).then(|| view! {
                <div class="pc-field">
                    <label for="old-password">{m.current_password}</label>
                    <input id="old-password" name=fields::OLD_PASSWORD type="password" autocomplete="current-password" required autofocus />
                </div>
            })}
            <div class="pc-field">
                <label for="new-password">{m.new_password}</label>
                <input
                    id="new-password"
                    name=fields::NEW_PASSWORD
                    type="password"
                    autocomplete="new-password"
                    aria-describedby="password-rules"
                    required
                    autofocus=reset
                    node_ref=new_password
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
            </div>
            <p class="pc-hint" id="password-rules-intro">{m.requirements}</p>
            <ul class="pc-rules" id="password-rules" aria-live="polite">{requirements}</ul>
            <div class="pc-field">
                <label for="confirm-password">{m.confirm_password}</label>
                <input id="confirm-password" name=fields::CONFIRM_PASSWORD type="password" autocomplete="new-password" required />
            </div>
            <button type="submit" class="pc-button">{m.change_password}</button>
        </form>
        {tx.links.skip.is_some().then(|| view! {
            <ActionButton csrf=csrf.clone() action=StepAction::Skip label=m.skip_for_now />
        })}
    }
}

#[component]
fn RecoveryAnswer(tx: AuthnTx, csrf: String) -> impl IntoView {
    let m = use_messages();
    let question = tx
        .embedded
        .user
        .as_ref()
        .and_then(|u| u.recovery_question.as_ref())
        .and_then(|q| q.question.clone())
        .unwrap_or_default();
    view! {
        <h1>{m.recovery_question_title}</h1>
        <form method="post" action=paths::STEP>
            <Hidden csrf action=StepAction::Answer />
            <div class="pc-field">
                <label for="recovery-answer">{question}</label>
                <input id="recovery-answer" name=fields::ANSWER type="password" autocomplete="off" required autofocus />
            </div>
            <button type="submit" class="pc-button">{m.continue_}</button>
        </form>
    }
}
