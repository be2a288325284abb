//! Interop with the `openidconnect` crate as the relying party: discovery, authorization code
//! with PKCE, ID-token validation (signature, issuer, audience, nonce, at_hash), userinfo and
//! refresh — the library's own checks, not ours.

use crate::support::{self, PASSWORD};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};

#[tokio::test]
async fn openidconnect_crate_signs_in_with_code_and_pkce() {
    sign_in_with_code_and_pkce("").await;
}

/// The same relying party against the `default` custom server (issuer `{base}/oauth2/default`).
#[tokio::test]
async fn openidconnect_crate_signs_in_at_the_default_custom_server() {
    sign_in_with_code_and_pkce("/oauth2/default").await;
}

async fn sign_in_with_code_and_pkce(issuer_path: &str) {
    let s = support::start().await;
    let cb = "http://localhost:7000/cb";
    let reg: Value = s
        .admin_post("/oauth2/v1/clients")
        .json(
            &json!({ "client_name": "native", "application_type": "native", "redirect_uris": [cb],
                       "grant_types": ["authorization_code", "refresh_token"] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    s.create_user("rp@example.com", PASSWORD).await;
    let tx: Value = s
        .authn("rp@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let session_token = tx["sessionToken"].as_str().unwrap();

    // The library wants an HTTP client that does not follow redirects.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(s.url(issuer_path)).unwrap(), &http)
            .await
            .expect("discovery");
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
            .set_redirect_uri(RedirectUrl::new(cb.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    // Okta's extension: the session token authenticates the request.
    let res = http
        .get(format!("{url}&sessionToken={session_token}"))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], *csrf.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("rp@example.com"));
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("rp@example.com"));

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
}
