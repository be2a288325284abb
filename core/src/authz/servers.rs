//! Creating and changing authorization servers: the `default` server every org has, the system
//! scopes, and the checks every scope, claim, policy and rule passes before it is saved.

use super::expr;
use super::{
    ALL_CLIENTS, ANY_SCOPE, AuthServer, Claim, ClaimType, Consent, DEFAULT_SERVER, EVERYONE,
    MetadataPublish, Policy, RotationMode, Rule, Scope, Status, ValueType,
};
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::directory::{DirectoryError, FieldError};
use crate::store::{Store, StoreError};

/// The OpenID Connect scopes every server has.
pub const SYSTEM_SCOPES: [(&str, &str); 7] = [
    ("openid", "Signals that a request is an OpenID request."),
    (
        "profile",
        "Allows access to your name, preferred username and locale.",
    ),
    ("email", "Allows access to your email address."),
    ("address", "Allows access to your address."),
    ("phone", "Allows access to your phone number."),
    (
        "offline_access",
        "Keeps the application signed in when you are away (refresh tokens).",
    ),
    ("device_sso", "Signs you in to other apps on this device."),
];

/// Names a custom scope may not take (besides the system scopes and `okta.` / `okta:`).
const RESERVED_SCOPES: [&str; 2] = ["groups", ANY_SCOPE];

/// Claims the server sets itself; a custom claim may not replace them.
const RESERVED_CLAIMS: [&str; 24] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "ver",
    "cid",
    "uid",
    "scp",
    "auth_time",
    "amr",
    "idp",
    "nonce",
    "at_hash",
    "c_hash",
    "acr",
    "azp",
    "sid",
    "cnf",
    "typ",
    "token_type",
    "client_id",
];

/// Grant types a rule may name.
pub const RULE_GRANTS: [&str; 4] = [
    "authorization_code",
    "implicit",
    "password",
    "client_credentials",
];

/// Access tokens live 5 minutes to a day; refresh windows 10 minutes to 5 years.
pub const ACCESS_MINUTES: (u32, u32) = (5, 1440);
pub const REFRESH_WINDOW_MINUTES: (u32, u32) = (10, 5 * 365 * 1440);

fn invalid(field: &'static str, message: impl Into<String>) -> DirectoryError {
    DirectoryError::Invalid(vec![FieldError::new(field, message)])
}

pub fn system_scopes() -> Vec<Scope> {
    SYSTEM_SCOPES
        .iter()
        .map(|(name, description)| Scope {
            id: new_id("scp"),
            name: (*name).to_owned(),
            display_name: None,
            description: (*description).to_owned(),
            consent: Consent::Implicit,
            default: false,
            optional: false,
            metadata_publish: MetadataPublish::AllClients,
            system: true,
        })
        .collect()
}

/// A rule that lets every client use every grant and scope, with the org's usual lifetimes.
pub fn allow_all_rule(name: &str, now: Timestamp) -> Rule {
    Rule {
        id: new_id("0pr"),
        name: name.to_owned(),
        status: Status::Active,
        priority: 1,
        system: false,
        users_include: Vec::new(),
        users_exclude: Vec::new(),
        groups_include: vec![EVERYONE.to_owned()],
        groups_exclude: Vec::new(),
        grant_types: RULE_GRANTS.iter().map(|g| (*g).to_owned()).collect(),
        scopes: vec![ANY_SCOPE.to_owned()],
        access_token_minutes: 60,
        refresh_token_minutes: 0,
        refresh_window_minutes: 7 * 1440,
        created: now,
        last_updated: now,
    }
}

/// A new server with the system scopes and no policy (so nothing may use it until one exists,
/// as Okta does).
pub fn new_server(
    id: String,
    name: String,
    description: String,
    audiences: Vec<String>,
    now: Timestamp,
) -> Result<AuthServer, DirectoryError> {
    check_server(&name, &audiences)?;
    Ok(AuthServer {
        id,
        name,
        description,
        audiences,
        status: Status::Active,
        rotation_mode: RotationMode::Auto,
        access_token_profile: Default::default(),
        created: now,
        last_updated: now,
        scopes: system_scopes(),
        claims: Vec::new(),
        policies: Vec::new(),
        revision: 0,
    })
}

