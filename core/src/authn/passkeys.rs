//! Passkeys and security keys: Okta's `webauthn` factor (provider `FIDO`), as a second factor
//! and for signing in without a password. The ceremonies themselves (attestation, assertion,
//! COSE keys, counters, user verification) are `webauthn-rs`'s; this module decides where they
//! run, what is stored, and that each challenge is answered once.
//!
//! - **Where:** a ceremony runs for one page origin, and its relying-party id is that origin's
//!   host. The edge picks the origin: the server's own, or a trusted origin embedding the
//!   widget (Okta's widget leaves `rp.id` out, so the browser uses the page's host). A
//!   credential works only where it was created, as WebAuthn intends.
//! - **User verification is required** (a PIN or biometric), so one passkey is two factors:
//!   `amr` `hwk` + `user` (RFC 8176), and MFA is done. Attestation is `none`: Portcullis asks
//!   for a key, not for its maker.
//! - **Once:** a challenge lives in the transaction it was issued for (or in the factor being
//!   enrolled), and the step that consumes it is a compare-and-swap on that record; a counter
//!   that does not move forward is refused on the stored credential, in the same atomic step
//!   that records the new one.

use super::factors::{Factor, FactorSecret, FactorStatus, FactorType, Provider};
use super::flow::FlowError;
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::directory::User;
pub use crate::records::authn::WebauthnCeremony;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use std::time::Duration;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationResult, AuthenticationState,
    AuthenticatorAssertionResponseRaw, AuthenticatorAttestationResponseRaw, Credential,
    PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState, UserVerificationPolicy,
};

/// How long the browser is given to answer (and the person to touch their key).
const CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a ceremony runs: the page's origin, its host as the relying-party id, and the name
/// the browser shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
    pub name: String,
}

impl RelyingParty {
    /// The relying party of a page at `origin` (`scheme://host[:port]`); `None` when it is
    /// not an origin a browser could run WebAuthn on.
    pub fn for_origin(origin: &str, name: &str) -> Option<Self> {
        let url = url::Url::parse(origin).ok()?;
        let host = url.host_str()?.to_owned();
        // Browsers allow WebAuthn on https, and on http only for localhost-like hosts; the
        // edge decides which origins may ask at all.
        if !matches!(url.scheme(), "https" | "http") {
            return None;
        }
        Some(Self {
            id: host,
            origin: url.origin().ascii_serialization(),
            name: name.to_owned(),
        })
    }

    fn core(&self) -> Result<WebauthnCore, FlowError> {
        let origin = url::Url::parse(&self.origin).map_err(|_| FlowError::InvalidPasscode)?;
        Ok(WebauthnCore::new_unsafe_experts_only(
            &self.name,
            &self.id,
            vec![origin],
            CEREMONY_TIMEOUT,
            Some(false),
            Some(false),
        ))
    }

    fn of(ceremony: &WebauthnCeremony) -> Self {
        Self {
            id: ceremony.rp_id.clone(),
            origin: ceremony.origin.clone(),
            name: String::new(),
        }
    }
}

/// The user handle stored in a discoverable credential. Okta's widget sets it to the user's
/// id read as base64 (`strToBin(user.id)`), so Portcullis does the same: 20 alphanumeric
/// characters are 15 bytes, and encode back to the same id.
pub fn user_handle(user_id: &str) -> Vec<u8> {
    STANDARD
        .decode(user_id)
        .ok()
        .filter(|bytes| STANDARD_NO_PAD.encode(bytes) == user_id.trim_end_matches('='))
        .unwrap_or_else(|| user_id.as_bytes().to_vec())
}

/// The user id a handle from [`user_handle`] stands for.
pub fn user_id_of(handle: &[u8]) -> Option<String> {
    let encoded = STANDARD_NO_PAD.encode(handle);
    if user_handle(&encoded) == handle && encoded.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(encoded);
    }
    String::from_utf8(handle.to_vec()).ok()
}

