//! RFC 6749 §4.3: the resource owner's password, for trusted clients registered for it.

use super::*;

/// Resource owner password: for trusted clients registered for it; no MFA, so a user whose
/// sign-in needs another step cannot use it.
pub(super) fn password_grant(
    ctx: &GrantCtx<'_>,
    client: &Client,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::Password) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use the password grant.".into(),
        ));
    }
    let scopes = match &ctx.issuer.custom {
        None => {
            let scopes = if scope.is_some() {
                words(scope)
            } else {
                vec!["openid".to_owned()]
            };
            if let Some(bad) = scopes
                .iter()
                .find(|s| !crate::oauth::authorize::SCOPES.contains(&s.as_str()))
            {
                return Err(TokenError::InvalidScope(format!(
                    "The scope '{bad}' is not known."
                )));
            }
            scopes
        }
        Some(server) => {
            policy::resolve_scopes(server, &words(scope)).map_err(TokenError::InvalidScope)?
        }
    };
    let completed = match flow::primary(&ctx.authn, username, password, TxOptions::default()) {
        Ok(Outcome::Success(c)) => c,
        Ok(Outcome::Pending(p)) => {
            flow::cancel(&ctx.authn, &p.state_token)
                .map_err(|e| TokenError::Flow(e.to_string()))?;
            return Err(TokenError::InvalidGrant(
                "This account needs another sign-in step (such as MFA); use the authorization code flow.".into(),
            ));
        }
        Ok(Outcome::LockedOut | Outcome::Unlocked(_)) | Err(FlowError::AuthenticationFailed) => {
            return Err(TokenError::InvalidGrant(
                "The credentials provided were invalid.".into(),
            ));
        }
        Err(FlowError::Hash(crate::crypto::password::HashError::Busy)) => {
            return Err(TokenError::Busy);
        }
        Err(FlowError::Store(e)) => return Err(TokenError::Store(e)),
        Err(e) => return Err(TokenError::Flow(e.to_string())),
    };
    // The one-time session token is not needed: spend it.
    let _ = crate::authn::session::redeem_session_token(
        ctx.store(),
        ctx.now(),
        completed.session_token.expose(),
    );
    let (body, _, _) = issue_for_user(
        ctx,
        client,
        UserGrant {
            user: &completed.user,
            scopes: &scopes,
            auth_time: ctx.now(),
            amr: &completed.amr,
            nonce: None,
            family: None,
            grant: GrantType::Password,
            max_until: None,
            rule_scopes: None,
        },
    )?;
    Ok(body)
}
