//! Every string the pages and the widget show, per language. A language is one `Messages`
//! value, so the compiler checks that each language has every message. The server picks the
//! language from `?lang=` or `Accept-Language`; components read it from context.

mod de;
mod en;
mod fr;

use crate::authn::PasswordRule;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::Fr];

    /// `de`, `de-CH`, `FR_fr`… → the language, if it is one of ours.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// `?lang=` wins; otherwise the best of `Accept-Language` by quality; otherwise English.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(l) = query.and_then(Lang::from_tag) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or_default().split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::from_tag(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
        }
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Lang::En => &en::EN,
            Lang::De => &de::DE,
            Lang::Fr => &fr::FR,
        }
    }
}

/// Messages that replace the language's own (the widget's `i18n` option).
#[derive(Debug, Clone, Copy)]
pub struct CustomMessages(pub &'static Messages);

/// The messages in context: custom ones, or those of the language (English when none).
pub fn use_messages() -> &'static Messages {
    if let Some(CustomMessages(m)) = use_context::<CustomMessages>() {
        return m;
    }
    use_context::<Lang>().unwrap_or_default().messages()
}

/// One language's strings. `{n}` in a template is replaced by a number.
#[derive(Debug, Clone)]
pub struct Messages {
    // Sign-in
    pub sign_in_title: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub show_password: &'static str,
    pub remember_me: &'static str,
    pub forgot_password: &'static str,
    pub unlock_account: &'static str,
    pub help: &'static str,
    pub signed_in_title: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub err_failed: &'static str,
    pub err_missing: &'static str,
    pub err_form_expired: &'static str,
    pub err_internal: &'static str,
    pub err_network: &'static str,
    pub err_tx_expired: &'static str,
    pub err_wrong_code: &'static str,
    pub err_code_replayed: &'static str,
    pub err_wrong_answer: &'static str,
    pub err_passwords_differ: &'static str,
    pub err_required: &'static str,
    pub err_old_password: &'static str,
    pub err_password_rules: &'static str,
    pub err_password_reused: &'static str,
    pub err_too_many: &'static str,
    // Steps
    pub cancel: &'static str,
    pub back: &'static str,
    pub continue_: &'static str,
    pub verify: &'static str,
    pub resend: &'static str,
    pub other_method: &'static str,
    pub set_up: &'static str,
    pub skip_for_now: &'static str,
    pub step_unknown: &'static str,
    pub code_label: &'static str,
    pub factor_google: &'static str,
    pub factor_okta: &'static str,
    pub factor_email: &'static str,
    pub factor_question: &'static str,
    pub factor_other: &'static str,
    pub factor_passkey: &'static str,
    pub passkey_enroll_title: &'static str,
    pub passkey_enroll_intro: &'static str,
    pub passkey_create: &'static str,
    pub passkey_verify_title: &'static str,
    pub passkey_verify_intro: &'static str,
    pub passkey_use: &'static str,
    pub passkey_sign_in: &'static str,
    pub passkey_failed: &'static str,
    pub passkey_needs_script: &'static str,
    pub err_wrong_passkey: &'static str,
    pub factor_set_up: &'static str,
    /// Beside a factor the MFA enrollment policy requires.
    pub factor_required: &'static str,
    pub mfa_required_title: &'static str,
    pub mfa_required_intro: &'static str,
    pub totp_verify_hint: &'static str,
    pub email_send_hint: &'static str,
    pub email_send: &'static str,
    pub email_code_title: &'static str,
    pub email_code_sent: &'static str,
    pub mfa_enroll_title: &'static str,
    pub mfa_enroll_intro: &'static str,
    pub question_choose: &'static str,
    pub question_answer: &'static str,
    pub email_enroll_title: &'static str,
    pub totp_enroll_title: &'static str,
    pub totp_enroll_scan: &'static str,
    pub totp_enroll_code: &'static str,
    pub totp_qr_alt: &'static str,
    pub totp_manual: &'static str,
    pub password_expired_title: &'static str,
    pub password_expired_intro: &'static str,
    pub password_warn_title: &'static str,
    pub password_warn_intro: &'static str,
    pub password_reset_title: &'static str,
    pub password_reset_intro: &'static str,
    pub days_left: &'static str,
    pub account: &'static str,
    pub current_password: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub change_password: &'static str,
    pub requirements: &'static str,
    pub rule_min_length: &'static str,
    pub rule_lower: &'static str,
    pub rule_upper: &'static str,
    pub rule_number: &'static str,
    pub rule_symbol: &'static str,
    pub rule_no_username: &'static str,
    pub recovery_question_title: &'static str,
    // Recovery and unlock
    pub forgot_title: &'static str,
    pub forgot_intro: &'static str,
    pub send_reset_link: &'static str,
    pub unlock_title: &'static str,
    pub unlock_intro: &'static str,
    pub send_unlock_link: &'static str,
    pub check_email_title: &'static str,
    pub check_email_body: &'static str,
    pub back_to_sign_in: &'static str,
    pub unlocked_title: &'static str,
    pub unlocked_body: &'static str,
    pub locked_title: &'static str,
    pub locked_body: &'static str,
    pub link_invalid: &'static str,
    pub password_changed: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_body: &'static str,
    // Self-service registration
    pub sign_up_link: &'static str,
    /// A link to sign in at an identity provider; `{name}` is its name.
    pub sign_in_with: &'static str,
    pub or: &'static str,
    pub register_title: &'static str,
    pub register_intro: &'static str,
    pub email: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub create_account: &'static str,
    pub registered_body: &'static str,
    // Errors and other pages
    pub problem_missing_client: &'static str,
    pub problem_unknown_client: &'static str,
    pub problem_missing_redirect: &'static str,
    pub problem_unregistered_redirect: &'static str,
    pub problem_repeated_parameter: &'static str,
    pub confirm_sign_out_title: &'static str,
    pub confirm_sign_out_body: &'static str,
    pub problem_logout_hint_missing: &'static str,
    pub problem_logout_unverified: &'static str,
    pub problem_consent_invalid: &'static str,
    pub problem_consent_expired: &'static str,
    pub problem_signed_out_meanwhile: &'static str,
    pub problem_unknown_server: &'static str,
    pub problem_idp_unavailable: &'static str,
    pub problem_idp_failed: &'static str,
    pub problem_idp_cancelled: &'static str,
    pub problem_idp_no_account: &'static str,
    pub problem_idp_inactive: &'static str,
    pub problem_request_expired: &'static str,
    pub error_title: &'static str,
    pub error_default: &'static str,
    pub error_next: &'static str,
    pub go_to_sign_in: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub consent_title: &'static str,
    pub consent_wants: &'static str,
    pub consent_revoke_hint: &'static str,
    pub consent_allow: &'static str,
    pub consent_deny: &'static str,
    pub activate_title: &'static str,
    pub link_continue: &'static str,
    pub language: &'static str,
}

