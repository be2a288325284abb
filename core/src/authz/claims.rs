//! Custom claims: evaluated per token from the user, the client and the granted scopes. A claim
//! whose expression fails or yields null is left out (and logged), never failing the request.

use super::expr::{self, Scope as ExprScope};
use super::{AuthServer, Claim, ClaimType, Status, ValueType};
use crate::directory::User;
use serde_json::{Map, Value, json};

/// What claims may read.
pub struct ClaimInputs<'a> {
    /// `None` for client credentials.
    pub user: Option<&'a User>,
    /// Names of the user's groups.
    pub groups: &'a [String],
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub scopes: &'a [String],
}

/// `user.*` as expressions see it: the profile, the id and the status.
pub fn user_attributes(user: Option<&User>) -> Map<String, Value> {
    let Some(u) = user else {
        return Map::new();
    };
    let mut m = match serde_json::to_value(&u.profile) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    m.insert("id".into(), json!(u.id));
    m.insert("status".into(), json!(u.status));
    m
}

fn applies(c: &Claim, kind: ClaimType, scopes: &[String]) -> bool {
    c.status == Status::Active
        && c.claim_type == kind
        && (c.scopes.is_empty() || c.scopes.iter().any(|s| scopes.contains(s)))
}

fn value_of(
    c: &Claim,
    inputs: &ClaimInputs<'_>,
    user: &Map<String, Value>,
    app: &Map<String, Value>,
) -> Option<Value> {
    match c.value_type {
        ValueType::Groups => {
            inputs.user?;
            let kind = c.group_filter_type?.filter();
            Some(json!(expr::filter_groups(kind, &c.value, inputs.groups)))
        }
        ValueType::Expression => {
            let scope = ExprScope {
                user,
                groups: inputs.groups,
                app,
                scopes: inputs.scopes,
            };
            match expr::parse(&c.value).and_then(|e| e.eval(&scope)) {
                Ok(Value::Null) => None,
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(claim = %c.name, error = %e.message(), "a custom claim could not be evaluated; left out");
                    None
                }
            }
        }
    }
}

