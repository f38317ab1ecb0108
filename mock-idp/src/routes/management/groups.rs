//! `/api/v1/groups`: create, read, list (`q`, `filter`, `search`, paging),
//! replace, delete, and members. A membership change shows in the next token's
//! `groups` claim.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{DONE, directory_error, query_expr};
use crate::directory::Group;
use crate::error::OktaApiError;
use crate::filter_expr::Attributes;
use crate::management::{ApiToken, Paging, json_body};
use crate::routes::authn::iso_millis;
use crate::state::AppState;

/// A group as Okta shows it.
pub fn representation(state: &AppState, group: &Group) -> Value {
    let href = format!("{}/api/v1/groups/{}", state.base_url(), group.id);
    json!({
        "id": group.id,
        "created": iso_millis(group.created),
        "lastUpdated": iso_millis(group.last_updated),
        "lastMembershipUpdated": iso_millis(group.last_membership_updated),
        "objectClass": ["okta:user_group"],
        "type": if group.built_in { "BUILT_IN" } else { "OKTA_GROUP" },
        "profile": {"name": group.name, "description": group.description},
        "_links": {
            "self": {"href": href},
            "users": {"href": format!("{href}/users")},
        },
    })
}

impl Attributes for Group {
    fn attribute(&self, path: &str) -> Option<Cow<'_, Value>> {
        let value = match path {
            "id" => Some(Value::from(self.id.as_str())),
            "type" => Some(Value::from(if self.built_in {
                "BUILT_IN"
            } else {
                "OKTA_GROUP"
            })),
            "created" => Some(Value::from(iso_millis(self.created))),
            "lastUpdated" => Some(Value::from(iso_millis(self.last_updated))),
            "lastMembershipUpdated" => Some(Value::from(iso_millis(self.last_membership_updated))),
            "profile.name" => Some(Value::from(self.name.as_str())),
            "profile.description" => self.description.as_deref().map(Value::from),
            _ => None,
        };
        value.map(Cow::Owned)
    }
}

/// `profile.name` (required) and `profile.description` of a request body.
fn profile_of(body: &Value) -> Result<(String, Option<String>), OktaApiError> {
    let name = body
        .pointer("/profile/name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| OktaApiError::validation("name", "name: The field cannot be left blank"))?;
    let description = match body.pointer("/profile/description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => {
            return Err(OktaApiError::validation(
                "description",
                "description: The field must be a string.",
            ));
        }
    };
    Ok((name.to_owned(), description))
}

fn find(state: &AppState, id: &str) -> Result<Arc<Group>, OktaApiError> {
    state
        .directory()
        .group(id)
        .cloned()
        .ok_or_else(|| OktaApiError::not_found(id, "UserGroup"))
}

/// `POST /api/v1/groups`: 200 with the group.
pub async fn create(
    State(state): State<AppState>,
    _token: ApiToken,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let (name, description) = profile_of(&json_body(body)?)?;
    let now = state.clock.now();
    let group = Group {
        id: crate::ids::okta_id("00g"),
        name,
        description,
        built_in: false,
        created: now,
        last_updated: now,
        last_membership_updated: now,
    };
    let group = state
        .directory_mut()
        .put_group(group)
        .map_err(|e| directory_error(e, ""))?;
    Ok(Json(representation(&state, &group)))
}

/// `GET /api/v1/groups?q=|filter=|search=&limit=&after=` (`q`: a name prefix).
pub async fn list(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OktaApiError> {
    let expr = query_expr(&query)?;
    let prefix = query.get("q").map(|q| q.to_lowercase());
    let paging = Paging::from_query(&query, 200)?;
    let selected = |group: &Group| {
        expr.as_ref().is_none_or(|e| e.matches(group))
            && prefix
                .as_ref()
                .is_none_or(|p| group.name.to_lowercase().starts_with(p))
    };
    let base = format!("{}/api/v1/groups", state.base_url());
    let directory = state.directory();
    let groups = directory
        .groups_after(paging.after.as_deref())
        .filter(|g| selected(g));
    Ok(paging.list(
        &base,
        &query,
        groups,
        |g| &g.id,
        |g| representation(&state, g),
    ))
}

/// `GET /api/v1/groups/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Value>, OktaApiError> {
    Ok(Json(representation(&state, &*find(&state, &id)?)))
}

/// `PUT /api/v1/groups/{id}`: the profile replaced (a rename shows in members' tokens).
pub async fn replace(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let (name, description) = profile_of(&json_body(body)?)?;
    let mut group = Group::clone(&*find(&state, &id)?);
    group.name = name;
    group.description = description;
    group.last_updated = state.clock.now();
    let group = state
        .directory_mut()
        .put_group(group)
        .map_err(|e| directory_error(e, &id))?;
    Ok(Json(representation(&state, &group)))
}

/// `DELETE /api/v1/groups/{id}`: 204; its members leave it.
pub async fn delete(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<StatusCode, OktaApiError> {
    state
        .directory_mut()
        .remove_group(&id)
        .map_err(|e| directory_error(e, &id))?;
    Ok(DONE)
}

/// `GET /api/v1/groups/{id}/users?limit=&after=`.
pub async fn members(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OktaApiError> {
    let group = find(&state, &id)?;
    let paging = Paging::from_query(&query, 200)?;
    let base = format!("{}/api/v1/groups/{id}/users", state.base_url());
    let directory = state.directory();
    let members = directory.members(&group).filter(|u| {
        paging
            .after
            .as_ref()
            .is_none_or(|a| u.id.as_str() > a.as_str())
    });
    Ok(paging.list(
        &base,
        &query,
        members,
        |u| &u.id,
        |u| super::users::representation(&state, u),
    ))
}

/// `PUT /api/v1/groups/{id}/users/{userId}`: 204.
pub async fn add_member(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, OktaApiError> {
    set_membership(&state, &id, &user_id, true)
}

/// `DELETE /api/v1/groups/{id}/users/{userId}`: 204.
pub async fn remove_member(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, OktaApiError> {
    set_membership(&state, &id, &user_id, false)
}

fn set_membership(
    state: &AppState,
    id: &str,
    user_id: &str,
    member: bool,
) -> Result<StatusCode, OktaApiError> {
    let now = state.clock.now();
    state
        .directory_mut()
        .set_membership(id, user_id, member, now)
        .map_err(|e| match e {
            crate::directory::DirectoryError::UnknownUser => directory_error(e, user_id),
            e => directory_error(e, id),
        })?;
    Ok(DONE)
}
