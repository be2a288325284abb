//! Trusted origins: the web origins allowed to call the APIs from a browser (CORS), to be
//! redirected to after sign-in (REDIRECT), and to frame Portcullis pages (IFRAME_EMBED).

use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
use crate::crypto::new_id;
pub use crate::records::directory::{OriginScope, OriginStatus, TrustedOrigin};
use crate::store::{Store, StoreError};

impl TrustedOrigin {
    pub fn allows(&self, scope: OriginScope) -> bool {
        self.status == OriginStatus::Active && self.scopes.contains(&scope)
    }
}

/// Parses an origin the way a browser serialises it in the `Origin` header, refusing anything
/// with a path, query, fragment or credentials.
pub fn normalize_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !matches!(url.path(), "" | "/")
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// What an admin sends, checked: a name, a browser-style origin, at least one scope.
fn checked(
    name: &str,
    origin: &str,
    scopes: Vec<OriginScope>,
) -> Result<(String, String, Vec<OriginScope>), DirectoryError> {
    let mut errs = Vec::new();
    if name.trim().is_empty() {
        errs.push(FieldError::new("name", "The field cannot be left blank"));
    }
    let normalized = normalize_origin(origin);
    if normalized.is_none() {
        errs.push(FieldError::new(
            "origin",
            "The origin must be a scheme, host and optional port, e.g. https://app.example.com",
        ));
    }
    if scopes.is_empty() {
        errs.push(FieldError::new("scopes", "At least one scope is required"));
    }
    let Some(origin) = normalized.filter(|_| errs.is_empty()) else {
        return Err(DirectoryError::Invalid(errs));
    };
    let mut scopes = scopes;
    scopes.dedup();
    Ok((name.trim().to_owned(), origin, scopes))
}

fn taken(e: StoreError) -> DirectoryError {
    match e {
        StoreError::Conflict => DirectoryError::Invalid(vec![FieldError::new(
            "origin",
            "An object with this field already exists in the current organization",
        )]),
        e => e.into(),
    }
}

pub fn create(
    store: &dyn Store,
    now: Timestamp,
    name: &str,
    origin: &str,
    scopes: Vec<OriginScope>,
) -> Result<TrustedOrigin, DirectoryError> {
    let (name, origin, scopes) = checked(name, origin, scopes)?;
    let record = TrustedOrigin {
        id: new_id("tos"),
        name,
        origin,
        scopes,
        status: OriginStatus::Active,
        created: now,
        last_updated: now,
    };
    store.insert_trusted_origin(&record).map_err(taken)?;
    Ok(record)
}

/// Replaces an origin's name, origin and scopes (Okta's PUT); its status and id stay.
/// `None` when there is no such origin.
pub fn replace(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    name: &str,
    origin: &str,
    scopes: Vec<OriginScope>,
) -> Result<Option<TrustedOrigin>, DirectoryError> {
    let (name, origin, scopes) = checked(name, origin, scopes)?;
    store
        .modify_trusted_origin(id, &mut |t| {
            t.name.clone_from(&name);
            t.origin.clone_from(&origin);
            t.scopes.clone_from(&scopes);
            t.last_updated = now;
            true
        })
        .map_err(taken)
}

/// Activates or deactivates an origin; an inactive one is trusted for nothing.
pub fn set_status(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    status: OriginStatus,
) -> Result<Option<TrustedOrigin>, StoreError> {
    store.modify_trusted_origin(id, &mut |t| {
        if t.status == status {
            return false;
        }
        t.status = status;
        t.last_updated = now;
        true
    })
}

/// Whether `origin` (as sent by a browser) is trusted for `scope`.
pub fn is_trusted(store: &dyn Store, origin: &str, scope: OriginScope) -> bool {
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    match store.trusted_origin_by_origin(&origin) {
        Ok(Some(t)) => t.allows(scope),
        Ok(None) => false,
        Err(e) => {
            tracing::error!(error = %e, "trusted origin look-up failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_a_browser() {
        assert_eq!(
            normalize_origin("HTTP://Example.COM:80/").as_deref(),
            Some("http://example.com")
        );
        assert_eq!(
            normalize_origin("https://a.example:8443").as_deref(),
            Some("https://a.example:8443")
        );
    }

    #[test]
    fn refuses_paths_queries_and_other_schemes() {
        for bad in [
            "https://a.example/path",
            "https://a.example?q=1",
            "ftp://a.example",
            "https://user@a.example",
            "not a url",
            "*",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
    }
}
