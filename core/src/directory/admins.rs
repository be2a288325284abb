//! Who may use the admin API, as Okta decides it: users hold admin roles
//! (`SUPER_ADMIN`, `ORG_ADMIN`, `READ_ONLY_ADMIN`), and a named API token acts with its
//! owner's roles as they are at each request, so that taking a role away, or deactivating the
//! owner, stops their tokens at once. The bootstrap token from the settings acts as a super
//! admin, for the first start.

use super::users::find_user;
use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
use crate::crypto::{Digest, Secret, new_id, new_secret};
use crate::records::directory::{AdminRole, ApiToken, RoleAssignment, User, UserStatus};
use crate::store::{Store, StoreError};
use std::time::Duration;

/// A token lasts this long after its creation or its last use.
pub const TOKEN_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// Okta's name for that window.
pub const TOKEN_WINDOW_NAME: &str = "P30D";
/// A token's last use is written at most this often (not on every request).
const TOUCH_EVERY_MS: i64 = 60_000;

/// What the admin credential of a request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The strongest role it acts with; `None` when its owner holds none now.
    pub role: Option<AdminRole>,
    /// The named token presented (`None`: the bootstrap token).
    pub token_id: Option<String>,
    /// Its owner.
    pub user_id: Option<String>,
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading: any admin role.
    Read,
    /// Changing the org: an org or super admin.
    Write,
    /// Giving roles and managing API tokens: a super admin.
    Manage,
}

impl Authority {
    pub fn may(&self, need: Need) -> bool {
        let least = match need {
            Need::Read => AdminRole::ReadOnlyAdmin,
            Need::Write => AdminRole::OrgAdmin,
            Need::Manage => AdminRole::SuperAdmin,
        };
        self.role.is_some_and(|r| r >= least)
    }
}

/// Whether a token's owner may still act: a deactivated, suspended or not yet active user's
/// tokens stop working.
fn may_act(user: &User) -> bool {
    matches!(
        user.status,
        UserStatus::Active
            | UserStatus::PasswordExpired
            | UserStatus::LockedOut
            | UserStatus::Recovery
    )
}

/// The authority of the token `presented` (`None`: no such token, or expired, or its owner
/// cannot act). A named token's use is recorded (at most once a minute), which also moves its
/// expiry thirty days on.
pub fn authenticate(
    store: &dyn Store,
    presented: &str,
    bootstrap: Option<&Digest>,
    now: Timestamp,
) -> Result<Option<Authority>, StoreError> {
    let digest = Digest::of(presented);
    if bootstrap.is_some_and(|b| b.ct_eq(&digest)) {
        return Ok(Some(Authority {
            role: Some(AdminRole::SuperAdmin),
            token_id: None,
            user_id: None,
        }));
    }
    let Some(token) = store.api_token_by_digest(&digest)? else {
        return Ok(None);
    };
    if token.expires_at <= now {
        return Ok(None);
    }
    let Some(owner) = store.user(&token.user_id)?.filter(may_act) else {
        return Ok(None);
    };
    if token
        .last_used
        .is_none_or(|t| now.millis() - t.millis() >= TOUCH_EVERY_MS)
    {
        let touched = store.modify_api_token(&token.id, &mut |t| {
            t.last_used = Some(now);
            t.expires_at = t.expires_at.max(now.plus(TOKEN_WINDOW));
            true
        })?;
        if touched.is_none() {
            // Revoked in the meantime.
            return Ok(None);
        }
    }
    let role = store.roles(&owner.id)?.into_iter().map(|r| r.role).max();
    Ok(Some(Authority {
        role,
        token_id: Some(token.id),
        user_id: Some(owner.id),
    }))
}

/// Creates a token named `name` for the user `owner` (id or login). The value is returned
/// once, here; only its digest is kept.
pub fn create_token(
    store: &dyn Store,
    name: &str,
    owner: &str,
    client_name: &str,
    now: Timestamp,
) -> Result<(ApiToken, Secret), DirectoryError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DirectoryError::Invalid(vec![FieldError::new(
            "name",
            "A token needs a name of 1 to 100 characters",
        )]));
    }
    let user = find_user(store, owner)?;
    if !may_act(&user) {
        return Err(DirectoryError::Invalid(vec![FieldError::new(
            "userId",
            "The owner must be an active user",
        )]));
    }
    // Okta's tokens are 42 URL-safe characters starting with `00`.
    let value = Secret::new(format!("00{}", new_secret(30).expose()));
    let token = ApiToken {
        id: new_id("00T"),
        name: name.to_owned(),
        digest: value.digest(),
        user_id: user.id,
        client_name: client_name.to_owned(),
        created: now,
        last_updated: now,
        last_used: None,
        expires_at: now.plus(TOKEN_WINDOW),
    };
    store.insert_api_token(&token)?;
    Ok((token, value))
}

