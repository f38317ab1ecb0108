//! `POST {base}/v1/introspect` (RFC 7662): Okta's fields for an active token,
//! exactly `{"active":false}` with 200 for anything else.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Server;
use crate::client_auth::authenticate;
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::tokens::verify_own_jwt;

/// Claims that introspection reports under their own names or not at all.
const RESTATED_CLAIMS: &[&str] = &["ver", "cid", "scp", "auth_time"];

pub async fn introspect(
    State(state): State<AppState>,
    Server(server): Server,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    authenticate(&state, &form, &server.endpoint("introspect"))?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("The 'token' parameter is required."))?;
    let body = introspection(&state, &server, token).unwrap_or_else(|| json!({ "active": false }));
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The introspection response of an active token, or None when inactive.
pub fn introspection(state: &AppState, server: &AuthServer, token: &str) -> Option<Value> {
    let now = state.clock.now();
    let claims = verify_own_jwt(server, token, now, |jti| state.store.is_revoked(jti)).ok()?;
    Some(Value::Object(access_token_response(claims)))
}

fn access_token_response(claims: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    out.insert("token_type".into(), Value::from("Bearer"));
    if let Some(scp) = claims.get("scp").and_then(Value::as_array) {
        let scope: Vec<&str> = scp.iter().filter_map(Value::as_str).collect();
        out.insert("scope".into(), Value::from(scope.join(" ")));
    }
    if let Some(cid) = claims.get("cid") {
        out.insert("client_id".into(), cid.clone());
    }
    // A user's token names the user; a client's token has no resource owner.
    if claims.contains_key("uid")
        && let Some(sub) = claims.get("sub")
    {
        out.insert("username".into(), sub.clone());
    }
    for (name, value) in claims {
        if !RESTATED_CLAIMS.contains(&name.as_str()) {
            out.entry(name).or_insert(value);
        }
    }
    out
}
