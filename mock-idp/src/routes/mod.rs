//! The HTTP surface: one file per endpoint, assembled here.
//!
//! Every endpoint exists for the org server (`/oauth2/v1/...`) and for each
//! custom server (`/oauth2/{server}/v1/...`); the [`Server`] extractor
//! resolves which.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::OktaApiError;
use crate::keys::KeyRing;
use crate::state::{AppState, AuthServer};

pub mod authn;
pub mod authorize;
pub mod clients;
pub mod control;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod global_revocation;
pub mod introspect;
pub mod keys;
pub mod login;
pub mod logout;
pub mod management;
pub mod par;
pub mod revoke;
pub mod sessions;
pub mod token;
pub mod userinfo;

/// The authorization server named by the request path.
#[derive(Debug, Clone)]
pub struct Server(pub Arc<AuthServer>);

impl FromRequestParts<AppState> for Server {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|p| p.0)
            .unwrap_or_default();
        match params.get("server") {
            None => Ok(Self(state.org().clone())),
            Some(id) => {
                state.custom_server(id).cloned().map(Self).ok_or_else(|| {
                    OktaApiError::not_found(id, "AuthorizationServer").into_response()
                })
            }
        }
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let trusted = || middleware::from_fn_with_state(state.clone(), cors::trusted);
    let endpoints = |prefix: &str| {
        Router::new()
            .route(
                &format!("{prefix}/v1/keys"),
                get(keys::keys).options(cors::document_preflight),
            )
            .route(
                &format!("{prefix}/v1/token"),
                post(token::token)
                    .options(cors::post_preflight)
                    .route_layer(trusted()),
            )
            .route(
                &format!("{prefix}/v1/introspect"),
                post(introspect::introspect)
                    .options(cors::post_preflight)
                    .route_layer(trusted()),
            )
            .route(
                &format!("{prefix}/v1/revoke"),
                post(revoke::revoke)
                    .options(cors::post_preflight)
                    .route_layer(trusted()),
            )
            .route(
                &format!("{prefix}/v1/authorize"),
                get(authorize::authorize_get).post(authorize::authorize_post),
            )
            .route(
                &format!("{prefix}/v1/userinfo"),
                get(userinfo::userinfo)
                    .post(userinfo::userinfo)
                    .options(cors::userinfo_preflight)
                    .route_layer(trusted()),
            )
            .route(
                &format!("{prefix}/v1/par"),
                post(par::par)
                    .options(cors::post_preflight)
                    .route_layer(trusted()),
            )
            .route(
                &format!("{prefix}/v1/device/authorize"),
                post(device::device_authorize),
            )
            .route(
                &format!("{prefix}/v1/logout"),
                get(logout::logout_get).post(logout::logout_post),
            )
    };
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration).options(cors::document_preflight),
        )
        .route(
            "/.well-known/okta-organization",
            get(discovery::okta_organization).options(cors::document_preflight),
        )
        .route(
            "/oauth2/{server}/.well-known/openid-configuration",
            get(discovery::openid_configuration).options(cors::document_preflight),
        )
        .route(
            "/oauth2/{server}/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server).options(cors::document_preflight),
        )
        .route(
            "/api/v1/authn",
            post(authn::authn)
                .options(cors::authn_preflight)
                .route_layer(trusted()),
        )
        .route(
            "/api/v1/authn/cancel",
            post(authn::cancel)
                .options(cors::authn_preflight)
                .route_layer(trusted()),
        )
        .route(
            "/api/v1/authn/credentials/change_password",
            post(authn::change_password)
                .options(cors::authn_preflight)
                .route_layer(trusted()),
        )
        .route(
            "/api/v1/authn/skip",
            post(authn::skip)
                .options(cors::authn_preflight)
                .route_layer(trusted()),
        )
        .route(
            "/api/v1/sessions/me",
            get(sessions::get_me)
                .delete(sessions::close_me)
                .options(cors::sessions_preflight)
                .route_layer(trusted()),
        )
        .route(
            "/api/v1/sessions/me/lifecycle/refresh",
            post(sessions::refresh_me)
                .options(cors::authn_preflight)
                .route_layer(trusted()),
        )
        .route("/login/login.htm", post(login::login_post))
        .route(
            "/activate",
            get(device::activate_get).post(device::activate_post),
        )
        .route(
            "/login/sessionCookieRedirect",
            get(sessions::cookie_redirect),
        )
        .merge(management::router())
        .merge(endpoints("/oauth2"))
        .merge(endpoints("/oauth2/{server}"))
        .route(
            "/oauth2/v1/global-token-revocation",
            post(global_revocation::global_token_revocation),
        )
        .route(
            "/oauth2/v1/clients",
            post(clients::create).get(clients::list),
        )
        .route(
            "/oauth2/v1/clients/{client_id}",
            get(clients::get_one)
                .put(clients::replace)
                .delete(clients::delete),
        )
        .route(
            "/oauth2/v1/clients/{client_id}/lifecycle/newSecret",
            post(clients::new_secret),
        )
        // Innermost first: a fault's answer still gets the rate-limit headers
        // (SDKs retry on them), and every answer, a configured 429 too, is recorded.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::apply_faults,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::management::rate_limit_headers,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::record_requests,
        ))
        .merge(control_routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::management::ssws_first,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), await_keys))
        .layer(middleware::from_fn_with_state(state.clone(), okta_headers))
        .with_state(state)
}

