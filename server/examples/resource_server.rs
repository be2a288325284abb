//! An API protected by a Portcullis custom authorization server: it accepts an access token only
//! if the server's published key signed it, for this API's audience, unexpired, with the scope
//! the route needs. Nothing here is Portcullis-specific: any Okta-style resource server works
//! the same way.
//!
//! ```sh
//! cargo run -p portcullis --example resource_server -- http://127.0.0.1:3000/oauth2/default api://default
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:4000/orders
//! ```

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};

/// What the API trusts: one issuer, one audience, and the issuer's current keys.
struct Verifier {
    issuer: String,
    audience: String,
    http: reqwest::Client,
    jwks: RwLock<Value>,
}

impl Verifier {
    /// Fetches `{issuer}/v1/keys` (the `jwks_uri` of the issuer's discovery document).
    async fn refresh_keys(&self) -> Result<(), reqwest::Error> {
        let url = format!("{}/v1/keys", self.issuer);
        let keys: Value = self.http.get(url).send().await?.json().await?;
        if let Ok(mut jwks) = self.jwks.write() {
            *jwks = keys;
        }
        Ok(())
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        let jwks = self.jwks.read().ok()?;
        let jwk = jwks["keys"].as_array()?.iter().find(|k| k["kid"] == kid)?;
        DecodingKey::from_rsa_components(jwk["n"].as_str()?, jwk["e"].as_str()?).ok()
    }

    /// The token's claims, if it is valid for this API.
    async fn verify(&self, token: &str) -> Option<Value> {
        let kid = decode_header(token).ok()?.kid?;
        let key = match self.key(&kid) {
            Some(k) => k,
            // A key we have not seen: the server may have rotated. Fetch once more.
            None => {
                self.refresh_keys().await.ok()?;
                self.key(&kid)?
            }
        };
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        decode::<Value>(token, &key, &v).ok().map(|d| d.claims)
    }
}

/// A verified caller. Handlers ask for the scopes they need.
struct Caller(Value);

impl Caller {
    fn require(&self, scope: &str) -> Result<(), Challenge> {
        let granted = self.0["scp"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == scope));
        if granted {
            Ok(())
        } else {
            Err(Challenge(StatusCode::FORBIDDEN, "insufficient_scope"))
        }
    }
}

/// A refusal; RFC 6750 puts the error in `WWW-Authenticate`.
struct Challenge(StatusCode, &'static str);

impl IntoResponse for Challenge {
    fn into_response(self) -> Response {
        let value = format!("Bearer error=\"{}\"", self.1);
        (self.0, [(header::WWW_AUTHENTICATE, value)]).into_response()
    }
}

impl FromRequestParts<Arc<Verifier>> for Caller {
    type Rejection = Challenge;

    async fn from_request_parts(
        parts: &mut Parts,
        verifier: &Arc<Verifier>,
    ) -> Result<Self, Challenge> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Challenge(StatusCode::UNAUTHORIZED, "invalid_request"))?;
        match verifier.verify(token.trim()).await {
            Some(claims) => Ok(Caller(claims)),
            None => Err(Challenge(StatusCode::UNAUTHORIZED, "invalid_token")),
        }
    }
}

async fn orders(caller: Caller) -> Result<Json<Value>, Challenge> {
    caller.require("orders:read")?;
    Ok(Json(json!({
        "for": caller.0["sub"],
        "orders": [{ "id": 1, "item": "portcullis winch" }],
    })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let issuer = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000/oauth2/default".into());
    let audience = args.next().unwrap_or_else(|| "api://default".into());
    let verifier = Arc::new(Verifier {
        issuer,
        audience,
        http: reqwest::Client::new(),
        jwks: RwLock::new(json!({ "keys": [] })),
    });
    verifier.refresh_keys().await?;
    let app = Router::new()
        .route("/orders", get(orders))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
    println!("orders API on http://127.0.0.1:4000/orders");
    axum::serve(listener, app).await?;
    Ok(())
}
