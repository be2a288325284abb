//! RFC 6749 §6: a refresh token for new tokens; public clients' tokens rotate, and reusing a
//! rotated one after the grace window revokes its family.

use super::*;

fn narrow(granted: &[String], requested: Option<&str>) -> Result<Vec<String>, TokenError> {
    let Some(requested) = requested else {
        return Ok(granted.to_vec());
    };
    let asked: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
    if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
        return Err(TokenError::InvalidScope(format!(
            "The scope '{extra}' was not granted."
        )));
    }
    Ok(asked)
}

pub(super) fn refresh(
    ctx: &GrantCtx<'_>,
    client: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use refresh tokens.".into(),
        ));
    }
    let invalid = || TokenError::InvalidGrant("The refresh token is invalid or expired.".into());
    let digest = Secret::new(token).digest();
    let record = ctx.store().refresh(&digest)?.ok_or_else(invalid)?;
    if record.expires_at <= ctx.now()
        || record.client_id != client.client_id
        || record.server != ctx.issuer.id
        || ctx
            .store()
            .is_revoked(&format!("family:{}", record.family))?
    {
        return Err(invalid());
    }
    if let Some(rotated) = record.rotated_at {
        let grace_ends = rotated.plus(ctx.tokens.refresh_grace);
        if ctx.now() > grace_ends {
            tracing::warn!(client = %client.client_id, "rotated refresh token reused; revoking the family");
            revoke_family(ctx, &record.family)?;
            return Err(invalid());
        }
    }
    let scopes = narrow(&record.scopes, scope)?;
    let user = active_user(ctx.store(), record.user_id.as_str())?;
    if user.credential_epoch != record.credential_epoch {
        // The password was set since this family began (a reset after a theft, say).
        return Err(invalid());
    }
    let grant = record.grant.unwrap_or(GrantType::AuthorizationCode);
    if client.is_public() {
        // Rotate: this token is replaced (once the new tokens exist); reusing it after the
        // grace window revokes the family.
        let mut scopes_with_offline = scopes.clone();
        if !scopes_with_offline.iter().any(|s| s == "offline_access") {
            scopes_with_offline.push("offline_access".into());
        }
        let (body, _, _) = issue_for_user(
            ctx,
            client,
            UserGrant {
                user: &user,
                scopes: &scopes_with_offline,
                auth_time: record.auth_time,
                amr: &record.amr,
                nonce: None,
                family: Some(record.family.clone()),
                grant,
                max_until: record.max_until,
                rule_scopes: None,
            },
        )?;
        if record.rotated_at.is_none() {
            // Marked on the stored record: a token revoked meanwhile stays revoked.
            let now = ctx.now();
            ctx.store().modify_refresh(&digest, &mut |r| {
                r.rotated_at.get_or_insert(now);
                true
            })?;
        }
        return Ok(body);
    }
    let without_refresh: Vec<String> = scopes
        .iter()
        .filter(|s| *s != "offline_access")
        .cloned()
        .collect();
    let (mut body, _, _) = issue_for_user(
        ctx,
        client,
        UserGrant {
            user: &user,
            scopes: &without_refresh,
            auth_time: record.auth_time,
            amr: &record.amr,
            nonce: None,
            family: None,
            grant,
            max_until: None,
            rule_scopes: Some(&scopes),
        },
    )?;
    // A confidential client keeps its token; using it slides its idle window.
    if let Some(window) = record.window_secs {
        let slid = ctx.now().plus(Duration::from_secs(window));
        ctx.store().modify_refresh(&digest, &mut |r| {
            r.expires_at = r.max_until.map_or(slid, |m| m.min(slid));
            true
        })?;
    }
    body["refresh_token"] = json!(token);
    body["scope"] = json!(scopes.join(" "));
    Ok(body)
}
