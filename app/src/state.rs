//! What the server tells a page to show.

use serde::{Deserialize, Serialize};

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
    /// An application asks for access: the consent screen is shown instead of any route.
    #[serde(default)]
    pub consent: Option<ConsentRequest>,
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
    pub fn title(&self) -> &'static str {
        if self.consent.is_some() {
            "Allow access? · Portcullis"
        } else if self.error.is_some() && self.csrf.is_empty() {
            "Something went wrong · Portcullis"
        } else if self.signed_in.is_some() {
            "Signed in · Portcullis"
        } else {
            "Sign in · Portcullis"
        }
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
