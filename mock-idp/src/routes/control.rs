//! `/__mock/`: the control API other teams drive their tests with (keys,
//! clock, faults, claims, test tokens, inspection) and a small debugger page.
//! Reserved prefix: nothing Okta serves lives under it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{Clock, LATEST};
use crate::control::{ClaimRule, FaultSpec};
use crate::error::OktaApiError;
use crate::html::escape;
use crate::keys::SigningKey;
use crate::state::{AppState, AuthServer};
use crate::test_tokens::{self, TestTokenRequest};

/// A validation error naming the field (Okta's `E0000001` shape).
fn invalid(cause: impl Into<String>) -> OktaApiError {
    OktaApiError::validation("control request", cause)
}

/// A JSON object body as `T`. Objects only: serde would also read a struct
/// from an array, which no client means.
fn body<T: serde::de::DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<T, OktaApiError> {
    let value = body
        .map(|Json(value)| value)
        .map_err(|e| invalid(e.body_text()))?;
    if !value.is_object() {
        return Err(invalid("the body must be a JSON object"));
    }
    if value
        .get("target")
        .is_some_and(|target| !target.is_object())
    {
        return Err(invalid("target: must be an object"));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// With `server.control_token` set, a control request must carry
/// `Authorization: Bearer <token>` (compared in constant time); without it the
/// control API is open, as tests want it.
pub async fn require_control_token(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(expected) = &state.settings().control_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim());
    if presented.is_some_and(|token| expected.matches(token)) {
        return next.run(request).await;
    }
    let mut response = OktaApiError::new(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"mock-idp control API\""),
    );
    response
}

fn server_by_name<'a>(
    state: &'a AppState,
    name: Option<&str>,
) -> Result<&'a std::sync::Arc<AuthServer>, OktaApiError> {
    match name {
        None | Some("default") => state
            .custom_server("default")
            .or_else(|| state.servers().nth(1))
            .ok_or_else(|| invalid("server: there is no custom authorization server")),
        Some("org") => Ok(state.org()),
        Some(id) => state
            .custom_server(id)
            .ok_or_else(|| OktaApiError::not_found(id, "AuthorizationServer")),
    }
}

fn server_name(server: &AuthServer) -> &str {
    server.id.as_deref().unwrap_or("org")
}

