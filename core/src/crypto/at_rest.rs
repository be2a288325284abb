//! Secrets at rest: TOTP seeds, `client_secret_jwt` secrets and private signing keys are
//! sealed with AES-256-GCM under a key-encryption key that the operator gives by setting,
//! environment or file, and that is never stored with the data. A sealed value reads
//! `enc:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`; the key id (the first 8 bytes of the
//! key's SHA-256, in hex) says which key opens it, so that a rotation can keep the previous
//! keys for opening while everything is sealed anew under the current one. Each value is
//! bound to what it is and whose it is (the associated data), so a sealed value moved to
//! another record does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

const PREFIX: &str = "enc:v1:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a key-encryption key must be 32 bytes in base64 ({0})")]
    BadKey(String),
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("a sealed secret is damaged or belongs to another record")]
    Damaged,
    #[error("a sealed secret was found but no key-encryption key is configured")]
    NoKey,
}

struct SealKey {
    id: String,
    key: LessSafeKey,
    raw: [u8; 32],
}

impl SealKey {
    fn from_base64(encoded: &str) -> Result<Self, SealError> {
        let raw = STANDARD
            .decode(encoded.trim())
            .map_err(|e| SealError::BadKey(e.to_string()))?;
        if raw.len() != 32 {
            return Err(SealError::BadKey(format!("{} bytes", raw.len())));
        }
        let id = hex8(&Sha256::digest(&raw));
        let unbound = UnboundKey::new(&AES_256_GCM, &raw)
            .map_err(|_| SealError::BadKey("rejected".into()))?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&raw);
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
            raw: bytes,
        })
    }
}

fn hex8(bytes: &[u8]) -> String {
    super::hex(&bytes[..8])
}

/// The current key-encryption key, and earlier ones that may still open what they sealed.
pub struct Keyring {
    current: SealKey,
    previous: Vec<SealKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Keyring {
    /// Keys in base64 (32 bytes each): the one to seal with, and earlier ones.
    pub fn new(current: &str, previous: &[String]) -> Result<Self, SealError> {
        Ok(Self {
            current: SealKey::from_base64(current)?,
            previous: previous
                .iter()
                .map(|k| SealKey::from_base64(k))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A new random key in base64, for `portcullis generate-master-key`.
    pub fn generate() -> String {
        let mut raw = [0u8; 32];
        // The system RNG failing leaves nothing safe to do.
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut raw)
            .expect("the system random number generator failed");
        STANDARD.encode(raw)
    }

    /// A key for another purpose (`purpose` names it), derived from the current key with
    /// HMAC-SHA256: every node with the same master key derives the same one.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.current.raw);
        let tag = aws_lc_rs::hmac::sign(&key, purpose.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Whether a value sealed under key `id` can be opened.
    pub fn knows(&self, id: &str) -> bool {
        self.current.id == id || self.previous.iter().any(|k| k.id == id)
    }

    /// Seals `plain` as the secret `what` of record `whose`.
    pub fn seal(&self, plain: &[u8], what: &str, whose: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random number generator failed");
        let mut body = plain.to_vec();
        #[allow(clippy::expect_used)] // only a message over 64 GiB could fail
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(what, whose).as_bytes()),
                &mut body,
            )
            .expect("AES-GCM sealing failed");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        format!("{PREFIX}{}:{}", self.current.id, STANDARD.encode(out))
    }

    /// Opens a value sealed as the secret `what` of record `whose`.
    pub fn open(&self, sealed: &str, what: &str, whose: &str) -> Result<Vec<u8>, SealError> {
        let rest = sealed.strip_prefix(PREFIX).ok_or(SealError::Damaged)?;
        let (id, body) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let raw = STANDARD.decode(body).map_err(|_| SealError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut body = ciphertext.to_vec();
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad(what, whose).as_bytes()), &mut body)
            .map_err(|_| SealError::Damaged)?;
        Ok(plain.to_vec())
    }
}

fn aad(what: &str, whose: &str) -> String {
    format!("portcullis:{what}:{whose}")
}

/// Whether a stored value is sealed (rather than a plain value from before sealing).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// The key id a sealed value names.
pub fn sealed_with(value: &str) -> Option<&str> {
    value
        .strip_prefix(PREFIX)?
        .split_once(':')
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_for_their_record() {
        let old = Keyring::generate();
        let ring = Keyring::new(&old, &[]).unwrap();
        let sealed = ring.seal(b"JBSWY3DPEHPK3PXP", "totp", "00u1/uft1");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(sealed_with(&sealed), Some(ring.current_id()));
        assert_eq!(
            ring.open(&sealed, "totp", "00u1/uft1").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        // Moved to another record, or to another kind of secret: refused.
        assert_eq!(
            ring.open(&sealed, "totp", "00u2/uft1"),
            Err(SealError::Damaged)
        );
        assert_eq!(
            ring.open(&sealed, "hmac", "00u1/uft1"),
            Err(SealError::Damaged)
        );
        // Two seals of one value differ (fresh nonces).
        assert_ne!(sealed, ring.seal(b"JBSWY3DPEHPK3PXP", "totp", "00u1/uft1"));

        // After a rotation the old key still opens; without it, the value names its key.
        let rotated = Keyring::new(&Keyring::generate(), &[old]).unwrap();
        assert!(rotated.knows(ring.current_id()));
        assert_eq!(
            rotated.open(&sealed, "totp", "00u1/uft1").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        let stranger = Keyring::new(&Keyring::generate(), &[]).unwrap();
        assert_eq!(
            stranger.open(&sealed, "totp", "00u1/uft1"),
            Err(SealError::UnknownKey(ring.current_id().to_owned()))
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(matches!(
            Keyring::new("c2hvcnQ=", &[]),
            Err(SealError::BadKey(_))
        ));
        assert!(matches!(
            Keyring::new("not base64!", &[]),
            Err(SealError::BadKey(_))
        ));
    }
}
