//! Minting access tokens with Okta's claims, and recognising our own tokens
//! again (for introspection, revocation and userinfo).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids;
use crate::state::AuthServer;

/// Claims of an Okta access token, in Okta's order. No `nbf`: Okta omits it,
/// and njwt rejects `nbf >= now` within the same second.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims {
    pub ver: u8,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub cid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub scp: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    pub sub: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest<'a> {
    pub client_id: &'a str,
    pub scopes: &'a [String],
    /// The user, for user flows: (user id, login, auth_time).
    pub user: Option<(&'a str, &'a str, i64)>,
    pub lifetime: u64,
    pub extra: Map<String, Value>,
}

/// A minted token and its identity.
#[derive(Debug, Clone)]
pub struct MintedToken {
    pub token: String,
    pub jti: String,
    pub exp: i64,
}

impl std::fmt::Display for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.token)
    }
}

/// Signs an access token with the server's active key.
pub fn mint_access_token(
    server: &AuthServer,
    request: AccessTokenRequest<'_>,
    now: i64,
) -> Result<MintedToken, serde_json::Error> {
    let lifetime = i64::try_from(request.lifetime).unwrap_or(i64::MAX / 2);
    let claims = AccessTokenClaims {
        ver: 1,
        jti: ids::access_token_jti(),
        iss: server.issuer.clone(),
        aud: server.audience.clone(),
        iat: now,
        exp: now + lifetime,
        cid: request.client_id.to_owned(),
        uid: request.user.map(|(id, _, _)| id.to_owned()),
        scp: request.scopes.to_vec(),
        auth_time: request.user.map(|(_, _, at)| at),
        // Okta's system `sub`: the user's login for user flows, else the client id.
        sub: request.user.map_or_else(
            || request.client_id.to_owned(),
            |(_, login, _)| login.to_owned(),
        ),
        extra: request.extra,
    };
    let token = server.keys.active().sign_jwt(&claims)?;
    Ok(MintedToken {
        token,
        jti: claims.jti,
        exp: claims.exp,
    })
}

/// Why a presented token is not one of ours, or no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Malformed,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    Expired,
    Revoked,
}

/// Verifies a JWT signed by this server: signature with a published key,
/// issuer, expiry against `now`, and revocation. Returns the header and claims.
pub fn verify_own_jwt(
    server: &AuthServer,
    token: &str,
    now: i64,
    is_revoked: impl Fn(&str) -> bool,
) -> Result<Map<String, Value>, Inactive> {
    let (message, signature) = token.rsplit_once('.').ok_or(Inactive::Malformed)?;
    let (header_b64, payload_b64) = message.split_once('.').ok_or(Inactive::Malformed)?;
    let header: Value = decode_json_part(header_b64)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(Inactive::BadSignature);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Inactive::UnknownKey)?;
    let key = server.keys.find(kid).ok_or(Inactive::UnknownKey)?;
    if !key.verify(message.as_bytes(), signature) {
        return Err(Inactive::BadSignature);
    }
    let Value::Object(claims) = decode_json_part(payload_b64)? else {
        return Err(Inactive::Malformed);
    };
    if claims.get("iss").and_then(Value::as_str) != Some(server.issuer.as_str()) {
        return Err(Inactive::WrongIssuer);
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        _ => return Err(Inactive::Expired),
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str)
        && is_revoked(jti)
    {
        return Err(Inactive::Revoked);
    }
    Ok(claims)
}

fn decode_json_part(part: &str) -> Result<Value, Inactive> {
    let bytes = B64.decode(part).map_err(|_| Inactive::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Inactive::Malformed)
}

/// Splits a space-separated scope parameter, keeping order and dropping repeats.
pub fn split_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|existing| existing == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}