/// `GET /__mock/keys`: every server's published keys, the active one marked.
pub async fn list_keys(State(state): State<AppState>) -> Json<Value> {
    let servers: Vec<Value> = state
        .servers()
        .map(|server| {
            let active = server.keys.active();
            let keys: Vec<Value> = server
                .keys
                .keys()
                .iter()
                .map(|k| json!({"kid": k.kid(), "active": k.kid() == active.kid()}))
                .collect();
            json!({"server": server_name(server), "issuer": server.issuer, "keys": keys})
        })
        .collect();
    Json(json!({ "servers": servers }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    #[serde(default)]
    server: Option<String>,
    /// A PEM RSA private key to sign with from now on (generated when absent).
    #[serde(default)]
    private_key_pem: Option<crate::secret::Secret>,
}

/// `POST /__mock/keys/rotate`: a new (or the given) key signs from now on; the
/// old ones stay published until the tokens they signed expire.
pub async fn rotate_keys(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let request: KeyRequest = match request {
        // An empty body means "rotate the default server's key".
        Err(JsonRejection::MissingJsonContentType(_)) => KeyRequest::default(),
        other => body(other)?,
    };
    let server = server_by_name(&state, request.server.as_deref())?.clone();
    let next = match request.private_key_pem {
        Some(pem) => SigningKey::from_pem(pem.expose().as_bytes())
            .map_err(|e| invalid(format!("private_key_pem: {e}")))?,
        None => tokio::task::spawn_blocking(SigningKey::fresh)
            .await
            .map_err(|_| invalid("key generation failed"))?
            .map_err(|e| invalid(e.to_string()))?,
    };
    let key = crate::rotate_with(&state, &server, next);
    Ok(Json(
        json!({"server": server_name(&server), "kid": key.kid()}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// Set the time (Unix seconds).
    #[serde(default)]
    set: Option<i64>,
    /// Move time forward by this many seconds.
    #[serde(default)]
    advance: Option<u64>,
    /// Stop the clock (at the current or the `set` time).
    #[serde(default)]
    freeze: Option<bool>,
    /// Back to the system clock.
    #[serde(default)]
    reset: Option<bool>,
}

fn clock_state(state: &AppState) -> Json<Value> {
    Json(json!({"now": state.clock.now(), "frozen": state.clock.is_frozen()}))
}

/// `GET /__mock/clock`.
pub async fn get_clock(State(state): State<AppState>) -> Json<Value> {
    clock_state(&state)
}

/// `POST /__mock/clock`: set, advance, freeze or reset the server's clock.
pub async fn set_clock(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let request: ClockRequest = body(request)?;
    if let Some(at) = request.set
        && !(0..=LATEST).contains(&at)
    {
        return Err(invalid(format!(
            "set: must be between 0 and {LATEST} (9999-12-31T23:59:59Z)"
        )));
    }
    if let Some(seconds) = request.advance {
        let from = match (request.reset, request.set) {
            (_, Some(at)) => at,
            (Some(true), None) => Clock::system().now(),
            _ => state.clock.now(),
        };
        if i64::try_from(seconds).map_or(true, |s| from.saturating_add(s) > LATEST) {
            return Err(invalid(format!(
                "advance: the clock would pass {LATEST} (9999-12-31T23:59:59Z)"
            )));
        }
    }
    if request.reset == Some(true) {
        state.clock.reset();
    }
    if let Some(at) = request.set {
        if request.freeze == Some(true) {
            state.clock.freeze_at(at);
        } else {
            state.clock.set(at);
        }
    } else if request.freeze == Some(true) {
        state.clock.freeze_at(state.clock.now());
    }
    if let Some(seconds) = request.advance {
        state.clock.advance(std::time::Duration::from_secs(seconds));
    }
    Ok(clock_state(&state))
}

/// `GET /__mock/faults`.
pub async fn list_faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "faults": state.control.faults() }))
}

/// `POST /__mock/faults`: 201 with the fault's id.
pub async fn add_fault(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Response, OktaApiError> {
    let spec: FaultSpec = body(request)?;
    spec.validate().map_err(invalid)?;
    let id = state.control.add_fault(spec);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `DELETE /__mock/faults/{id}`.
pub async fn remove_fault(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<StatusCode, OktaApiError> {
    if state.control.remove_fault(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OktaApiError::not_found(&id.to_string(), "Fault"))
    }
}

/// `DELETE /__mock/faults`: removes every fault.
pub async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.control.clear_faults();
    StatusCode::NO_CONTENT
}

/// `GET /__mock/claims`.
pub async fn list_claims(State(state): State<AppState>) -> Json<Value> {
    let rules: Vec<Value> = state
        .control
        .claim_rules()
        .into_iter()
        .map(|(id, rule)| json!({"id": id, "rule": rule}))
        .collect();
    Json(json!({ "rules": rules }))
}

/// `POST /__mock/claims`: custom claims for a client, a user or the next token.
pub async fn add_claims(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Response, OktaApiError> {
    let rule: ClaimRule = body(request)?;
    if let Some(client_id) = &rule.target.client_id
        && state.client(client_id).is_none()
    {
        return Err(invalid(format!(
            "target.client_id: no client {client_id:?}"
        )));
    }
    if let Some(login) = &rule.target.user
        && state.user_by_login(login).is_none()
    {
        return Err(invalid(format!("target.user: no user {login:?}")));
    }
    let id = state.control.add_claim_rule(rule);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `DELETE /__mock/claims/{id}`.
pub async fn remove_claims(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<StatusCode, OktaApiError> {
    if state.control.remove_claim_rule(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(OktaApiError::not_found(&id.to_string(), "ClaimRule"))
    }
}

/// `POST /__mock/tokens`: a token without a flow, valid or deliberately bad.
pub async fn mint_token(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let request: TestTokenRequest = body(request)?;
    let state_for_mint = state.clone();
    let token = tokio::task::spawn_blocking(move || test_tokens::mint(&state_for_mint, &request))
        .await
        .map_err(|_| invalid("minting failed"))?
        .map_err(invalid)?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum DeviceAction {
    Approve,
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    user_code: String,
    action: DeviceAction,
    /// The login of the user who approves (required to approve).
    #[serde(default)]
    user: Option<String>,
}

/// `POST /__mock/device`: approve or deny a device's user code without a browser.
pub async fn decide_device(
    State(state): State<AppState>,
    request: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, OktaApiError> {
    let request: DeviceRequest = body(request)?;
    let now = state.clock.now();
    let (decision, status) = match request.action {
        DeviceAction::Approve => {
            let login = request
                .user
                .as_deref()
                .ok_or_else(|| invalid("user: required to approve"))?;
            let user = state
                .user_by_login(login)
                .ok_or_else(|| invalid(format!("user: no user {login:?}")))?;
            let decision = crate::device::Decision::Approved {
                user_id: user.id.clone(),
                auth_time: now,
            };
            (decision, "approved")
        }
        DeviceAction::Deny => (crate::device::Decision::Denied, "denied"),
    };
    if !state
        .store
        .devices
        .decide(&request.user_code, decision, now)
    {
        return Err(OktaApiError::not_found(
            &request.user_code,
            "DeviceAuthorization",
        ));
    }
    Ok(Json(
        json!({"user_code": crate::device::normalize_user_code(&request.user_code), "status": status}),
    ))
}

/// `POST /__mock/users/{idOrLogin}/unlock`: a `LOCKED_OUT` user back to
/// `ACTIVE` with the failure count cleared, as an admin's unlock would; an
/// active user's failure count is cleared too (idempotent, for test setup).
pub async fn unlock_user(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> Result<Json<Value>, OktaApiError> {
    let now = state.clock.now();
    let mut directory = state.directory_mut();
    let mut user = directory
        .user_by_id_or_login(&key)
        .map(|u| crate::directory::User::clone(u))
        .ok_or_else(|| OktaApiError::not_found(&key, "User"))?;
    if user.status == crate::directory::UserStatus::LockedOut {
        user.unlock(now);
        user.last_updated = now;
    }
    user.failed_logins = 0;
    let user = directory
        .put_user(user)
        .map_err(|_| OktaApiError::not_found(&key, "User"))?;
    Ok(Json(
        json!({"id": user.id, "login": user.login, "status": user.status.as_str()}),
    ))
}

/// `GET /__mock/issued`: the tokens minted lately (ids and claims, never the
/// tokens), and the live browser sessions (without their cookies).
pub async fn issued(State(state): State<AppState>) -> Json<Value> {
    let now = state.clock.now();
    let revoked = |jti: &str| state.store.is_revoked(jti);
    let tokens: Vec<Value> = state
        .control
        .issued()
        .into_iter()
        .map(|t| {
            let status = if revoked(&t.jti) {
                "revoked"
            } else if t.exp <= now {
                "expired"
            } else {
                "active"
            };
            let mut value = json!(t);
            value["status"] = json!(status);
            value
        })
        .collect();
    let sessions: Vec<Value> = state
        .store
        .live_sessions(now)
        .into_iter()
        .map(|s| {
            let login = state.user_by_id(&s.user_id).map(|u| u.login.clone());
            json!({"user_id": s.user_id, "login": login, "auth_time": s.auth_time, "expires_at": s.expires_at})
        })
        .collect();
    Json(json!({ "tokens": tokens, "sessions": sessions }))
}

/// `GET /__mock/requests`: the last requests received, secrets left out.
pub async fn requests(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "requests": state.control.requests() }))
}

/// `GET /__mock/`: the servers, clients, users and recent requests, as a page.
pub async fn page(State(state): State<AppState>) -> Html<String> {
    let mut servers = String::new();
    for server in state.servers() {
        let kids: Vec<String> = server.keys.keys().iter().map(|k| escape(k.kid())).collect();
        servers.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"{issuer}/.well-known/openid-configuration\">{issuer}</a></td><td>{}</td><td><code>{}</code></td></tr>",
            escape(server_name(server)),
            escape(&server.audience),
            kids.join("<br>"),
            issuer = escape(&server.issuer),
        ));
    }
    let mut clients = String::new();
    for client in state.all_clients() {
        clients.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&client.client_id),
            escape(&client.client_name),
            escape(&client.token_endpoint_auth_method),
            escape(&client.grant_types.join(", ")),
            escape(&client.redirect_uris.join(" ")),
        ));
    }
    let mut users = String::new();
    for user in state.users() {
        users.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&user.id),
            escape(&user.login),
            escape(&user.groups.join(", ")),
        ));
    }
    let mut requests = String::new();
    for record in state.control.requests().iter().rev().take(50) {
        requests.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&crate::http_date::format(record.at)),
            escape(&record.method),
            escape(&record.path),
            record.status,
            escape(record.client_id.as_deref().unwrap_or("")),
        ));
    }
    let faults = state.control.faults().len();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mock-idp</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d21}}h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:2rem}}
