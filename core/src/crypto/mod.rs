//! Password hashing, random secrets and identifiers, digests and constant-time comparison.

pub mod at_rest;
pub mod csrf;
pub mod password;
pub mod secret;

pub use password::{PasswordHash, PasswordHasher};
pub use secret::{Digest, Secret, hex, new_id, new_secret, new_uuid};
