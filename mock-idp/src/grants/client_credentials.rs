//! `grant_type=client_credentials`: custom scopes on a custom authorization
//! server, for confidential clients allowed the grant by client and policy.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::client_auth::AuthenticatedClient;
use crate::config::OIDC_SCOPES;
use crate::control::TokenKind;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::tokens::{AccessTokenRequest, mint_access_token, split_scopes};

const GRANT: &str = "client_credentials";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    if server.is_org() {
        return Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "'client_credentials' grant type can only be used with a custom authorization server.",
        ));
    }
    if client.is_public() || !client.allows_grant(GRANT) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            format!(
                "The client is not authorized to use the provided grant type. Configured grant types: [{}].",
                client.grant_types.join(", ")
            ),
        ));
    }
    let scopes = match form.get("scope") {
        Some(scope) => split_scopes(scope),
        None => server.default_scopes(),
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        ));
    }
    if scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope(
            "Cannot request 'openid' scopes using client credentials.",
        ));
    }
    if scopes
        .iter()
        .any(|s| OIDC_SCOPES.contains(&s.as_str()) || !server.has_custom_scope(s))
    {
        return Err(OAuthError::invalid_scope(
            "One or more scopes are not configured for the authorization server resource.",
        ));
    }
    let policy = server.policy_for(&client.client_id, GRANT).ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "Policy evaluation failed for this request, please check the policy configurations.",
        )
        .with_status(StatusCode::UNAUTHORIZED)
        .with_challenge(None)
    })?;
    if !policy.scopes.iter().any(|p| p == "*") && scopes.iter().any(|s| !policy.scopes.contains(s))
    {
        return Err(OAuthError::invalid_scope(
            "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.",
        ));
    }
    let lifetime = policy
        .access_token_lifetime
        .unwrap_or(server.access_token_lifetime);
    let now = state.clock.now();
    let minted = mint_access_token(
        server,
        AccessTokenRequest {
            client_id: &client.client_id,
            scopes: &scopes,
            user: None,
            lifetime,
            extra: super::with_binding(
                super::extra_claims(state, server, TokenKind::Access, &client.client_id, None),
                dpop_jkt,
            ),
        },
        now,
    )
    .map_err(|_| OAuthError::new(OAuthErrorCode::ServerError, "The authorization server encountered an unexpected condition that prevented it from fulfilling the request."))?;
    super::record_issued(
        state,
        server,
        TokenKind::Access,
        &minted,
        &client.client_id,
        &client.client_id,
        &scopes,
    );
    Ok(json!({
        "token_type": super::token_type(dpop_jkt),
        "expires_in": lifetime,
        "access_token": minted.token,
        "scope": scopes.join(" "),
    }))
}