table{{border-collapse:collapse;width:100%;font-size:.9rem}}th,td{{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}
th{{background:#f4f4f6}}code{{font-size:.85rem}}.note{{color:#555}}</style></head>
<body><h1>mock-idp: a mock Okta authorization server</h1>
<p class="note">Clock: {now} ({clock}). Active faults: {faults}. Control API: <code>/__mock/keys</code>, <code>/__mock/clock</code>, <code>/__mock/faults</code>, <code>/__mock/claims</code>, <code>/__mock/tokens</code>, <code>/__mock/users/{{id}}/unlock</code>, <code>/__mock/issued</code>, <code>/__mock/requests</code>, <a href=\"/__mock/openapi.json\"><code>/__mock/openapi.json</code></a>.</p>
<h2>Authorization servers</h2><table><thead><tr><th>Server</th><th>Issuer</th><th>Audience</th><th>Published keys (kid)</th></tr></thead><tbody>{servers}</tbody></table>
<h2>Clients</h2><table><thead><tr><th>client_id</th><th>Name</th><th>Authentication</th><th>Grants</th><th>Redirect URIs</th></tr></thead><tbody>{clients}</tbody></table>
<h2>Users</h2><table><thead><tr><th>Id</th><th>Login</th><th>Groups</th></tr></thead><tbody>{users}</tbody></table>
<h2>Recent requests</h2><table><thead><tr><th>Time</th><th>Method</th><th>Path</th><th>Status</th><th>Client</th></tr></thead><tbody>{requests}</tbody></table>
</body></html>"#,
        now = escape(&crate::http_date::format(state.clock.now())),
        clock = if state.clock.is_frozen() {
            "frozen"
        } else {
            "running"
        },
    ))
}

/// The OpenAPI document of every endpoint (kept in `fixtures/mock-idp/`).
pub const OPENAPI: &str = include_str!("../../../fixtures/mock-idp/openapi.json");

/// `GET /__mock/openapi.json`, with this server's base URL.
pub async fn openapi(State(state): State<AppState>) -> Response {
    match serde_json::from_str::<Value>(OPENAPI) {
        Ok(mut doc) => {
            doc["servers"] = json!([{ "url": state.base_url() }]);
            Json(doc).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /__mock/health`: 200 once the server answers with its keys (requests
/// wait for the keys made at start, so this does too), for container
/// healthchecks and load balancers.
pub async fn health(State(state): State<AppState>) -> Response {
    let mut response = Json(json!({
        "status": "pass",
        "issuer": state.org().issuer,
        "users": state.directory().user_count(),
        "clients": state.all_clients().len(),
    }))
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
