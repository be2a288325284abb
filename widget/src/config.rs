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
    /// An image shown above the form (an http(s) URL).
    #[serde(default)]
    pub(crate) logo: Option<String>,
    #[serde(default)]
    pub(crate) colors: Colors,
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
    fn trims_the_base_url_and_requires_it() {
        let c = WidgetConfig::parse(r#"{"baseUrl":"https://id.example.com/"}"#).unwrap();
        assert_eq!(c.base_url, "https://id.example.com");
        assert!(WidgetConfig::parse(r#"{"baseUrl":"id.example.com"}"#).is_err());
        assert!(WidgetConfig::parse(r#"{}"#).is_err());
    }
}
