//! Moving an org from one store to another (sled → PostgreSQL as a team grows): every record,
//! as it is — users with their password hashes, factors, groups, apps, clients, signing keys,
//! servers, consents, sessions, refresh tokens, pending transactions — so that people stay
//! signed in and tokens already issued keep validating.

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::records::authn::Factor;
use crate::records::authn::RecoveryTokenRecord;
use crate::records::authn::Session;
use crate::records::authn::SessionTokenRecord;
use crate::records::authn::Transaction;
use crate::records::authz::AuthServer;
use crate::records::authz::Grant;
use crate::records::directory::App;
use crate::records::directory::Group;
use crate::records::directory::{ApiToken, RoleAssignment};
use crate::records::directory::{TrustedOrigin, User};
use crate::records::federation::IdentityProvider;
use crate::records::oauth::Client;
use crate::records::oauth::KeyRecord;
use crate::records::oauth::{CodeRecord, RefreshRecord};

/// One stored record with the key it is stored under.
#[derive(Debug, Clone)]
pub enum Record {
    User(User),
    Factor(Factor),
    Group(Group),
    Membership {
        group_id: String,
        user_id: String,
    },
    App(App),
    AppUser {
        app_id: String,
        user_id: String,
    },
    AppGroup {
        app_id: String,
        group_id: String,
    },
    TrustedOrigin(TrustedOrigin),
    Role(RoleAssignment),
    ApiToken(ApiToken),
    Idp(IdentityProvider),
    IdpLink {
        idp_id: String,
        external_id: String,
        user_id: String,
    },
    SigningKey {
        server: String,
        key: KeyRecord,
    },
    Client(Client),
    AuthServer(AuthServer),
    Grant(Grant),
    Session(Digest, Session),
    SessionToken(Digest, SessionTokenRecord),
    Transaction(Digest, Transaction),
    RecoveryToken(Digest, RecoveryTokenRecord),
    Code(Digest, CodeRecord),
    PushedRequest(Digest, crate::records::oauth::PushedRequest),
    Refresh(Digest, RefreshRecord),
    Revoked {
        key: String,
        until: Timestamp,
    },
    Meta {
        key: String,
        value: String,
    },
}

/// Writes one exported record into `store` as it was.
pub fn import(store: &dyn Store, record: Record) -> Result<(), StoreError> {
    match record {
        Record::User(u) => store.insert_user(&u),
        Record::Factor(f) => store.put_factor(&f),
        Record::Group(g) => store.insert_group(&g),
        Record::Membership { group_id, user_id } => store.set_membership(&group_id, &user_id, true),
        Record::App(a) => store.put_app(&a),
        Record::AppUser { app_id, user_id } => store.assign_app_user(&app_id, &user_id, true),
        Record::AppGroup { app_id, group_id } => store.assign_app_group(&app_id, &group_id, true),
        Record::TrustedOrigin(t) => store.insert_trusted_origin(&t),
        Record::Role(r) => store.insert_role(&r),
        Record::ApiToken(t) => store.insert_api_token(&t),
        Record::Idp(i) => store.put_idp(&i),
        Record::IdpLink {
            idp_id,
            external_id,
            user_id,
        } => store
            .link_idp_user(&idp_id, &external_id, &user_id, None)
            .map(|_| ()),
        Record::SigningKey { server, key } => store.put_signing_key(&server, &key),
        Record::Client(c) => store.put_client(&c),
        Record::AuthServer(s) => store.save_auth_server(&s, None),
        Record::Grant(g) => store.put_grant(&g),
        Record::Session(d, s) => store.insert_session(&d, &s),
        Record::SessionToken(d, t) => store.insert_session_token(&d, &t),
        Record::Transaction(d, tx) => store.save_transaction(&d, &tx, None).map(|_| ()),
        Record::RecoveryToken(d, r) => store.put_recovery_token(&d, &r),
        Record::Code(d, c) => store.put_code(&d, &c),
        Record::PushedRequest(d, r) => store.put_pushed_request(&d, &r),
        Record::Refresh(d, r) => store.put_refresh(&d, &r),
        Record::Revoked { key, until } => store.revoke(&key, until),
        Record::Meta { key, value } => store.set_meta(&key, &value),
    }
}

/// What a migration copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub records: usize,
    pub users: usize,
}

/// Copies every record of `from` into `to`, which must hold no org yet (no users, no clients):
/// a migration never merges two orgs. Expired records are left behind.
pub fn copy(from: &dyn Store, to: &dyn Store, now: Timestamp) -> Result<Copied, StoreError> {
    if !to
        .users_page(None, 1, &super::UserFilter::all())?
        .is_empty()
        || !to.clients()?.is_empty()
    {
        return Err(StoreError::Backend(
            "the target store already holds an org; migrate into an empty one".into(),
        ));
    }
    from.sweep_expired(now)?;
    let mut copied = Copied::default();
    from.export(&mut |record| {
        if matches!(record, Record::User(_)) {
            copied.users += 1;
        }
        copied.records += 1;
        import(to, record)
    })?;
    to.flush()?;
    Ok(copied)
}
