//! The options a host page passes to `new PortcullisSignIn(config)` (Okta widget names).

use serde::Deserialize;

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
    fn trims_the_base_url_and_requires_it() {
        let c = WidgetConfig::parse(r#"{"baseUrl":"https://id.example.com/"}"#).unwrap();
        assert_eq!(c.base_url, "https://id.example.com");
        assert!(WidgetConfig::parse(r#"{"baseUrl":"id.example.com"}"#).is_err());
        assert!(WidgetConfig::parse(r#"{}"#).is_err());
    }
}
