//! `/api/v1/users`: create, read, list (`q`, `filter`, `search`, paging),
//! update, the lifecycle, credentials, a user's groups and sessions. Every
//! change is live at once: the next sign-in, token and session check see it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{DONE, directory_error, query_expr};
use crate::directory::{PASSWORD_REQUIREMENTS, User, UserStatus, meets_password_policy};
use crate::error::OktaApiError;
use crate::filter_expr::Attributes;
use crate::management::{ApiToken, Paging, json_body, query_flag};
use crate::routes::authn::iso_millis;
use crate::secret::Secret;
use crate::state::AppState;

/// Okta's default user type (one per org).
fn user_type_id(state: &AppState) -> String {
    crate::state::derived_id("oty", state.org_id())
}

/// A user as Okta shows it.
pub fn representation(state: &AppState, user: &User) -> Value {
    let date = |t: Option<i64>| t.map_or(Value::Null, |t| Value::from(iso_millis(t)));
    let mut profile = Map::new();
    profile.insert("login".into(), Value::from(user.login.as_str()));
    profile.extend(user.profile.clone());
    let href = format!("{}/api/v1/users/{}", state.base_url(), user.id);
    let mut credentials = Map::new();
    if user.password.is_some() {
        credentials.insert("password".into(), json!({}));
    }
    credentials.insert("provider".into(), json!({"type": "OKTA", "name": "OKTA"}));
    json!({
        "id": user.id,
        "status": user.status.as_str(),
        "created": date(Some(user.created)),
        "activated": date(user.activated),
        "statusChanged": date(user.status_changed),
        "lastLogin": date(user.last_login),
        "lastUpdated": date(Some(user.last_updated)),
        "passwordChanged": date(user.password_changed),
        "transitioningToStatus": null,
        "type": {"id": user_type_id(state)},
        "profile": profile,
        "credentials": credentials,
        "_links": {
            "self": {"href": href},
            "groups": {"href": format!("{href}/groups")},
        },
    })
}

impl Attributes for User {
    fn attribute(&self, path: &str) -> Option<Cow<'_, Value>> {
        let date = |t: Option<i64>| t.map(|t| Value::from(iso_millis(t)));
        let owned = match path {
            "id" => Some(Value::from(self.id.as_str())),
            "status" => Some(Value::from(self.status.as_str())),
            "created" => date(Some(self.created)),
            "activated" => date(self.activated),
            "statusChanged" => date(self.status_changed),
            "lastLogin" => date(self.last_login),
            "lastUpdated" => date(Some(self.last_updated)),
            "passwordChanged" => date(self.password_changed),
            "profile.login" => Some(Value::from(self.login.as_str())),
            _ => {
                return self
                    .profile
                    .get(path.strip_prefix("profile.")?)
                    .map(Cow::Borrowed);
            }
        };
        owned.map(Cow::Owned)
    }
}

/// Okta's default password policy: 8 characters, a lower- and an upper-case
/// letter, a digit, and not the login's local part.
fn check_password(password: &str, login: &str) -> Result<Secret, OktaApiError> {
    if meets_password_policy(password, login) {
        Ok(Secret::new(password))
    } else {
        Err(password_policy_error())
    }
}

fn password_policy_error() -> OktaApiError {
    OktaApiError::validation(
        "password",
        format!("password: Password requirements were not met. {PASSWORD_REQUIREMENTS}"),
    )
}

/// The `credentials.password.value` of a request body, if one is sent.
fn password_in(body: &Value) -> Result<Option<&str>, OktaApiError> {
    match body.pointer("/credentials/password/value") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(OktaApiError::validation(
            "password",
            "password: The field must be a string.",
        )),
    }
}