/// Base64 as browsers and Okta's widget send it: standard (`btoa`) or URL-safe, with or
/// without padding.
pub fn decode(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    [STANDARD, URL_SAFE]
        .iter()
        .find_map(|e| e.decode(value).ok())
        .or_else(|| {
            let bare = value.trim_end_matches('=');
            [STANDARD_NO_PAD, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|e| e.decode(bare).ok())
        })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, FlowError> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "a WebAuthn state did not serialise");
        FlowError::InvalidPasscode
    })
}

fn parse<T: serde::de::DeserializeOwned>(value: &str) -> Result<T, FlowError> {
    serde_json::from_str(value).map_err(|e| {
        tracing::error!(error = %e, "a stored WebAuthn state did not parse");
        FlowError::InvalidPasscode
    })
}

fn refused(what: &str, e: &impl std::fmt::Display) -> FlowError {
    tracing::info!(error = %e, "WebAuthn {what} refused");
    FlowError::InvalidPasscode
}

impl Factor {
    /// This factor's WebAuthn credential, once activated.
    pub fn passkey(&self) -> Option<Credential> {
        match &self.secret {
            FactorSecret::Webauthn { credential, .. } if !credential.is_empty() => {
                serde_json::from_str(credential).ok()
            }
            _ => None,
        }
    }

    /// The relying-party id a WebAuthn factor belongs to.
    pub fn rp_id(&self) -> Option<&str> {
        match &self.secret {
            FactorSecret::Webauthn { rp_id, .. } => Some(rp_id),
            _ => None,
        }
    }

    /// The credential id (base64url) and name shown in the factor's profile.
    pub fn passkey_profile(&self) -> Option<(&str, &str)> {
        match &self.secret {
            FactorSecret::Webauthn {
                credential_id,
                authenticator_name,
                ..
            } => Some((credential_id, authenticator_name)),
            _ => None,
        }
    }

    /// The creation options a pending WebAuthn factor asks the browser for (JSON).
    pub fn creation_options(&self) -> Option<serde_json::Value> {
        match &self.secret {
            FactorSecret::Webauthn {
                registration: Some(c),
                ..
            } => serde_json::from_str(&c.options).ok(),
            _ => None,
        }
    }
}

/// A new WebAuthn factor for `user`, waiting for the browser to create its credential at `rp`.
/// The credentials the user already has there are excluded, so one authenticator is
/// enrolled once.
pub fn new_factor(
    rp: &RelyingParty,
    user: &User,
    existing: &[Factor],
    now: Timestamp,
) -> Result<Factor, FlowError> {
    let core = rp.core()?;
    let display = format!("{} {}", user.profile.first_name, user.profile.last_name);
    let display = if display.trim().is_empty() {
        user.profile.login.clone()
    } else {
        display.trim().to_owned()
    };
    let exclude: Vec<_> = existing
        .iter()
        .filter(|f| f.rp_id() == Some(rp.id.as_str()))
        .filter_map(Factor::passkey)
        .map(|c| c.cred_id)
        .collect();
    let builder = core
        .new_challenge_register_builder(&user_handle(&user.id), &user.profile.login, &display)
        .map_err(|e| refused("enrollment", &e))?
        .attestation(AttestationConveyancePreference::None)
        .user_verification_policy(UserVerificationPolicy::Required)
        // Discoverable, so the same key also signs in without a username.
        .require_resident_key(true)
        .exclude_credentials(Some(exclude));
    let (options, state) = core
        .generate_challenge_register(builder)
        .map_err(|e| refused("enrollment", &e))?;
    Ok(Factor {
        id: new_id("fwf"),
        user_id: user.id.clone(),
        factor_type: FactorType::Webauthn,
        provider: Provider::Fido,
        status: FactorStatus::PendingActivation,
        created: now,
        last_updated: now,
        secret: FactorSecret::Webauthn {
            rp_id: rp.id.clone(),
            origin: rp.origin.clone(),
            credential_id: String::new(),
            credential: String::new(),
            registration: Some(WebauthnCeremony {
                rp_id: rp.id.clone(),
                origin: rp.origin.clone(),
                options: json(&options.public_key)?,
                state: json(&state)?,
            }),
            authenticator_name: String::new(),
        },
        activation_token: None,
    })
}

