//! argon2id password hashes (PHC strings), and a verifier that costs the same for unknown users.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

/// An argon2id hash in PHC string form. Stored, never sent: API views are built without it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords with one set of argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the user is unknown so that an
    /// unknown username costs the same time as a wrong password.
    decoy: PasswordHash,
}

impl PasswordHasher {
    /// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    pub fn new() -> Result<Self, HashError> {
        Self::with_params(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, 1)
    }

    pub fn with_params(m_cost_kib: u32, t_cost: u32, lanes: u32) -> Result<Self, HashError> {
        let params =
            Params::new(m_cost_kib, t_cost, lanes, None).map_err(|e| HashError(e.to_string()))?;
        let mut hasher = Self {
            params,
            decoy: PasswordHash(String::new()),
        };
        let decoy_password = super::new_secret(16);
        hasher.decoy = hasher.hash(decoy_password.expose())?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| HashError(e.to_string()))
    }

    /// Verifies `password` against `hash`, or against the decoy when there is no hash, so that
    /// both paths do the same work. A malformed stored hash verifies as false.
    pub fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> bool {
        let target = hash.unwrap_or(&self.decoy);
        let Ok(parsed) = argon2::password_hash::PasswordHash::new(&target.0) else {
            return false;
        };
        let ok = self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && hash.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::with_params(64, 1, 1).unwrap()
    }

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = fast();
        let hash = h.hash("correct horse").unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(h.verify("correct horse", Some(&hash)));
        assert!(!h.verify("wrong horse", Some(&hash)));
    }

    #[test]
    fn unknown_user_never_verifies() {
        let h = fast();
        assert!(!h.verify("anything", None));
    }

    #[test]
    fn debug_redacts() {
        let hash = fast().hash("pw").unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }
}
