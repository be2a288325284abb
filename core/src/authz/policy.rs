//! Access policies and their rules, evaluated in priority order: the first active policy that
//! names the client, and within it the first active rule whose grant types, people and scopes
//! all match, decides the request and the token lifetimes. Nothing matching means no tokens.
//! A policy without a matching rule passes the request to the next policy.

use super::{ALL_CLIENTS, ANY_SCOPE, AuthServer, EVERYONE, Policy, Rule, Status};
use crate::oauth::clients::GrantType;
use std::time::Duration;

/// Who is asking for what.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub client_id: &'a str,
    pub grant: GrantType,
    /// The user and the ids of their groups; `None` for client credentials.
    pub user: Option<(&'a str, &'a [String])>,
    pub scopes: &'a [String],
}

/// The rule that allowed a request and what it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub policy_id: String,
    pub rule_id: String,
    pub access_ttl: Duration,
    /// A refresh token unused this long expires.
    pub refresh_window: Duration,
    /// However much it is used, a refresh token family ends this long after sign-in.
    pub refresh_max: Option<Duration>,
}

/// Okta's words when no rule allows a request.
pub const DENIED: &str =
    "Policy evaluation failed for this request, please check the policy configurations.";

fn minutes(m: u32) -> Duration {
    Duration::from_secs(u64::from(m) * 60)
}

fn by_priority<T>(items: &[T], status: impl Fn(&T) -> (Status, u32)) -> Vec<&T> {
    let mut v: Vec<&T> = items
        .iter()
        .filter(|i| status(i).0 == Status::Active)
        .collect();
    v.sort_by_key(|i| status(i).1);
    v
}

fn policy_applies(p: &Policy, client_id: &str) -> bool {
    p.clients.iter().any(|c| c == ALL_CLIENTS || c == client_id)
}

fn rule_matches(r: &Rule, req: &AccessRequest<'_>) -> bool {
    if !r.grant_types.iter().any(|g| g == req.grant.as_str()) {
        return false;
    }
    if !r.scopes.iter().any(|s| s == ANY_SCOPE) && !req.scopes.iter().all(|s| r.scopes.contains(s))
    {
        return false;
    }
    let Some((user_id, groups)) = req.user else {
        // Client credentials: no person, so people conditions do not apply.
        return true;
    };
    let in_group = |list: &[String]| {
        list.iter()
            .any(|g| g == EVERYONE || groups.iter().any(|mine| mine == g))
    };
    if r.users_exclude.iter().any(|u| u == user_id) || in_group(&r.groups_exclude) {
        return false;
    }
    // No people condition at all means everyone.
    if r.users_include.is_empty() && r.groups_include.is_empty() {
        return true;
    }
    r.users_include.iter().any(|u| u == user_id) || in_group(&r.groups_include)
}

pub fn evaluate(server: &AuthServer, req: &AccessRequest<'_>) -> Option<Decision> {
    for policy in by_priority(&server.policies, |p| (p.status, p.priority)) {
        if !policy_applies(policy, req.client_id) {
            continue;
        }
        let rules = by_priority(&policy.rules, |r| (r.status, r.priority));
        if let Some(rule) = rules.into_iter().find(|r| rule_matches(r, req)) {
            return Some(Decision {
                policy_id: policy.id.clone(),
                rule_id: rule.id.clone(),
                access_ttl: minutes(rule.access_token_minutes),
                refresh_window: minutes(rule.refresh_window_minutes),
                refresh_max: (rule.refresh_token_minutes > 0)
                    .then(|| minutes(rule.refresh_token_minutes)),
            });
        }
    }
    None
}

