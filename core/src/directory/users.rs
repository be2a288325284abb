//! Users: creation with validation, and look-up by id or login (the record is in `records`).

use super::schema::UserSchema;
use super::{DirectoryError, FieldError, PasswordPolicy};
use crate::clock::Timestamp;
use crate::crypto::{PasswordHash, PasswordHasher, new_id};
pub use crate::records::directory::{AttrValue, LinkSerials, Profile, User, UserStatus, login_key};
use crate::store::Store;

/// What an admin asked for when creating a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub profile: Profile,
    pub password: Option<String>,
}

/// Whether a new user is activated at once (`?activate=true`, Okta's default) or staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Activate,
    Stage,
    /// Active at once without a password: an upstream identity provider vouches for the
    /// person (just-in-time provisioning).
    Federated,
}

/// Okta's standard profile attributes besides `login`, `email`, `firstName` and `lastName`
/// (all strings, all optional). Any other name is refused, never dropped.
pub const STANDARD_ATTRIBUTES: [&str; 27] = [
    "secondEmail",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "title",
    "displayName",
    "nickName",
    "profileUrl",
    "primaryPhone",
    "mobilePhone",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "countryCode",
    "postalAddress",
    "preferredLanguage",
    "locale",
    "timezone",
    "userType",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "managerId",
    "manager",
];

/// A value as it is kept: text trimmed (an array's too); `None` for what leaves the attribute
/// unset (`null`, blank text, an empty array).
pub fn normalized(value: AttrValue) -> Option<AttrValue> {
    match value {
        AttrValue::Null => None,
        AttrValue::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| AttrValue::String(s.to_owned()))
        }
        AttrValue::Array(items) if items.is_empty() => None,
        AttrValue::Array(items) => Some(AttrValue::Array(
            items
                .into_iter()
                .map(|v| match v {
                    AttrValue::String(s) => AttrValue::String(s.trim().to_owned()),
                    other => other,
                })
                .collect(),
        )),
        other => Some(other),
    }
}

/// Applies `changes` to `attributes`: a value sets ([`normalized`]), `None` or what leaves
/// it unset removes.
pub fn apply_attributes(
    attributes: &mut std::collections::BTreeMap<String, AttrValue>,
    changes: std::collections::BTreeMap<String, Option<AttrValue>>,
) {
    for (name, value) in changes {
        match value.and_then(normalized) {
            Some(v) => attributes.insert(name, v),
            None => attributes.remove(&name),
        };
    }
}

/// An error for each of `names` the profile does not define (neither a standard attribute
/// nor a custom one of `schema`).
pub(super) fn undefined_attributes<'a>(
    names: impl IntoIterator<Item = &'a String>,
    schema: &UserSchema,
) -> Vec<FieldError> {
    names
        .into_iter()
        .filter(|name| {
            !STANDARD_ATTRIBUTES.contains(&name.as_str()) && !schema.custom.contains_key(*name)
        })
        .map(|name| {
            FieldError::new(
                name.clone(),
                "Property name is not defined in the profile schema",
            )
        })
        .collect()
}

fn validate_attributes(p: &Profile, schema: &UserSchema, errs: &mut Vec<FieldError>) {
    errs.extend(undefined_attributes(p.attributes.keys(), schema));
    for (name, value) in &p.attributes {
        if let Some(custom) = schema.custom.get(name) {
            errs.extend(super::schema::check_value(name, custom, value));
            continue;
        } else if !STANDARD_ATTRIBUTES.contains(&name.as_str()) {
            continue;
        }
        let Some(value) = value.as_str() else {
            errs.push(FieldError::new(name.clone(), "The value must be a string"));
            continue;
        };
        if value.chars().count() > 1024 {
            errs.push(FieldError::new(name.clone(), "The value is too long"));
        } else if name == "secondEmail" && !looks_like_email(value) {
            errs.push(FieldError::new(
                name.clone(),
                "Does not match required pattern (an email address)",
            ));
        } else if matches!(name.as_str(), "primaryPhone" | "mobilePhone")
            && value.chars().count() > 100
        {
            errs.push(FieldError::new(
                name.clone(),
                "Must be at most 100 characters",
            ));
        }
    }
    for (name, custom) in &schema.custom {
        let set = p
            .attributes
            .get(name)
            .is_some_and(|v| normalized(v.clone()).is_some());
        if custom.required && !set {
            errs.push(FieldError::new(
                name.clone(),
                "The field cannot be left blank",
            ));
        }
    }
}