/// The control API: outside the fault and rate-limit layers, so a test can
/// always undo what it set up.
fn control_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/__mock", get(control::page))
        .route("/__mock/", get(control::page))
        .route("/__mock/keys", get(control::list_keys))
        .route("/__mock/keys/rotate", post(control::rotate_keys))
        .route(
            "/__mock/clock",
            get(control::get_clock).post(control::set_clock),
        )
        .route(
            "/__mock/faults",
            get(control::list_faults)
                .post(control::add_fault)
                .delete(control::clear_faults),
        )
        .route(
            "/__mock/faults/{id}",
            axum::routing::delete(control::remove_fault),
        )
        .route(
            "/__mock/claims",
            get(control::list_claims).post(control::add_claims),
        )
        .route(
            "/__mock/claims/{id}",
            axum::routing::delete(control::remove_claims),
        )
        .route("/__mock/tokens", post(control::mint_token))
        .route("/__mock/device", post(control::decide_device))
        .route("/__mock/users/{id}/unlock", post(control::unlock_user))
        .route("/__mock/requests", get(control::requests))
        .route("/__mock/issued", get(control::issued))
        .route("/__mock/openapi.json", get(control::openapi))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            control::require_control_token,
        ))
        .route("/__mock/health", get(control::health))
}

async fn not_found(uri: axum::http::Uri) -> OktaApiError {
    OktaApiError::not_found(uri.path(), "Resource")
}

async fn method_not_allowed() -> OktaApiError {
    OktaApiError::method_not_allowed()
}

/// The mock serves while the keys it generates at start are still being
/// made: a request waits here for the keys it may use. A custom server's
/// endpoints wait for that server's key; discovery documents carry no key and
/// go straight through; anything else waits for every server's key. Once the
/// keys exist this costs one atomic load per server.
async fn await_keys(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    const KEYLESS: [&str; 3] = [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/okta-organization",
    ];
    let path = request.uri().path();
    let all_ready = state
        .servers()
        .all(|s| s.key_rings().all(KeyRing::is_ready));
    if !all_ready && !KEYLESS.iter().any(|d| path.ends_with(d)) {
        let only = path
            .strip_prefix("/oauth2/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(id, _)| state.custom_server(id))
            .cloned();
        let servers: Vec<Arc<AuthServer>> = match only {
            Some(server) => vec![server],
            None => state.servers().cloned().collect(),
        };
        for ring in servers.iter().flat_map(|s| s.key_rings()) {
            if ring.ready().await.is_err() {
                return crate::error::OAuthError::server_error().into_response();
            }
        }
    }
    next.run(request).await
}

/// Okta stamps every response with `X-Okta-Request-Id`, and its `Date` is
/// the mock clock's, the same time as `Expires` and `X-Rate-Limit-Reset`
/// (SDKs back off by `X-Rate-Limit-Reset` minus `Date`).
async fn okta_headers(
    State(state): State<AppState>,
    request: Request<axum::body::Body>,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&crate::ids::request_id()) {
        headers.insert("x-okta-request-id", id);
    }
    let date = crate::http_date::format(state.clock.now());
    if !date.is_empty()
        && let Ok(date) = HeaderValue::from_str(&date)
    {
        headers.insert(header::DATE, date);
    }
    response
}
