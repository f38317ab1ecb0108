//! The grant types of the token endpoint, one file each.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod jwt_bearer;
pub mod password;
pub mod refresh_token;
pub mod token_exchange;
pub mod user_tokens;

/// Grant types this server implements, in the order discovery lists them
/// (`implicit` is served by the authorize endpoint, not the token endpoint).
pub const SUPPORTED: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "password",
    "client_credentials",
    crate::device::GRANT_TYPE,
    token_exchange::GRANT_TYPE,
    jwt_bearer::GRANT_TYPE,
];

use serde_json::{Map, Value};

use crate::control::{IssuedToken, TokenKind};
use crate::state::{AppState, AuthServer, User};
use crate::tokens::MintedToken;

/// The extra claims of a token: the server's configured claims, then the
/// control API's runtime rules (which win).
pub fn extra_claims(
    state: &AppState,
    server: &AuthServer,
    kind: TokenKind,
    client_id: &str,
    user: Option<&User>,
) -> Map<String, Value> {
    let mut claims = server.configured_claims(kind, client_id, user);
    claims.extend(
        state
            .control
            .claims_for(kind, client_id, user.map(|u| u.login.as_str())),
    );
    claims
}

/// An access token's claims with its DPoP binding (`cnf.jkt`, RFC 9449 §6), if any.
pub fn with_binding(mut claims: Map<String, Value>, dpop_jkt: Option<&str>) -> Map<String, Value> {
    if let Some(jkt) = dpop_jkt {
        claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
    }
    claims
}

/// `token_type` of a token response: `DPoP` for a bound token, else `Bearer`.
pub fn token_type(dpop_jkt: Option<&str>) -> &'static str {
    if dpop_jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// Notes a minted token for `/__mock/` inspection.
pub fn record_issued(
    state: &AppState,
    server: &AuthServer,
    kind: TokenKind,
    minted: &MintedToken,
    client_id: &str,
    sub: &str,
    scopes: &[String],
) {
    state.control.record_issued(IssuedToken {
        jti: minted.jti.clone(),
        kind,
        issuer: server.issuer.clone(),
        client_id: client_id.to_owned(),
        sub: sub.to_owned(),
        scopes: scopes.to_vec(),
        iat: state.clock.now(),
        exp: minted.exp,
    });
}