pub(super) fn validate_profile(p: &Profile, schema: &UserSchema) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_attributes(p, schema, &mut errs);
    let login = p.login.trim();
    if login.is_empty() {
        errs.push(FieldError::new("login", "The field cannot be left blank"));
    } else if login.chars().count() > 100 || login.chars().any(char::is_whitespace) {
        errs.push(FieldError::new(
            "login",
            "Username must be at most 100 characters and contain no spaces",
        ));
    }
    if !looks_like_email(&p.email) {
        errs.push(FieldError::new(
            "email",
            "Does not match required pattern (an email address)",
        ));
    }
    if p.first_name.trim().is_empty() {
        errs.push(FieldError::new(
            "firstName",
            "The field cannot be left blank",
        ));
    }
    if p.last_name.trim().is_empty() {
        errs.push(FieldError::new(
            "lastName",
            "The field cannot be left blank",
        ));
    }
    errs
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Validates and stores a new user. Hashing is the slow part: call this off the async runtime.
pub fn create_user(
    store: &dyn Store,
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    now: Timestamp,
    new: NewUser,
    activation: Activation,
) -> Result<User, DirectoryError> {
    let schema = super::schema::load(store)?;
    let mut errs = validate_profile(&new.profile, &schema);
    if let Some(Err(msg)) = new
        .password
        .as_ref()
        .map(|pw| policy.check(pw, &new.profile.login))
    {
        errs.push(FieldError::new("password", msg));
    }
    if !errs.is_empty() {
        return Err(DirectoryError::Invalid(errs));
    }
    let password = new
        .password
        .as_deref()
        .map(|p| hasher.hash(p))
        .transpose()?;
    let status = match (activation, password.is_some()) {
        (Activation::Stage, _) => UserStatus::Staged,
        (Activation::Activate, true) => UserStatus::Active,
        (Activation::Activate, false) => UserStatus::Provisioned,
        (Activation::Federated, _) => UserStatus::Active,
    };
    let profile = Profile {
        login: new.profile.login.trim().to_owned(),
        email: new.profile.email.trim().to_owned(),
        first_name: new.profile.first_name.trim().to_owned(),
        last_name: new.profile.last_name.trim().to_owned(),
        attributes: new
            .profile
            .attributes
            .into_iter()
            .filter_map(|(k, v)| Some((k, normalized(v)?)))
            .collect(),
    };
    let user = User {
        id: new_id("00u"),
        status,
        created: now,
        activated: (status != UserStatus::Staged).then_some(now),
        status_changed: (status != UserStatus::Staged).then_some(now),
        last_login: None,
        last_updated: now,
        password_changed: password.as_ref().map(|_| now),
        profile,
        password,
        failed_attempts: 0,
        password_history: Vec::new(),
        credential_epoch: 0,
        sessions_epoch: 0,
        link_serials: Default::default(),
    };
    match store.insert_user(&user) {
        Ok(()) => Ok(user),
        Err(crate::store::StoreError::Conflict) => {
            Err(DirectoryError::Invalid(vec![FieldError::new(
                "login",
                "An object with this field already exists in the current organization",
            )]))
        }
        Err(e) => Err(e.into()),
    }
}

/// A new password, hashed and checked against the policy on a copy of the user read
/// earlier, to be applied to the record as it is stored now (see [`PasswordChange::apply`]).
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// The password the checks were made against.
    replaced: Option<PasswordHash>,
    password: PasswordHash,
    history: Vec<PasswordHash>,
    at: Timestamp,
}

