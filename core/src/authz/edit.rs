//! Changes to one authorization server's scopes, claims, access policies and rules. Each runs
//! on the record inside [`servers::update`]'s compare-and-swap, so its checks see the server as
//! it is written and a concurrent change cannot slip between check and write.

use super::servers::{self, ClaimInput, ScopeInput};
use super::{AuthServer, Claim, EVERYONE, Policy, Rule, Scope, Status};
use crate::clock::Timestamp;
use crate::directory::{DirectoryError, FieldError};
use crate::store::Store;

fn invalid(field: &'static str, message: impl Into<String>) -> DirectoryError {
    DirectoryError::Invalid(vec![FieldError::new(field, message)])
}

/// Where the item with `id` sits, or `NotFound`.
fn position<T>(items: &[T], id: &str, id_of: impl Fn(&T) -> &str) -> Result<usize, DirectoryError> {
    items
        .iter()
        .position(|x| id_of(x) == id)
        .ok_or(DirectoryError::NotFound)
}

/// Removes the item with `id`, or `NotFound`.
fn remove<T>(
    items: &mut Vec<T>,
    id: &str,
    id_of: impl Fn(&T) -> &str,
) -> Result<T, DirectoryError> {
    let at = position(items, id, id_of)?;
    Ok(items.remove(at))
}

// --- Scopes ---

pub fn add_scope(
    s: &mut AuthServer,
    id: String,
    input: ScopeInput,
) -> Result<Scope, DirectoryError> {
    servers::check_scope(s, &input, None)?;
    let scope = servers::scope_from(id, input);
    s.scopes.push(scope.clone());
    Ok(scope)
}

/// Replaces a custom scope; claims and rules that name it follow a rename.
pub fn replace_scope(
    s: &mut AuthServer,
    id: &str,
    input: ScopeInput,
) -> Result<Scope, DirectoryError> {
    let at = position(&s.scopes, id, |x| &x.id)?;
    if s.scopes[at].system {
        return Err(invalid("name", "system scopes cannot be changed"));
    }
    servers::check_scope(s, &input, Some(id))?;
    let old_name = s.scopes[at].name.clone();
    let scope = servers::scope_from(id.to_owned(), input);
    rename_scope(s, &old_name, &scope.name);
    s.scopes[at] = scope.clone();
    Ok(scope)
}

/// Keeps claims and rules pointing at a renamed scope.
fn rename_scope(s: &mut AuthServer, old: &str, new: &str) {
    let named = s.claims.iter_mut().flat_map(|c| &mut c.scopes).chain(
        s.policies
            .iter_mut()
            .flat_map(|p| &mut p.rules)
            .flat_map(|r| &mut r.scopes),
    );
    for x in named.filter(|x| *x == old) {
        *x = new.to_owned();
    }
}

/// Deletes a custom scope no rule uses; claims stop naming it.
pub fn delete_scope(s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
    let at = position(&s.scopes, id, |x| &x.id)?;
    let name = s.scopes[at].name.clone();
    if s.scopes[at].system {
        return Err(invalid("name", "system scopes cannot be deleted"));
    }
    let used_by_rule = s
        .policies
        .iter()
        .flat_map(|p| &p.rules)
        .find(|r| r.scopes.contains(&name));
    if let Some(r) = used_by_rule {
        return Err(invalid(
            "name",
            format!(
                "the scope '{name}' is used by the rule '{}'; change the rule first",
                r.name
            ),
        ));
    }
    for c in &mut s.claims {
        c.scopes.retain(|x| *x != name);
    }
    s.scopes.remove(at);
    Ok(())
}

// --- Claims ---

pub fn add_claim(
    s: &mut AuthServer,
    id: String,
    input: ClaimInput,
) -> Result<Claim, DirectoryError> {
    servers::check_claim(s, &input, None)?;
    let claim = servers::claim_from(id, input);
    s.claims.push(claim.clone());
    Ok(claim)
}

pub fn replace_claim(
    s: &mut AuthServer,
    id: &str,
    input: ClaimInput,
) -> Result<Claim, DirectoryError> {
    let at = position(&s.claims, id, |x| &x.id)?;
    servers::check_claim(s, &input, Some(id))?;
    let claim = servers::claim_from(id.to_owned(), input);
    s.claims[at] = claim.clone();
    Ok(claim)
}

