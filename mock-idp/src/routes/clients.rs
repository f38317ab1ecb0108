//! `/oauth2/v1/clients`: Okta's dynamic client registration (RFC 7591) and
//! client management (RFC 7592), authorised with `Authorization: SSWS`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{OAuthError, OktaApiError};
use crate::management::{ApiToken, Paging};
use crate::state::AppState;

/// A management error or an RFC 7591 metadata error.
#[derive(Debug)]
pub enum ClientsError {
    Okta(OktaApiError),
    Metadata(OAuthError),
}

impl IntoResponse for ClientsError {
    fn into_response(self) -> Response {
        match self {
            Self::Okta(error) => error.into_response(),
            Self::Metadata(error) => error.into_response(),
        }
    }
}

impl From<OktaApiError> for ClientsError {
    fn from(error: OktaApiError) -> Self {
        Self::Okta(error)
    }
}

impl From<OAuthError> for ClientsError {
    fn from(error: OAuthError) -> Self {
        Self::Metadata(error)
    }
}

fn not_found(client_id: &str) -> ClientsError {
    OktaApiError::not_found(client_id, "PublicClientApp").into()
}

/// A client from the configuration file keeps its documented secret and
/// settings: a test suite (or a colleague) relies on them, and a `PUT` or
/// `newSecret` through the SSWS token would break every other user of the mock.
/// Okta answers a change an admin may not make with 403 `E0000006`. (The
/// application view, `/api/v1/apps`, keeps the same rule.)
pub(crate) fn refuse_seeded(state: &AppState, client_id: &str) -> Result<(), OktaApiError> {
    if state.registered_client(client_id).is_some_and(|c| c.seeded) {
        let mut error = OktaApiError::forbidden();
        error.causes.push(format!(
            "client_id: {client_id} comes from the mock's configuration file; change it there"
        ));
        return Err(error);
    }
    Ok(())
}

fn json_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ClientsError> {
    Ok(crate::management::json_body(body)?)
}

/// `POST /oauth2/v1/clients`: 201 with the client and its secret.
pub async fn create(
    State(state): State<AppState>,
    _token: ApiToken,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ClientsError> {
    let metadata = json_body(body)?;
    let client = state.register_client(&metadata)?;
    let location = format!(
        "{}/oauth2/v1/clients/{}",
        state.base_url(),
        client["client_id"].as_str().unwrap_or("")
    );
    let mut response = (StatusCode::CREATED, Json(client)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /oauth2/v1/clients?limit=&after=&q=`: a page of clients, `Link` for the next.
pub async fn list(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ClientsError> {
    let paging = Paging::from_query(&query, 20)?;
    let prefix = query.get("q").map(|q| q.to_lowercase());
    let matching: Vec<_> = state
        .all_clients()
        .into_iter()
        .filter(|c| {
            prefix
                .as_ref()
                .is_none_or(|p| c.client_name.to_lowercase().starts_with(p))
        })
        .filter(|c| {
            paging
                .after
                .as_ref()
                .is_none_or(|a| c.client_id.as_str() > a.as_str())
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(paging.limit)
        .map(|c| state.client_representation(c, false))
        .collect();
    let next = (matching.len() > paging.limit)
        .then(|| matching.get(paging.limit - 1))
        .flatten()
        .map(|c| c.client_id.as_str());
    let base = format!("{}/oauth2/v1/clients", state.base_url());
    Ok(paging.respond(&base, &query, page, next))
}

/// `GET /oauth2/v1/clients/{clientId}` (no secret).
pub async fn get_one(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ClientsError> {
    let client = state
        .registered_client(&client_id)
        .ok_or_else(|| not_found(&client_id))?;
    Ok(Json(state.client_representation(&client, false)))
}

/// `PUT /oauth2/v1/clients/{clientId}`: full replacement.
pub async fn replace(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(client_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ClientsError> {
    refuse_seeded(&state, &client_id)?;
    let metadata = json_body(body)?;
    state
        .replace_client(&client_id, &metadata)?
        .map(Json)
        .ok_or_else(|| not_found(&client_id))
}

/// `DELETE /oauth2/v1/clients/{clientId}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ClientsError> {
    if state.delete_client(&client_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&client_id))
    }
}

/// `POST /oauth2/v1/clients/{clientId}/lifecycle/newSecret`.
pub async fn new_secret(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ClientsError> {
    refuse_seeded(&state, &client_id)?;
    state
        .rotate_client_secret(&client_id)?
        .map(Json)
        .ok_or_else(|| not_found(&client_id))
}
