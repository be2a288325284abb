//! Portcullis's cores: the protocol decisions and the storage they rest on, with no HTTP, no
//! Leptos and no configuration files. The `portcullis` crate puts HTTP in front of them.
//!
//! Layers, outside in, each knowing only the ones below it:
//!
//! - cores, free of HTTP types, with `now` and the store passed in:
//!   - `authn`: the Authentication API's transaction state machine, factors, recovery,
//!     session tokens and browser sessions;
//!   - `oauth`: authorization requests and their decision (`authorize`, `authorization`),
//!     grants and client authentication (`grants`, `assertion`), tokens and signing keys,
//!     userinfo, introspection and revocation (`token_info`);
//!   - `authz`: custom authorization servers, their scopes, claims, policies and rules
//!     (`servers`, `edit`), claim expressions (`expr`), policy evaluation and consent;
//!   - `directory`: users and their lifecycle, groups, apps, trusted origins, branding.
//! - `records`: the stored records the cores are made of, shared with the store.
//! - `store`: the storage seam (`dyn Store`), sled and PostgreSQL behind it, secrets sealed at
//!   rest; `crypto`: hashing, secrets, sealing, CSRF tags.
//! - `audit`: the System Log's events, noted by the cores and completed by the edge.
//! - `clock`, `paths`, `mail`: time, URL paths, the emails a core asks to be sent.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
pub mod authn;
pub mod authz;
pub mod clock;
pub mod crypto;
pub mod directory;
pub mod mail;
pub mod oauth;
pub mod paths;
pub mod records;
pub mod store;
