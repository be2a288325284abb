//! RFC 6749 §4.4: a confidential client's own tokens, with no user.

use super::*;

pub(super) fn client_credentials(
    ctx: &GrantCtx<'_>,
    client: &Client,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use client credentials.".into(),
        ));
    }
    let asked = words(scope);
    let scopes = match &ctx.issuer.custom {
        None => {
            if let Some(s) = asked.first() {
                // The org server has only user scopes; custom authorization servers define
                // API scopes.
                return Err(TokenError::InvalidScope(format!(
                    "The scope '{s}' is not available to client credentials on this authorization server."
                )));
            }
            asked
        }
        Some(server) => {
            let scopes =
                policy::resolve_scopes(server, &asked).map_err(TokenError::InvalidScope)?;
            if let Some(s) = scopes
                .iter()
                .find(|s| server.scope(s).is_some_and(|x| x.system))
            {
                return Err(TokenError::InvalidScope(format!(
                    "The scope '{s}' needs a user and is not allowed with client credentials."
                )));
            }
            scopes
        }
    };
    let life = decide(
        ctx.store(),
        ctx.issuer,
        ctx.tokens,
        client,
        GrantType::ClientCredentials,
        None,
        &scopes,
    )?;
    let at = ctx.mint(client).access(None, &[], &scopes, life.access)?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": life.access.as_secs(),
        "access_token": at.token,
        "scope": scopes.join(" "),
    }))
}