impl Messages {
    /// These messages with some replaced, by the keys of Okta's sign-in widget
    /// (`primaryauth.title`, `primaryauth.submit`, `forgotpassword`…); unknown keys are ignored.
    /// The result lives as long as the page (a widget mounts a handful of times at most).
    pub fn customized<'a>(
        &self,
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &'static Messages {
        let mut m = self.clone();
        for (key, text) in overrides {
            let text: &'static str = Box::leak(text.to_owned().into_boxed_str());
            let slot = match key {
                "primaryauth.title" => &mut m.sign_in_title,
                "primaryauth.username.placeholder" | "primaryauth.username" => &mut m.username,
                "primaryauth.password.placeholder" | "primaryauth.password" => &mut m.password,
                "primaryauth.submit" => &mut m.sign_in,
                "remember" => &mut m.remember_me,
                "forgotpassword" => &mut m.forgot_password,
                "unlockaccount" => &mut m.unlock_account,
                "help" => &mut m.help,
                "goback" => &mut m.back_to_sign_in,
                "mfa.challenge.verify" => &mut m.verify,
                "enroll.choices.title" => &mut m.mfa_enroll_title,
                "password.forgot.sendEmail" => &mut m.send_reset_link,
                "password.reset" => &mut m.password_reset_title,
                "errors.E0000004" => &mut m.err_failed,
                _ => continue,
            };
            *slot = text;
        }
        Box::leak(Box::new(m))
    }

    /// A password requirement in words.
    pub fn rule(&self, rule: PasswordRule) -> String {
        match rule {
            PasswordRule::MinLength(n) => self.rule_min_length.replace("{n}", &n.to_string()),
            PasswordRule::Lower => self.rule_lower.to_owned(),
            PasswordRule::Upper => self.rule_upper.to_owned(),
            PasswordRule::Number => self.rule_number.to_owned(),
            PasswordRule::Symbol => self.rule_symbol.to_owned(),
            PasswordRule::NoUsername => self.rule_no_username.to_owned(),
        }
    }

    /// A refused new password in words, from the server's reason (Okta's E0000014 causes).
    pub fn password_refused(&self, reason: &str) -> String {
        if reason.contains("Old password is not correct") {
            self.err_old_password.to_owned()
        } else if reason.contains("requirements were not met") {
            self.err_password_rules.to_owned()
        } else if reason.contains("used too recently") {
            self.err_password_reused.to_owned()
        } else {
            reason.to_owned()
        }
    }

    /// Why a request could not continue, in words.
    pub fn problem(&self, p: crate::Problem) -> &'static str {
        use crate::Problem as P;
        match p {
            P::MissingClient => self.problem_missing_client,
            P::UnknownClient => self.problem_unknown_client,
            P::MissingRedirect => self.problem_missing_redirect,
            P::UnregisteredRedirect => self.problem_unregistered_redirect,
            P::RepeatedParameter => self.problem_repeated_parameter,
            P::FormExpired => self.err_form_expired,
            P::Internal => self.err_internal,
            P::LogoutHintMissing => self.problem_logout_hint_missing,
            P::LogoutUnverified => self.problem_logout_unverified,
            P::ConsentInvalid => self.problem_consent_invalid,
            P::ConsentExpired => self.problem_consent_expired,
            P::SignedOutMeanwhile => self.problem_signed_out_meanwhile,
            P::UnknownServer => self.problem_unknown_server,
            P::IdpUnavailable => self.problem_idp_unavailable,
            P::IdpFailed => self.problem_idp_failed,
            P::IdpCancelled => self.problem_idp_cancelled,
            P::IdpNoAccount => self.problem_idp_no_account,
            P::IdpInactive => self.problem_idp_inactive,
            P::RequestExpired => self.problem_request_expired,
        }
    }

    pub fn days_left(&self, days: i64) -> String {
        self.days_left.replace("{n}", &days.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_best_accepted_language() {
        assert_eq!(Lang::negotiate(Some("fr"), Some("de")), Lang::Fr);
        assert_eq!(
            Lang::negotiate(None, Some("it, de-CH;q=0.8, fr;q=0.5")),
            Lang::De
        );
        assert_eq!(Lang::negotiate(Some("xx"), Some("fr-FR")), Lang::Fr);
        assert_eq!(Lang::negotiate(None, Some("ja, de;q=0")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn every_language_fills_in_its_templates() {
        for lang in Lang::ALL {
            let m = lang.messages();
            assert!(m.rule(PasswordRule::MinLength(8)).contains('8'), "{lang:?}");
            assert!(m.days_left(3).contains('3'), "{lang:?}");
            assert!(!m.sign_in.is_empty());
        }
    }

    #[test]
    fn refused_passwords_are_explained_in_the_language() {
        let de = Lang::De.messages();
        assert_eq!(
            de.password_refused(
                "Password requirements were not met. Password requirements: at least 8 characters."
            ),
            de.err_password_rules
        );
        assert_eq!(
            de.password_refused("Old password is not correct"),
            de.err_old_password
        );
        assert_eq!(de.password_refused("something else"), "something else");
    }

    #[test]
    fn okta_keys_replace_messages() {
        let m = Lang::En
            .messages()
            .customized([("primaryauth.title", "Sign in to Acme"), ("nope", "x")]);
        assert_eq!(m.sign_in_title, "Sign in to Acme");
        assert_eq!(m.sign_in, Lang::En.messages().sign_in);
    }

    #[test]
    fn german_and_french_are_translated() {
        assert_ne!(Lang::De.messages().sign_in, Lang::En.messages().sign_in);
        assert_ne!(Lang::Fr.messages().sign_in, Lang::En.messages().sign_in);
        assert_ne!(
            Lang::De.messages().password_reset_title,
            Lang::En.messages().password_reset_title
        );
        assert_ne!(
            Lang::Fr.messages().consent_allow,
            Lang::En.messages().consent_allow
        );
    }
}