/// What `navigator.credentials.create()` answered, as Okta's activation carries it.
#[derive(Debug, Clone, Default)]
pub struct Attestation {
    /// `attestationObject`, base64.
    pub attestation: String,
    /// `clientDataJSON`, base64.
    pub client_data: String,
}

/// Checks the browser's answer to a pending factor's creation ceremony and returns the
/// secret the active factor stores. A wrong origin, challenge, relying party or a key
/// without user verification is refused (`InvalidPasscode`, Okta's E0000068).
pub fn register(factor: &Factor, answer: &Attestation) -> Result<FactorSecret, FlowError> {
    let FactorSecret::Webauthn {
        rp_id,
        origin,
        registration: Some(ceremony),
        ..
    } = &factor.secret
    else {
        return Err(FlowError::WrongState);
    };
    let attestation_object = decode(&answer.attestation).ok_or(FlowError::InvalidPasscode)?;
    let client_data_json = decode(&answer.client_data).ok_or(FlowError::InvalidPasscode)?;
    let state: RegistrationState = parse(&ceremony.state)?;
    let reg = RegisterPublicKeyCredential {
        // Never read: the credential's id comes from the signed attestation.
        id: String::new(),
        raw_id: Vec::new(),
        response: AuthenticatorAttestationResponseRaw {
            attestation_object,
            client_data_json,
            transports: None,
        },
        type_: "public-key".to_owned(),
        extensions: Default::default(),
    };
    let credential = RelyingParty::of(ceremony)
        .core()?
        .register_credential(&reg, &state, None)
        .map_err(|e| refused("registration", &e))?;
    Ok(FactorSecret::Webauthn {
        rp_id: rp_id.clone(),
        origin: origin.clone(),
        credential_id: URL_SAFE_NO_PAD.encode(&credential.cred_id),
        credential: json(&credential)?,
        registration: None,
        authenticator_name: "Passkey".to_owned(),
    })
}

/// A challenge for `factors`' credentials at `rp`; with none, for any discoverable credential
/// (a passkey sign-in, where the answer names the user).
pub fn challenge(rp: &RelyingParty, factors: &[&Factor]) -> Result<WebauthnCeremony, FlowError> {
    let core = rp.core()?;
    let creds: Vec<_> = factors.iter().filter_map(|f| f.passkey()).collect();
    let builder = core
        .new_challenge_authenticate_builder(creds, Some(UserVerificationPolicy::Required))
        .map_err(|e| refused("challenge", &e))?;
    let (options, state) = core
        .generate_challenge_authenticate(builder)
        .map_err(|e| refused("challenge", &e))?;
    Ok(WebauthnCeremony {
        rp_id: rp.id.clone(),
        origin: rp.origin.clone(),
        options: json(&options.public_key)?,
        state: json(&state)?,
    })
}

/// The request options of a challenge (`publicKey` for `navigator.credentials.get()`).
pub fn request_options(ceremony: &WebauthnCeremony) -> serde_json::Value {
    serde_json::from_str(&ceremony.options).unwrap_or_default()
}

/// What `navigator.credentials.get()` answered. Okta's widget sends neither the credential id
/// nor the user handle; then each candidate credential is tried.
#[derive(Debug, Clone, Default)]
pub struct Assertion {
    /// base64 (either alphabet, padded or not), as are the others.
    pub client_data: String,
    pub authenticator_data: String,
    pub signature: String,
    pub credential_id: Option<String>,
    pub user_handle: Option<String>,
}

impl Assertion {
    /// The user the authenticator says this is (a discoverable credential's user handle).
    pub fn user_id(&self) -> Option<String> {
        decode(self.user_handle.as_deref()?).and_then(|h| user_id_of(&h))
    }
}

