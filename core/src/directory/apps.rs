//! Apps and who is assigned to them (directly or through a group). The OAuth issue turns an app
//! into a client; assignment decides who may sign in to it.

use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
use crate::crypto::new_id;
pub use crate::records::directory::{App, AppStatus};
use crate::store::Store;

pub fn create(
    store: &dyn Store,
    now: Timestamp,
    name: &str,
    label: &str,
    sign_on_mode: &str,
) -> Result<App, DirectoryError> {
    create_with_id(store, now, new_id("0oa"), name, label, sign_on_mode)
}

/// Like [`create`], with the id chosen by the caller (an OIDC app shares it with its client).
pub fn create_with_id(
    store: &dyn Store,
    now: Timestamp,
    id: String,
    name: &str,
    label: &str,
    sign_on_mode: &str,
) -> Result<App, DirectoryError> {
    let mut errs = Vec::new();
    if label.trim().is_empty() {
        errs.push(FieldError::new("label", "The field cannot be left blank"));
    }
    if name.trim().is_empty() {
        errs.push(FieldError::new("name", "The field cannot be left blank"));
    }
    if !errs.is_empty() {
        return Err(DirectoryError::Invalid(errs));
    }
    let app = App {
        id,
        name: name.trim().to_owned(),
        label: label.trim().to_owned(),
        sign_on_mode: if sign_on_mode.trim().is_empty() {
            "OPENID_CONNECT".to_owned()
        } else {
            sign_on_mode.trim().to_owned()
        },
        status: AppStatus::Active,
        created: now,
        last_updated: now,
    };
    store.put_app(&app)?;
    Ok(app)
}

/// Whether `user_id` is assigned to the app, directly or through one of their groups.
pub fn is_assigned(store: &dyn Store, app_id: &str, user_id: &str) -> Result<bool, DirectoryError> {
    if store.app_user_assigned(app_id, user_id)? {
        return Ok(true);
    }
    let groups = store.app_groups(app_id)?;
    Ok(store.groups_of(user_id)?.iter().any(|g| groups.contains(g)))
}

/// What `search` and `filter` of an app listing may name; `user.id eq "…"` keeps the apps a
/// person is assigned to (directly or through a group), `group.id eq "…"` a group's.
pub const SEARCH_NAMES: crate::directory::search::Vocabulary =
    crate::directory::search::Vocabulary {
        knows: |attribute, dialect| match dialect {
            crate::directory::search::Dialect::Search => [
                "id",
                "name",
                "label",
                "status",
                "signOnMode",
                "created",
                "lastUpdated",
                "user.id",
                "group.id",
            ]
            .contains(&attribute),
            crate::directory::search::Dialect::Filter => {
                ["id", "name", "status", "user.id", "group.id"].contains(&attribute)
            }
        },
        is_time: |attribute| matches!(attribute, "created" | "lastUpdated"),
        contains: |attribute| matches!(attribute, "name" | "label"),
    };

/// Who the apps of a listing are assigned to, for the users and groups its expression names
/// (`user.id`, `group.id`): each id with the apps it is assigned.
#[derive(Debug, Default)]
pub struct Assignments {
    users: Vec<(String, std::collections::HashSet<String>)>,
    groups: Vec<(String, std::collections::HashSet<String>)>,
}

impl Assignments {
    /// Reads the assignments of the users and groups `expr` names, over `apps`.
    pub fn of(
        store: &dyn Store,
        expr: &crate::directory::search::Expr,
        apps: &[App],
    ) -> Result<Self, DirectoryError> {
        let mut out = Self::default();
        for user in expr.literals_of("user.id") {
            let mut assigned = std::collections::HashSet::new();
            for a in apps {
                if is_assigned(store, &a.id, &user)? {
                    assigned.insert(a.id.clone());
                }
            }
            out.users.push((user, assigned));
        }
        for group in expr.literals_of("group.id") {
            let mut assigned = std::collections::HashSet::new();
            for a in apps {
                if store.app_groups(&a.id)?.contains(&group) {
                    assigned.insert(a.id.clone());
                }
            }
            out.groups.push((group, assigned));
        }
        Ok(out)
    }

    /// The value of `attribute` of `app`, `user.id` and `group.id` included (the first named
    /// user or group it is assigned to).
    pub fn attribute(&self, app: &App, name: &str) -> Option<String> {
        let first = |of: &[(String, std::collections::HashSet<String>)]| {
            of.iter()
                .find(|(_, apps)| apps.contains(&app.id))
                .map(|(id, _)| id.clone())
        };
        match name {
            "user.id" => first(&self.users),
            "group.id" => first(&self.groups),
            _ => attribute(app, name),
        }
    }
}

/// The value of `attribute` (as [`SEARCH_NAMES`] names it) of `app`.
pub fn attribute(app: &App, attribute: &str) -> Option<String> {
    match attribute {
        "id" => Some(app.id.clone()),
        "name" => Some(app.name.clone()),
        "label" => Some(app.label.clone()),
        "status" => Some(app.status.as_str().to_owned()),
        "signOnMode" => Some(app.sign_on_mode.clone()),
        "created" => Some(app.created.iso8601()),
        "lastUpdated" => Some(app.last_updated.iso8601()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::groups::{GroupInput, set_member};

    #[test]
    fn assignment_is_direct_or_through_a_group_and_goes_with_deletions() {
        let (_dir, store) = crate::store::temp_store();
        let t = Timestamp::from_millis(0);
        let hasher = crate::crypto::PasswordHasher::with_params(64, 1, 1).unwrap();
        let mk = |login: &str| {
            crate::directory::users::create_user(
                &store,
                &hasher,
                &crate::directory::PasswordPolicy::default(),
                t,
                crate::directory::users::NewUser {
                    profile: crate::directory::Profile {
                        login: login.into(),
                        email: login.into(),
                        first_name: "A".into(),
                        last_name: "B".into(),
                        attributes: Default::default(),
                    },
                    password: None,
                },
                crate::directory::users::Activation::Stage,
            )
            .unwrap()
        };
        let (direct, via_group, neither) = (mk("d@x.io"), mk("g@x.io"), mk("n@x.io"));
        let app = create(&store, t, "oidc_client", "Payroll", "").unwrap();
        assert_eq!(app.sign_on_mode, "OPENID_CONNECT");
        store.assign_app_user(&app.id, &direct.id, true).unwrap();
        let group = crate::directory::groups::create(
            &store,
            t,
            GroupInput {
                name: "Finance".into(),
                ..GroupInput::default()
            },
        )
        .unwrap();
        set_member(&store, t, &group.id, &via_group.id, true).unwrap();
        store.assign_app_group(&app.id, &group.id, true).unwrap();

        assert!(is_assigned(&store, &app.id, &direct.id).unwrap());
        assert!(is_assigned(&store, &app.id, &via_group.id).unwrap());
        assert!(!is_assigned(&store, &app.id, &neither.id).unwrap());

        store.delete_group(&group.id).unwrap();
        assert!(!is_assigned(&store, &app.id, &via_group.id).unwrap());
        assert!(store.app_groups(&app.id).unwrap().is_empty());
        store.delete_user(&direct).unwrap();
        assert!(store.app_users(&app.id).unwrap().is_empty());
    }
}