impl PasswordChange {
    /// Checks `new` against the policy's complexity and history rules for `user` and hashes
    /// it. Hashing makes this slow: call it off the async runtime.
    pub fn prepare(
        user: &User,
        hasher: &PasswordHasher,
        policy: &PasswordPolicy,
        new: &str,
        now: Timestamp,
    ) -> Result<Self, DirectoryError> {
        if let Err(msg) = policy.check(new, &user.profile.login) {
            return Err(DirectoryError::Invalid(vec![FieldError::new(
                "password", msg,
            )]));
        }
        let recent = user
            .password
            .iter()
            .chain(user.password_history.iter())
            .take(policy.history_count);
        let mut reused = false;
        for h in recent {
            if hasher.verify(new, Some(h))? {
                reused = true;
                break;
            }
        }
        if reused {
            return Err(DirectoryError::Invalid(vec![FieldError::new(
                "password",
                format!(
                    "Password has been used too recently: choose one that differs from your last {}",
                    policy.history_count
                ),
            )]));
        }
        let mut history = user.password_history.clone();
        if let Some(old) = &user.password {
            history.insert(0, old.clone());
            history.truncate(policy.history_count.saturating_sub(1));
        }
        Ok(Self {
            replaced: user.password.clone(),
            password: hasher.hash(new)?,
            history,
            at: now,
        })
    }

    /// Sets the new password on `user`, the old one joining the history; `false` (and nothing
    /// changed) when someone else changed the password since it was checked.
    pub fn apply(&self, user: &mut User) -> bool {
        if user.password != self.replaced {
            return false;
        }
        user.password = Some(self.password.clone());
        user.password_history = self.history.clone();
        user.password_changed = Some(self.at);
        user.last_updated = self.at;
        user.credential_epoch += 1;
        true
    }
}

/// Sets a new password on `user` in place (a record not yet shared, or a test's).
pub fn set_password(
    user: &mut User,
    hasher: &PasswordHasher,
    policy: &PasswordPolicy,
    new: &str,
    now: Timestamp,
) -> Result<(), DirectoryError> {
    let change = PasswordChange::prepare(user, hasher, policy, new, now)?;
    change.apply(user);
    Ok(())
}

/// Changes user `id` atomically with `change`, which may refuse with an error (see
/// [`crate::store::update`]); `NotFound` when there is no such user.
pub fn modify<T>(
    store: &dyn Store,
    id: &str,
    change: impl FnMut(&mut User) -> Result<T, DirectoryError>,
) -> Result<(User, T), DirectoryError> {
    crate::store::update(|c| store.modify_user(id, c), change)?.ok_or(DirectoryError::NotFound)
}

/// Finds a user by id, or else by login (Okta's `/users/{id|login}`).
pub fn find_user(store: &dyn Store, id_or_login: &str) -> Result<User, DirectoryError> {
    if let Some(u) = store.user(id_or_login)? {
        return Ok(u);
    }
    store
        .user_by_login(&login_key(id_or_login))?
        .ok_or(DirectoryError::NotFound)
}

/// Back to ACTIVE from LOCKED_OUT, with the failure count cleared (admin or self-service).
pub fn clear_lockout(user: &mut User, now: Timestamp) {
    if user.status == UserStatus::LockedOut {
        user.status = UserStatus::Active;
        user.status_changed = Some(now);
    }
    user.failed_attempts = 0;
    user.last_updated = now;
}

/// Admin unlock: back to ACTIVE with the failure count cleared.
pub fn unlock_user(store: &dyn Store, now: Timestamp, id: &str) -> Result<User, DirectoryError> {
    let (user, ()) = modify(store, id, |u| {
        clear_lockout(u, now);
        Ok(())
    })?;
    Ok(user)
}

