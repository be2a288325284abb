//! RFC 6749 §4.1.3: a code, spent once, for tokens; PKCE checked, the redirect URI matched.

use super::*;

pub(super) fn authorization_code(
    ctx: &GrantCtx<'_>,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use the authorization code grant.".into(),
        ));
    }
    let digest = Secret::new(code).digest();
    let invalid =
        || TokenError::InvalidGrant("The authorization code is invalid or has expired.".into());
    let mut record: CodeRecord = match ctx.store().use_code(&digest)? {
        CodeUse::Missing => return Err(invalid()),
        CodeUse::Replayed(r) => {
            // A code used twice was stolen or leaked: revoke what its first use issued.
            tracing::warn!(client = %r.client_id, "authorization code replayed; revoking its tokens");
            if let Some(jti) = &r.issued_jti {
                ctx.store()
                    .revoke(jti, ctx.now().plus(Duration::from_secs(86_400)))?;
            }
            if let Some(f) = &r.issued_family {
                revoke_family(ctx, f)?;
            }
            return Err(invalid());
        }
        CodeUse::Fresh(r) => r,
    };
    if record.expires_at <= ctx.now()
        || record.client_id != client.client_id
        || record.server != ctx.issuer.id
    {
        return Err(invalid());
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant(
            "The redirect_uri does not match the authorization request.".into(),
        ));
    }
    match (&record.challenge, verifier) {
        (Some(c), Some(v)) if c.verify(v) => {}
        (Some(_), _) => return Err(TokenError::InvalidGrant("PKCE verification failed.".into())),
        (None, Some(_)) => {
            return Err(TokenError::InvalidGrant(
                "A code_verifier was sent but no code_challenge was.".into(),
            ));
        }
        (None, None) => {}
    }
    let user = active_user(ctx.store(), record.user_id.as_str())?;
    if user.credential_epoch != record.credential_epoch
        || user.sessions_epoch != record.sessions_epoch
    {
        // The password was set, or the user's sessions ended, after the sign-in behind it.
        return Err(invalid());
    }
    let (body, jti, family) = issue_for_user(
        ctx,
        client,
        UserGrant {
            user: &user,
            scopes: &record.scopes,
            auth_time: record.auth_time,
            amr: &record.amr,
            nonce: record.nonce.as_deref(),
            family: None,
            grant: GrantType::AuthorizationCode,
            max_until: None,
            rule_scopes: None,
        },
    )?;
    record.issued_jti = Some(jti);
    record.issued_family = family;
    ctx.store().put_code(&digest, &record)?;
    Ok(body)
}
