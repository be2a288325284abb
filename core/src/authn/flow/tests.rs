//! The state machine, transition by transition, with time stepped by hand.

use super::*;
use crate::authn::factors::totp_code;
use crate::directory::Profile;
use crate::directory::users::{Activation, NewUser, create_user};
use crate::store::SledStore;

const PASSWORD: &str = "Corr3ct-Horse";
const T0: i64 = 1_800_000_000_000;

struct Fx {
    _dir: tempfile::TempDir,
    store: SledStore,
    hasher: PasswordHasher,
    settings: AuthnSettings,
    policy: PasswordPolicy,
    now: Timestamp,
}

impl Fx {
    fn new(enrollment: MfaEnrollment) -> Self {
        let (dir, store) = crate::store::temp_store();
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let policy = PasswordPolicy::default();
        create_user(
            &store,
            &hasher,
            &policy,
            Timestamp::from_millis(T0),
            NewUser {
                profile: Profile {
                    login: "ann@example.com".into(),
                    email: "ann@example.com".into(),
                    first_name: "Ann".into(),
                    last_name: "Lee".into(),
                    attributes: Default::default(),
                },
                password: Some(PASSWORD.into()),
            },
            Activation::Activate,
        )
        .unwrap();
        Self {
            _dir: dir,
            store,
            hasher,
            settings: AuthnSettings {
                max_failed_attempts: 4,
                mfa_enrollment: enrollment,
                ..AuthnSettings::default()
            },
            policy,
            now: Timestamp::from_millis(T0),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &self.store,
            hasher: &self.hasher,
            settings: &self.settings,
            policy: &self.policy,
            now: self.now,
        }
    }

    fn wait(&mut self, secs: u64) {
        self.now = self.now.plus(Duration::from_secs(secs));
    }

    fn sign_in(&self, options: TxOptions) -> Result<Outcome, FlowError> {
        primary(&self.ctx(), "ann@example.com", PASSWORD, options)
    }

    fn user(&self) -> User {
        self.store
            .user_by_login("ann@example.com")
            .unwrap()
            .unwrap()
    }

    /// The current TOTP code of `secret` at the fixture's time.
    fn code(&self, secret: &str) -> String {
        totp_code(
            secret,
            u64::try_from(self.now.millis() / 1000).unwrap() / 30,
        )
        .unwrap()
    }

    /// Enrolls and activates a TOTP factor through the flow; returns its secret.
    fn enroll_totp(&mut self) -> String {
        let p = pending(self.sign_in(TxOptions::default()));
        assert_eq!(p.tx.step, Step::MfaEnroll);
        let p = pending(enroll_factor(&self.ctx(), &p.state_token, &totp_req()));
        let Step::MfaEnrollActivate { factor_id } = &p.tx.step else {
            panic!("expected activation, got {:?}", p.tx.step)
        };
        let secret = p.factors[0].shared_secret().unwrap().to_owned();
        let done = activate_factor(&self.ctx(), &p.state_token, factor_id, &self.code(&secret));
        assert!(matches!(done, Ok(Outcome::Success(_))), "{done:?}");
        // The next sign-in must not reuse this step's code.
        self.wait(30);
        secret
    }
}

fn pending(outcome: Result<Outcome, FlowError>) -> Box<Pending> {
    match outcome {
        Ok(Outcome::Pending(p)) => p,
        other => panic!("expected a pending transaction, got {other:?}"),
    }
}

fn success(outcome: Result<Outcome, FlowError>) -> Box<Completed> {
    match outcome {
        Ok(Outcome::Success(c)) => c,
        other => panic!("expected success, got {other:?}"),
    }
}

fn verify(ctx: &Ctx<'_>, token: &str, factor_id: &str, input: &str) -> Result<Outcome, FlowError> {
    verify_factor(ctx, token, factor_id, Some(input))
}

fn totp_req() -> EnrollRequest {
    EnrollRequest {
        factor_type: "token:software:totp".into(),
        provider: "GOOGLE".into(),
        question: None,
        answer: None,
        email: None,
        rp: None,
    }
}

