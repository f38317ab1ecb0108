//! `grant_type=authorization_code`: single-use codes bound to the client, the
//! `redirect_uri` and the PKCE challenge; a replayed code revokes what the
//! first redemption issued.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::user_tokens::{
    RefreshChoice, UserGrant, check_client_grant, token_endpoint_response, wants_refresh,
};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::store::CodeProblem;

const GRANT: &str = "authorization_code";
const INVALID_CODE: &str = "The authorization code is invalid or has expired.";
const PKCE_FAILED: &str = "PKCE verification failed.";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT)?;
    let code_value = form.require("code")?;
    let redirect_uri = form.require("redirect_uri")?;
    let verifier = form.get("code_verifier");
    let now = state.clock.now();
    let code = state
        .store
        .redeem_code(code_value, &server.issuer, &client.client_id, now)
        .map_err(|problem| match problem {
            CodeProblem::Invalid | CodeProblem::Reused => OAuthError::invalid_grant(INVALID_CODE),
            CodeProblem::OtherClient => OAuthError::invalid_grant(
                "The grant was issued to another client. Please make sure the 'client_id' matches the one used at the authorize request.",
            ),
        })?;
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "PKCE code verifier is required by the application.",
            ));
        }
        (Some(challenge), Some(verifier)) => {
            if !is_valid_verifier(verifier) {
                return Err(OAuthError::invalid_grant(PKCE_FAILED));
            }
            let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::invalid_grant(PKCE_FAILED));
            }
        }
        // Downgrade: a verifier for a code issued without a challenge.
        (None, Some(_)) => return Err(OAuthError::invalid_grant(PKCE_FAILED)),
        (None, None) => {
            if form.headers.contains_key(axum::http::header::ORIGIN) {
                return Err(OAuthError::invalid_client(
                    "Browser requests to the token endpoint must use Proof Key for Code Exchange.",
                ));
            }
        }
    }
    let user = state
        .user_by_id(&code.user_id)
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_CODE))?;
    let lifetime = super::user_tokens::check_user_scopes(server, client, GRANT, &code.scopes)?;
    let refresh = if wants_refresh(client, &code.scopes) {
        RefreshChoice::New
    } else {
        RefreshChoice::None
    };
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time: code.auth_time,
        scopes: &code.scopes,
        nonce: code.nonce.as_deref(),
        lifetime,
        acr: code.acr.as_deref(),
        dpop_jkt,
    };
    let (body, issued) = token_endpoint_response(state, &grant, refresh, now)?;
    state.store.record_code_issue(code_value, issued);
    Ok(body)
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
pub fn is_valid_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
