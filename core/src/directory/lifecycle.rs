//! User lifecycle (Okta's status transitions), profile updates and listing.
//!
//! ```text
//! STAGED ──activate──▶ ACTIVE (has a password) | PROVISIONED (activation token, sets one)
//! ACTIVE ──suspend──▶ SUSPENDED ──unsuspend──▶ ACTIVE
//! ACTIVE | PASSWORD_EXPIRED | LOCKED_OUT ──reset_password──▶ RECOVERY (recovery token)
//! any ──deactivate──▶ DEPROVISIONED ──delete──▶ gone   (delete on a live user deactivates)
//! ```

use super::users::{PasswordChange, Profile, User, UserStatus, login_key, validate_profile};
use super::{DirectoryError, FieldError, PasswordPolicy};
use crate::clock::Timestamp;
use crate::crypto::PasswordHasher;
use crate::store::{Store, StoreError, UserFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Activate,
    Deactivate,
    Suspend,
    Unsuspend,
    /// Admin `reset_password`: the user must recover before signing in again.
    ResetPassword,
}

fn refused(message: &str) -> DirectoryError {
    DirectoryError::Invalid(vec![FieldError::new("status", message)])
}

/// Applies a lifecycle transition, or explains why the user's status does not allow it. The
/// decision is made on the record as stored at the moment of the write, so a transition racing
/// a sign-in (or another admin) is never undone by a stale copy.
pub fn transition(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    t: Transition,
) -> Result<User, DirectoryError> {
    let (user, ()) = super::users::modify(store, id, |user| {
        let next = next_status(user, t)?;
        if next == UserStatus::Active && user.activated.is_none() {
            user.activated = Some(now);
        }
        if next != user.status {
            user.status = next;
            user.status_changed = Some(now);
        }
        user.failed_attempts = 0;
        user.last_updated = now;
        Ok(())
    })?;
    Ok(user)
}

/// The status transition `t` leads to from the user's status, or why it cannot be applied.
fn next_status(user: &User, t: Transition) -> Result<UserStatus, DirectoryError> {
    use UserStatus as S;
    Ok(match (t, user.status) {
        (Transition::Activate, S::Staged | S::Deprovisioned | S::Provisioned) => {
            if user.password.is_some() {
                S::Active
            } else {
                S::Provisioned
            }
        }
        (Transition::Activate, _) => {
            return Err(refused(
                "Activation failed because the user is already active",
            ));
        }
        (Transition::Deactivate, _) => S::Deprovisioned,
        (Transition::Suspend, S::Active) => S::Suspended,
        (Transition::Suspend, _) => return Err(refused("Only an active user can be suspended")),
        (Transition::Unsuspend, S::Suspended) => S::Active,
        (Transition::Unsuspend, _) => {
            return Err(refused("Only a suspended user can be unsuspended"));
        }
        (
            Transition::ResetPassword,
            S::Active | S::PasswordExpired | S::LockedOut | S::Recovery,
        ) => S::Recovery,
        (Transition::ResetPassword, _) => {
            return Err(refused(
                "The password of a user in this status cannot be reset",
            ));
        }
    })
}

/// Deletes a deprovisioned user; a live one is deactivated instead (Okta's two-step delete).
/// Returns whether the user is now gone.
pub fn delete(store: &dyn Store, now: Timestamp, id: &str) -> Result<bool, DirectoryError> {
    let user = store.user(id)?.ok_or(DirectoryError::NotFound)?;
    if user.status != UserStatus::Deprovisioned {
        transition(store, now, id, Transition::Deactivate)?;
        return Ok(false);
    }
    store.delete_user(&user)?;
    Ok(true)
}

/// A profile update: fields given are set; with `replace`, fields not given are required.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Other attributes given: a value sets one, `None` (or `null`) removes it.
    pub attributes:
        std::collections::BTreeMap<String, Option<crate::records::directory::AttrValue>>,
    /// A new password set by the admin, checked against the policy.
    pub password: Option<String>,
}

