//! The org's password complexity rules, checked when a password is set. Defaults are Okta's.

use proto::authn::contains_username_part;

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_lower_case: usize,
    pub min_upper_case: usize,
    pub min_number: usize,
    pub min_symbol: usize,
    pub exclude_username: bool,
    /// Days a password lives before it must be changed; `None`: forever.
    pub max_age_days: Option<u32>,
    /// Days before expiry from which sign-in warns (when the client asks to be warned).
    pub expire_warn_days: u32,
    /// How many recent passwords (the current one included) may not be chosen again.
    pub history_count: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            min_lower_case: 1,
            min_upper_case: 1,
            min_number: 1,
            min_symbol: 0,
            exclude_username: true,
            max_age_days: None,
            expire_warn_days: 0,
            history_count: 4,
        }
    }
}

impl PasswordPolicy {
    /// The requirements in Okta's words, e.g. "at least 8 characters, a lowercase letter, …".
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("at least {} characters", self.min_length)];
        if self.min_lower_case > 0 {
            parts.push("a lowercase letter".into());
        }
        if self.min_upper_case > 0 {
            parts.push("an uppercase letter".into());
        }
        if self.min_number > 0 {
            parts.push("a number".into());
        }
        if self.min_symbol > 0 {
            parts.push("a symbol".into());
        }
        if self.exclude_username {
            parts.push("no parts of your username".into());
        }
        parts.join(", ")
    }

    /// `Ok` when `password` meets every rule for the user `login`, else Okta's message.
    pub fn check(&self, password: &str, login: &str) -> Result<(), String> {
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        let ok = password.chars().count() >= self.min_length
            && count(char::is_ascii_lowercase) >= self.min_lower_case
            && count(char::is_ascii_uppercase) >= self.min_upper_case
            && count(char::is_ascii_digit) >= self.min_number
            && password.chars().filter(|c| !c.is_alphanumeric()).count() >= self.min_symbol
            && !(self.exclude_username && contains_username_part(password, login));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "Password requirements were not met. Password requirements: {}.",
                self.describe()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_accepts_a_good_password() {
        assert!(
            PasswordPolicy::default()
                .check("Tr0ub4dor&3", "ann@example.com")
                .is_ok()
        );
    }

    #[test]
    fn default_policy_rejects_each_missing_class() {
        let p = PasswordPolicy::default();
        for bad in ["Sh0rt", "alllower1", "ALLUPPER1", "NoNumbers"] {
            assert!(p.check(bad, "zed@example.com").is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_parts_of_the_username() {
        let p = PasswordPolicy::default();
        let err = p
            .check("Annabel99X", "annabel.lee@example.com")
            .unwrap_err();
        assert!(err.contains("no parts of your username"));
        assert!(p.check("Xlee9999", "annabel.lee@example.com").is_err());
    }
}
