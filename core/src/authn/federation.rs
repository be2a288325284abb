//! Signing in through an upstream identity provider: its ID token checked (signature against
//! its keys, issuer, audience, nonce, lifetime), the person it names found or created here
//! (a link kept from an earlier sign-in, an existing account matched and linked, or a new one
//! provisioned, as the provider's policy says), and then the same transaction a password
//! sign-in starts, so MFA and enrollment still apply. The HTTP calls to the provider are the
//! edge's; everything decided here is testable without one.

use super::flow::{self, Ctx, FlowError, Outcome};
use super::transaction::TxOptions;
use crate::audit;
use crate::clock::Timestamp;
use crate::crypto::Secret;
use crate::directory::DirectoryError;
use crate::directory::idps::{IdentityProvider, IdpAction, IdpType, MatchType, template_attribute};
use crate::directory::users::{Activation, NewUser, Profile, create_user};
use crate::directory::{User, UserStatus};
use crate::records::directory::login_key;
use crate::store::user_index::{Direction, KeyRange, text_key};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Who the provider says signed in: its claims (ID token and userinfo merged).
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl Identity {
    fn text(&self, name: &str) -> Option<&str> {
        self.claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn email_verified(&self) -> bool {
        match self.claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }

    /// What the provider's username template makes of this person.
    pub fn username(&self, idp: &IdentityProvider) -> Option<String> {
        let attr = template_attribute(&idp.username_template)?;
        match self.claims.get(attr)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// The provider's answer could not be trusted (a bad token, a wrong nonce, …).
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
    /// No account here, and the provider may not create one (or linking is off and the
    /// username is taken).
    #[error("no account for this person")]
    NoAccount,
    /// The account exists but may not sign in (suspended, deactivated, locked).
    #[error("the account may not sign in")]
    Inactive,
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The issuer an ID token of `idp` must carry: the configured one, with Microsoft's
/// `{tenantid}` read from the token's own `tid`.
fn expected_issuer(idp: &IdentityProvider, claims: &Value) -> Option<String> {
    let issuer = idp.issuer.as_deref()?;
    if idp.kind == IdpType::Microsoft && issuer.contains("{tenantid}") {
        let tid = claims["tid"].as_str()?;
        return Some(issuer.replace("{tenantid}", tid));
    }
    Some(issuer.to_owned())
}

/// The key an ID token says it is signed with (its header's `kid`), to pick the key set.
pub fn key_id(id_token: &str) -> Option<String> {
    jsonwebtoken::decode_header(id_token).ok()?.kid
}

/// Checks an ID token of `idp`: signed by one of `jwks`' keys with an asymmetric algorithm,
/// for this client, from the provider's issuer, with the nonce this sign-in sent, and within
/// its lifetime (allowing the provider's clock skew).
pub fn verify_id_token(
    idp: &IdentityProvider,
    jwks: &Value,
    id_token: &str,
    nonce: &str,
    now: Timestamp,
) -> Result<Identity, FederationError> {
    let refused = |why: &str| FederationError::Refused(why.to_owned());
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| refused(&e.to_string()))?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    ) {
        return Err(refused(
            "the ID token is not signed with a public-key algorithm",
        ));
    }
    let set: JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|e| refused(&format!("the provider's keys do not parse: {e}")))?;
    let keys: Vec<DecodingKey> = set
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .filter_map(|k| DecodingKey::from_jwk(k).ok())
        .collect();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[idp.client_id.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    // Checked below against the configured issuer (Microsoft's depends on the token).
    v.validate_exp = false;
    v.iss = None;
    let claims = keys
        .iter()
        .find_map(|key| jsonwebtoken::decode::<Value>(id_token, key, &v).ok())
        .ok_or_else(|| refused("no key of the provider verifies the ID token for this client"))?
        .claims;
    let skew = idp.max_clock_skew_ms.max(0) / 1000 + 30;
    let secs = now.millis() / 1000;
    if claims["exp"].as_i64().is_none_or(|exp| exp + skew < secs) {
        return Err(refused("the ID token has expired"));
    }
    if claims["iat"].as_i64().is_some_and(|iat| iat - skew > secs) {
        return Err(refused("the ID token was issued in the future"));
    }
    let expected = expected_issuer(idp, &claims).ok_or_else(|| refused("no issuer to check"))?;
    if claims["iss"].as_str() != Some(expected.as_str()) {
        return Err(refused("the ID token is from another issuer"));
    }
    let got = claims["nonce"].as_str().unwrap_or_default();
    if !Secret::new(got)
        .digest()
        .ct_eq(&Secret::new(nonce).digest())
    {
        return Err(refused("the ID token's nonce is not this sign-in's"));
    }
    let Value::Object(claims) = claims else {
        return Err(refused("the ID token's claims are not an object"));
    };
    let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
    if subject.is_empty() {
        return Err(refused("the ID token names no subject"));
    }
    Ok(Identity { subject, claims })
}

/// An identity from an OAuth 2.0 provider's user API (GitHub's `/user`, with the primary
/// verified address from `/user/emails` when given).
pub fn identity_from_user_api(
    user: &Value,
    emails: Option<&Value>,
) -> Result<Identity, FederationError> {
    let subject = match &user["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(FederationError::Refused("the user API names no id".into())),
    };
    let mut claims = user.as_object().cloned().unwrap_or_default();
    let primary = emails.and_then(Value::as_array).and_then(|list| {
        list.iter()
            .find(|e| e["primary"].as_bool() == Some(true) && e["verified"].as_bool() == Some(true))
    });
    match primary.and_then(|e| e["email"].as_str()) {
        Some(email) => {
            claims.insert("email".into(), Value::String(email.to_owned()));
            claims.insert("email_verified".into(), Value::Bool(true));
        }
        None => {
            claims.insert("email_verified".into(), Value::Bool(false));
        }
    }
    if let Some(name) = user["name"].as_str() {
        let (given, family) = name.rsplit_once(' ').unwrap_or((name, ""));
        claims
            .entry("given_name")
            .or_insert_with(|| Value::String(given.to_owned()));
        claims
            .entry("family_name")
            .or_insert_with(|| Value::String(family.to_owned()));
    }
    Ok(Identity { subject, claims })
}

/// The one account whose `attribute` is `value`, if exactly one has it.
fn only_user_with(
    ctx: &Ctx<'_>,
    attribute: &str,
    value: &str,
) -> Result<Option<User>, FederationError> {
    let found = ctx.store.user_index(
        attribute,
        &KeyRange::Exact(text_key(value)),
        None,
        Direction::Ascending,
        2,
    )?;
    match found.as_slice() {
        [one] => Ok(ctx.store.user(&one.id)?),
        _ => Ok(None),
    }
}

/// An existing account the provider's policy links this person to.
fn matching_account(
    ctx: &Ctx<'_>,
    idp: &IdentityProvider,
    who: &Identity,
    username: &str,
) -> Result<Option<User>, FederationError> {
    if idp.account_link != IdpAction::Auto {
        return Ok(None);
    }
    // An address the provider has not verified proves nothing: whoever typed it there could
    // otherwise take over the account here that has it.
    let from_email = template_attribute(&idp.username_template) == Some("email");
    let verified = who.email_verified();
    let by_username = || -> Result<Option<User>, FederationError> {
        if from_email && !verified {
            return Ok(None);
        }
        Ok(ctx.store.user_by_login(&login_key(username))?)
    };
    let by_email = || -> Result<Option<User>, FederationError> {
        match who.text("email") {
            Some(email) if verified => only_user_with(ctx, "profile.email", email),
            _ => Ok(None),
        }
    };
    match idp.match_type {
        MatchType::Username => by_username(),
        MatchType::Email => by_email(),
        MatchType::UsernameOrEmail => match by_username()? {
            Some(u) => Ok(Some(u)),
            None => by_email(),
        },
    }
}

/// A new account for this person, active at once (the provider vouches for them) and with no
/// password here; in the provider's groups.
fn provision(
    ctx: &Ctx<'_>,
    idp: &IdentityProvider,
    who: &Identity,
    username: &str,
) -> Result<Option<User>, FederationError> {
    if template_attribute(&idp.username_template) == Some("email") && !who.email_verified() {
        // An unverified address as the username would let anyone claim it here first.
        return Err(FederationError::NoAccount);
    }
    let email = who
        .text("email")
        .filter(|_| who.email_verified())
        .unwrap_or(username)
        .to_owned();
    let first = who.text("given_name").unwrap_or("-").to_owned();
    let last = who.text("family_name").unwrap_or("-").to_owned();
    let new = NewUser {
        profile: Profile {
            login: username.to_owned(),
            email,
            first_name: first,
            last_name: last,
            attributes: Default::default(),
        },
        password: None,
    };
    match create_user(
        ctx.store,
        ctx.hasher,
        ctx.policy,
        ctx.now,
        new,
        Activation::Federated,
    ) {
        Ok(user) => {
            let mut e = audit::event(
                "user.lifecycle.create",
                "Create Okta user (just-in-time, from an identity provider)",
                audit::user(&user),
                "SUCCESS",
            );
            e.reason = Some(format!("idp {}", idp.id));
            audit::note(e);
            for group in &idp.provisioning_groups {
                ctx.store.set_membership(group, &user.id, true)?;
            }
            Ok(Some(user))
        }
        // Taken meanwhile (a parallel first sign-in) or before (linking is off): the caller
        // looks again.
        Err(DirectoryError::Invalid(errs)) if errs.iter().any(|e| e.field == "login") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The account this person signs in to, linking or creating it as the policy says. However
/// many first sign-ins of one person race, they end at one account with one link.
pub fn account_for(
    ctx: &Ctx<'_>,
    idp: &IdentityProvider,
    who: &Identity,
) -> Result<User, FederationError> {
    for _ in 0..4 {
        let linked = ctx.store.idp_user(&idp.id, &who.subject)?;
        if let Some(id) = &linked
            && let Some(user) = ctx.store.user(id)?
        {
            return Ok(user);
        }
        // No link, or one to an account deleted since: find or make the account, then link it
        // (from what the link was, so a racing request's link is not overwritten).
        let username = who.username(idp).ok_or(FederationError::NoAccount)?;
        let account = match matching_account(ctx, idp, who, &username)? {
            Some(user) => Some(user),
            None if idp.provisioning == IdpAction::Auto => provision(ctx, idp, who, &username)?,
            None => return Err(FederationError::NoAccount),
        };
        let Some(user) = account else {
            // The username is taken: by a parallel first sign-in of this person, whose link
            // the next round finds, or by an account this provider may not use.
            std::thread::sleep(std::time::Duration::from_millis(25));
            continue;
        };
        if ctx
            .store
            .link_idp_user(&idp.id, &who.subject, &user.id, linked.as_deref())?
        {
            let mut e = audit::event(
                "user.identity_provider.link",
                "Link an identity provider user to an Okta user",
                audit::user(&user),
                "SUCCESS",
            );
            e.reason = Some(format!("idp {}", idp.id));
            audit::note(e);
            return Ok(user);
        }
    }
    Err(FederationError::NoAccount)
}

/// Signs this person in: their account (see [`account_for`]), then the transaction a password
/// sign-in would start, with `fed` as its method, so the org's MFA still applies.
pub fn sign_in(
    ctx: &Ctx<'_>,
    idp: &IdentityProvider,
    who: &Identity,
    options: TxOptions,
) -> Result<Outcome, FederationError> {
    let user = account_for(ctx, idp, who)?;
    if user.status != UserStatus::Active {
        tracing::info!(user = %user.id, status = ?user.status, "federated sign-in refused: not active");
        return Err(FederationError::Inactive);
    }
    audit::note(audit::event(
        "user.authentication.auth_via_IDP",
        "Authenticate user via IDP",
        audit::user(&user),
        "SUCCESS",
    ));
    Ok(flow::federated(ctx, user, options)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::keys::KeyRing;
    use crate::store::conformance;
    use serde_json::json;

    /// A provider whose keys are `ring`'s, and a token it would sign.
    fn signed(ring: &KeyRing, claims: Value) -> String {
        ring.signer().sign(&claims).unwrap()
    }

    fn claims(now: Timestamp) -> Value {
        let secs = now.millis() / 1000;
        json!({ "iss": "https://upstream.example", "aud": "downstream", "sub": "00uupstream",
                "nonce": "the-nonce", "iat": secs, "exp": secs + 300,
                "email": "pat@example.com", "email_verified": true })
    }

    #[test]
    fn an_id_token_is_taken_only_from_its_issuer_for_this_client_with_this_nonce() {
        let (_dir, store) = crate::store::temp_store();
        let now = Timestamp::now();
        let ring = KeyRing::load(&store, "upstream", now).unwrap();
        let jwks = ring.jwks();
        let idp = conformance::idp();
        let ok = signed(&ring, claims(now));
        let who = verify_id_token(&idp, &jwks, &ok, "the-nonce", now).unwrap();
        assert_eq!(who.subject, "00uupstream");
        assert_eq!(who.username(&idp).as_deref(), Some("pat@example.com"));

        let refused = |changed: Value, nonce: &str| {
            let mut c = claims(now);
            for (k, v) in changed.as_object().unwrap() {
                c[k] = v.clone();
            }
            let token = signed(&ring, c);
            matches!(
                verify_id_token(&idp, &jwks, &token, nonce, now),
                Err(FederationError::Refused(_))
            )
        };
        assert!(refused(json!({}), "another-nonce"), "a replayed token");
        assert!(refused(
            json!({ "iss": "https://evil.example" }),
            "the-nonce"
        ));
        assert!(refused(json!({ "aud": "another-client" }), "the-nonce"));
        let past = now.millis() / 1000 - 3600;
        assert!(refused(json!({ "exp": past }), "the-nonce"), "expired");
        // Keys of someone else verify nothing.
        let (_other_dir, other_store) = crate::store::temp_store();
        let other = KeyRing::load(&other_store, "other", now).unwrap();
        let forged = signed(&other, claims(now));
        assert!(verify_id_token(&idp, &jwks, &forged, "the-nonce", now).is_err());
        // Nor does an unsigned or HMAC token.
        let mut parts = ok.split('.');
        let (_, body) = (parts.next(), parts.next().unwrap());
        let none = format!(
            "{}.{body}.",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"none"}"#
            )
        );
        assert!(verify_id_token(&idp, &jwks, &none, "the-nonce", now).is_err());
    }

    #[test]
    fn a_user_api_identity_has_a_verified_address_only_from_the_emails_list() {
        let user =
            json!({ "id": 42, "login": "octo", "name": "Octo Cat", "email": "public@example.com" });
        let who = identity_from_user_api(&user, None).unwrap();
        assert_eq!(who.subject, "42");
        assert!(
            !who.email_verified(),
            "a public address is not a verified one"
        );
        let emails = json!([
            { "email": "old@example.com", "primary": false, "verified": true },
            { "email": "octo@example.com", "primary": true, "verified": true },
        ]);
        let who = identity_from_user_api(&user, Some(&emails)).unwrap();
        assert!(who.email_verified());
        assert_eq!(who.text("email"), Some("octo@example.com"));
        assert_eq!(who.text("given_name"), Some("Octo"));
    }
}