/// Checks `answer` to `ceremony` against `candidates` (active WebAuthn factors) and returns
/// the factor it proves, with the result to record on it.
pub fn check<'a>(
    ceremony: &WebauthnCeremony,
    candidates: &'a [Factor],
    answer: &Assertion,
) -> Result<(&'a Factor, AuthenticationResult), FlowError> {
    let response = AuthenticatorAssertionResponseRaw {
        authenticator_data: decode(&answer.authenticator_data).ok_or(FlowError::InvalidPasscode)?,
        client_data_json: decode(&answer.client_data).ok_or(FlowError::InvalidPasscode)?,
        signature: decode(&answer.signature).ok_or(FlowError::InvalidPasscode)?,
        user_handle: None,
    };
    let named = match answer.credential_id.as_deref() {
        Some(id) => Some(decode(id).ok_or(FlowError::InvalidPasscode)?),
        None => None,
    };
    let state: AuthenticationState = parse(&ceremony.state)?;
    let core = RelyingParty::of(ceremony).core()?;
    let mut last = FlowError::InvalidPasscode;
    for factor in candidates
        .iter()
        .filter(|f| f.status == FactorStatus::Active && f.rp_id() == Some(&ceremony.rp_id))
    {
        let Some(credential) = factor.passkey() else {
            continue;
        };
        if named.as_ref().is_some_and(|id| *id != credential.cred_id) {
            continue;
        }
        let presented = PublicKeyCredential {
            id: URL_SAFE_NO_PAD.encode(&credential.cred_id),
            raw_id: credential.cred_id.clone(),
            response: response.clone(),
            extensions: Default::default(),
            type_: "public-key".to_owned(),
        };
        match core.authenticate_single_credential(&presented, &state, &credential) {
            Ok(result) => return Ok((factor, result)),
            Err(e) => last = refused("assertion", &e),
        }
    }
    Err(last)
}

/// Records a verified assertion on the stored factor, atomically: the counter must still be
/// behind the one presented (two answers with one counter value: the second is refused), and
/// the factor must still be there (a deleted passkey signs nobody in).
pub fn record_use(
    store: &dyn crate::store::Store,
    factor: &Factor,
    result: &AuthenticationResult,
    now: Timestamp,
) -> Result<Factor, FlowError> {
    let (factor, ()) = crate::store::update(
        |c| store.modify_factor(&factor.user_id, &factor.id, c),
        |f: &mut Factor| {
            let mut credential = f.passkey().ok_or(FlowError::FactorNotFound)?;
            let presented = result.counter();
            // Authenticators without a counter (most synced passkeys) always send 0.
            if (presented != 0 || credential.counter != 0) && presented <= credential.counter {
                tracing::warn!(factor = %f.id, "a WebAuthn counter went backwards: refused");
                return Err(FlowError::InvalidPasscode);
            }
            credential.counter = presented;
            credential.backup_state = result.backup_state();
            if let FactorSecret::Webauthn {
                credential: stored, ..
            } = &mut f.secret
            {
                *stored = json(&credential)?;
            }
            f.last_updated = now;
            Ok(())
        },
    )?
    .ok_or(FlowError::FactorNotFound)?;
    Ok(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_is_its_own_handle_read_as_base64() {
        let id = "00u1AbCdEfGhIjKlMnOp";
        let handle = user_handle(id);
        assert_eq!(handle.len(), 15);
        assert_eq!(user_id_of(&handle).as_deref(), Some(id));
        // An id that is not base64 is carried as its bytes.
        assert_eq!(user_handle("admin@x"), b"admin@x");
        assert_eq!(user_id_of(b"admin@x").as_deref(), Some("admin@x"));
    }

    #[test]
    fn base64_is_read_in_either_alphabet_with_or_without_padding() {
        for s in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode(s).unwrap(), [0xfb, 0xff], "{s}");
        }
        assert!(decode("not base64!").is_none());
    }

    #[test]
    fn a_relying_party_is_the_pages_host() {
        let rp = RelyingParty::for_origin("https://login.example.com:8443/x", "P").unwrap();
        assert_eq!(rp.id, "login.example.com");
        assert_eq!(rp.origin, "https://login.example.com:8443");
        assert!(RelyingParty::for_origin("ftp://example.com", "P").is_none());
        assert!(RelyingParty::for_origin("not a url", "P").is_none());
    }
}
