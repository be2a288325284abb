//! The options a host page passes to `new PortcullisSignIn(config)` (Okta widget names).

use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WidgetConfig {
    /// The Portcullis server, e.g. `https://id.example.com`. Required.
    pub(crate) base_url: String,
    /// Prefills the username field.
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// Shown as the widget's heading.
    #[serde(default)]
    pub(crate) brand_name: Option<String>,
    /// An image shown above the form (an http(s) URL).
    #[serde(default)]
    pub(crate) logo: Option<String>,
    #[serde(default)]
    pub(crate) colors: Colors,
    /// `en`, `de` or `fr` [default: the browser's language].
    #[serde(default)]
    pub(crate) language: Option<String>,
    /// Okta's `i18n`: per language, strings by Okta's keys (`primaryauth.title`…).
    #[serde(default)]
    pub(crate) i18n: HashMap<String, HashMap<String, String>>,
    #[serde(default)]
    pub(crate) features: Features,
    #[serde(default)]
    pub(crate) help_links: HelpLinks,
    /// Buttons under the form; their `click` functions stay in the loader.
    #[serde(default)]
    pub(crate) custom_buttons: Vec<CustomButton>,
    /// Okta's `idps`: a button per upstream identity provider.
    #[serde(default)]
    pub(crate) idps: Vec<IdpOption>,
    /// Okta's `idpDisplay`: `PRIMARY` puts the provider buttons above the form.
    #[serde(default)]
    pub(crate) idp_display: Option<String>,
    /// Resumes a transaction started elsewhere.
    #[serde(default)]
    pub(crate) state_token: Option<String>,
    /// Continues a password reset from an emailed recovery token.
    #[serde(default)]
    pub(crate) recovery_token: Option<String>,
}

/// Okta's `features` (the ones that apply here), with Okta's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Features {
    /// A "Remember me" box that keeps the username in the browser.
    pub(crate) remember_me: bool,
    /// An "Unlock account?" link.
    pub(crate) self_service_unlock: bool,
    /// Offers optional factors to enroll at sign-in.
    pub(crate) multi_optional_factor_enroll: bool,
    /// A "Forgot password?" link (reset by email).
    pub(crate) email_recovery: bool,
    pub(crate) show_password_toggle_on_sign_in_page: bool,
    pub(crate) auto_focus: bool,
    /// A "Create an account" link to the registration form (the org must allow it).
    pub(crate) registration: bool,
}

impl Default for Features {
    fn default() -> Self {
        Self {
            remember_me: true,
            self_service_unlock: false,
            multi_optional_factor_enroll: false,
            email_recovery: true,
            show_password_toggle_on_sign_in_page: false,
            auto_focus: true,
            registration: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct HelpLinks {
    pub(crate) help: Option<String>,
    pub(crate) forgot_password: Option<String>,
    pub(crate) unlock: Option<String>,
    pub(crate) custom: Vec<CustomLink>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CustomLink {
    pub(crate) text: String,
    pub(crate) href: String,
    #[serde(default)]
    pub(crate) target: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomButton {
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) class_name: Option<String>,
}

/// An upstream identity provider's button (Okta's `{type, id, text, className}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdpOption {
    pub(crate) id: String,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) class_name: Option<String>,
}

impl IdpOption {
    /// What the button says: its `text`, else the provider's type as Okta names it.
    pub(crate) fn label(&self) -> String {
        if let Some(text) = self.text.as_ref().filter(|t| !t.trim().is_empty()) {
            return text.clone();
        }
        match self.kind.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some("GOOGLE") => "Google".to_owned(),
            Some("MICROSOFT") => "Microsoft".to_owned(),
            Some("GITHUB") => "GitHub".to_owned(),
            Some("FACEBOOK") => "Facebook".to_owned(),
            Some("APPLE") => "Apple".to_owned(),
            _ => "your organisation".to_owned(),
        }
    }
}

/// Only http(s) links are followed (a `javascript:` help link would run in the host page).
pub(crate) fn web_link(url: &str) -> Option<&str> {
    (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
        .then_some(url)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Colors {
    /// The brand colour, as `#rgb` or `#rrggbb`.
    #[serde(default)]
    pub(crate) brand: Option<String>,
}

impl WidgetConfig {
    /// The brand colour if it is a plain hex colour: anything else could smuggle CSS.
    pub(crate) fn brand_color(&self) -> Option<&str> {
        self.colors.brand.as_deref().filter(|c| {
            let hex = c.strip_prefix('#').unwrap_or("");
            matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }

    /// The logo URL if it is http(s).
    pub(crate) fn logo_url(&self) -> Option<&str> {
        self.logo
            .as_deref()
            .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
    }
}

impl WidgetConfig {
    pub(crate) fn parse(json: &str) -> Result<Self, String> {
        let mut config: Self = serde_json::from_str(json)
            .map_err(|e| format!("PortcullisSignIn: invalid configuration: {e}"))?;
        let base = config.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(
                "PortcullisSignIn: `baseUrl` must be the http(s) URL of the Portcullis server"
                    .into(),
            );
        }
        config.base_url = base.to_owned();
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_colours_and_web_logos_are_used() {
        let c = WidgetConfig::parse(
            r##"{"baseUrl":"https://id.example.com","colors":{"brand":"#0a7f5a"},"logo":"https://cdn.example.com/l.svg"}"##,
        )
        .unwrap();
        assert_eq!(c.brand_color(), Some("#0a7f5a"));
        assert_eq!(c.logo_url(), Some("https://cdn.example.com/l.svg"));
        let bad = WidgetConfig::parse(
            r#"{"baseUrl":"https://id.example.com","colors":{"brand":"red;background:url(x)"},"logo":"javascript:alert(1)"}"#,
        )
        .unwrap();
        assert_eq!(bad.brand_color(), None);
        assert_eq!(bad.logo_url(), None);
    }

    #[test]
    fn okta_options_parse_with_okta_defaults() {
        let c = WidgetConfig::parse(
            r#"{"baseUrl":"https://id.example.com","language":"de",
                "i18n":{"en":{"primaryauth.title":"Sign in to Acme"}},
                "features":{"selfServiceUnlock":true},
                "helpLinks":{"help":"https://help.example.com","custom":[{"text":"Status","href":"https://status.example.com"}]},
                "customButtons":[{"title":"Sign in with a passkey","className":"passkey"}]}"#,
        )
        .unwrap();
        assert!(
            c.features.self_service_unlock && c.features.email_recovery && c.features.auto_focus
        );
        assert_eq!(c.i18n["en"]["primaryauth.title"], "Sign in to Acme");
        assert_eq!(c.help_links.custom[0].text, "Status");
        assert_eq!(c.custom_buttons[0].class_name.as_deref(), Some("passkey"));
        assert_eq!(web_link("javascript:alert(1)"), None);
        assert_eq!(web_link("https://a.example"), Some("https://a.example"));
    }

    #[test]
    fn trims_the_base_url_and_requires_it() {
        let c = WidgetConfig::parse(r#"{"baseUrl":"https://id.example.com/"}"#).unwrap();
        assert_eq!(c.base_url, "https://id.example.com");
        assert!(WidgetConfig::parse(r#"{"baseUrl":"id.example.com"}"#).is_err());
        assert!(WidgetConfig::parse(r#"{}"#).is_err());
    }
}
