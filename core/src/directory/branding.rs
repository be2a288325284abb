//! The org's look on the hosted pages: its name, logo, brand colour and help link. Defaults come
//! from the configuration; the brands admin API changes them at run time (kept in the store).

use super::FieldError;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

const META_KEY: &str = "brand";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brand {
    pub name: String,
    /// An http(s) URL.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
    /// An http(s) URL.
    pub help_url: Option<String>,
}

fn is_hex_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

impl Brand {
    /// What is wrong with these settings, if anything (so nothing unsafe reaches CSS or HTML).
    pub fn problems(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.name.chars().count() > 100 {
            errs.push(FieldError::new("name", "name: at most 100 characters"));
        }
        if self
            .primary_color
            .as_deref()
            .is_some_and(|c| !is_hex_colour(c))
        {
            errs.push(FieldError::new(
                "primaryColorHex",
                "primaryColorHex: a colour like #1a5fb4 is required",
            ));
        }
        if self.logo_url.as_deref().is_some_and(|u| !is_web_url(u)) {
            errs.push(FieldError::new("logo", "logo: an http(s) URL is required"));
        }
        if self.help_url.as_deref().is_some_and(|u| !is_web_url(u)) {
            errs.push(FieldError::new(
                "helpUrl",
                "helpUrl: an http(s) URL is required",
            ));
        }
        errs
    }

    /// The brand colour (when valid) and the text colour readable on it: dark text on light
    /// colours, white on dark ones, by perceived brightness (ITU-R BT.601).
    pub fn colours(&self) -> Option<(&str, &'static str)> {
        let colour = self.primary_color.as_deref().filter(|c| is_hex_colour(c))?;
        let channel = |i: usize| u32::from(u8::from_str_radix(&colour[i..i + 2], 16).unwrap_or(0));
        let luma = 299 * channel(1) + 587 * channel(3) + 114 * channel(5);
        Some((colour, if luma > 150_000 { "#111111" } else { "#ffffff" }))
    }

    /// The stylesheet that sets the brand colour and a text colour readable on it.
    pub fn css(&self) -> String {
        match self.colours() {
            Some((colour, contrast)) => {
                format!(":root {{ --pc-brand: {colour}; --pc-brand-contrast: {contrast}; }}\n")
            }
            None => String::new(),
        }
    }
}

/// The brand as saved through the admin API, if it was.
pub fn saved(store: &dyn Store) -> Result<Option<Brand>, StoreError> {
    match store.meta(META_KEY)? {
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(None),
    }
}

pub fn save(store: &dyn Store, brand: &Brand) -> Result<(), StoreError> {
    let json = serde_json::to_string(brand).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.set_meta(META_KEY, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_values_pass_and_the_text_colour_follows_the_brand() {
        let mut b = Brand {
            primary_color: Some("#ffffff".into()),
            ..Brand::default()
        };
        assert!(b.problems().is_empty());
        assert!(b.css().contains("--pc-brand-contrast: #111111"));
        b.primary_color = Some("#0b3d91".into());
        assert!(b.css().contains("--pc-brand-contrast: #ffffff"));
        b.primary_color = Some("red;}body{display:none".into());
        assert_eq!(b.problems().len(), 1);
        assert_eq!(b.css(), "");
        b.logo_url = Some("javascript:alert(1)".into());
        assert_eq!(b.problems().len(), 2);
    }
}
