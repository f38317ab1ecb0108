//! `/api/v1/apps`: OIDC applications as Okta shows them. The same registry as
//! `/oauth2/v1/clients` and the configuration (one client, two views); the
//! application view adds the status (an inactive app's client cannot be used)
//! and the assignments that decide who may sign in to it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{DONE, query_expr};
use crate::error::{OAuthError, OktaApiError};
use crate::filter_expr::Attributes;
use crate::management::{ApiToken, Paging, json_body, query_flag};
use crate::registration::AppAccess;
use crate::routes::authn::iso_millis;
use crate::state::{AppState, Client};

/// The RFC 7591 fields Okta shows under `settings.oauthClient`.
const SETTINGS_FIELDS: &[&str] = &[
    "redirect_uris",
    "post_logout_redirect_uris",
    "response_types",
    "grant_types",
    "application_type",
    "client_uri",
    "logo_uri",
    "policy_uri",
    "tos_uri",
    "initiate_login_uri",
];

/// A metadata refusal from the registry, in the management API's shape.
fn validation(error: OAuthError) -> OktaApiError {
    let field = error
        .description
        .split(':')
        .next()
        .unwrap_or("settings")
        .to_owned();
    OktaApiError::validation(&field, error.description.into_owned())
}

fn not_found(id: &str) -> OktaApiError {
    OktaApiError::not_found(id, "Application")
}

/// An application as Okta shows it (`signOnMode: OPENID_CONNECT`).
pub fn representation(state: &AppState, client: &Client) -> Value {
    let metadata = state.client_representation(client, true);
    let access = state.registry.access(&client.client_id);
    let created = metadata["client_id_issued_at"]
        .as_i64()
        .unwrap_or_else(|| state.clock.now());
    let mut settings = Map::new();
    for field in SETTINGS_FIELDS {
        if let Some(value) = metadata.get(*field).filter(|v| !v.is_null()) {
            settings.insert((*field).to_owned(), value.clone());
        }
    }
    settings.insert("consent_method".into(), json!("TRUSTED"));
    settings.insert("issuer_mode".into(), json!("ORG_URL"));
    let href = format!("{}/api/v1/apps/{}", state.base_url(), client.client_id);
    json!({
        "id": client.client_id,
        "name": "oidc_client",
        "label": client.client_name,
        "status": if access.inactive { "INACTIVE" } else { "ACTIVE" },
        "created": iso_millis(created),
        "lastUpdated": iso_millis(created),
        "signOnMode": "OPENID_CONNECT",
        "features": [],
        "accessibility": {"selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null},
        "visibility": {"autoSubmitToolbar": false, "hide": {"iOS": true, "web": true}},
        "credentials": {
            "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
            "signing": {},
            "oauthClient": {
                "autoKeyRotation": true,
                "client_id": client.client_id,
                "client_secret": metadata.get("client_secret").cloned().unwrap_or(Value::Null),
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
                "pkce_required": client.pkce_required,
            },
        },
        "settings": {
            "app": {},
            "notifications": {"vpn": {"network": {"connection": "DISABLED"}}},
            "oauthClient": settings,
        },
        "_links": {
            "self": {"href": href},
            "users": {"href": format!("{href}/users")},
            "groups": {"href": format!("{href}/groups")},
            "deactivate": {"href": format!("{href}/lifecycle/deactivate")},
        },
    })
}

/// Attributes for `filter`/`search` over the representation (apps are few).
struct AppView(Value);

impl Attributes for AppView {
    fn attribute(&self, path: &str) -> Option<std::borrow::Cow<'_, Value>> {
        path.split('.')
            .try_fold(&self.0, |value, part| value.get(part))
            .map(std::borrow::Cow::Borrowed)
    }
}

/// An Okta application body as RFC 7591 metadata for the registry.
fn metadata_of(body: &Value) -> Result<Value, OktaApiError> {
    match body.get("signOnMode").and_then(Value::as_str) {
        Some("OPENID_CONNECT") => {}
        _ => {
            return Err(OktaApiError::validation(
                "signOnMode",
                "signOnMode: Only OPENID_CONNECT applications are supported by this mock.",
            ));
        }
    }
    let label = body
        .get("label")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if label.trim().is_empty() {
        return Err(OktaApiError::validation(
            "label",
            "label: The field cannot be left blank",
        ));
    }
    let mut metadata = match body.pointer("/settings/oauthClient") {
        Some(Value::Object(settings)) => settings.clone(),
        _ => Map::new(),
    };
    metadata.retain(|name, _| SETTINGS_FIELDS.contains(&name.as_str()));
    metadata.insert("client_name".into(), json!(label));
    if let Some(method) = body.pointer("/credentials/oauthClient/token_endpoint_auth_method") {
        metadata.insert("token_endpoint_auth_method".into(), method.clone());
    }
    Ok(Value::Object(metadata))
}

