//! High-entropy secrets (tokens handed to clients), their SHA-256 digests (what is stored), and
//! Okta-style object identifiers.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// A secret value handed to a client once (session token, cookie value). Never logged.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest under which the secret is stored and looked up.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.0)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of a secret. High-entropy secrets need no slow hash: the digest is enough to make a
/// stolen database useless, and it can be looked up directly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn of(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A digest read back from storage; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// Constant-time equality, for comparing a presented secret with a configured one.
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest(..)")
    }
}

/// `bytes` random bytes, base64url without padding.
pub fn new_secret(bytes: usize) -> Secret {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    Secret(URL_SAFE_NO_PAD.encode(buf))
}

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID, as System Log events are named.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An Okta-style 20-character id: a 3-character type prefix (`00u` user, `tos` trusted origin)
/// and 17 random base62 characters (about 101 bits).
pub fn new_id(prefix: &str) -> String {
    let mut out = String::with_capacity(20);
    out.push_str(prefix);
    let mut buf = [0u8; 32];
    OsRng.fill_bytes(&mut buf);
    // Rejection sampling keeps every character uniform.
    let mut i = 0;
    while out.len() < 20 {
        if i == buf.len() {
            OsRng.fill_bytes(&mut buf);
            i = 0;
        }
        let b = buf[i] & 0x3f;
        i += 1;
        if let Some(c) = ALPHABET.get(usize::from(b)) {
            out.push(char::from(*c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_distinct() {
        let a = new_secret(32);
        let b = new_secret(32);
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn digest_compares_in_constant_time() {
        assert!(Digest::of("x").ct_eq(&Digest::of("x")));
        assert!(!Digest::of("x").ct_eq(&Digest::of("y")));
    }

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("00u");
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("00u"));
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn secret_debug_redacts() {
        assert_eq!(format!("{:?}", new_secret(8)), "Secret(<redacted>)");
    }
}