pub fn delete_claim(s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
    remove(&mut s.claims, id, |c| &c.id).map(drop)
}

// --- Access policies ---

/// What an admin sends for a policy (checked with [`servers::check_policy`] first).
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub name: String,
    pub description: String,
    pub status: Option<Status>,
    pub priority: Option<u32>,
    pub clients: Vec<String>,
}

fn policy_mut<'a>(s: &'a mut AuthServer, id: &str) -> Result<&'a mut Policy, DirectoryError> {
    s.policies
        .iter_mut()
        .find(|p| p.id == id)
        .ok_or(DirectoryError::NotFound)
}

/// A new policy, active and after the others unless the input says otherwise.
pub fn add_policy(
    s: &mut AuthServer,
    id: String,
    input: PolicyInput,
    now: Timestamp,
) -> Result<Policy, DirectoryError> {
    let policy = Policy {
        id,
        name: input.name,
        description: input.description,
        status: input.status.unwrap_or(Status::Active),
        priority: input
            .priority
            .unwrap_or_else(|| servers::next_priority(s.policies.iter().map(|p| p.priority))),
        system: false,
        clients: input.clients,
        rules: Vec::new(),
        created: now,
        last_updated: now,
    };
    s.policies.push(policy.clone());
    Ok(policy)
}

/// Replaces a policy's settings; its rules stay, and so do status and priority not given.
pub fn replace_policy(
    s: &mut AuthServer,
    id: &str,
    input: PolicyInput,
    now: Timestamp,
) -> Result<Policy, DirectoryError> {
    let p = policy_mut(s, id)?;
    p.name = input.name;
    p.description = input.description;
    if let Some(st) = input.status {
        p.status = st;
    }
    if let Some(pr) = input.priority {
        p.priority = pr;
    }
    p.clients = input.clients;
    p.last_updated = now;
    Ok(p.clone())
}

pub fn delete_policy(s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
    remove(&mut s.policies, id, |p| &p.id).map(drop)
}

pub fn set_policy_status(
    s: &mut AuthServer,
    id: &str,
    status: Status,
) -> Result<(), DirectoryError> {
    policy_mut(s, id)?.status = status;
    Ok(())
}

// --- Rules ---

/// What an admin sends for a rule; what it leaves out takes Okta's defaults.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: String,
    pub status: Option<Status>,
    pub priority: Option<u32>,
    pub users_include: Vec<String>,
    pub users_exclude: Vec<String>,
    pub groups_include: Vec<String>,
    pub groups_exclude: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub access_token_minutes: Option<u32>,
    pub refresh_token_minutes: Option<u32>,
    pub refresh_window_minutes: Option<u32>,
}

impl RuleInput {
    /// The rule: no people named means everyone; an access token lives an hour, a refresh
    /// token as long as it is used within seven days.
    fn rule(self, id: String, priority: u32, created: Timestamp, now: Timestamp) -> Rule {
        let mut groups_include = self.groups_include;
        if groups_include.is_empty() && self.users_include.is_empty() {
            groups_include.push(EVERYONE.to_owned());
        }
        Rule {
            id,
            name: self.name,
            status: self.status.unwrap_or(Status::Active),
            priority: self.priority.unwrap_or(priority),
            system: false,
            users_include: self.users_include,
            users_exclude: self.users_exclude,
            groups_include,
            groups_exclude: self.groups_exclude,
            grant_types: self.grant_types,
            scopes: self.scopes,
            access_token_minutes: self.access_token_minutes.unwrap_or(60),
            refresh_token_minutes: self.refresh_token_minutes.unwrap_or(0),
            refresh_window_minutes: self.refresh_window_minutes.unwrap_or(7 * 1440),
            created,
            last_updated: now,
        }
    }
}

fn rule_mut<'a>(
    s: &'a mut AuthServer,
    policy: &str,
    rule: &str,
) -> Result<&'a mut Rule, DirectoryError> {
    policy_mut(s, policy)?
        .rules
        .iter_mut()
        .find(|r| r.id == rule)
        .ok_or(DirectoryError::NotFound)
}