#[test]
fn a_user_without_factors_signs_in_with_the_password_alone() {
    let fx = Fx::new(MfaEnrollment::Optional);
    let c = success(fx.sign_in(TxOptions::default()));
    assert_eq!(c.amr, ["pwd"]);
    assert_eq!(c.user.profile.login, "ann@example.com");
    assert!(fx.user().last_login.is_some());
}

#[test]
fn unknown_user_wrong_password_and_inactive_user_fail_alike() {
    let fx = Fx::new(MfaEnrollment::Optional);
    for (user, pw) in [
        ("nobody@example.com", PASSWORD),
        ("ann@example.com", "wrong"),
    ] {
        assert!(matches!(
            primary(&fx.ctx(), user, pw, TxOptions::default()),
            Err(FlowError::AuthenticationFailed)
        ));
    }
}

#[test]
fn required_enrollment_walks_enroll_activate_and_completes_with_mfa() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(p.tx.step, Step::MfaEnroll);
    assert!(!p.skippable, "required enrollment cannot be skipped");
    assert!(matches!(
        skip(&fx.ctx(), &p.state_token),
        Err(FlowError::WrongState)
    ));

    let p = pending(enroll_factor(&fx.ctx(), &p.state_token, &totp_req()));
    let Step::MfaEnrollActivate { factor_id } = p.tx.step.clone() else {
        panic!("expected MFA_ENROLL_ACTIVATE")
    };
    let secret = p.factors[0].shared_secret().unwrap().to_owned();
    assert!(matches!(
        activate_factor(&fx.ctx(), &p.state_token, &factor_id, "000000"),
        Err(FlowError::InvalidPasscode)
    ));
    fx.wait(5);
    let c = success(activate_factor(
        &fx.ctx(),
        &p.state_token,
        &factor_id,
        &fx.code(&secret),
    ));
    assert_eq!(c.amr, ["pwd", "otp", "mfa"]);
    let factor = fx.store.factor(&c.user.id, &factor_id).unwrap().unwrap();
    assert_eq!(factor.status, FactorStatus::Active);
    assert!(
        factor.activation_token.is_none(),
        "the QR link dies with activation"
    );
}

#[test]
fn an_enrolled_user_must_verify_and_a_code_works_once() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    let secret = fx.enroll_totp();

    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(p.tx.step, Step::MfaRequired);
    let factor_id = p.factors[0].id.clone();
    let code = fx.code(&secret);
    success(verify(&fx.ctx(), &p.state_token, &factor_id, &code));

    // The same code in a new transaction is a replay, reported as such and not accepted.
    let p = pending(fx.sign_in(TxOptions::default()));
    let again = pending(verify(&fx.ctx(), &p.state_token, &factor_id, &code));
    assert_eq!(again.factor_result, Some(FactorResult::PasscodeReplayed));
    assert_eq!(again.tx.step, Step::MfaRequired);
    fx.wait(30);
    success(verify(
        &fx.ctx(),
        &p.state_token,
        &factor_id,
        &fx.code(&secret),
    ));
}

#[test]
fn wrong_codes_count_towards_lockout() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    fx.enroll_totp();
    let p = pending(fx.sign_in(TxOptions::default()));
    let factor_id = p.factors[0].id.clone();
    for _ in 0..4 {
        let r = verify(&fx.ctx(), &p.state_token, &factor_id, "123456");
        assert!(
            matches!(r, Err(FlowError::InvalidPasscode | FlowError::InvalidToken)),
            "{r:?}"
        );
    }
    assert_eq!(fx.user().status, UserStatus::LockedOut);
    assert!(matches!(
        resume(&fx.ctx(), &p.state_token),
        Err(FlowError::InvalidToken)
    ));
    assert!(matches!(
        fx.sign_in(TxOptions::default()),
        Err(FlowError::AuthenticationFailed)
    ));
}

