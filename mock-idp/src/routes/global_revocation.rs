//! `POST /oauth2/v1/global-token-revocation` (Okta's Universal Logout, after
//! draft-parecki-oauth-global-token-revocation): names a user by `sub_id`
//! (`opaque`: the Okta user id; `iss_sub`: an issuer of this org and the
//! subject it put in tokens; `email`) and ends their sessions and refresh
//! tokens. Authorised by an SSWS token or an org-server access token with
//! `okta.universalLogout.manage`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::error::OktaApiError;
use crate::state::{AppState, User};
use crate::tokens::verify_own_jwt;

const SCOPE: &str = "okta.universalLogout.manage";

fn invalid(cause: &str) -> OktaApiError {
    OktaApiError::validation("sub_id", cause)
}

/// The caller must hold an SSWS token or an org access token with the scope.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), OktaApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
    let credential = credential.trim();
    let invalid_token = || {
        OktaApiError::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    };
    if scheme.eq_ignore_ascii_case("SSWS") {
        return state
            .is_api_token(credential)
            .then_some(())
            .ok_or_else(invalid_token);
    }
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(OktaApiError::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        ));
    }
    let now = state.clock.now();
    let claims = verify_own_jwt(state.org(), credential, now, |c| state.is_withdrawn(c))
        .map_err(|_| invalid_token())?;
    let has_scope = claims
        .get("scp")
        .and_then(Value::as_array)
        .is_some_and(|scopes| scopes.iter().any(|s| s.as_str() == Some(SCOPE)));
    if !has_scope {
        return Err(OktaApiError::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        ));
    }
    Ok(())
}

/// The user `sub_id` names (RFC 9493 subject identifier formats Okta takes).
fn named_user(
    state: &AppState,
    sub_id: &Value,
) -> Result<Option<std::sync::Arc<User>>, OktaApiError> {
    let text = |name: &str| sub_id.get(name).and_then(Value::as_str);
    match text("format") {
        Some("opaque") => {
            let id =
                text("id").ok_or_else(|| invalid("sub_id.id: required for the opaque format"))?;
            Ok(state.user_by_id(id))
        }
        Some("email") => {
            let email = text("email")
                .ok_or_else(|| invalid("sub_id.email: required for the email format"))?;
            Ok(state.user_by_login(email).or_else(|| {
                state
                    .users()
                    .iter()
                    .find(|u| {
                        u.profile_str("email")
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .cloned()
            }))
        }
        Some("iss_sub") => {
            let (Some(iss), Some(sub)) = (text("iss"), text("sub")) else {
                return Err(invalid(
                    "sub_id.iss, sub_id.sub: both required for the iss_sub format",
                ));
            };
            // Our issuers put the user id (org ID tokens, every ID token) or the login
            // (custom servers' access tokens) in `sub`.
            if !state.servers().any(|s| s.issuer == iss) {
                return Ok(None);
            }
            Ok(state.user_by_id(sub).or_else(|| state.user_by_login(sub)))
        }
        _ => Err(invalid(
            "sub_id.format: must be one of opaque, iss_sub, email",
        )),
    }
}

pub async fn global_token_revocation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<StatusCode, OktaApiError> {
    authorize(&state, &headers)?;
    let Json(body) = body.map_err(|_| {
        OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )
    })?;
    let sub_id = body
        .get("sub_id")
        .filter(|s| s.is_object())
        .ok_or_else(|| invalid("sub_id: required, an object"))?;
    let user =
        named_user(&state, sub_id)?.ok_or_else(|| OktaApiError::not_found("sub_id", "User"))?;
    state
        .store
        .log_user_out_everywhere(&user.id, state.clock.now());
    tracing::info!(user_id = %user.id, "global token revocation");
    Ok(StatusCode::NO_CONTENT)
}