pub fn check_server(name: &str, audiences: &[String]) -> Result<(), DirectoryError> {
    if name.trim().is_empty() || name.len() > 128 {
        return Err(invalid("name", "name: 1 to 128 characters are required"));
    }
    if audiences.is_empty()
        || audiences
            .iter()
            .any(|a| a.trim().is_empty() || a.len() > 1024)
    {
        return Err(invalid(
            "audiences",
            "audiences: at least one audience of 1 to 1024 characters is required",
        ));
    }
    Ok(())
}

/// The `default` server: audience `api://default` and a policy for every client.
pub fn default_server(now: Timestamp) -> AuthServer {
    let mut server = AuthServer {
        id: DEFAULT_SERVER.to_owned(),
        name: "default".to_owned(),
        description: "Default Authorization Server for your Applications".to_owned(),
        audiences: vec!["api://default".to_owned()],
        status: Status::Active,
        rotation_mode: RotationMode::Auto,
        access_token_profile: Default::default(),
        created: now,
        last_updated: now,
        scopes: system_scopes(),
        claims: Vec::new(),
        policies: Vec::new(),
        revision: 0,
    };
    server.policies.push(Policy {
        id: new_id("00p"),
        name: "Default Policy".to_owned(),
        description: "Default policy description".to_owned(),
        status: Status::Active,
        priority: 1,
        system: false,
        clients: vec![ALL_CLIENTS.to_owned()],
        rules: vec![allow_all_rule("Default Policy Rule", now)],
        created: now,
        last_updated: now,
    });
    server
}

/// Creates the `default` server unless it exists (or existed and was deleted on purpose).
pub fn ensure_default(store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
    const MARK: &str = "default_authorization_server";
    if store.meta(MARK)?.is_some() {
        return Ok(());
    }
    match store.save_auth_server(&default_server(now), None) {
        Ok(()) | Err(StoreError::Conflict) => {}
        Err(e) => return Err(e),
    }
    store.set_meta(MARK, "created")?;
    store.flush()
}

