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
use crate::management::ApiToken;
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
/// Okta answers a change an admin may not make with 403 `E0000006`.
fn refuse_seeded(state: &AppState, client_id: &str) -> Result<(), ClientsError> {
    if state.client(client_id).is_some_and(|c| c.seeded) {
        let mut error = OktaApiError::new(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        );
        error.causes.push(format!(
            "client_id: {client_id} comes from the mock's configuration file; change it there"
        ));
        return Err(error.into());
    }
    Ok(())
}

/// Reads a JSON body, with Okta's errors for a bad one.
fn json_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ClientsError> {
    match body {
        Ok(Json(value)) => Ok(value),
        Err(JsonRejection::MissingJsonContentType(_)) => Err(OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000021",
            "Bad request.  Accept and/or Content-Type headers likely do not match supported values.",
        )
        .into()),
        Err(_) => Err(OktaApiError::new(
            StatusCode::BAD_REQUEST,
            "E0000003",
            "The request body was not well-formed.",
        )
        .into()),
    }
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
    let limit = match query.get("limit") {
        None => 20,
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if (1..=200).contains(&limit) => limit,
            _ => {
                let mut error = OktaApiError::new(
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: limit",
                );
                error
                    .causes
                    .push("limit: The value must be between 1 and 200.".to_owned());
                return Err(error.into());
            }
        },
    };
    let prefix = query.get("q").map(|q| q.to_lowercase());
    let after = query.get("after");
    let matching: Vec<_> = state
        .all_clients()
        .into_iter()
        .filter(|c| {
            prefix
                .as_ref()
                .is_none_or(|p| c.client_name.to_lowercase().starts_with(p))
        })
        .filter(|c| after.is_none_or(|a| c.client_id.as_str() > a.as_str()))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|c| state.client_representation(c, false))
        .collect();
    let base = format!("{}/oauth2/v1/clients", state.base_url());
    let mut links = vec![format!("<{base}?limit={limit}>; rel=\"self\"")];
    if matching.len() > limit
        && let Some(last) = matching.get(limit - 1)
    {
        links.push(format!(
            "<{base}?limit={limit}&after={}>; rel=\"next\"",
            last.client_id
        ));
    }
    let mut response = Json(page).into_response();
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// `GET /oauth2/v1/clients/{clientId}` (no secret).
pub async fn get_one(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ClientsError> {
    let client = state
        .client(&client_id)
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