#[test]
fn requests_out_of_step_are_refused() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    assert!(matches!(
        verify(&fx.ctx(), &p.state_token, "uftnope", "123456"),
        Err(FlowError::WrongState)
    ));
    assert!(matches!(
        change_password(&fx.ctx(), &p.state_token, PASSWORD, "N3w-Password!"),
        Err(FlowError::WrongState)
    ));
    assert!(matches!(
        previous(&fx.ctx(), &p.state_token),
        Err(FlowError::WrongState)
    ));
    fx.enroll_totp();
    let p = pending(fx.sign_in(TxOptions::default()));
    assert!(matches!(
        enroll_factor(&fx.ctx(), &p.state_token, &totp_req()),
        Err(FlowError::WrongState)
    ));
}

#[test]
fn state_tokens_slide_and_then_expire() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    fx.wait(590);
    pending(resume(&fx.ctx(), &p.state_token));
    fx.wait(590);
    pending(resume(&fx.ctx(), &p.state_token));
    fx.wait(601);
    assert!(matches!(
        resume(&fx.ctx(), &p.state_token),
        Err(FlowError::InvalidToken)
    ));
    assert!(matches!(
        resume(&fx.ctx(), "made-up"),
        Err(FlowError::InvalidToken)
    ));
}

#[test]
fn previous_returns_to_the_list_and_drops_the_pending_factor() {
    let fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    let p = pending(enroll_factor(&fx.ctx(), &p.state_token, &totp_req()));
    let back = pending(previous(&fx.ctx(), &p.state_token));
    assert_eq!(back.tx.step, Step::MfaEnroll);
    assert!(back.factors.is_empty());
}

#[test]
fn a_security_question_enrolls_at_once_and_verifies_case_insensitively() {
    let fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    let bad = EnrollRequest {
        factor_type: "question".into(),
        provider: "OKTA".into(),
        question: Some("not_a_question".into()),
        answer: Some("x".into()),
        email: None,
        rp: None,
    };
    match enroll_factor(&fx.ctx(), &p.state_token, &bad) {
        Err(FlowError::Invalid(errs)) => assert_eq!(errs.len(), 2),
        other => panic!("expected validation errors, got {other:?}"),
    }
    let good = EnrollRequest {
        question: Some("disliked_food".into()),
        answer: Some("Brussels Sprouts".into()),
        ..bad
    };
    success(enroll_factor(&fx.ctx(), &p.state_token, &good));

    let p = pending(fx.sign_in(TxOptions::default()));
    let id = p.factors[0].id.clone();
    assert!(matches!(
        verify(&fx.ctx(), &p.state_token, &id, "kale"),
        Err(FlowError::InvalidPasscode)
    ));
    let c = success(verify(&fx.ctx(), &p.state_token, &id, "brussels SPROUTS"));
    assert_eq!(c.amr, ["pwd", "kba", "mfa"]);
}

#[test]
fn optional_enrollment_is_offered_when_asked_and_can_be_skipped() {
    let fx = Fx::new(MfaEnrollment::Optional);
    let options = TxOptions {
        multi_optional_factor_enroll: true,
        ..TxOptions::default()
    };
    let p = pending(fx.sign_in(options));
    assert_eq!(p.tx.step, Step::MfaEnroll);
    assert!(p.skippable);
    success(skip(&fx.ctx(), &p.state_token));
}

