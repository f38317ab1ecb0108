//! Discovery: `/.well-known/openid-configuration` (org and custom servers)
//! and `/.well-known/oauth-authorization-server` (custom servers only).
//! Documents advertise only what this server really serves, and are rendered
//! once per server.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::Server;
use crate::grants;
use crate::state::{AppState, AuthServer};

/// Client authentication methods accepted at token, introspect and revoke.
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];

/// Claims an ID token may carry (Okta's OIDC metadata list).
const ID_TOKEN_CLAIMS: &[&str] = &[
    "iss",
    "ver",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "auth_time",
    "amr",
    "idp",
    "nonce",
    "name",
    "nickname",
    "preferred_username",
    "given_name",
    "middle_name",
    "family_name",
    "email",
    "email_verified",
    "profile",
    "zoneinfo",
    "locale",
    "address",
    "phone_number",
    "groups",
    "at_hash",
    "c_hash",
];

/// Response types of the authorize endpoint (Okta's OIDC document leaves out
/// a lone `token`; its OAuth document lists it).
const RESPONSE_TYPES: &[&str] = &[
    "code",
    "id_token",
    "code id_token",
    "code token",
    "id_token token",
    "code id_token token",
];

/// Claims an access token may carry (Okta's OAuth metadata list).
const ACCESS_TOKEN_CLAIMS: &[&str] = &[
    "ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    OpenIdConfiguration,
    OAuthAuthorizationServer,
}

/// The rendered documents of one server.
#[derive(Debug)]
pub struct Metadata {
    openid_configuration: Bytes,
    oauth_authorization_server: Bytes,
}

impl Metadata {
    pub fn render(server: &AuthServer) -> Self {
        let render = |kind| Bytes::from(document(server, kind).to_string());
        Self {
            openid_configuration: render(DocumentKind::OpenIdConfiguration),
            oauth_authorization_server: render(DocumentKind::OAuthAuthorizationServer),
        }
    }
}

/// `GET /.well-known/okta-organization`: what tools such as gimme-aws-creds read to
/// pick a sign-in pipeline. The mock serves the Classic one (`/api/v1/authn`): `v1`.
pub async fn okta_organization(State(state): State<AppState>) -> Response {
    let body = json!({
        "id": state.org_id(),
        "pipeline": "v1",
        "_links": { "organization": { "href": state.base_url() } },
    });
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The metadata document of `server`.
pub fn document(server: &AuthServer, kind: DocumentKind) -> Value {
    let mut doc = json!({
        "issuer": server.issuer,
        "token_endpoint": server.endpoint("token"),
        "jwks_uri": server.endpoint("keys"),
        "introspection_endpoint": server.endpoint("introspect"),
        "revocation_endpoint": server.endpoint("revoke"),
        "registration_endpoint": server.registration_endpoint,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "subject_types_supported": ["public"],
    });
    let grant_types: Vec<&str> = grants::SUPPORTED
        .iter()
        .copied()
        .filter(|g| match kind {
            // Okta's OIDC document lists the user-facing grants only.
            DocumentKind::OpenIdConfiguration => *g != "client_credentials",
            DocumentKind::OAuthAuthorizationServer => {
                !(server.is_org() && *g == "client_credentials")
            }
        })
        .filter(|g| !(server.is_org() && *g == "client_credentials"))
        .filter(|g| !(server.is_org() && *g == grants::token_exchange::GRANT_TYPE))
        .collect();
    if !grant_types.is_empty() {
        doc["grant_types_supported"] = json!(grant_types);
    }
    let scopes: Vec<&str> = crate::config::OIDC_SCOPES
        .iter()
        .copied()
        .chain(server.published_scopes())
        .collect();
    doc["scopes_supported"] = json!(scopes);
    doc["authorization_endpoint"] = json!(server.endpoint("authorize"));
    doc["end_session_endpoint"] = json!(server.endpoint("logout"));
    doc["response_modes_supported"] =
        json!(["query", "fragment", "form_post", "okta_post_message"]);
    doc["code_challenge_methods_supported"] = json!(["S256"]);
    doc["device_authorization_endpoint"] = json!(server.endpoint("device/authorize"));
    doc["pushed_authorization_request_endpoint"] = json!(server.endpoint("par"));
    doc["require_pushed_authorization_requests"] = json!(false);
    doc["dpop_signing_alg_values_supported"] = json!(dpop::algorithm_names().collect::<Vec<_>>());
    match kind {
        DocumentKind::OpenIdConfiguration => {
            doc["userinfo_endpoint"] = json!(server.endpoint("userinfo"));
            doc["response_types_supported"] = json!(RESPONSE_TYPES);
            doc["id_token_signing_alg_values_supported"] = json!(["RS256"]);
            doc["request_parameter_supported"] = json!(false);
            doc["request_uri_parameter_supported"] = json!(false);
            doc["id_token_encryption_alg_values_supported"] = json!(crate::jwe::ALGORITHMS);
            doc["id_token_encryption_enc_values_supported"] =
                json!(crate::jwe::CONTENT_ENCRYPTIONS);
            doc["claims_supported"] = json!(ID_TOKEN_CLAIMS);
        }
        DocumentKind::OAuthAuthorizationServer => {
            let mut types = vec!["code", "token"];
            types.extend(RESPONSE_TYPES.iter().skip(1));
            doc["response_types_supported"] = json!(types);
            doc["claims_supported"] = json!(ACCESS_TOKEN_CLAIMS);
        }
    }
    doc
}

pub async fn openid_configuration(
    State(state): State<AppState>,
    Server(server): Server,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    serve(&state, &server, &query, DocumentKind::OpenIdConfiguration)
}

pub async fn oauth_authorization_server(
    State(state): State<AppState>,
    Server(server): Server,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    serve(
        &state,
        &server,
        &query,
        DocumentKind::OAuthAuthorizationServer,
    )
}

fn serve(
    state: &AppState,
    server: &AuthServer,
    query: &HashMap<String, String>,
    kind: DocumentKind,
) -> Response {
    // `?client_id=` is accepted (Okta formats the issuer per client); an unknown one is a 400.
    if let Some(client_id) = query.get("client_id")
        && state.client(client_id).is_none()
    {
        let body = json!({
            "errorCode": "invalid_client",
            "errorSummary": "Invalid value for 'client_id' parameter.",
            "errorLink": "invalid_client",
            "errorId": crate::error::error_id(),
            "errorCauses": [],
        });
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let metadata = server.metadata.get_or_init(|| Metadata::render(server));
    let bytes = match kind {
        DocumentKind::OpenIdConfiguration => metadata.openid_configuration.clone(),
        DocumentKind::OAuthAuthorizationServer => metadata.oauth_authorization_server.clone(),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, must-revalidate"),
    );
    response
}