/// The scopes a request gets: those it names (each must exist), or the server's default
/// scopes when it names none. `Err` carries the `invalid_scope` description.
pub fn resolve_scopes(server: &AuthServer, requested: &[String]) -> Result<Vec<String>, String> {
    if requested.is_empty() {
        let defaults: Vec<String> = server
            .scopes
            .iter()
            .filter(|s| s.default)
            .map(|s| s.name.clone())
            .collect();
        if defaults.is_empty() {
            return Err("The authorization server resource does not have any configured default scopes, 'scope' must be provided.".into());
        }
        return Ok(defaults);
    }
    if let Some(unknown) = requested.iter().find(|s| server.scope(s).is_none()) {
        return Err(format!(
            "One or more scopes are not configured for the authorization server resource: '{unknown}'."
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(requested.len());
    for s in requested {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::servers::{allow_all_rule, default_server};
    use crate::clock::Timestamp;

    fn t0() -> Timestamp {
        Timestamp::from_millis(0)
    }

    fn req<'a>(client: &'a str, grant: GrantType, scopes: &'a [String]) -> AccessRequest<'a> {
        AccessRequest {
            client_id: client,
            grant,
            user: Some(("u1", &[])),
            scopes,
        }
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    /// A server with two policies: priority 1 for client "a" (rule: orders:read only, 10 min),
    /// priority 2 for everyone (rule: anything, 60 min).
    fn server() -> AuthServer {
        let mut s = default_server(t0());
        s.policies[0].priority = 2;
        let mut narrow = allow_all_rule("orders only", t0());
        narrow.scopes = scopes(&["openid", "orders:read"]);
        narrow.access_token_minutes = 10;
        let mut p = s.policies[0].clone();
        p.id = "p-a".into();
        p.priority = 1;
        p.clients = scopes(&["a"]);
        p.rules = vec![narrow];
        s.policies.push(p);
        s
    }

    #[test]
    fn policies_are_evaluated_in_priority_order_not_creation_order() {
        let s = server();
        let asked = scopes(&["openid", "orders:read"]);
        let d = evaluate(&s, &req("a", GrantType::AuthorizationCode, &asked)).unwrap();
        assert_eq!(d.policy_id, "p-a");
        assert_eq!(d.access_ttl, Duration::from_secs(600));
        let d = evaluate(&s, &req("b", GrantType::AuthorizationCode, &asked)).unwrap();
        assert_ne!(
            d.policy_id, "p-a",
            "client b is only in the catch-all policy"
        );
        assert_eq!(d.access_ttl, Duration::from_secs(3600));
    }

    #[test]
    fn a_policy_without_a_matching_rule_falls_through() {
        let s = server();
        let asked = scopes(&["openid", "profile"]);
        let d = evaluate(&s, &req("a", GrantType::AuthorizationCode, &asked)).unwrap();
        assert_ne!(d.policy_id, "p-a");
    }

    #[test]
    fn inactive_rules_grants_and_people_are_respected() {
        let mut s = server();
        let asked = scopes(&["openid"]);
        s.policies[0].rules[0].grant_types = scopes(&["authorization_code", "client_credentials"]);
        assert!(evaluate(&s, &req("b", GrantType::Password, &asked)).is_none());
        s.policies[0].rules[0].users_exclude = scopes(&["u1"]);
        assert!(
            evaluate(&s, &req("b", GrantType::AuthorizationCode, &asked)).is_none(),
            "excluded user"
        );
        let mut cc = req("b", GrantType::ClientCredentials, &asked);
        cc.user = None;
        assert!(
            evaluate(&s, &cc).is_some(),
            "people conditions do not apply to client credentials"
        );
        s.policies[0].rules[0].status = Status::Inactive;
        assert!(evaluate(&s, &cc).is_none());
    }

    #[test]
    fn groups_include_selects_members() {
        let mut s = default_server(t0());
        s.policies[0].rules[0].groups_include = scopes(&["g-admins"]);
        let asked = scopes(&["openid"]);
        let member = ["g-admins".to_owned()];
        let mut r = req("x", GrantType::AuthorizationCode, &asked);
        assert!(evaluate(&s, &r).is_none());
        r.user = Some(("u1", &member));
        assert!(evaluate(&s, &r).is_some());
    }

    #[test]
    fn scopes_resolve_to_defaults_or_fail_clearly() {
        let mut s = default_server(t0());
        assert!(
            resolve_scopes(&s, &[])
                .unwrap_err()
                .contains("default scopes")
        );
        assert!(
            resolve_scopes(&s, &scopes(&["nope"]))
                .unwrap_err()
                .contains("'nope'")
        );
        s.scopes[1].default = true;
        assert_eq!(resolve_scopes(&s, &[]).unwrap(), ["profile"]);
        assert_eq!(
            resolve_scopes(&s, &scopes(&["openid", "openid"])).unwrap(),
            ["openid"]
        );
    }
}
