//! The authorization-server core: signing keys, clients, PKCE. No HTTP types here.

pub mod assertion;
pub mod authorization;
pub mod authorize;
pub mod clients;
pub mod grants;
pub mod issuer;
pub mod keys;
pub mod par;
pub mod params;
pub mod pkce;
pub mod response;
pub mod token_info;
pub mod tokens;

pub use crate::records::oauth::ORG_SERVER;
