//! Groups and memberships. A group may also tighten MFA enrollment for its members (a
//! Portcullis extension, `profile.mfaEnrollment`); the strictest of org and groups applies.

use super::{DirectoryError, FieldError};
use crate::authn::MfaEnrollment;
use crate::clock::Timestamp;
use crate::crypto::new_id;
pub use crate::records::directory::{Group, GroupMfa, name_key};
use crate::store::{Store, StoreError};

impl GroupMfa {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NONE" => Some(Self::None),
            "OPTIONAL" => Some(Self::Optional),
            "REQUIRED" => Some(Self::Required),
            _ => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Optional => 1,
            Self::Required => 2,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
    pub mfa_enrollment: Option<GroupMfa>,
}

fn validate(input: &GroupInput) -> Result<(), DirectoryError> {
    if input.name.trim().is_empty() || input.name.chars().count() > 255 {
        return Err(DirectoryError::Invalid(vec![FieldError::new(
            "name",
            "The group name must be 1 to 255 characters",
        )]));
    }
    Ok(())
}

fn conflict(e: StoreError) -> DirectoryError {
    match e {
        StoreError::Conflict => DirectoryError::Invalid(vec![FieldError::new(
            "name",
            "An object with this field already exists in the current organization",
        )]),
        other => other.into(),
    }
}

pub fn create(
    store: &dyn Store,
    now: Timestamp,
    input: GroupInput,
) -> Result<Group, DirectoryError> {
    validate(&input)?;
    let group = Group {
        id: new_id("00g"),
        name: input.name.trim().to_owned(),
        description: input.description.trim().to_owned(),
        created: now,
        last_updated: now,
        last_membership_updated: now,
        mfa_enrollment: input.mfa_enrollment,
    };
    store.insert_group(&group).map_err(conflict)?;
    Ok(group)
}

pub fn update(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
    input: GroupInput,
) -> Result<Group, DirectoryError> {
    validate(&input)?;
    let mut group = store.group(id)?.ok_or(DirectoryError::NotFound)?;
    let old_key = name_key(&group.name);
    group.name = input.name.trim().to_owned();
    group.description = input.description.trim().to_owned();
    group.mfa_enrollment = input.mfa_enrollment;
    group.last_updated = now;
    store.update_group(&group, &old_key).map_err(conflict)?;
    Ok(group)
}

/// Adds or removes `user_id`; both must exist.
pub fn set_member(
    store: &dyn Store,
    now: Timestamp,
    group_id: &str,
    user_id: &str,
    member: bool,
) -> Result<(), DirectoryError> {
    let mut group = store.group(group_id)?.ok_or(DirectoryError::NotFound)?;
    store.user(user_id)?.ok_or(DirectoryError::NotFound)?;
    store.set_membership(group_id, user_id, member)?;
    group.last_membership_updated = now;
    store.update_group(&group, &name_key(&group.name))?;
    Ok(())
}

/// The names of the user's groups (the `groups` claim).
pub fn group_names(store: &dyn Store, user_id: &str) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for gid in store.groups_of(user_id)? {
        if let Some(g) = store.group(&gid)? {
            names.push(g.name);
        }
    }
    // By name, so tokens list groups in the same order every time.
    names.sort_by_key(|n| n.to_lowercase());
    Ok(names)
}

/// The strictest MFA enrollment among the org's and the user's groups'.
pub fn effective_mfa(
    store: &dyn Store,
    org: MfaEnrollment,
    user_id: &str,
) -> Result<MfaEnrollment, StoreError> {
    let org_level = match org {
        MfaEnrollment::None => GroupMfa::None,
        MfaEnrollment::Optional => GroupMfa::Optional,
        MfaEnrollment::Required => GroupMfa::Required,
    };
    let mut strictest = org_level;
    for gid in store.groups_of(user_id)? {
        let level = store.group(&gid)?.and_then(|g| g.mfa_enrollment);
        if let Some(level) = level.filter(|l| l.rank() > strictest.rank()) {
            strictest = level;
        }
    }
    Ok(match strictest {
        GroupMfa::None => MfaEnrollment::None,
        GroupMfa::Optional => MfaEnrollment::Optional,
        GroupMfa::Required => MfaEnrollment::Required,
    })
}

/// What `search` and `filter` of a group listing may name, as Okta's groups API does.
pub const SEARCH_NAMES: crate::directory::search::Vocabulary =
    crate::directory::search::Vocabulary {
        knows: |attribute, dialect| match dialect {
            crate::directory::search::Dialect::Search => [
                "id",
                "type",
                "created",
                "lastUpdated",
                "lastMembershipUpdated",
                "profile.name",
                "profile.description",
            ]
            .contains(&attribute),
            crate::directory::search::Dialect::Filter => {
                ["id", "type", "lastUpdated", "lastMembershipUpdated"].contains(&attribute)
            }
        },
        is_time: |attribute| {
            matches!(
                attribute,
                "created" | "lastUpdated" | "lastMembershipUpdated"
            )
        },
        contains: |attribute| matches!(attribute, "profile.name" | "profile.description"),
    };

/// The value of `attribute` (as [`SEARCH_NAMES`] names it) of `group`.
pub fn attribute(group: &Group, attribute: &str) -> Option<String> {
    match attribute {
        "id" => Some(group.id.clone()),
        "type" => Some("OKTA_GROUP".to_owned()),
        "created" => Some(group.created.iso8601()),
        "lastUpdated" => Some(group.last_updated.iso8601()),
        "lastMembershipUpdated" => Some(group.last_membership_updated.iso8601()),
        "profile.name" => Some(group.name.clone()),
        "profile.description" => Some(group.description.clone()).filter(|d| !d.is_empty()),
        _ => None,
    }
}