/// A new rule of `policy`, after its others unless the input gives a priority.
pub fn add_rule(
    store: &dyn Store,
    s: &mut AuthServer,
    policy: &str,
    id: String,
    input: RuleInput,
    now: Timestamp,
) -> Result<Rule, DirectoryError> {
    let priority = servers::next_priority(policy_mut(s, policy)?.rules.iter().map(|r| r.priority));
    let rule = input.rule(id, priority, now, now);
    servers::check_rule(store, s, &rule)?;
    policy_mut(s, policy)?.rules.push(rule.clone());
    Ok(rule)
}

/// Replaces a rule; it keeps its creation time, and its priority unless the input gives one.
pub fn replace_rule(
    store: &dyn Store,
    s: &mut AuthServer,
    policy: &str,
    id: &str,
    input: RuleInput,
    now: Timestamp,
) -> Result<Rule, DirectoryError> {
    let old = rule_mut(s, policy, id)?;
    let rule = input.rule(id.to_owned(), old.priority, old.created, now);
    servers::check_rule(store, s, &rule)?;
    *rule_mut(s, policy, id)? = rule.clone();
    Ok(rule)
}

pub fn delete_rule(s: &mut AuthServer, policy: &str, id: &str) -> Result<(), DirectoryError> {
    remove(&mut policy_mut(s, policy)?.rules, id, |r| &r.id).map(drop)
}

pub fn set_rule_status(
    s: &mut AuthServer,
    policy: &str,
    id: &str,
    status: Status,
) -> Result<(), DirectoryError> {
    rule_mut(s, policy, id)?.status = status;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::servers::default_server;

    fn scope_input(name: &str) -> ScopeInput {
        ScopeInput {
            name: name.to_owned(),
            display_name: None,
            description: String::new(),
            consent: crate::authz::Consent::Implicit,
            default: false,
            optional: false,
            metadata_publish: crate::authz::MetadataPublish::NoClients,
        }
    }

    #[test]
    fn a_renamed_scope_is_renamed_in_the_rules_that_use_it() {
        let mut s = default_server(Timestamp::from_millis(0));
        let scope = add_scope(&mut s, "scp1".into(), scope_input("orders:read")).unwrap();
        s.policies[0].rules[0].scopes.push("orders:read".into());
        replace_scope(&mut s, &scope.id, scope_input("orders:view")).unwrap();
        assert!(
            s.policies[0].rules[0]
                .scopes
                .contains(&"orders:view".to_owned())
        );
        assert!(
            !s.policies[0].rules[0]
                .scopes
                .contains(&"orders:read".to_owned())
        );
    }

    #[test]
    fn a_scope_a_rule_uses_cannot_be_deleted_and_system_scopes_never() {
        let mut s = default_server(Timestamp::from_millis(0));
        let scope = add_scope(&mut s, "scp1".into(), scope_input("orders:read")).unwrap();
        s.policies[0].rules[0].scopes.push("orders:read".into());
        assert!(matches!(
            delete_scope(&mut s, &scope.id),
            Err(DirectoryError::Invalid(_))
        ));
        let openid = s.scopes.iter().find(|x| x.system).unwrap().id.clone();
        assert!(matches!(
            delete_scope(&mut s, &openid),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(matches!(
            delete_scope(&mut s, "nope"),
            Err(DirectoryError::NotFound)
        ));
    }

    #[test]
    fn a_rule_without_people_is_for_everyone_with_okta_default_lifetimes() {
        let now = Timestamp::from_millis(5);
        let rule = RuleInput {
            name: "r".into(),
            ..RuleInput::default()
        }
        .rule("0pr1".into(), 3, now, now);
        assert_eq!(rule.groups_include, vec![EVERYONE.to_owned()]);
        assert_eq!(rule.priority, 3);
        assert_eq!(
            (
                rule.access_token_minutes,
                rule.refresh_token_minutes,
                rule.refresh_window_minutes
            ),
            (60, 0, 7 * 1440)
        );
    }
}
