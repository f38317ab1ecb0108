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
    if let Some(response) = refresh_token_response(state, server, token, now) {
        return Some(response);
    }
    let claims = verify_own_jwt(server, token, now, |claims| state.is_withdrawn(claims)).ok()?;
    if claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|j| j.starts_with("ID."))
    {
        return Some(Value::Object(id_token_response(state, claims)));
    }
    Some(Value::Object(access_token_response(claims)))
}

/// An active refresh token: Okta's fields (no `iat`, `jti` or `uid`).
fn refresh_token_response(
    state: &AppState,
    server: &AuthServer,
    token: &str,
    now: i64,
) -> Option<Value> {
    let window = i64::try_from(state.settings().refresh_token_window).unwrap_or(i64::MAX / 4);
    let leeway_of = |client_id: &str| {
        state
            .client(client_id)
            .map_or(0, |c| i64::try_from(c.refresh_token_leeway).unwrap_or(0))
    };
    let (grant, exp) = state
        .store
        .refresh_token_info(token, leeway_of, window, now)?;
    if grant.issuer != server.issuer || state.store.is_client_deleted(&grant.client_id) {
        return None;
    }
    let login = state.user_by_id(&grant.user_id)?.login.clone();
    Some(json!({
        "active": true,
        "token_type": "Bearer",
        "scope": grant.scopes.join(" "),
        "client_id": grant.client_id,
        "username": login,
        "exp": exp,
        "sub": login,
    }))
}

/// An active ID token: its own claims plus `active`, `token_type`, `username`.
fn id_token_response(state: &AppState, claims: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    out.insert("token_type".into(), Value::from("id_token"));
    if let Some(user) = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|sub| state.user_by_id(sub))
    {
        out.insert("username".into(), Value::from(user.login.as_str()));
    }
    for (name, value) in claims {
        out.entry(name).or_insert(value);
    }
    out
}

fn access_token_response(claims: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    let bound = claims
        .get("cnf")
        .is_some_and(|cnf| cnf.get("jkt").is_some());
    out.insert(
        "token_type".into(),
        Value::from(if bound { "DPoP" } else { "Bearer" }),
    );
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
