//! Signing keys: RSA-2048 for RS256 (Okta's, the default), P-256 for ES256 or Ed25519 for
//! EdDSA, generated on first start and kept in the store. The active key signs; keys it
//! replaced stay published in the JWKS until tokens they signed have expired, whatever their
//! algorithm, so a server moves to another algorithm by rotating to a key of it. Keys are
//! parsed once and kept, since signing is the cost of issuing a token.

use crate::clock::Timestamp;
use crate::crypto::new_id;
pub use crate::records::oauth::{KeyRecord, SigningAlg};
use crate::store::{Store, StoreError};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::time::Duration;

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created", &self.created)
            .field("retire_at", &self.retire_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation or parsing failed")]
    Crypto,
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Pair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed key with its public JWK.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pair: Pair,
    jwk: Value,
}

impl SigningKey {
    fn from_record(r: &KeyRecord) -> Result<Self, KeyError> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let bad = |_| KeyError::Crypto;
        let (pair, jwk) = match r.alg {
            SigningAlg::RS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&r.pkcs8).map_err(bad)?;
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                });
                (Pair::Rsa(pair), jwk)
            }
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &r.pkcs8)
                    .map_err(bad)?;
                // The uncompressed point: 0x04, then x and y of 32 bytes each.
                let point = pair.public_key().as_ref().to_vec();
                if point.len() != 65 {
                    return Err(KeyError::Crypto);
                }
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64(&point[1..33]),
                    "y": b64(&point[33..]),
                });
                (Pair::Ec(pair), jwk)
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(&r.pkcs8).map_err(bad)?;
                let jwk = json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64(pair.public_key().as_ref()),
                });
                (Pair::Ed(pair), jwk)
            }
        };
        let mut jwk = jwk;
        jwk["alg"] = json!(r.alg.as_str());
        jwk["use"] = json!("sig");
        jwk["kid"] = json!(r.kid);
        Ok(Self {
            kid: r.kid.clone(),
            alg: r.alg,
            pair,
            jwk,
        })
    }

    /// A compact JWS over `claims`, with this key's algorithm and `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        self.sign_typed(claims, "JWT")
    }

    /// `sign` with the header's `typ` (RFC 9068's access tokens are `at+jwt`).
    pub fn sign_typed(&self, claims: &Value, typ: &str) -> Result<String, KeyError> {
        let header = json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        let mut out = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, out.as_bytes(), &mut sig)
                    .map_err(|_| KeyError::Crypto)?;
                sig
            }
            Pair::Ec(pair) => pair
                .sign(&rng, out.as_bytes())
                .map_err(|_| KeyError::Crypto)?
                .as_ref()
                .to_vec(),
            Pair::Ed(pair) => pair.sign(out.as_bytes()).as_ref().to_vec(),
        };
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        Ok(out)
    }

    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}

fn generate(alg: SigningAlg, now: Timestamp) -> Result<KeyRecord, KeyError> {
    let bad = |_| KeyError::Crypto;
    let pkcs8 = match alg {
        SigningAlg::RS256 => aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .map_err(bad)?
            .as_der()
            .map_err(bad)?
            .as_ref()
            .to_vec(),
        SigningAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(bad)?
            .to_pkcs8v1()
            .map_err(bad)?
            .as_ref()
            .to_vec(),
        SigningAlg::EdDSA => Ed25519KeyPair::generate()
            .map_err(bad)?
            .to_pkcs8()
            .map_err(bad)?
            .as_ref()
            .to_vec(),
    };
    Ok(KeyRecord {
        kid: new_id("kid"),
        alg,
        pkcs8,
        created: now,
        retire_at: None,
    })
}

/// How long a node may take to make a server's first key before another may try.
const FIRST_KEY_LEASE: Duration = Duration::from_secs(30);