/// A request's `profile`, merged over `base` (a partial update) or whole (create,
/// PUT): login split off, the default profile's required fields checked.
fn profile_from(
    body: &Value,
    base: Option<&User>,
) -> Result<(String, Map<String, Value>), OktaApiError> {
    let sent = match body.get("profile") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(profile)) => profile.clone(),
        Some(_) => {
            return Err(OktaApiError::validation(
                "profile",
                "profile: The field must be an object.",
            ));
        }
    };
    let (mut login, mut profile) = match base {
        Some(user) => (Some(user.login.clone()), user.profile.clone()),
        None => (None, Map::new()),
    };
    for (name, value) in sent {
        match (name.as_str(), value) {
            ("login", Value::String(value)) => login = Some(value),
            ("login", Value::Null) => login = None,
            (_, Value::Object(_)) => {
                return Err(OktaApiError::validation(
                    &name,
                    format!("{name}: The field cannot be an object."),
                ));
            }
            (_, Value::Null) => {
                profile.remove(&name);
            }
            (_, value) => {
                profile.insert(name, value);
            }
        }
    }
    let mut causes = Vec::new();
    let login = login.map(|l| l.trim().to_owned()).unwrap_or_default();
    for (field, value) in [
        ("login", Some(login.as_str())),
        ("email", profile.get("email").and_then(Value::as_str)),
        (
            "firstName",
            profile.get("firstName").and_then(Value::as_str),
        ),
        ("lastName", profile.get("lastName").and_then(Value::as_str)),
    ] {
        match value.map(str::trim) {
            None | Some("") => causes.push(format!("{field}: The field cannot be left blank")),
            Some(value) if matches!(field, "login" | "email") && !looks_like_email(value) => {
                causes.push(if field == "login" {
                    "login: Username must be in the form of an email address".to_owned()
                } else {
                    "email: Does not match required pattern".to_owned()
                });
            }
            Some(_) => {}
        }
    }
    if let Some(first) = causes.first() {
        let field = first.split(':').next().unwrap_or("profile").to_owned();
        let mut error = OktaApiError::validation(&field, first.clone());
        error.causes = causes;
        return Err(error);
    }
    Ok((login, profile))
}

fn looks_like_email(value: &str) -> bool {
    value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    }) && !value.contains(char::is_whitespace)
}

/// The user a path names (id, or login as Okta accepts).
fn find(state: &AppState, key: &str) -> Result<Arc<User>, OktaApiError> {
    state
        .directory()
        .user_by_id_or_login(key)
        .cloned()
        .ok_or_else(|| OktaApiError::not_found(key, "User"))
}

/// Applies `change` to the user under the directory's write lock (so two admin
/// calls cannot interleave), stamping `lastUpdated`. A user who may no longer
/// sign in is logged out everywhere (sessions ended, refresh tokens revoked), as
/// Okta does on suspension and deactivation.
fn change_user<R>(
    state: &AppState,
    key: &str,
    change: impl FnOnce(&mut User, i64) -> Result<R, OktaApiError>,
) -> Result<(Arc<User>, R), OktaApiError> {
    let now = state.clock.now();
    let mut directory = state.directory_mut();
    let current = directory
        .user_by_id_or_login(key)
        .cloned()
        .ok_or_else(|| OktaApiError::not_found(key, "User"))?;
    let mut user = User::clone(&current);
    let out = change(&mut user, now)?;
    user.last_updated = now;
    let user = directory
        .put_user(user)
        .map_err(|e| directory_error(e, key))?;
    drop(directory);
    if !user.can_sign_in() {
        state.store.log_user_out_everywhere(&user.id, now);
    }
    Ok((user, out))
}

fn set_status(user: &mut User, status: UserStatus, now: i64) {
    if user.status != status {
        user.status = status;
        user.status_changed = Some(now);
    }
}

/// `POST /api/v1/users?activate=`: 200 with the user; `STAGED` unless
/// activated, then `ACTIVE` with a password or `PROVISIONED` without.
pub async fn create(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let body = json_body(body)?;
    let (login, profile) = profile_from(&body, None)?;
    let password = password_in(&body)?
        .map(|p| check_password(p, &login))
        .transpose()?;
    let group_ids: Vec<String> = match body.get("groupIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                OktaApiError::validation("groupIds", "groupIds: Each value must be a string.")
            })?,
        Some(_) => {
            return Err(OktaApiError::validation(
                "groupIds",
                "groupIds: The field must be an array of group ids.",
            ));
        }
    };
    let now = state.clock.now();
    let activate = query_flag(&query, "activate", true);
    let status = match (activate, password.is_some()) {
        (false, _) => UserStatus::Staged,
        (true, true) => UserStatus::Active,
        (true, false) => UserStatus::Provisioned,
    };
    let mut directory = state.directory_mut();
    let mut groups = Vec::new();
    for id in &group_ids {
        let group = directory
            .group(id)
            .ok_or_else(|| OktaApiError::not_found(id, "UserGroup"))?;
        groups.push(group.name.clone());
    }
    if let Some(everyone) = directory.group_by_name("Everyone").filter(|g| g.built_in) {
        groups.insert(0, everyone.name.clone());
    }
    let user = User {
        id: crate::ids::okta_id("00u"),
        password_changed: password.as_ref().map(|_| now),
        password,
        login,
        groups,
        profile,
        status,
        created: now,
        activated: (status == UserStatus::Active).then_some(now),
        status_changed: (status != UserStatus::Staged).then_some(now),
        last_login: None,
        last_updated: now,
        failed_logins: 0,
        password_expires_at: None,
    };
    let user = directory
        .put_user(user)
        .map_err(|e| directory_error(e, ""))?;
    drop(directory);
    Ok(Json(representation(&state, &user)))
}

