//! `GET /api/v1/org` (the org's basics) and `GET /api/v1/trustedOrigins`
//! (read-only: the origins the mock trusts are those of the registered
//! redirect and post-logout redirect URIs, the same rule CORS applies).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::management::ApiToken;
use crate::routes::authn::iso_millis;
use crate::state::AppState;

/// `GET /api/v1/org`.
pub async fn org(State(state): State<AppState>, _token: ApiToken) -> Json<Value> {
    let base = state.base_url();
    let subdomain = url::Url::parse(base)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.split('.').next().unwrap_or(h).to_owned())
        })
        .unwrap_or_default();
    Json(json!({
        "id": state.org_id(),
        "companyName": "mock-idp",
        "subdomain": subdomain,
        "status": "ACTIVE",
        "website": base,
        "created": iso_millis(0),
        "lastUpdated": iso_millis(0),
        "expiresAt": null,
        "_links": {
            "contacts": {"href": format!("{base}/api/v1/org/contacts")},
            "preferences": {"href": format!("{base}/api/v1/org/preferences")},
        },
    }))
}

/// `GET /api/v1/trustedOrigins`: one CORS + redirect origin per registered origin.
pub async fn trusted_origins(State(state): State<AppState>, _token: ApiToken) -> Json<Vec<Value>> {
    let origins: BTreeSet<String> = state
        .all_clients()
        .iter()
        .flat_map(|c| c.redirect_uris.iter().chain(&c.post_logout_redirect_uris))
        .filter_map(|uri| url::Url::parse(uri).ok())
        .map(|uri| uri.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .collect();
    let base = state.base_url();
    Json(
        origins
            .into_iter()
            .map(|origin| {
                let id = crate::state::derived_id("tos", &origin);
                json!({
                    "id": id,
                    "name": origin,
                    "origin": origin,
                    "scopes": [{"type": "CORS"}, {"type": "REDIRECT"}],
                    "status": "ACTIVE",
                    "created": iso_millis(0),
                    "lastUpdated": iso_millis(0),
                    "_links": {"self": {"href": format!("{base}/api/v1/trustedOrigins/{id}")}},
                })
            })
            .collect(),
    )
}
