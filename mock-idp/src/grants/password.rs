//! `grant_type=password` (resource owner password), for clients registered
//! with it: the user's login and password, as on an Okta tenant whose
//! sign-on policy needs only a password.

use serde_json::Value;

use super::user_tokens::{
    RefreshChoice, UserGrant, check_client_grant, check_user_scopes, token_endpoint_response,
    wants_refresh,
};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, AuthServer};
use crate::tokens::split_scopes;

const GRANT: &str = "password";

pub fn grant(
    state: &AppState,
    server: &AuthServer,
    client: &AuthenticatedClient,
    form: &OAuthForm,
) -> Result<Value, OAuthError> {
    let dpop_jkt = client.dpop_jkt.as_deref();
    let client = &client.client;
    check_client_grant(client, GRANT)?;
    let username = form.require("username")?;
    let password = form.require("password")?;
    let scopes = split_scopes(form.get("scope").unwrap_or_default());
    let lifetime = check_user_scopes(server, client, GRANT, &scopes)?;
    let user = state
        .sign_in(username, password)
        .map_err(|_| OAuthError::invalid_grant("The credentials provided were invalid."))?;
    let now = state.clock.now();
    let refresh = if wants_refresh(client, &scopes) {
        RefreshChoice::New
    } else {
        RefreshChoice::None
    };
    let grant = UserGrant {
        server,
        client,
        user: &user,
        auth_time: now,
        scopes: &scopes,
        nonce: None,
        lifetime,
        acr: None,
        dpop_jkt,
    };
    let (body, _) = token_endpoint_response(state, &grant, refresh, now)?;
    Ok(body)
}