fn find(state: &AppState, id: &str) -> Result<Arc<Client>, OktaApiError> {
    state.registered_client(id).ok_or_else(|| not_found(id))
}

/// `POST /api/v1/apps?activate=`: an OIDC app, assigned to nobody yet.
pub async fn create(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let metadata = metadata_of(&json_body(body)?)?;
    let registered = state.register_client(&metadata).map_err(validation)?;
    let id = registered["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let active = query_flag(&query, "activate", true);
    state.registry.change_access(&id, |access| {
        *access = AppAccess {
            inactive: !active,
            ..AppAccess::default()
        };
    });
    Ok(Json(representation(&state, &*find(&state, &id)?)))
}

/// `GET /api/v1/apps?q=&filter=&limit=&after=` (`q`: a label prefix).
pub async fn list(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OktaApiError> {
    let expr = query_expr(&query)?;
    let prefix = query.get("q").map(|q| q.to_lowercase());
    let paging = Paging::from_query(&query, 20)?;
    let apps = state
        .all_clients()
        .into_iter()
        .filter(|c| {
            paging
                .after
                .as_ref()
                .is_none_or(|a| c.client_id.as_str() > a.as_str())
        })
        .filter(|c| {
            prefix
                .as_ref()
                .is_none_or(|p| c.client_name.to_lowercase().starts_with(p))
        })
        .map(|c| AppView(representation(&state, &c)))
        .filter(|app| expr.as_ref().is_none_or(|e| e.matches(app)));
    let base = format!("{}/api/v1/apps", state.base_url());
    Ok(paging.list(
        &base,
        &query,
        apps,
        |app| app.0["id"].as_str().unwrap_or_default(),
        |app| app.0.clone(),
    ))
}

/// `GET /api/v1/apps/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Value>, OktaApiError> {
    Ok(Json(representation(&state, &*find(&state, &id)?)))
}

/// `PUT /api/v1/apps/{id}`: label and settings replaced (the secret kept).
pub async fn replace(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let metadata = metadata_of(&json_body(body)?)?;
    crate::routes::clients::refuse_seeded(&state, &id)?;
    state
        .replace_client(&id, &metadata)
        .map_err(validation)?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(representation(&state, &*find(&state, &id)?)))
}