/// Admin `expire_password`: the user must choose a new password at the next sign-in.
pub fn expire_password(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
) -> Result<User, DirectoryError> {
    let (user, ()) = modify(store, id, |u| {
        if u.status == UserStatus::Active {
            u.status = UserStatus::PasswordExpired;
            u.status_changed = Some(now);
            u.last_updated = now;
        }
        Ok(())
    })?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    fn setup() -> (tempfile::TempDir, SledStore, PasswordHasher) {
        let (dir, store) = crate::store::temp_store();
        (dir, store, PasswordHasher::with_params(64, 1, 1).unwrap())
    }

    fn ann(password: Option<&str>) -> NewUser {
        NewUser {
            profile: Profile {
                login: "Ann@Example.com".into(),
                email: "ann@example.com".into(),
                first_name: "Ann".into(),
                last_name: "Lee".into(),
                attributes: Default::default(),
            },
            password: password.map(str::to_owned),
        }
    }

    #[test]
    fn activation_and_password_decide_status() {
        let (_d, store, h) = setup();
        let p = PasswordPolicy::default();
        let now = Timestamp::from_millis(1);
        let u = create_user(
            &store,
            &h,
            &p,
            now,
            ann(Some("Passw0rdX")),
            Activation::Activate,
        )
        .unwrap();
        assert_eq!(u.status, UserStatus::Active);
        let mut other = ann(None);
        other.profile.login = "bo@example.com".into();
        let u = create_user(&store, &h, &p, now, other.clone(), Activation::Activate).unwrap();
        assert_eq!(u.status, UserStatus::Provisioned);
        assert!(u.password.is_none());
        other.profile.login = "cy@example.com".into();
        let u = create_user(&store, &h, &p, now, other, Activation::Stage).unwrap();
        assert_eq!(u.status, UserStatus::Staged);
    }

    #[test]
    fn duplicate_login_is_rejected_case_insensitively() {
        let (_d, store, h) = setup();
        let p = PasswordPolicy::default();
        let now = Timestamp::from_millis(1);
        create_user(
            &store,
            &h,
            &p,
            now,
            ann(Some("Passw0rdX")),
            Activation::Activate,
        )
        .unwrap();
        let mut dup = ann(Some("Passw0rdX"));
        dup.profile.login = "ANN@example.COM".into();
        match create_user(&store, &h, &p, now, dup, Activation::Activate) {
            Err(DirectoryError::Invalid(errs)) => assert_eq!(errs[0].field, "login"),
            other => panic!("expected a login conflict, got {other:?}"),
        }
    }

    #[test]
    fn recent_passwords_cannot_be_chosen_again() {
        let (_d, store, h) = setup();
        let p = PasswordPolicy {
            history_count: 3,
            ..PasswordPolicy::default()
        };
        let t = Timestamp::from_millis(1);
        let mut u = create_user(
            &store,
            &h,
            &p,
            t,
            ann(Some("First-Pass-1")),
            Activation::Activate,
        )
        .unwrap();
        assert!(
            set_password(&mut u, &h, &p, "First-Pass-1", t).is_err(),
            "the current one"
        );
        set_password(&mut u, &h, &p, "Second-Pass-2", t).unwrap();
        set_password(&mut u, &h, &p, "Third-Pass-3", t).unwrap();
        assert!(
            set_password(&mut u, &h, &p, "First-Pass-1", t).is_err(),
            "two back"
        );
        set_password(&mut u, &h, &p, "Fourth-Pass-4", t).unwrap();
        assert_eq!(u.password_history.len(), 2);
        set_password(&mut u, &h, &p, "First-Pass-1", t).unwrap();
    }

    #[test]
    fn find_by_id_or_login() {
        let (_d, store, h) = setup();
        let p = PasswordPolicy::default();
        let u = create_user(
            &store,
            &h,
            &p,
            Timestamp::from_millis(1),
            ann(Some("Passw0rdX")),
            Activation::Activate,
        )
        .unwrap();
        assert_eq!(find_user(&store, &u.id).unwrap().id, u.id);
        assert_eq!(find_user(&store, "ann@example.com").unwrap().id, u.id);
        assert!(matches!(
            find_user(&store, "nobody"),
            Err(DirectoryError::NotFound)
        ));
    }

    #[test]
    fn weak_password_and_bad_profile_report_every_field() {
        let (_d, store, h) = setup();
        let mut bad = ann(Some("weak"));
        bad.profile.email = "not-an-email".into();
        bad.profile.first_name = " ".into();
        match create_user(
            &store,
            &h,
            &PasswordPolicy::default(),
            Timestamp::from_millis(1),
            bad,
            Activation::Activate,
        ) {
            Err(DirectoryError::Invalid(errs)) => {
                let fields: Vec<_> = errs.iter().map(|e| e.field.as_ref()).collect();
                assert_eq!(fields, ["email", "firstName", "password"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }
}
