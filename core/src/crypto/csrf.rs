//! Anti-forgery tokens bound to this server. The form cookie is `nonce.tag`, the tag an HMAC
//! of the nonce under a key only the server (every node of it) holds, so a cookie planted by
//! anyone else — a sibling subdomain, a network attacker over plain http — is not accepted:
//! the form compares with a value the server minted. The key is derived from the master key
//! when one is set, else kept in the store (`meta`), made once for all nodes.

use crate::clock::Timestamp;
use crate::crypto::at_rest::Keyring;
use crate::store::{Store, StoreError};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::time::Duration;

const META_KEY: &str = "csrf_key";
const TAG_LEN: usize = 16;

pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    #[allow(clippy::expect_used)] // without randomness nothing here is safe
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random number generator failed");
    out
}

impl CsrfKey {
    pub fn from_bytes(raw: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, raw))
    }

    /// The cluster's key: derived from the master key, or the one in the store (made by the
    /// first node that starts, while the others wait for it).
    pub fn load(store: &dyn Store, keyring: Option<&Keyring>) -> Result<Self, StoreError> {
        if let Some(k) = keyring {
            return Ok(Self::from_bytes(&k.derive("portcullis csrf v1")));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(stored) = store.meta(META_KEY)? {
                let raw = STANDARD
                    .decode(stored)
                    .map_err(|e| StoreError::Corrupt(format!("csrf key: {e}")))?;
                return Ok(Self::from_bytes(&raw));
            }
            let until = Timestamp::now().plus(Duration::from_secs(86_400 * 365 * 100));
            if store.spend_once("csrf-key-made", until)? {
                store.set_meta(META_KEY, &STANDARD.encode(random::<32>()))?;
                continue;
            }
            if std::time::Instant::now() > deadline {
                return Err(StoreError::Unavailable(
                    "another node began making the CSRF key and did not finish".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new token for a form cookie.
    pub fn mint(&self) -> String {
        let nonce = URL_SAFE_NO_PAD.encode(random::<18>());
        let tag = self.tag(&nonce);
        format!("{nonce}.{tag}")
    }

    /// Whether `token` was minted by this server.
    pub fn verify(&self, token: &str) -> bool {
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let full = hmac::sign(&self.0, nonce.as_bytes());
        tag.len() == TAG_LEN
            && subtle::ConstantTimeEq::ct_eq(&full.as_ref()[..TAG_LEN], tag.as_slice()).into()
    }

    /// The value a form of `flow` carries for the browser whose cookie is `token`: bound to
    /// both, so a field copied from another flow's form (or another browser's) is refused.
    pub fn bind(&self, token: &str, flow: &str) -> String {
        let mut input = Vec::with_capacity(6 + token.len() + flow.len());
        input.extend_from_slice(b"form\0");
        input.extend_from_slice(token.as_bytes());
        input.push(0);
        input.extend_from_slice(flow.as_bytes());
        URL_SAFE_NO_PAD.encode(&hmac::sign(&self.0, &input).as_ref()[..TAG_LEN])
    }

    fn tag(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(&hmac::sign(&self.0, nonce.as_bytes()).as_ref()[..TAG_LEN])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_under_the_key_that_minted_them() {
        let key = CsrfKey::from_bytes(b"one key of thirty-two bytes long");
        let token = key.mint();
        assert!(key.verify(&token));
        assert_ne!(token, key.mint());
        let other = CsrfKey::from_bytes(b"another key, also thirty-two by");
        assert!(!other.verify(&token));
        // A well-formed value anyone could make up is not a token.
        assert!(!key.verify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!key.verify("nonce.AAAAAAAAAAAAAAAAAAAAAA"));
        let (nonce, _) = token.split_once('.').unwrap();
        assert!(!key.verify(&format!("{nonce}x.{}", key.tag(nonce))));
    }

    #[test]
    fn a_form_value_belongs_to_one_cookie_and_one_flow() {
        let key = CsrfKey::from_bytes(b"one key of thirty-two bytes long");
        let (mine, theirs) = (key.mint(), key.mint());
        let field = key.bind(&mine, "consent\0/oauth2/v1/authorize?a=1");
        assert_eq!(field, key.bind(&mine, "consent\0/oauth2/v1/authorize?a=1"));
        assert_ne!(field, key.bind(&mine, "consent\0/oauth2/v1/authorize?a=2"));
        assert_ne!(
            field,
            key.bind(&theirs, "consent\0/oauth2/v1/authorize?a=1")
        );
        assert_ne!(field, mine);
    }
}
