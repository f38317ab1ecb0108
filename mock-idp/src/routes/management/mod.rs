//! Okta's management API under `/api/v1/` (SSWS-authorised, see
//! [`crate::management`]): one file per resource, assembled here.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::directory::DirectoryError;
use crate::error::OktaApiError;
use crate::state::AppState;

pub mod apps;
pub mod groups;
pub mod org;
pub mod users;

/// The management routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::get_one)
                .post(users::update)
                .put(users::replace)
                .delete(users::delete),
        )
        .route(
            "/api/v1/users/{id}/lifecycle/{action}",
            post(users::lifecycle),
        )
        .route(
            "/api/v1/users/{id}/credentials/change_password",
            post(users::change_password),
        )
        .route("/api/v1/users/{id}/groups", get(users::groups))
        .route(
            "/api/v1/users/{id}/sessions",
            axum::routing::delete(users::clear_sessions),
        )
        .route("/api/v1/apps", get(apps::list).post(apps::create))
        .route(
            "/api/v1/apps/{id}",
            get(apps::get_one).put(apps::replace).delete(apps::delete),
        )
        .route(
            "/api/v1/apps/{id}/lifecycle/{action}",
            post(apps::lifecycle),
        )
        .route(
            "/api/v1/apps/{id}/credentials/secrets",
            post(apps::new_secret),
        )
        .route(
            "/api/v1/apps/{id}/users",
            get(apps::users).post(apps::assign_user),
        )
        .route(
            "/api/v1/apps/{id}/users/{user_id}",
            get(apps::get_user).delete(apps::unassign_user),
        )
        .route("/api/v1/apps/{id}/groups", get(apps::groups))
        .route(
            "/api/v1/apps/{id}/groups/{group_id}",
            put(apps::assign_group).delete(apps::unassign_group),
        )
        .route("/api/v1/org", get(org::org))
        .route("/api/v1/trustedOrigins", get(org::trusted_origins))
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/groups/{id}",
            get(groups::get_one)
                .put(groups::replace)
                .delete(groups::delete),
        )
        .route("/api/v1/groups/{id}/users", get(groups::members))
        .route(
            "/api/v1/groups/{id}/users/{user_id}",
            put(groups::add_member).delete(groups::remove_member),
        )
}

/// The one mapping of directory refusals to Okta's errors.
fn directory_error(error: DirectoryError, id: &str) -> OktaApiError {
    match error {
        DirectoryError::Taken(field) => OktaApiError::validation(
            field,
            format!(
                "{field}: An object with this field already exists in the current organization"
            ),
        ),
        DirectoryError::UnknownUser => OktaApiError::not_found(id, "User"),
        DirectoryError::UnknownGroup => OktaApiError::not_found(id, "UserGroup"),
        DirectoryError::BuiltIn => OktaApiError::forbidden(),
    }
}

/// `204 No Content`, Okta's answer to a delete or a membership change.
const DONE: StatusCode = StatusCode::NO_CONTENT;

/// The `filter`, `search` or `q` of a list request, parsed once (E0000031 if bad).
fn query_expr(
    query: &std::collections::HashMap<String, String>,
) -> Result<Option<crate::filter_expr::Expr>, OktaApiError> {
    query
        .get("search")
        .or_else(|| query.get("filter"))
        .map(|text| {
            crate::filter_expr::Expr::parse(text).map_err(|_| OktaApiError::invalid_search())
        })
        .transpose()
}
