//! The group filters of GROUPS-valued claims: STARTS_WITH, EQUALS, CONTAINS, REGEX.

use super::*;

/// How a GROUPS-valued claim selects the user's groups by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupFilter {
    /// The name starts with the value, ignoring case.
    StartsWith,
    /// The name equals the value, ignoring case.
    Equals,
    /// The name contains the value, ignoring case.
    Contains,
    /// The whole name matches the value as a regular expression (case-sensitive unless the
    /// pattern says `(?i)`).
    Regex,
}

/// Validates a GROUPS claim's filter value when the claim is saved (a regex that does not compile, or is longer than 1024 bytes, is refused).
pub fn check_group_filter(kind: GroupFilter, value: &str) -> Result<(), ExprError> {
    match kind {
        GroupFilter::Regex => compile_group_regex(value).map(|_| ()),
        GroupFilter::StartsWith | GroupFilter::Equals | GroupFilter::Contains => Ok(()),
    }
}

/// The user's group names the filter selects, at most 100, in the given order.
///
/// `StartsWith`, `Equals` and `Contains` compare case-insensitively (both sides lowercased with
/// Unicode rules, which covers ASCII), as Okta does. `Regex` must match the whole name; a regex
/// that is refused by [`check_group_filter`] selects nothing.
pub fn filter_groups(kind: GroupFilter, value: &str, groups: &[String]) -> Vec<String> {
    let selected: Box<dyn Fn(&str) -> bool> = match kind {
        GroupFilter::Regex => match compile_group_regex(value) {
            Ok(re) => Box::new(move |name| re.is_match(name)),
            Err(_) => return Vec::new(),
        },
        GroupFilter::StartsWith | GroupFilter::Equals | GroupFilter::Contains => {
            let value = value.to_lowercase();
            Box::new(move |name| {
                let name = name.to_lowercase();
                match kind {
                    GroupFilter::StartsWith => name.starts_with(&value),
                    GroupFilter::Equals => name == value,
                    _ => name.contains(&value),
                }
            })
        }
    };
    groups
        .iter()
        .filter(|g| selected(g.as_str()))
        .take(MAX_GROUPS)
        .cloned()
        .collect()
}

/// Compiles a group-filter regex anchored to the whole name. The pattern must compile on its
/// own first, so that it cannot close the anchoring group early (`a)|(b`).
fn compile_group_regex(value: &str) -> Result<Regex, ExprError> {
    if value.len() > MAX_REGEX_LEN {
        return Err(ExprError::new(format!(
            "group filter regex is longer than {MAX_REGEX_LEN} bytes"
        )));
    }
    let build = |pattern: &str| {
        RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| ExprError::new(format!("invalid group filter regex: {e}")))
    };
    build(value)?;
    build(&format!("^(?:{value})$"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn group_filter_kinds() {
        let groups: Vec<String> = ["Admins", "admins-eu", "Sales", "ÉQUIPE", "Everyone"]
            .map(String::from)
            .to_vec();
        let pick = |kind, value| filter_groups(kind, value, &groups);
        assert_eq!(
            pick(GroupFilter::StartsWith, "ADMIN"),
            ["Admins", "admins-eu"]
        );
        assert_eq!(pick(GroupFilter::Equals, "sales"), ["Sales"]);
        assert_eq!(pick(GroupFilter::Equals, "sale"), Vec::<String>::new());
        assert_eq!(pick(GroupFilter::Contains, "équi"), ["ÉQUIPE"]);
        assert_eq!(pick(GroupFilter::Contains, ""), groups);
        assert_eq!(pick(GroupFilter::Regex, "admins.*"), ["admins-eu"]);
        assert_eq!(pick(GroupFilter::Regex, "(?i)admins"), ["Admins"]);
        assert_eq!(pick(GroupFilter::Regex, "Sale"), Vec::<String>::new());
        assert_eq!(pick(GroupFilter::Regex, ".*"), groups);
        for kind in [
            GroupFilter::StartsWith,
            GroupFilter::Equals,
            GroupFilter::Contains,
        ] {
            assert!(check_group_filter(kind, "anything (").is_ok());
        }

        let many: Vec<String> = (0..150).map(|i| format!("g{i}")).collect();
        assert_eq!(
            filter_groups(GroupFilter::StartsWith, "g", &many).len(),
            100
        );
        assert_eq!(filter_groups(GroupFilter::Regex, "g\\d+", &many).len(), 100);
    }

    #[test]
    fn group_filter_regex_safety() {
        assert!(check_group_filter(GroupFilter::Regex, "(a+)+$").is_ok());
        let e = check_group_filter(GroupFilter::Regex, "(unclosed").unwrap_err();
        assert!(e.message().starts_with("invalid group filter regex"));
        assert_eq!(
            filter_groups(GroupFilter::Regex, "(unclosed", &["(unclosed".into()]),
            Vec::<String>::new()
        );
        // A pattern that would close the anchoring group early is refused, not half-anchored.
        assert!(check_group_filter(GroupFilter::Regex, "a)|(b").is_err());
        assert!(
            filter_groups(GroupFilter::Regex, "a)|(b", &["axx".into(), "xxb".into()]).is_empty()
        );
        let long = "a".repeat(MAX_REGEX_LEN + 1);
        let e = check_group_filter(GroupFilter::Regex, &long).unwrap_err();
        assert!(e.message().contains("longer than 1024 bytes"));
        // A pattern whose compiled form is too big is refused.
        assert!(check_group_filter(GroupFilter::Regex, "(\\w{1000}){1000}").is_err());

        let evil = format!("{}!", "a".repeat(20_000));
        let groups = vec![evil.clone(), "a".repeat(20_000), evil];
        let started = Instant::now();
        let picked = filter_groups(GroupFilter::Regex, "(a+)+$", &groups);
        assert_eq!(picked.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