/// `GET /api/v1/users/{idOrLogin}`.
pub async fn get_one(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Value>, OktaApiError> {
    Ok(Json(representation(&state, &*find(&state, &id)?)))
}

/// `GET /api/v1/users?q=|filter=|search=&limit=&after=`. Without `filter` or
/// `search`, `DEPROVISIONED` users are left out, as Okta does.
pub async fn list(
    State(state): State<AppState>,
    _token: ApiToken,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OktaApiError> {
    let expr = query_expr(&query)?;
    let prefix = query.get("q").map(|q| q.to_lowercase());
    let paging = Paging::from_query(&query, if prefix.is_some() { 10 } else { 200 })?;
    let starts = |value: Option<&str>, prefix: &str| {
        value.is_some_and(|v| v.to_lowercase().starts_with(prefix))
    };
    let selected = |user: &User| match (&expr, &prefix) {
        (Some(expr), _) => expr.matches(user),
        (None, Some(prefix)) => {
            user.status != UserStatus::Deprovisioned
                && (starts(Some(&user.login), prefix)
                    || ["firstName", "lastName", "email"]
                        .iter()
                        .any(|name| starts(user.profile_str(name), prefix)))
        }
        (None, None) => user.status != UserStatus::Deprovisioned,
    };
    let base = format!("{}/api/v1/users", state.base_url());
    let directory = state.directory();
    let users = directory
        .users_after(paging.after.as_deref())
        .filter(|u| selected(u));
    Ok(paging.list(
        &base,
        &query,
        users,
        |u| &u.id,
        |u| representation(&state, u),
    ))
}

/// `POST /api/v1/users/{id}`: a partial update (profile fields merged; `null` clears one).
pub async fn update(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let body = json_body(body)?;
    apply_update(&state, &id, &body, true)
}

/// `PUT /api/v1/users/{id}`: the profile replaced whole.
pub async fn replace(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let body = json_body(body)?;
    apply_update(&state, &id, &body, false)
}

fn apply_update(
    state: &AppState,
    id: &str,
    body: &Value,
    partial: bool,
) -> Result<Json<Value>, OktaApiError> {
    let (user, ()) = change_user(state, id, |user, now| {
        let (login, profile) = profile_from(body, partial.then_some(&*user))?;
        if let Some(password) = password_in(body)? {
            user.password = Some(check_password(password, &login)?);
            user.password_changed = Some(now);
            user.password_expires_at = None;
            if user.status == UserStatus::PasswordExpired {
                set_status(user, UserStatus::Active, now);
            }
        }
        user.login = login;
        user.profile = profile;
        Ok(())
    })?;
    Ok(Json(representation(state, &user)))
}

/// `DELETE /api/v1/users/{id}`: deactivates an active user; deletes a deactivated one.
pub async fn delete(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<StatusCode, OktaApiError> {
    let user = find(&state, &id)?;
    if user.status == UserStatus::Deprovisioned {
        state.directory_mut().remove_user(&user.id);
        state
            .store
            .log_user_out_everywhere(&user.id, state.clock.now());
    } else {
        change_user(&state, &id, |user, now| {
            set_status(user, UserStatus::Deprovisioned, now);
            Ok(())
        })?;
    }
    Ok(DONE)
}

/// `POST /api/v1/users/{id}/lifecycle/{action}` with Okta's transitions and refusals.
pub async fn lifecycle(
    State(state): State<AppState>,
    _token: ApiToken,
    Path((id, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, OktaApiError> {
    // Each transition's precondition, refused with Okta's error for it.
    let require = |ok: bool, status, code, summary: &'static str| {
        if ok {
            Ok(())
        } else {
            Err(OktaApiError::new(status, code, summary))
        }
    };
    let send_email = query_flag(&query, "sendEmail", true);
    let base = state.base_url().to_owned();
    let (user, body) = change_user(&state, &id, |user, now| {
        let mut body = json!({});
        match action.as_str() {
            "activate" | "reactivate" => {
                require(
                    user.status != UserStatus::Active,
                    StatusCode::FORBIDDEN,
                    "E0000016",
                    "Activation failed because the user is already active",
                )?;
                let next = if user.password.is_some() {
                    UserStatus::Active
                } else {
                    UserStatus::Provisioned
                };
                set_status(user, next, now);
                user.activated = Some(now);
                if !send_email {
                    let token = crate::ids::random_alphanumeric(20);
                    body = json!({
                        "activationUrl": format!("{base}/welcome/{token}"),
                        "activationToken": token,
                    });
                }
            }
            "deactivate" => set_status(user, UserStatus::Deprovisioned, now),
            "suspend" => {
                require(
                    user.status == UserStatus::Active,
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: Cannot suspend a user that is not active",
                )?;
                set_status(user, UserStatus::Suspended, now);
            }
            "unsuspend" => {
                require(
                    user.status == UserStatus::Suspended,
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: Cannot unsuspend a user that is not suspended",
                )?;
                set_status(user, UserStatus::Active, now);
            }
            "unlock" => {
                require(
                    user.status == UserStatus::LockedOut,
                    StatusCode::FORBIDDEN,
                    "E0000032",
                    "Unlock is not allowed for this user.",
                )?;
                user.unlock(now);
            }
            "expire_password" => {
                require(
                    matches!(
                        user.status,
                        UserStatus::Active | UserStatus::PasswordExpired
                    ),
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                )?;
                set_status(user, UserStatus::PasswordExpired, now);
                body = Value::Null;
            }
            "reset_password" => {
                set_status(user, UserStatus::Recovery, now);
                if !send_email {
                    let token = crate::ids::random_alphanumeric(20);
                    body = json!({"resetPasswordUrl": format!("{base}/signin/reset-password/{token}")});
                }
            }
            _ => return Err(OktaApiError::not_found(&action, "Lifecycle")),
        }
        Ok(body)
    })?;
    // expire_password answers with the user; the others with their small objects.
    Ok(if body.is_null() {
        Json(representation(&state, &user)).into_response()
    } else {
        Json(body).into_response()
    })
}

/// `POST /api/v1/users/{id}/credentials/change_password`: the old password must match.
pub async fn change_password(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let body = json_body(body)?;
    let field = |name: &str| {
        body.pointer(&format!("/{name}/value"))
            .and_then(Value::as_str)
    };
    let (Some(old), Some(new)) = (field("oldPassword"), field("newPassword")) else {
        return Err(OktaApiError::validation(
            "password",
            "password: oldPassword and newPassword are required.",
        ));
    };
    // Okta's errors for a user's own change: E0000014, or E0000080 for the policy.
    let user = find(&state, &id)?;
    state.change_own_password(&user.id, old, new)?;
    Ok(Json(json!({
        "password": {},
        "provider": {"type": "OKTA", "name": "OKTA"},
    })))
}

/// `GET /api/v1/users/{id}/groups`.
pub async fn groups(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, OktaApiError> {
    let user = find(&state, &id)?;
    let directory = state.directory();
    Ok(Json(
        directory
            .groups_of(&user)
            .map(|g| super::groups::representation(&state, g))
            .collect(),
    ))
}

/// `DELETE /api/v1/users/{id}/sessions`: every browser session of the user ends;
/// with `oauthTokens=true` their refresh tokens are revoked too.
pub async fn clear_sessions(
    State(state): State<AppState>,
    _token: ApiToken,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode, OktaApiError> {
    let user = find(&state, &id)?;
    if query_flag(&query, "oauthTokens", false) {
        state
            .store
            .log_user_out_everywhere(&user.id, state.clock.now());
    } else {
        state.store.end_sessions_of(&user.id);
    }
    Ok(DONE)
}