/// The claims of `kind` for a token. `only_always` keeps identity claims marked
/// `alwaysIncludeInToken` (an ID token issued beside an access token).
pub fn evaluate(
    server: &AuthServer,
    kind: ClaimType,
    inputs: &ClaimInputs<'_>,
    only_always: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut chosen = server
        .claims
        .iter()
        .filter(|c| applies(c, kind, inputs.scopes))
        .filter(|c| !only_always || c.always_include_in_token)
        .peekable();
    if chosen.peek().is_none() {
        return out;
    }
    let user = user_attributes(inputs.user);
    let mut app = Map::new();
    app.insert("clientId".into(), json!(inputs.client_id));
    app.insert("id".into(), json!(inputs.client_id));
    app.insert("name".into(), json!(inputs.client_name));
    app.insert("label".into(), json!(inputs.client_name));
    for c in chosen {
        if let Some(v) = value_of(c, inputs, &user, &app) {
            out.insert(c.name.clone(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::GroupFilterType;
    use crate::authz::servers::default_server;
    use crate::clock::Timestamp;
    use crate::directory::{Profile, UserStatus};

    fn user() -> User {
        let t = Timestamp::from_millis(0);
        User {
            id: "00u1".into(),
            status: UserStatus::Active,
            created: t,
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: t,
            password_changed: None,
            profile: Profile {
                login: "ada@example.com".into(),
                email: "ada@example.com".into(),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                attributes: Default::default(),
            },
            password: None,
            failed_attempts: 0,
            password_history: Vec::new(),
            credential_epoch: 0,
            sessions_epoch: 0,
            link_serials: Default::default(),
        }
    }

    fn claim(name: &str, kind: ClaimType, vt: ValueType, value: &str) -> Claim {
        Claim {
            id: name.into(),
            name: name.into(),
            status: Status::Active,
            claim_type: kind,
            value_type: vt,
            value: value.into(),
            group_filter_type: Some(GroupFilterType::StartsWith),
            always_include_in_token: false,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn standard_attributes_reach_expressions_and_the_standard_scopes() {
        let mut u = user();
        for (k, v) in [
            ("department", "Platform"),
            ("mobilePhone", "+33 6 12 34 56 78"),
            ("city", "Lyon"),
            ("countryCode", "FR"),
            ("locale", "fr_FR"),
            ("timezone", "Europe/Paris"),
        ] {
            u.profile.attributes.insert(k.into(), v.into());
        }
        // Custom attributes keep their JSON type in expressions and in the claims they give.
        u.profile.attributes.insert("age".into(), json!(42));
        u.profile
            .attributes
            .insert("contractor".into(), json!(true));
        u.profile.attributes.insert("floors".into(), json!([3, 4]));
        let mut s = default_server(Timestamp::from_millis(0));
        s.claims = vec![
            claim(
                "dept",
                ClaimType::Resource,
                ValueType::Expression,
                "user.profile.department",
            ),
            claim(
                "senior",
                ClaimType::Resource,
                ValueType::Expression,
                "user.age > 40 && user.contractor",
            ),
            claim(
                "floors",
                ClaimType::Resource,
                ValueType::Expression,
                "user.floors",
            ),
        ];
        let scopes = vec!["openid".to_owned()];
        let inputs = ClaimInputs {
            user: Some(&u),
            groups: &[],
            client_id: "c1",
            client_name: "Shop",
            scopes: &scopes,
        };
        assert_eq!(
            evaluate(&s, ClaimType::Resource, &inputs, false)["dept"],
            "Platform"
        );
        let claims = evaluate(&s, ClaimType::Resource, &inputs, false);
        assert_eq!(claims["senior"], true);
        assert_eq!(claims["floors"], json!([3, 4]));

        let scopes: Vec<String> = ["openid", "profile", "phone", "address"]
            .map(String::from)
            .to_vec();
        let std = crate::oauth::tokens::scope_claims(&u, &scopes, &[]);
        assert_eq!(std["locale"], "fr_FR");
        assert_eq!(std["zoneinfo"], "Europe/Paris");
        assert_eq!(std["phone_number"], "+33 6 12 34 56 78");
        assert_eq!(
            std["address"],
            json!({ "locality": "Lyon", "country": "FR" })
        );
        let plain = crate::oauth::tokens::scope_claims(&user(), &scopes, &[]);
        assert_eq!(plain["locale"], "en_US");
        assert!(!plain.contains_key("phone_number") && !plain.contains_key("address"));
    }

    #[test]
    fn expressions_groups_and_scope_conditions() {
        let mut s = default_server(Timestamp::from_millis(0));
        s.claims = vec![
            claim(
                "domain",
                ClaimType::Resource,
                ValueType::Expression,
                "String.substringAfter(user.email, \"@\")",
            ),
            claim("groups", ClaimType::Resource, ValueType::Groups, "App"),
            claim(
                "broken",
                ClaimType::Resource,
                ValueType::Expression,
                "1 / 0",
            ),
            claim(
                "full",
                ClaimType::Identity,
                ValueType::Expression,
                "user.firstName + \" \" + user.lastName",
            ),
        ];
        let mut gated = claim(
            "gated",
            ClaimType::Resource,
            ValueType::Expression,
            "\"yes\"",
        );
        gated.scopes = vec!["profile".into()];
        s.claims.push(gated);
        let u = user();
        let groups = vec!["App-Admins".to_owned(), "Other".to_owned()];
        let scopes = vec!["openid".to_owned()];
        let inputs = ClaimInputs {
            user: Some(&u),
            groups: &groups,
            client_id: "c1",
            client_name: "Shop",
            scopes: &scopes,
        };
        let at = evaluate(&s, ClaimType::Resource, &inputs, false);
        assert_eq!(at["domain"], "example.com");
        assert_eq!(at["groups"], json!(["App-Admins"]));
        assert!(
            !at.contains_key("broken"),
            "a failing expression is left out"
        );
        assert!(!at.contains_key("gated"), "its scope was not granted");
        assert!(
            !at.contains_key("full"),
            "identity claims stay out of access tokens"
        );
        let id = evaluate(&s, ClaimType::Identity, &inputs, false);
        assert_eq!(id["full"], "Ada Lovelace");
        assert!(evaluate(&s, ClaimType::Identity, &inputs, true).is_empty());
    }
}
