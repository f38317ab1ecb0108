//! The HTTP surface: one file per endpoint, assembled here.
//!
//! Every endpoint exists for the org server (`/oauth2/v1/...`) and for each
//! custom server (`/oauth2/{server}/v1/...`); the [`Server`] extractor
//! resolves which.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::OktaApiError;
use crate::state::{AppState, AuthServer};

pub mod authn;
pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod keys;
pub mod login;
pub mod logout;
pub mod revoke;
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
    let endpoints = |prefix: &str| {
        Router::new()
            .route(&format!("{prefix}/v1/keys"), get(keys::keys))
            .route(
                &format!("{prefix}/v1/token"),
                post(token::token).options(token::preflight),
            )
            .route(
                &format!("{prefix}/v1/introspect"),
                post(introspect::introspect),
            )
            .route(&format!("{prefix}/v1/revoke"), post(revoke::revoke))
            .route(
                &format!("{prefix}/v1/authorize"),
                get(authorize::authorize_get).post(authorize::authorize_post),
            )
            .route(
                &format!("{prefix}/v1/userinfo"),
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(
                &format!("{prefix}/v1/logout"),
                get(logout::logout_get).post(logout::logout_post),
            )
    };
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/oauth2/{server}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/oauth2/{server}/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server),
        )
        .route("/api/v1/authn", post(authn::authn))
        .route("/login/login.htm", post(login::login_post))
        .merge(endpoints("/oauth2"))
        .merge(endpoints("/oauth2/{server}"))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> OktaApiError {
    OktaApiError::not_found(uri.path(), "Resource")
}

async fn method_not_allowed() -> OktaApiError {
    OktaApiError::method_not_allowed()
}

/// Okta stamps every response with `X-Okta-Request-Id`.
async fn request_id(request: Request<axum::body::Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Ok(id) = HeaderValue::from_str(&crate::ids::random_alphanumeric(27)) {
        response.headers_mut().insert("x-okta-request-id", id);
    }
    response
}