/// The keys another node is making right now, once they are there.
fn wait_for_first_key(store: &dyn Store, server: &str) -> Result<Vec<KeyRecord>, KeyError> {
    let deadline = std::time::Instant::now() + FIRST_KEY_LEASE;
    loop {
        let records = store.signing_keys(server)?;
        if !records.is_empty() {
            return Ok(records);
        }
        if std::time::Instant::now() > deadline {
            return Err(KeyError::Crypto);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The keys of one authorization server, as loaded: the newest signs, all live ones publish
/// and verify.
pub struct KeyRing {
    active: SigningKey,
    active_created: Timestamp,
    published: Vec<Value>,
    verifiers: Vec<(String, jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
}

/// How a published key verifies: its id, its algorithm, its public key.
fn verifier(
    jwk: &Value,
) -> Result<(String, jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey), KeyError> {
    use jsonwebtoken::{Algorithm, DecodingKey};
    let part = |name: &str| jwk[name].as_str().unwrap_or_default();
    let (alg, key) = match part("alg") {
        "ES256" => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(part("x"), part("y")),
        ),
        "EdDSA" => (Algorithm::EdDSA, DecodingKey::from_ed_components(part("x"))),
        _ => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(part("n"), part("e")),
        ),
    };
    let key = key.map_err(|_| KeyError::Crypto)?;
    Ok((part("kid").to_owned(), alg, key))
}

/// Why a token this server issued is not accepted.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(pub String);

impl KeyRing {
    /// Loads the keys of `server`, generating the first one if there is none. Of several nodes
    /// starting together on one store, the one that takes the lease makes it and the others
    /// wait for it, so the cluster has one signing key.
    pub fn load(store: &dyn Store, server: &str, now: Timestamp) -> Result<Self, KeyError> {
        Self::load_or_make(store, server, SigningAlg::default(), now)
    }

    /// `load`, with the first key (if it must be made) of `alg`.
    pub fn load_or_make(
        store: &dyn Store,
        server: &str,
        alg: SigningAlg,
        now: Timestamp,
    ) -> Result<Self, KeyError> {
        let mut records = store.signing_keys(server)?;
        if records.is_empty() {
            let lease = format!("first-key:{server}");
            if store.lease(&lease, &new_id("node"), now, now.plus(FIRST_KEY_LEASE))? {
                records = store.signing_keys(server)?;
                if records.is_empty() {
                    let first = generate(alg, now)?;
                    store.put_signing_key(server, &first)?;
                    store.flush()?;
                    records.push(first);
                }
            } else {
                records = wait_for_first_key(store, server)?;
            }
        }
        Self::from_records(&records, now)
    }

    fn from_records(records: &[KeyRecord], now: Timestamp) -> Result<Self, KeyError> {
        let live: Vec<&KeyRecord> = records
            .iter()
            .filter(|r| r.retire_at.is_none_or(|t| t > now))
            .collect();
        // The active key is the one not scheduled to retire; creation time only breaks ties
        // (a rotation can happen within the millisecond a key was made).
        let newest = live
            .iter()
            .max_by_key(|r| (r.retire_at.is_none(), r.created))
            .ok_or(KeyError::Crypto)?;
        let active = SigningKey::from_record(newest)?;
        let published: Vec<Value> = live
            .iter()
            .map(|r| SigningKey::from_record(r).map(|k| k.jwk))
            .collect::<Result<_, _>>()?;
        let verifiers = published.iter().map(verifier).collect::<Result<_, _>>()?;
        Ok(Self {
            active,
            active_created: newest.created,
            published,
            verifiers,
        })
    }

    /// Makes a new active key of the same algorithm; the previous ones stay published for
    /// `keep_previous` (at least the longest token lifetime), then drop out. Returns the
    /// reloaded ring.
    pub fn rotate(
        store: &dyn Store,
        server: &str,
        now: Timestamp,
        keep_previous: Duration,
    ) -> Result<Self, KeyError> {
        let alg = Self::load(store, server, now)?.active.alg;
        Self::rotate_to(store, server, alg, now, keep_previous)
    }

    /// Makes a new active key of `alg` (see `rotate`): how a server moves to another
    /// algorithm without refusing the tokens it has already issued.
    pub fn rotate_to(
        store: &dyn Store,
        server: &str,
        alg: SigningAlg,
        now: Timestamp,
        keep_previous: Duration,
    ) -> Result<Self, KeyError> {
        for mut old in store.signing_keys(server)? {
            if old.retire_at.is_none() {
                old.retire_at = Some(now.plus(keep_previous));
                store.put_signing_key(server, &old)?;
            }
        }
        let fresh = generate(alg, now)?;
        store.put_signing_key(server, &fresh)?;
        store.flush()?;
        Self::load(store, server, now)
    }

    /// When the signing key was made (automatic rotation replaces it when old enough).
    pub fn active_since(&self) -> Timestamp {
        self.active_created
    }

    pub fn signer(&self) -> &SigningKey {
        &self.active
    }

    /// Verifies a token this server issued: signature by a published key, issuer, and (unless
    /// `allow_expired`, as for a logout hint) expiry. Returns the claims.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        allow_expired: bool,
    ) -> Result<Value, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| InvalidToken(e.to_string()))?;
        let kid = header.kid.unwrap_or_default();
        // The key decides the algorithm: a header naming another is refused.
        let (alg, key) = self
            .verifiers
            .iter()
            .find(|(k, alg, _)| *k == kid && *alg == header.alg)
            .map(|(_, alg, key)| (*alg, key))
            .ok_or_else(|| InvalidToken("unknown signing key".into()))?;
        let mut v = jsonwebtoken::Validation::new(alg);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = !allow_expired;
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss"]);
        jsonwebtoken::decode::<Value>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| InvalidToken(e.to_string()))
    }

    /// The published keys with Okta's status: ACTIVE signs, EXPIRED only verifies until it
    /// retires.
    pub fn keys_with_status(&self) -> Vec<Value> {
        self.published
            .iter()
            .map(|jwk| {
                let mut k = jwk.clone();
                let active = jwk["kid"] == self.active.kid.as_str();
                k["status"] = json!(if active { "ACTIVE" } else { "EXPIRED" });
                k
            })
            .collect()
    }

    /// The JSON Web Key Set for `/keys`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.published })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    fn verify(token: &str, ring: &KeyRing) -> Result<Value, jsonwebtoken::errors::Error> {
        let kid = decode_header(token)?.kid.unwrap_or_default();
        let jwk = ring.jwks()["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()).cloned())
            .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap_or_default(),
            jwk["e"].as_str().unwrap_or_default(),
        )?;
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        decode::<Value>(token, &key, &v).map(|d| d.claims)
    }

    #[test]
    fn tokens_verify_against_the_published_key_and_rotation_keeps_the_old_one_for_a_while() {
        let (_dir, store) = crate::store::temp_store();
        let t0 = Timestamp::from_millis(1_000_000);
        let ring = KeyRing::load(&store, "org", t0).unwrap();
        let old_token = ring.signer().sign(&json!({ "sub": "a" })).unwrap();
        assert_eq!(verify(&old_token, &ring).unwrap()["sub"], "a");
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);

        let keep = Duration::from_secs(3600);
        let rotated = KeyRing::rotate(&store, "org", t0, keep).unwrap();
        assert_ne!(rotated.signer().kid, ring.signer().kid);
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(
            verify(&old_token, &rotated).is_ok(),
            "old tokens still verify"
        );

        let later = KeyRing::load(&store, "org", t0.plus(keep)).unwrap();
        assert_eq!(later.jwks()["keys"].as_array().unwrap().len(), 1);
        assert!(verify(&old_token, &later).is_err(), "retired key is gone");
        assert_eq!(later.signer().kid, rotated.signer().kid);
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let (_dir, store) = crate::store::temp_store();
        let ring = KeyRing::load(&store, "org", Timestamp::from_millis(0)).unwrap();
        let token = ring.signer().sign(&json!({ "sub": "a" })).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(json!({ "sub": "admin" }).to_string());
        parts[1] = &forged;
        assert!(verify(&parts.join("."), &ring).is_err());
    }

    #[test]
    fn each_algorithm_signs_what_its_published_key_verifies_and_moving_keeps_old_tokens() {
        let (_dir, store) = crate::store::temp_store();
        let t0 = Timestamp::from_millis(1_000_000);
        let keep = Duration::from_secs(3600);
        let claims = json!({ "sub": "a", "iss": "https://issuer", "exp": 4_000_000_000_i64 });
        let mut issued = Vec::new();
        let mut ring = KeyRing::load(&store, "s", t0).unwrap();
        assert_eq!(ring.signer().alg, SigningAlg::RS256, "Okta's default");
        for alg in [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::RS256] {
            ring = KeyRing::rotate_to(&store, "s", alg, t0, keep).unwrap();
            assert_eq!(ring.signer().alg, alg);
            let token = ring.signer().sign(&claims).unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(format!("{:?}", header.alg), alg.as_str());
            // Checked with the published JWK alone, as a relying party would.
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(ring.signer().jwk().clone()).unwrap();
            let mut v = Validation::new(header.alg);
            v.validate_aud = false;
            decode::<Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &v).unwrap();
            issued.push(token);
        }
        // A rotation of the same algorithm keeps it.
        let again = KeyRing::rotate(&store, "s", t0, keep).unwrap();
        assert_eq!(again.signer().alg, SigningAlg::RS256);
        for token in &issued {
            again.verify(token, "https://issuer", false).unwrap();
        }
        // A token whose header names another algorithm than its key's is refused.
        let es = &issued[0];
        let mut parts: Vec<String> = es.split('.').map(str::to_owned).collect();
        let kid = decode_header(es).unwrap().kid.unwrap();
        parts[0] = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "kid": kid }).to_string());
        assert!(
            again
                .verify(&parts.join("."), "https://issuer", false)
                .is_err()
        );
    }
}