/// `DELETE /api/v1/apps/{id}`: only an inactive app (Okta's 403 E0000056 otherwise).
pub async fn delete(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<StatusCode, OktaApiError> {
    find(&state, &id)?;
    if !state.registry.access(&id).inactive {
        return Err(OktaApiError::new(
            StatusCode::FORBIDDEN,
            "E0000056",
            "Delete application forbidden.",
        ));
    }
    state.delete_client(&id);
    Ok(DONE)
}

/// `POST /api/v1/apps/{id}/lifecycle/{activate|deactivate}`: 200 `{}`.
pub async fn lifecycle(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Value>, OktaApiError> {
    find(&state, &id)?;
    let inactive = match action.as_str() {
        "activate" => false,
        "deactivate" => true,
        _ => return Err(OktaApiError::not_found(&action, "Lifecycle")),
    };
    state
        .registry
        .change_access(&id, |access| access.inactive = inactive);
    Ok(Json(json!({})))
}

/// `POST /api/v1/apps/{id}/credentials/secrets`: a new client secret (the old
/// one stops working at once: the mock keeps one secret per client).
pub async fn new_secret(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Value>, OktaApiError> {
    crate::routes::clients::refuse_seeded(&state, &id)?;
    let rotated = state
        .rotate_client_secret(&id)
        .map_err(validation)?
        .ok_or_else(|| not_found(&id))?;
    let now = iso_millis(state.clock.now());
    Ok(Json(json!({
        "id": crate::ids::okta_id("ocs"),
        "status": "ACTIVE",
        "client_secret": rotated["client_secret"],
        "created": now,
        "lastUpdated": now,
    })))
}

/// An application user as Okta shows it.
fn app_user(state: &AppState, app: &str, user: &crate::state::User, scope: &str) -> Value {
    json!({
        "id": user.id,
        "scope": scope,
        "status": "ACTIVE",
        "syncState": "DISABLED",
        "credentials": {"userName": user.login},
        "profile": {},
        "_links": {
            "app": {"href": format!("{}/api/v1/apps/{app}", state.base_url())},
            "user": {"href": format!("{}/api/v1/users/{}", state.base_url(), user.id)},
        },
    })
}

/// `GET /api/v1/apps/{id}/users`: users assigned directly (`USER`) or through a group (`GROUP`).
pub async fn users(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, OktaApiError> {
    find(&state, &id)?;
    let access = state.registry.access(&id);
    let assigned: Vec<_> = state
        .users()
        .into_iter()
        .filter_map(|user| {
            if access.users.contains(&user.id) {
                Some(app_user(&state, &id, &user, "USER"))
            } else {
                state
                    .is_assigned(&id, &user)
                    .then(|| app_user(&state, &id, &user, "GROUP"))
            }
        })
        .collect();
    Ok(Json(assigned))
}

/// `POST /api/v1/apps/{id}/users` with `{"id": userId}`: a direct assignment.
pub async fn assign_user(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    find(&state, &id)?;
    let body = json_body(body)?;
    let user_id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| OktaApiError::validation("id", "id: The field cannot be left blank"))?;
    let user = state
        .directory()
        .user(user_id)
        .cloned()
        .ok_or_else(|| OktaApiError::not_found(user_id, "User"))?;
    state.registry.change_access(&id, |access| {
        access.users.insert(user.id.clone());
    });
    Ok(Json(app_user(&state, &id, &user, "USER")))
}

/// `GET /api/v1/apps/{id}/users/{userId}`: 404 unless assigned.
pub async fn get_user(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Json<Value>, OktaApiError> {
    find(&state, &id)?;
    let user = state
        .user_by_id(&user_id)
        .filter(|u| state.is_assigned(&id, u))
        .ok_or_else(|| OktaApiError::not_found(&user_id, "AppUser"))?;
    let scope = if state.registry.access(&id).users.contains(&user.id) {
        "USER"
    } else {
        "GROUP"
    };
    Ok(Json(app_user(&state, &id, &user, scope)))
}

/// `DELETE /api/v1/apps/{id}/users/{userId}`: the direct assignment ends (204).
pub async fn unassign_user(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, OktaApiError> {
    find(&state, &id)?;
    if !state.registry.access(&id).users.contains(&user_id) {
        return Err(OktaApiError::not_found(&user_id, "AppUser"));
    }
    state.registry.change_access(&id, |access| {
        access.users.remove(&user_id);
    });
    Ok(DONE)
}

/// The Everyone group's id, when the directory has it.
fn everyone_id(state: &AppState) -> Option<String> {
    state
        .directory()
        .group_by_name("Everyone")
        .filter(|g| g.built_in)
        .map(|g| g.id.clone())
}

fn group_assignment(state: &AppState, app: &str, group_id: &str) -> Value {
    json!({
        "id": group_id,
        "priority": 0,
        "profile": {},
        "_links": {
            "app": {"href": format!("{}/api/v1/apps/{app}", state.base_url())},
            "group": {"href": format!("{}/api/v1/groups/{group_id}", state.base_url())},
        },
    })
}

/// `GET /api/v1/apps/{id}/groups`.
pub async fn groups(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, OktaApiError> {
    find(&state, &id)?;
    let access = state.registry.access(&id);
    let everyone = everyone_id(&state).filter(|_| access.everyone);
    Ok(Json(
        everyone
            .iter()
            .chain(access.groups.iter())
            .map(|g| group_assignment(&state, &id, g))
            .collect(),
    ))
}

/// `PUT /api/v1/apps/{id}/groups/{groupId}`: the group's members may sign in.
pub async fn assign_group(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, group_id)): Path<(String, String)>,
) -> Result<Json<Value>, OktaApiError> {
    find(&state, &id)?;
    if state.directory().group(&group_id).is_none() {
        return Err(OktaApiError::not_found(&group_id, "UserGroup"));
    }
    let is_everyone = everyone_id(&state).as_deref() == Some(group_id.as_str());
    state.registry.change_access(&id, |access| {
        if is_everyone {
            access.everyone = true;
        } else {
            access.groups.insert(group_id.clone());
        }
    });
    Ok(Json(group_assignment(&state, &id, &group_id)))
}

/// `DELETE /api/v1/apps/{id}/groups/{groupId}`: 204.
pub async fn unassign_group(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, group_id)): Path<(String, String)>,
) -> Result<StatusCode, OktaApiError> {
    find(&state, &id)?;
    let is_everyone = everyone_id(&state).as_deref() == Some(group_id.as_str());
    state.registry.change_access(&id, |access| {
        if is_everyone {
            access.everyone = false;
        } else {
            access.groups.remove(&group_id);
        }
    });
    Ok(DONE)
}