/// Reads server `id`, applies `change` and saves it, retrying when another writer got there
/// first. `change` may refuse with a validation error; nothing is saved then.
pub fn update<T>(
    store: &dyn Store,
    id: &str,
    now: Timestamp,
    mut change: impl FnMut(&mut AuthServer) -> Result<T, DirectoryError>,
) -> Result<(T, AuthServer), DirectoryError> {
    for _ in 0..8 {
        let mut server = store.auth_server(id)?.ok_or(DirectoryError::NotFound)?;
        let read = server.revision;
        let out = change(&mut server)?;
        server.last_updated = now;
        match store.save_auth_server(&server, Some(read)) {
            Ok(()) => {
                server.revision = read + 1;
                return Ok((out, server));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DirectoryError::Store(StoreError::Backend(
        "the authorization server kept changing; try again".into(),
    )))
}

/// What an admin sends for a scope.
#[derive(Debug, Clone)]
pub struct ScopeInput {
    pub name: String,
    pub display_name: Option<String>,
    pub description: String,
    pub consent: Consent,
    pub default: bool,
    pub optional: bool,
    pub metadata_publish: MetadataPublish,
}

/// Checks a scope against the server's others; `replacing` is the id of the scope being
/// changed, if any.
pub fn check_scope(
    server: &AuthServer,
    s: &ScopeInput,
    replacing: Option<&str>,
) -> Result<(), DirectoryError> {
    let name = s.name.as_str();
    if name.is_empty() || name.len() > 300 || name.chars().any(char::is_whitespace) {
        return Err(invalid(
            "name",
            "name: 1 to 300 characters without spaces are required",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("okta.")
        || lower.starts_with("okta:")
        || RESERVED_SCOPES.contains(&name)
        || name.contains('*')
        || (replacing.is_none() && SYSTEM_SCOPES.iter().any(|(n, _)| *n == name))
    {
        return Err(invalid(
            "name",
            format!("name: '{name}' is reserved and cannot be used for a custom scope"),
        ));
    }
    if server
        .scopes
        .iter()
        .any(|x| x.name == name && Some(x.id.as_str()) != replacing)
    {
        return Err(invalid(
            "name",
            format!("name: a scope named '{name}' already exists"),
        ));
    }
    if s.description.len() > 1000 || s.display_name.as_ref().is_some_and(|d| d.len() > 256) {
        return Err(invalid(
            "description",
            "description: at most 1000 characters (displayName 256)",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ClaimInput {
    pub name: String,
    pub status: Status,
    pub claim_type: ClaimType,
    pub value_type: ValueType,
    pub value: String,
    pub group_filter_type: Option<super::GroupFilterType>,
    pub always_include_in_token: bool,
    pub scopes: Vec<String>,
}

pub fn check_claim(
    server: &AuthServer,
    c: &ClaimInput,
    replacing: Option<&str>,
) -> Result<(), DirectoryError> {
    let name = c.name.as_str();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_whitespace) {
        return Err(invalid(
            "name",
            "name: 1 to 100 characters without spaces are required",
        ));
    }
    if RESERVED_CLAIMS.contains(&name) {
        return Err(invalid(
            "name",
            format!("name: '{name}' is set by the server and cannot be a custom claim"),
        ));
    }
    if server
        .claims
        .iter()
        .any(|x| x.name == name && x.claim_type == c.claim_type && Some(x.id.as_str()) != replacing)
    {
        return Err(invalid(
            "name",
            format!("name: a claim named '{name}' of this type already exists"),
        ));
    }
    match c.value_type {
        ValueType::Expression => {
            if let Err(e) = expr::parse(&c.value) {
                return Err(invalid(
                    "value",
                    format!("value: the expression is not valid: {}", e.message()),
                ));
            }
        }
        ValueType::Groups => {
            let Some(kind) = c.group_filter_type else {
                return Err(invalid(
                    "group_filter_type",
                    "group_filter_type: STARTS_WITH, EQUALS, CONTAINS or REGEX is required for a GROUPS claim",
                ));
            };
            if let Err(e) = expr::check_group_filter(kind.filter(), &c.value) {
                return Err(invalid(
                    "value",
                    format!("value: the group filter is not valid: {}", e.message()),
                ));
            }
        }
    }
    if let Some(unknown) = c.scopes.iter().find(|s| server.scope(s).is_none()) {
        return Err(invalid(
            "conditions",
            format!("conditions.scopes: the scope '{unknown}' does not exist on this server"),
        ));
    }
    Ok(())
}

pub fn claim_from(id: String, c: ClaimInput) -> Claim {
    Claim {
        id,
        name: c.name,
        status: c.status,
        claim_type: c.claim_type,
        value_type: c.value_type,
        value: c.value,
        group_filter_type: c.group_filter_type,
        always_include_in_token: c.always_include_in_token,
        scopes: c.scopes,
    }
}

pub fn scope_from(id: String, s: ScopeInput) -> Scope {
    Scope {
        id,
        name: s.name,
        display_name: s.display_name,
        description: s.description,
        consent: s.consent,
        default: s.default,
        optional: s.optional,
        metadata_publish: s.metadata_publish,
        system: false,
    }
}

pub fn check_policy(
    store: &dyn Store,
    name: &str,
    clients: &[String],
) -> Result<(), DirectoryError> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(invalid("name", "name: 1 to 255 characters are required"));
    }
    if clients.is_empty() {
        return Err(invalid(
            "conditions",
            "conditions.clients.include: ALL_CLIENTS or at least one client id is required",
        ));
    }
    for c in clients.iter().filter(|c| *c != ALL_CLIENTS) {
        if store.client(c)?.is_none() {
            return Err(invalid(
                "conditions",
                format!("conditions.clients.include: the client '{c}' does not exist"),
            ));
        }
    }
    Ok(())
}

/// Checks a rule's conditions and token lifetimes.
pub fn check_rule(
    store: &dyn Store,
    server: &AuthServer,
    rule: &Rule,
) -> Result<(), DirectoryError> {
    if rule.name.trim().is_empty() || rule.name.len() > 255 {
        return Err(invalid("name", "name: 1 to 255 characters are required"));
    }
    if rule.grant_types.is_empty() {
        return Err(invalid(
            "conditions",
            "conditions.grantTypes.include: at least one grant type is required",
        ));
    }
    if let Some(g) = rule
        .grant_types
        .iter()
        .find(|g| !RULE_GRANTS.contains(&g.as_str()))
    {
        return Err(invalid(
            "conditions",
            format!("conditions.grantTypes.include: '{g}' is not a grant type a rule can allow"),
        ));
    }
    if rule.scopes.is_empty() {
        return Err(invalid(
            "conditions",
            "conditions.scopes.include: '*' or at least one scope is required",
        ));
    }
    if let Some(s) = rule
        .scopes
        .iter()
        .find(|s| *s != ANY_SCOPE && server.scope(s).is_none())
    {
        return Err(invalid(
            "conditions",
            format!("conditions.scopes.include: the scope '{s}' does not exist on this server"),
        ));
    }
    for g in rule
        .groups_include
        .iter()
        .chain(&rule.groups_exclude)
        .filter(|g| *g != EVERYONE)
    {
        if store.group(g)?.is_none() {
            return Err(invalid(
                "conditions",
                format!("conditions.people.groups: the group '{g}' does not exist"),
            ));
        }
    }
    for u in rule.users_include.iter().chain(&rule.users_exclude) {
        if store.user(u)?.is_none() {
            return Err(invalid(
                "conditions",
                format!("conditions.people.users: the user '{u}' does not exist"),
            ));
        }
    }
    let (lo, hi) = ACCESS_MINUTES;
    if !(lo..=hi).contains(&rule.access_token_minutes) {
        return Err(invalid(
            "actions",
            format!("actions.token.accessTokenLifetimeMinutes: must be {lo} to {hi}"),
        ));
    }
    let (lo, hi) = REFRESH_WINDOW_MINUTES;
    if !(lo..=hi).contains(&rule.refresh_window_minutes) {
        return Err(invalid(
            "actions",
            format!("actions.token.refreshTokenWindowMinutes: must be {lo} to {hi}"),
        ));
    }
    if rule.refresh_token_minutes != 0 && rule.refresh_token_minutes < rule.refresh_window_minutes {
        return Err(invalid(
            "actions",
            "actions.token.refreshTokenLifetimeMinutes: must be 0 (unlimited) or at least the refresh window",
        ));
    }
    Ok(())
}

/// The next free priority after the given ones (1 when there are none).
pub fn next_priority(existing: impl Iterator<Item = u32>) -> u32 {
    existing.max().map_or(1, |p| p.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_scope_names_are_refused() {
        let server = default_server(Timestamp::from_millis(0));
        let input = |name: &str| ScopeInput {
            name: name.into(),
            display_name: None,
            description: String::new(),
            consent: Consent::Implicit,
            default: false,
            optional: false,
            metadata_publish: MetadataPublish::AllClients,
        };
        for bad in [
            "openid",
            "okta.users.read",
            "OKTA:x",
            "*",
            "a*",
            "groups",
            "has space",
            "",
        ] {
            assert!(
                check_scope(&server, &input(bad), None).is_err(),
                "{bad} must be refused"
            );
        }
        assert!(check_scope(&server, &input("orders:read"), None).is_ok());
    }

    #[test]
    fn the_default_server_has_a_policy_for_everyone() {
        let s = default_server(Timestamp::from_millis(0));
        assert_eq!(s.audiences, ["api://default"]);
        assert_eq!(s.policies.len(), 1);
        assert_eq!(s.policies[0].clients, [ALL_CLIENTS]);
        assert_eq!(s.policies[0].rules[0].scopes, [ANY_SCOPE]);
        assert!(s.scope("openid").is_some_and(|x| x.system));
    }
}