/// Gives user `user_id` the role named `role` (Okta's type name). `Conflict` (in the store
/// error) when they hold it already.
pub fn assign_role(
    store: &dyn Store,
    user_id: &str,
    role: &str,
    now: Timestamp,
) -> Result<RoleAssignment, DirectoryError> {
    let Some(role) = AdminRole::parse(role) else {
        let known: Vec<&str> = AdminRole::ALL.iter().map(|r| r.as_str()).collect();
        return Err(DirectoryError::Invalid(vec![FieldError::new(
            "type",
            format!("The role type must be one of {}", known.join(", ")),
        )]));
    };
    let user = store.user(user_id)?.ok_or(DirectoryError::NotFound)?;
    let assignment = RoleAssignment {
        id: new_id("ra1"),
        user_id: user.id,
        role,
        created: now,
    };
    store.insert_role(&assignment)?;
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::user;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn a_token_acts_with_its_owners_roles_as_they_are_now() {
        let (_dir, store) = crate::store::temp_store();
        store.insert_user(&user("00uowner", "owner@x.io")).unwrap();
        let (token, value) = create_token(&store, " ops ", "owner@x.io", "cli", at(0)).unwrap();
        assert_eq!(token.name, "ops");
        assert!(value.expose().starts_with("00") && value.expose().len() == 42);
        let auth = |now| authenticate(&store, value.expose(), None, at(now)).unwrap();

        // No role yet: known, but may do nothing.
        let a = auth(1).unwrap();
        assert_eq!(
            (a.role, a.token_id.as_deref()),
            (None, Some(token.id.as_str()))
        );
        assert!(!a.may(Need::Read));

        let ro = assign_role(&store, "00uowner", "READ_ONLY_ADMIN", at(2)).unwrap();
        let a = auth(3).unwrap();
        assert!(a.may(Need::Read) && !a.may(Need::Write));
        assign_role(&store, "00uowner", "ORG_ADMIN", at(4)).unwrap();
        let a = auth(5).unwrap();
        assert!(a.may(Need::Write) && !a.may(Need::Manage));
        assert!(matches!(
            assign_role(&store, "00uowner", "ORG_ADMIN", at(6)),
            Err(DirectoryError::Store(StoreError::Conflict))
        ));
        assert!(matches!(
            assign_role(&store, "00uowner", "KING", at(6)),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(store.delete_role("00uowner", &ro.id).unwrap());

        // A use moves the expiry on; thirty idle days end the token.
        let day = 86_400_000;
        assert!(auth(29 * day).is_some());
        assert!(auth(58 * day).is_some());
        assert!(auth(89 * day).is_none());
    }

    #[test]
    fn a_deactivated_owner_or_a_revoked_token_stops_at_once() {
        let (_dir, store) = crate::store::temp_store();
        store.insert_user(&user("00uowner", "owner@x.io")).unwrap();
        let (token, value) = create_token(&store, "ci", "00uowner", "cli", at(0)).unwrap();
        let auth = || authenticate(&store, value.expose(), None, at(1)).unwrap();
        assert!(auth().is_some());
        store
            .modify_user("00uowner", &mut |u| {
                u.status = UserStatus::Deprovisioned;
                true
            })
            .unwrap();
        assert!(auth().is_none());
        store
            .modify_user("00uowner", &mut |u| {
                u.status = UserStatus::Active;
                true
            })
            .unwrap();
        assert!(auth().is_some());
        assert!(store.delete_api_token(&token.id).unwrap());
        assert!(auth().is_none());
        assert!(
            authenticate(&store, "00nonsense", None, at(1))
                .unwrap()
                .is_none()
        );
        let boot = Digest::of("bootstrap");
        let a = authenticate(&store, "bootstrap", Some(&boot), at(1))
            .unwrap()
            .unwrap();
        assert!(a.may(Need::Manage) && a.token_id.is_none());
    }
}
