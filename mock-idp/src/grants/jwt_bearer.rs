//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1):
//! an assertion the client signed with its registered key names the user
//! (`sub`: login or id) it wants a token for. Checked: signature, `iss` = the
//! client, `aud` = this token endpoint or issuer, `exp` (at most an hour
//! ahead), and a `jti` used once.

use serde_json::Value;

use super::user_tokens::{
    RefreshChoice, UserGrant, check_client_grant, check_user_scopes, token_endpoint_response,
};
use crate::client_auth::{AuthenticatedClient, client_signed_claims};
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::tokens::split_scopes;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT_TYPE)?;
    let assertion = form.require("assertion")?;
    let claims = client_signed_claims(client, assertion)
        .ok_or_else(|| OAuthError::invalid_grant("The assertion signature is invalid."))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str()) {
        return Err(OAuthError::invalid_grant(
            "The issuer claim of the assertion must be the client_id.",
        ));
    }
    let token_endpoint = server.endpoint("token");
    let names_us = |aud: &str| aud == token_endpoint || aud == server.issuer;
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => names_us(aud),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(names_us),
        _ => false,
    };
    if !audience_ok {
        return Err(OAuthError::invalid_grant(
            "The audience claim of the assertion must be the token endpoint or the issuer.",
        ));
    }
    let now = state.clock.now();
    let exp = match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp <= now => {
            return Err(OAuthError::invalid_grant("The assertion is expired."));
        }
        Some(exp) if exp > now + 3600 => {
            return Err(OAuthError::invalid_grant(
                "The assertion has an expiration too far into the future.",
            ));
        }
        Some(exp) => exp,
        None => {
            return Err(OAuthError::invalid_grant(
                "The assertion must have an expiration.",
            ));
        }
    };
    let jti = text("jti")
        .ok_or_else(|| OAuthError::invalid_grant("The assertion must have a 'jti' claim."))?;
    // The assertion store is shared with client assertions, so the key says which.
    let key = format!("jwt-bearer\u{0}{}\u{0}{jti}", client.client_id);
    if !state.store.use_assertion(&key, exp, now) {
        return Err(OAuthError::invalid_grant(
            "The assertion has already been used.",
        ));
    }
    let user = text("sub")
        .and_then(|sub| state.user_by_login(sub).or_else(|| state.user_by_id(sub)))
        .ok_or_else(|| {
            OAuthError::invalid_grant("The subject of the assertion is not a user of this org.")
        })?;
    let scopes = split_scopes(form.get("scope").unwrap_or_default());
    let lifetime = check_user_scopes(server, client, GRANT_TYPE, &scopes)?;
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time: now,
        scopes: &scopes,
        nonce: None,
        lifetime,
        acr: None,
        dpop_jkt,
    };
    let (body, _) = token_endpoint_response(state, &grant, RefreshChoice::None, now)?;
    Ok(body)
}