pub fn update(
    store: &dyn Store,
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    now: Timestamp,
    id: &str,
    change: ProfileUpdate,
    replace: bool,
) -> Result<User, DirectoryError> {
    let user = store.user(id)?.ok_or(DirectoryError::NotFound)?;
    let schema = &super::schema::load(store)?;
    let old_key = login_key(&user.profile.login);
    let pick = |new: Option<String>, old: &str| match (new, replace) {
        (Some(v), _) => v.trim().to_owned(),
        (None, true) => String::new(),
        (None, false) => old.to_owned(),
    };
    let mut profile = Profile {
        login: pick(change.login, &user.profile.login),
        email: pick(change.email, &user.profile.email),
        first_name: pick(change.first_name, &user.profile.first_name),
        last_name: pick(change.last_name, &user.profile.last_name),
        // What the user holds of an attribute the schema no longer declares (or declares with
        // another type since) is let go.
        attributes: if replace {
            Default::default()
        } else {
            user.profile
                .attributes
                .iter()
                .filter(|(k, v)| super::schema::holds(schema, k, v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        },
    };
    // A name outside the schema is refused even when it only clears (null or blank; set ones
    // are checked with the profile below): nothing is dropped silently.
    let clearing_unknown = super::users::undefined_attributes(
        change
            .attributes
            .iter()
            .filter(|&(_, v)| v.clone().and_then(super::users::normalized).is_none())
            .map(|(k, _)| k),
        schema,
    );
    super::users::apply_attributes(&mut profile.attributes, change.attributes);
    let mut errs = validate_profile(&profile, schema);
    errs.extend(clearing_unknown);
    if let Some(Err(msg)) = change
        .password
        .as_ref()
        .map(|pw| policy.check(pw, &profile.login))
    {
        errs.push(FieldError::new("password", msg));
    }
    if !errs.is_empty() {
        return Err(DirectoryError::Invalid(errs));
    }
    let password = match &change.password {
        Some(pw) => Some(PasswordChange::prepare(&user, hasher, policy, pw, now)?),
        None => None,
    };
    let written = super::users::modify(store, &user.id, |current| {
        // The profile was validated against what was read; someone changed the login since.
        if login_key(&current.profile.login) != old_key {
            return Err(DirectoryError::Store(StoreError::Conflict));
        }
        if let Some(p) = &password
            && !p.apply(current)
        {
            return Err(DirectoryError::Store(StoreError::Conflict));
        }
        current.profile = profile.clone();
        current.last_updated = now;
        Ok(())
    });
    match written {
        Ok((user, ())) => Ok(user),
        Err(DirectoryError::Store(StoreError::Conflict)) => {
            Err(DirectoryError::Invalid(vec![FieldError::new(
                "login",
                "An object with this field already exists in the current organization",
            )]))
        }
        Err(e) => Err(e),
    }
}

/// Which users a listing wants.
#[derive(Debug, Clone, Default)]
pub enum Listing {
    #[default]
    All,
    /// Okta's `q`: a prefix of the login, email, first or last name (case-insensitive).
    Prefix(String),
    /// Okta's `search` or `filter`, parsed.
    Search(super::search::Query),
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub listing: Listing,
    /// The cursor an earlier page gave.
    pub after: Option<String>,
    pub limit: usize,
}

/// One page of users, and the cursor of the next page when more follow.
pub fn list(
    store: &dyn Store,
    query: &UserQuery,
) -> Result<(Vec<User>, Option<String>), DirectoryError> {
    let prefix = match &query.listing {
        Listing::Search(search) => {
            let found = super::search::run(store, search, query.after.as_deref(), query.limit)?;
            return found.map_err(|e| DirectoryError::Invalid(vec![FieldError::new("after", e.0)]));
        }
        Listing::Prefix(p) => Some(p.clone()),
        Listing::All => None,
    };
    let filter = UserFilter {
        prefix,
        status: None,
    };
    let mut page = store.users_page(query.after.as_deref(), query.limit + 1, &filter)?;
    let more = page.len() > query.limit;
    page.truncate(query.limit);
    let next = page.last().filter(|_| more).map(|u| u.id.clone());
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::users::{Activation, NewUser, create_user};
    use crate::store::SledStore;

    fn setup(n: usize) -> (tempfile::TempDir, SledStore, PasswordHasher, Vec<User>) {
        let (dir, store) = crate::store::temp_store();
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let users = (0..n)
            .map(|i| {
                create_user(
                    &store,
                    &hasher,
                    &PasswordPolicy::default(),
                    Timestamp::from_millis(0),
                    NewUser {
                        profile: Profile {
                            login: format!("user{i}@example.com"),
                            email: format!("user{i}@example.com"),
                            first_name: if i % 2 == 0 {
                                "Even".into()
                            } else {
                                "Odd".into()
                            },
                            last_name: "Person".into(),
                            attributes: Default::default(),
                        },
                        password: Some("Passw0rd-X".into()),
                    },
                    Activation::Activate,
                )
                .unwrap()
            })
            .collect();
        (dir, store, hasher, users)
    }

    #[test]
    fn transitions_follow_okta_rules() {
        let (_d, store, _h, users) = setup(1);
        let id = &users[0].id;
        let t = Timestamp::from_millis(5);
        assert!(
            transition(&store, t, id, Transition::Activate).is_err(),
            "already active"
        );
        assert!(transition(&store, t, id, Transition::Unsuspend).is_err());
        assert_eq!(
            transition(&store, t, id, Transition::Suspend)
                .unwrap()
                .status,
            UserStatus::Suspended
        );
        assert_eq!(
            transition(&store, t, id, Transition::Unsuspend)
                .unwrap()
                .status,
            UserStatus::Active
        );
        assert_eq!(
            transition(&store, t, id, Transition::ResetPassword)
                .unwrap()
                .status,
            UserStatus::Recovery
        );
        assert!(!delete(&store, t, id).unwrap(), "first delete deactivates");
        assert_eq!(
            store.user(id).unwrap().unwrap().status,
            UserStatus::Deprovisioned
        );
        assert!(delete(&store, t, id).unwrap());
        assert!(store.user(id).unwrap().is_none());
        assert!(store.user_by_login("user0@example.com").unwrap().is_none());
    }

    #[test]
    fn a_login_change_moves_the_index_and_refuses_a_taken_login() {
        let (_d, store, h, users) = setup(2);
        let p = PasswordPolicy::default();
        let t = Timestamp::from_millis(5);
        let change = ProfileUpdate {
            login: Some("renamed@example.com".into()),
            ..ProfileUpdate::default()
        };
        update(&store, &h, &p, t, &users[0].id, change, false).unwrap();
        assert!(store.user_by_login("user0@example.com").unwrap().is_none());
        assert_eq!(
            store
                .user_by_login("renamed@example.com")
                .unwrap()
                .unwrap()
                .id,
            users[0].id
        );
        let taken = ProfileUpdate {
            login: Some("USER1@example.com".into()),
            ..ProfileUpdate::default()
        };
        assert!(matches!(
            update(&store, &h, &p, t, &users[0].id, taken, false),
            Err(DirectoryError::Invalid(_))
        ));
    }

    #[test]
    fn replace_requires_every_field() {
        let (_d, store, h, users) = setup(1);
        let change = ProfileUpdate {
            login: Some("user0@example.com".into()),
            email: Some("user0@example.com".into()),
            ..ProfileUpdate::default()
        };
        let r = update(
            &store,
            &h,
            &PasswordPolicy::default(),
            Timestamp::from_millis(1),
            &users[0].id,
            change,
            true,
        );
        match r {
            Err(DirectoryError::Invalid(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_ref()).collect();
                assert_eq!(fields, ["firstName", "lastName"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn listing_pages_through_matches_in_order() {
        let (_d, store, _h, _) = setup(7);
        let mut seen = Vec::new();
        let mut query = UserQuery {
            listing: Listing::Prefix("odd".into()),
            limit: 2,
            ..UserQuery::default()
        };
        loop {
            let (page, next) = list(&store, &query).unwrap();
            seen.extend(page.iter().map(|u| u.profile.first_name.clone()));
            if next.is_none() {
                break;
            }
            query.after = next;
        }
        assert_eq!(seen, ["Odd", "Odd", "Odd"]);
    }
}
