use super::*;
use crate::authn::AuthnSettings;
use crate::crypto::PasswordHasher;
use crate::directory::users::{Activation, NewUser, create_user};
use crate::directory::{PasswordPolicy, Profile};
use crate::oauth::clients::{ApplicationType, Registration, register};
use crate::store::SledStore;

struct Fx {
    _dir: tempfile::TempDir,
    store: SledStore,
    hasher: PasswordHasher,
    authn: AuthnSettings,
    policy: PasswordPolicy,
    tokens: TokenSettings,
    issuer: Issuer,
    client: Client,
    user: User,
}

impl Fx {
    fn new() -> Self {
        let (dir, store) = crate::store::temp_store();
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let t0 = Timestamp::from_millis(0);
        let user = create_user(
            &store,
            &hasher,
            &PasswordPolicy::default(),
            t0,
            NewUser {
                profile: Profile {
                    login: "r@example.com".into(),
                    email: "r@example.com".into(),
                    first_name: "R".into(),
                    last_name: "T".into(),
                    attributes: Default::default(),
                },
                password: Some("Passw0rd-X".into()),
            },
            Activation::Activate,
        )
        .unwrap();
        let (client, _) = register(
            Registration {
                application_type: Some(ApplicationType::Browser),
                redirect_uris: vec!["http://localhost/cb".into()],
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                ..Registration::default()
            },
            "spa".into(),
            t0,
        )
        .unwrap();
        store.put_client(&client).unwrap();
        let keys = crate::oauth::keys::KeyRing::load(&store, "org", t0).unwrap();
        let issuer = Issuer::org("https://id.example", std::sync::Arc::new(keys));
        Self {
            _dir: dir,
            store,
            hasher,
            authn: AuthnSettings::default(),
            policy: PasswordPolicy::default(),
            tokens: TokenSettings::default(),
            issuer,
            client,
            user,
        }
    }

    fn ctx(&self, secs: u64) -> GrantCtx<'_> {
        GrantCtx {
            authn: Ctx {
                store: &self.store,
                hasher: &self.hasher,
                settings: &self.authn,
                policy: &self.policy,
                now: Timestamp::from_millis(0).plus(std::time::Duration::from_secs(secs)),
            },
            tokens: &self.tokens,
            issuer: &self.issuer,
        }
    }

    fn grant<'a>(&'a self, scopes: &'a [String], amr: &'a [String]) -> UserGrant<'a> {
        UserGrant {
            user: &self.user,
            scopes,
            auth_time: Timestamp::from_millis(0),
            amr,
            nonce: None,
            family: None,
            grant: GrantType::AuthorizationCode,
            max_until: None,
            rule_scopes: None,
        }
    }

    fn refresh(&self, secs: u64, token: &str) -> Result<TokenResponse, TokenError> {
        exchange(
            &self.ctx(secs),
            &self.client,
            TokenRequest::RefreshToken {
                refresh_token: Secret::new(token),
                scope: None,
            },
        )
    }
}

#[test]
fn reusing_a_rotated_refresh_token_after_the_grace_window_revokes_the_family() {
    let fx = Fx::new();
    let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
    let amr = vec!["pwd".to_owned()];
    let (first, _, _) = issue_for_user(&fx.ctx(0), &fx.client, fx.grant(&scopes, &amr)).unwrap();
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second = fx.refresh(10, &r1).unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert!(fx.refresh(30, &r1).is_ok(), "within the grace window");
    assert!(
        matches!(fx.refresh(41, &r1), Err(TokenError::InvalidGrant(_))),
        "after it"
    );
    assert!(
        matches!(fx.refresh(42, &r2), Err(TokenError::InvalidGrant(_))),
        "the whole family is revoked, the newest token too"
    );
}

#[test]
fn refresh_tokens_expire_and_belong_to_their_client() {
    let fx = Fx::new();
    let scopes = vec!["offline_access".to_owned()];
    let (first, _, _) = issue_for_user(&fx.ctx(0), &fx.client, fx.grant(&scopes, &[])).unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();
    let too_late = fx.tokens.refresh_ttl.as_secs() + 1;
    assert!(matches!(
        fx.refresh(too_late, r1),
        Err(TokenError::InvalidGrant(_))
    ));
    let mut other = fx.client.clone();
    other.client_id = "someone-else".into();
    let res = exchange(
        &fx.ctx(1),
        &other,
        TokenRequest::RefreshToken {
            refresh_token: Secret::new(r1),
            scope: None,
        },
    );
    assert!(matches!(res, Err(TokenError::InvalidGrant(_))));
}
