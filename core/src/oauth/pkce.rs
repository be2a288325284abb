//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a stolen code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

pub use crate::records::oauth::Challenge;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// A method other than S256.
    UnsupportedMethod,
    /// Not 43 characters of base64url (a SHA-256 digest).
    Malformed,
}

impl Challenge {
    /// Parses `code_challenge` and `code_challenge_method` (which defaults to `plain` in the
    /// RFC, and is therefore required here).
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, ChallengeError> {
        if method != Some("S256") {
            return Err(ChallengeError::UnsupportedMethod);
        }
        let ok = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ChallengeError::Malformed);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Whether `verifier` (43–128 unreserved characters) hashes to this challenge.
    pub fn verify(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed {
            return false;
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn verifies_the_rfc_example() {
        let c = Challenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(c.verify(VERIFIER));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"));
        assert!(!c.verify("short"));
    }

    #[test]
    fn only_s256_is_accepted() {
        assert_eq!(
            Challenge::parse(CHALLENGE, Some("plain")),
            Err(ChallengeError::UnsupportedMethod)
        );
        assert_eq!(
            Challenge::parse(CHALLENGE, None),
            Err(ChallengeError::UnsupportedMethod)
        );
        assert_eq!(
            Challenge::parse("abc", Some("S256")),
            Err(ChallengeError::Malformed)
        );
    }
}
