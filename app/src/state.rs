//! What the server tells a page to show. The server chooses the view; the hydrated page reads
//! the same state back, so both render the same thing whatever the address bar says.

use crate::components::steps::QuestionChoice;
use crate::i18n::Lang;
use proto::authn::AuthnTx;
use serde::{Deserialize, Serialize};

/// Which page to show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    #[default]
    Login,
    /// An authentication step (MFA, password change, recovery question, reset).
    Step,
    ForgotPassword,
    Unlock,
    /// A message with a way back to sign-in (see [`Notice`]).
    Notice,
    /// An emailed link, confirmed with a button before its one-time token is spent.
    Continue,
    Consent,
    Error,
    NotFound,
    /// Self-service registration.
    Register,
}

/// What a notice page says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    #[default]
    CheckEmail,
    Unlocked,
    Locked,
    SignedOut,
    LinkInvalid,
    PasswordChanged,
    ContinueReset,
    ContinueUnlock,
    ContinueActivate,
    /// An app asked to sign out someone other than who is signed in here: ask first.
    ConfirmSignOut,
    /// A sign-up was taken: the confirmation link is on its way.
    Registered,
}

pub use proto::Problem;

/// The org's look: name, logo, colour (served as a stylesheet) and help link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Branding {
    pub name: String,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub help_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub login: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageState {
    /// The anti-forgery token every form posts back.
    pub csrf: String,
    /// The person signed in on this browser, if any.
    pub signed_in: Option<SignedInUser>,
    /// A message about the last submission, in plain words.
    pub error: Option<String>,
    /// What the person typed as username last time, so they need not type it again.
    pub username: String,
    /// Where to continue after signing in: an authorization request of this server.
    #[serde(default)]
    pub from_uri: Option<String>,
    /// An application asks for access (the consent view).
    #[serde(default)]
    pub consent: Option<ConsentRequest>,
    #[serde(default)]
    pub view: View,
    #[serde(default)]
    pub lang: Lang,
    /// The transaction an authentication step shows.
    #[serde(default)]
    pub authn: Option<AuthnTx>,
    /// Questions to choose from when enrolling a security question.
    #[serde(default)]
    pub questions: Vec<QuestionChoice>,
    #[serde(default)]
    pub notice: Notice,
    #[serde(default)]
    pub branding: Branding,
    /// The path the page was rendered for (the language links keep it).
    #[serde(default)]
    pub path: String,
    /// What the error page explains (in the page's language).
    #[serde(default)]
    pub problem: Option<Problem>,
    /// The org lets people sign up (the sign-in page links to the form).
    #[serde(default)]
    pub sign_up: bool,
    /// The sign-up form: the attributes it asks for beyond the email and names, and what was
    /// typed last time.
    #[serde(default)]
    pub register: Option<RegisterForm>,
    /// The identity providers the sign-in page offers, each a link to sign in there.
    #[serde(default)]
    pub idps: Vec<IdpButton>,
}

/// An upstream identity provider on the sign-in page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdpButton {
    pub name: String,
    /// `/sso/idps/{id}`, with the way back.
    pub href: String,
}

/// What the sign-up form shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterForm {
    /// The profile attributes the org asks for beyond the email and names.
    pub attributes: Vec<RegisterField>,
    /// Values typed before (email, names, attributes), by field name.
    pub values: std::collections::BTreeMap<String, String>,
}

/// One attribute the sign-up form asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterField {
    /// The profile attribute (`department`), also the form field's name.
    pub name: String,
    /// Its label: the schema's title, else the name in words.
    pub title: String,
    /// The schema's type: `string`, `integer`, `number` or `boolean`.
    pub kind: String,
    pub required: bool,
}

/// What the consent screen asks the person to agree to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsentRequest {
    pub client_name: String,
    pub scopes: Vec<ConsentScope>,
    /// The authorization request to continue with once the person has answered.
    pub request: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsentScope {
    pub name: String,
    /// The scope's display name, or its name.
    pub label: String,
    pub description: String,
}

impl PageState {
    pub fn title(&self) -> String {
        let m = self.lang.messages();
        let what = match self.view {
            View::Login if self.signed_in.is_some() => m.signed_in_title,
            View::Login => m.sign_in_title,
            View::Step => m.sign_in_title,
            View::ForgotPassword => m.forgot_title,
            View::Unlock => m.unlock_title,
            View::Notice | View::Continue => self.notice.title(self.lang),
            View::Consent => m.consent_title,
            View::Error => m.error_title,
            View::NotFound => m.not_found_title,
            View::Register => m.register_title,
        };
        let org = if self.branding.name.is_empty() {
            "Portcullis"
        } else {
            &self.branding.name
        };
        format!("{what} · {org}")
    }

    /// JSON safe to place inside a `<script>` element: no `<`, `>` or `&` survive literally.
    pub fn to_html_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| "{}".to_owned())
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }

    /// Reads the state the server embedded in the page; an absent or unreadable one is empty.
    #[cfg(feature = "hydrate")]
    pub fn from_document() -> Self {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(crate::STATE_ELEMENT_ID))
            .and_then(|el| el.text_content())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_json_cannot_close_the_script_element() {
        let s = PageState {
            error: Some("</script><script>alert(1)</script>&".into()),
            ..PageState::default()
        };
        let json = s.to_html_json();
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: PageState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}

/// The server's answer to a sign-in form posted by script (`Accept: application/json`); a
/// form posted without script gets a redirect or a re-rendered page instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FormReply {
    /// Where to go next on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// What went wrong, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The fresh anti-forgery token: each one is good for a single post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

impl Notice {
    pub fn title(self, lang: Lang) -> &'static str {
        let m = lang.messages();
        match self {
            Notice::CheckEmail => m.check_email_title,
            Notice::Unlocked => m.unlocked_title,
            Notice::Locked => m.locked_title,
            Notice::SignedOut => m.signed_out_title,
            Notice::LinkInvalid => m.error_title,
            Notice::PasswordChanged => m.password_changed,
            Notice::ContinueReset => m.password_reset_title,
            Notice::ContinueUnlock => m.unlock_title,
            Notice::ContinueActivate => m.activate_title,
            Notice::ConfirmSignOut => m.confirm_sign_out_title,
            Notice::Registered => m.check_email_title,
        }
    }

    pub fn body(self, lang: Lang) -> &'static str {
        let m = lang.messages();
        match self {
            Notice::CheckEmail => m.check_email_body,
            Notice::Unlocked => m.unlocked_body,
            Notice::Locked => m.locked_body,
            Notice::SignedOut => m.signed_out_body,
            Notice::LinkInvalid => m.link_invalid,
            Notice::PasswordChanged => m.unlocked_body,
            Notice::ContinueReset | Notice::ContinueUnlock | Notice::ContinueActivate => {
                m.link_continue
            }
            Notice::ConfirmSignOut => m.confirm_sign_out_body,
            Notice::Registered => m.registered_body,
        }
    }
}