#[test]
fn an_expired_password_must_be_changed_to_one_the_policy_accepts() {
    let fx = Fx::new(MfaEnrollment::Optional);
    let user = fx.user();
    crate::directory::users::expire_password(&fx.store, fx.now, &user.id).unwrap();
    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(p.tx.step, Step::PasswordExpired);
    for (old, new, field) in [
        ("wrong-old", "N3w-Passw0rd!", "oldPassword"),
        (PASSWORD, "weak", "password"),
        (PASSWORD, PASSWORD, "password"),
    ] {
        match change_password(&fx.ctx(), &p.state_token, old, new) {
            Err(FlowError::PasswordRefused(errs)) => assert_eq!(errs[0].field, field),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    success(change_password(
        &fx.ctx(),
        &p.state_token,
        PASSWORD,
        "N3w-Passw0rd!",
    ));
    assert_eq!(fx.user().status, UserStatus::Active);
    assert!(
        primary(
            &fx.ctx(),
            "ann@example.com",
            "N3w-Passw0rd!",
            TxOptions::default()
        )
        .is_ok()
    );
}

#[test]
fn an_expiring_password_warns_when_asked_and_the_warning_can_be_skipped() {
    let mut fx = Fx::new(MfaEnrollment::Optional);
    fx.policy.max_age_days = Some(30);
    fx.policy.expire_warn_days = 7;
    fx.wait(25 * 86_400);
    success(fx.sign_in(TxOptions::default()));
    let warn = TxOptions {
        warn_before_password_expired: true,
        ..TxOptions::default()
    };
    let p = pending(fx.sign_in(warn));
    assert_eq!(p.tx.step, Step::PasswordWarn);
    assert_eq!(p.days_to_expiry, Some(5));
    success(skip(&fx.ctx(), &p.state_token));
    fx.wait(6 * 86_400);
    assert_eq!(
        pending(fx.sign_in(TxOptions::default())).tx.step,
        Step::PasswordExpired
    );
}

#[test]
fn cancel_ends_the_transaction() {
    let fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    cancel(&fx.ctx(), &p.state_token).unwrap();
    assert!(matches!(
        resume(&fx.ctx(), &p.state_token),
        Err(FlowError::InvalidToken)
    ));
    assert!(matches!(
        cancel(&fx.ctx(), &p.state_token),
        Err(FlowError::InvalidToken)
    ));
}

#[test]
fn an_email_factor_is_challenged_with_a_mailed_code() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    fx.settings.email_factor = true;
    let p = pending(fx.sign_in(TxOptions::default()));
    let req = EnrollRequest {
        factor_type: "email".into(),
        provider: "OKTA".into(),
        question: None,
        answer: None,
        email: None,
        rp: None,
    };
    let p = pending(enroll_factor(&fx.ctx(), &p.state_token, &req));
    assert_eq!(p.factor_result, Some(FactorResult::Waiting));
    assert_eq!(p.outbox.len(), 1);
    assert_eq!(p.outbox[0].to, "ann@example.com");
    let code = mailed_code(&p.outbox[0]);
    let Step::MfaEnrollActivate { factor_id } = p.tx.step.clone() else {
        panic!("expected activation")
    };
    // Resending replaces the code.
    let resent = pending(resend(&fx.ctx(), &p.state_token, &factor_id));
    let fresh = mailed_code(&resent.outbox[0]);
    if fresh != code {
        assert!(matches!(
            activate_factor(&fx.ctx(), &p.state_token, &factor_id, &code),
            Err(FlowError::InvalidPasscode)
        ));
    }
    success(activate_factor(
        &fx.ctx(),
        &p.state_token,
        &factor_id,
        &fresh,
    ));

    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(p.tx.step, Step::MfaRequired);
    let sent = pending(verify_factor(&fx.ctx(), &p.state_token, &factor_id, None));
    assert_eq!(
        sent.tx.step,
        Step::MfaChallenge {
            factor_id: factor_id.clone()
        }
    );
    let back = pending(previous(&fx.ctx(), &p.state_token));
    assert_eq!(back.tx.step, Step::MfaRequired);
    let sent = pending(verify_factor(&fx.ctx(), &p.state_token, &factor_id, None));
    let code = mailed_code(&sent.outbox[0]);
    let c = success(verify(&fx.ctx(), &p.state_token, &factor_id, &code));
    assert_eq!(c.amr, ["pwd", "email", "mfa"]);
}

#[test]
fn email_is_not_offered_without_mail() {
    let fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    let req = EnrollRequest {
        factor_type: "email".into(),
        provider: "OKTA".into(),
        question: None,
        answer: None,
        email: None,
        rp: None,
    };
    assert!(matches!(
        enroll_factor(&fx.ctx(), &p.state_token, &req),
        Err(FlowError::Invalid(_))
    ));
}

fn mailed_code(email: &Email) -> String {
    let at = email.body.find("code is ").unwrap() + "code is ".len();
    email.body[at..at + 6].to_owned()
}

#[test]
fn lockout_is_shown_only_when_the_org_opts_in() {
    let mut fx = Fx::new(MfaEnrollment::Optional);
    for _ in 0..4 {
        let _ = primary(&fx.ctx(), "ann@example.com", "wrong", TxOptions::default());
    }
    assert!(matches!(
        fx.sign_in(TxOptions::default()),
        Err(FlowError::AuthenticationFailed)
    ));
    fx.settings.show_lockout = true;
    assert!(matches!(
        fx.sign_in(TxOptions::default()),
        Ok(Outcome::LockedOut)
    ));
    assert!(matches!(
        primary(&fx.ctx(), "nobody@example.com", "x", TxOptions::default()),
        Err(FlowError::AuthenticationFailed)
    ));
}

#[test]
fn a_state_token_in_use_still_ends_at_its_maximum_life() {
    let mut fx = Fx::new(MfaEnrollment::Required);
    let p = pending(fx.sign_in(TxOptions::default()));
    // Used every nine minutes, it would slide forever without the cap.
    for _ in 0..6 {
        fx.wait(540);
        pending(resume(&fx.ctx(), &p.state_token));
    }
    fx.wait(540);
    assert!(matches!(
        resume(&fx.ctx(), &p.state_token),
        Err(FlowError::InvalidToken)
    ));
}

fn question_req() -> EnrollRequest {
    EnrollRequest {
        factor_type: "question".into(),
        provider: "OKTA".into(),
        question: Some("disliked_food".into()),
        answer: Some("Pele the great".into()),
        email: None,
        rp: None,
    }
}

#[test]
fn each_factor_the_policy_requires_is_set_up_before_success_and_a_not_allowed_one_never() {
    let mut fx = Fx::new(MfaEnrollment::Optional);
    fx.settings.factor_policy = factors::FactorPolicy::parse([
        ("google_otp", "REQUIRED"),
        ("okta_question", "REQUIRED"),
        ("okta_otp", "NOT_ALLOWED"),
    ])
    .unwrap();
    // Required factors make the list mandatory even where enrollment is optional.
    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(p.tx.step, Step::MfaEnroll);
    assert!(!p.skippable);
    let not_allowed = EnrollRequest {
        provider: "OKTA".into(),
        ..totp_req()
    };
    assert!(matches!(
        enroll_factor(&fx.ctx(), &p.state_token, &not_allowed),
        Err(FlowError::Invalid(_))
    ));

    // One of two required: back to the list, still not skippable.
    let p = pending(enroll_factor(&fx.ctx(), &p.state_token, &question_req()));
    assert_eq!(p.tx.step, Step::MfaEnroll);
    assert!(!p.skippable, "the TOTP factor is still required");
    assert!(matches!(
        skip(&fx.ctx(), &p.state_token),
        Err(FlowError::WrongState)
    ));

    // The second: done.
    let token = p.state_token.clone();
    let p = pending(enroll_factor(&fx.ctx(), &token, &totp_req()));
    let Step::MfaEnrollActivate { factor_id } = p.tx.step.clone() else {
        panic!("expected MFA_ENROLL_ACTIVATE")
    };
    let secret = p
        .factors
        .iter()
        .find_map(Factor::shared_secret)
        .unwrap()
        .to_owned();
    success(activate_factor(
        &fx.ctx(),
        &token,
        &factor_id,
        &fx.code(&secret),
    ));
}

#[test]
fn with_required_factors_set_up_the_optional_rest_is_offered_with_a_skip() {
    let mut fx = Fx::new(MfaEnrollment::Optional);
    fx.settings.factor_policy =
        factors::FactorPolicy::parse([("okta_question", "REQUIRED")]).unwrap();
    let p = pending(fx.sign_in(TxOptions {
        multi_optional_factor_enroll: true,
        ..TxOptions::default()
    }));
    let p = pending(enroll_factor(&fx.ctx(), &p.state_token, &question_req()));
    assert_eq!(p.tx.step, Step::MfaEnroll, "the optional TOTP is offered");
    assert!(p.skippable);
    success(skip(&fx.ctx(), &p.state_token));
    // Without the option, the required factor alone finishes the step at the next sign-in.
    fx.wait(30);
    let p = pending(fx.sign_in(TxOptions::default()));
    assert_eq!(
        p.tx.step,
        Step::MfaRequired,
        "the question is verified, not enrolled again"
    );
}
