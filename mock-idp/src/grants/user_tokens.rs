//! What the user-facing grants share: scope checks against the client and
//! the server's policy, and minting the access / ID / refresh token set.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::config::OIDC_SCOPES;
use crate::control::TokenKind;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::state::{AppState, AuthServer, Client, User};
use crate::store::{Issued, RefreshGrant};
use crate::tokens::{
    AccessTokenRequest, IdTokenRequest, MintedToken, mint_access_token, mint_id_token,
};

pub const UNKNOWN_SCOPE: &str =
    "One or more scopes are not configured for the authorization server resource.";
pub const EXCEEDS_SCOPE: &str = "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.";

/// The client may use `grant` (by client registration).
pub fn check_client_grant(client: &Client, grant: &str) -> Result<(), OAuthError> {
    if client.allows_grant(grant) {
        return Ok(());
    }
    Err(OAuthError::new(
        OAuthErrorCode::UnauthorizedClient,
        format!(
            "The client is not authorized to use the provided grant type. Configured grant types: [{}].",
            client.grant_types.join(", ")
        ),
    ))
}

/// Checks requested scopes for a user flow: each must be an OpenID Connect
/// scope or one of the server's, and the first matching policy must allow
/// the grant and the custom scopes. Returns the access-token lifetime.
pub fn check_user_scopes(
    server: &AuthServer,
    client: &Client,
    grant: &str,
    scopes: &[String],
) -> Result<u64, OAuthError> {
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope("No scopes were requested."));
    }
    if scopes
        .iter()
        .any(|s| !OIDC_SCOPES.contains(&s.as_str()) && !server.has_custom_scope(s))
    {
        return Err(OAuthError::invalid_scope(UNKNOWN_SCOPE));
    }
    let policy = server.policy_for(&client.client_id, grant).ok_or_else(|| {
        OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "Policy evaluation failed for this request, please check the policy configurations.",
        )
        .with_status(StatusCode::UNAUTHORIZED)
        .with_challenge(None)
    })?;
    let allowed = |s: &String| {
        OIDC_SCOPES.contains(&s.as_str()) || policy.scopes.iter().any(|p| p == "*" || p == s)
    };
    if !scopes.iter().all(allowed) {
        return Err(OAuthError::invalid_scope(EXCEEDS_SCOPE));
    }
    Ok(policy
        .access_token_lifetime
        .unwrap_or(server.access_token_lifetime))
}

/// One user grant about to be turned into tokens.
#[derive(Debug)]
pub struct UserGrant<'a> {
    pub server: &'a AuthServer,
    pub client: &'a Client,
    pub user: &'a User,
    pub auth_time: i64,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub lifetime: u64,
    /// The authentication context the login satisfied (`acr_values`), for ID tokens.
    pub acr: Option<&'a str>,
    /// The DPoP key thumbprint the access token is bound to (`cnf.jkt`).
    pub dpop_jkt: Option<&'a str>,
}

/// Tokens minted for a user grant.
#[derive(Debug)]
pub struct UserTokens {
    pub access: MintedToken,
    pub id: Option<MintedToken>,
}

impl UserTokens {
    /// `(jti, exp)` of every JWT minted, for revocation together.
    pub fn jtis(&self) -> Vec<(String, i64)> {
        std::iter::once(&self.access)
            .chain(self.id.as_ref())
            .map(|t| (t.jti.clone(), t.exp))
            .collect()
    }
}

/// Mints the access token, and the ID token when `openid` is granted (with
/// `at_hash`; `c_hash` when `code` is given, for hybrid responses).
pub fn mint_user_tokens(
    state: &AppState,
    grant: &UserGrant<'_>,
    with_access_token: bool,
    with_id_token: bool,
    code: Option<&str>,
    now: i64,
) -> Result<(Option<MintedToken>, Option<MintedToken>), OAuthError> {
    let access = if with_access_token {
        Some(
            mint_access_token(
                grant.server,
                AccessTokenRequest {
                    client_id: &grant.client.client_id,
                    scopes: grant.scopes,
                    user: Some((&grant.user.id, &grant.user.login, grant.auth_time)),
                    lifetime: grant.lifetime,
                    extra: super::with_binding(
                        super::extra_claims(
                            state,
                            grant.server,
                            TokenKind::Access,
                            &grant.client.client_id,
                            Some(grant.user),
                        ),
                        grant.dpop_jkt,
                    ),
                },
                now,
            )
            .map_err(|_| OAuthError::server_error())?,
        )
    } else {
        None
    };
    let id = if with_id_token && grant.scopes.iter().any(|s| s == "openid") {
        Some(
            mint_id_token(
                grant.server,
                IdTokenRequest {
                    client_id: &grant.client.client_id,
                    user: grant.user,
                    auth_time: grant.auth_time,
                    scopes: grant.scopes,
                    nonce: grant.nonce,
                    access_token: access.as_ref().map(|t| t.token.as_str()),
                    code,
                    idp: state.org_id(),
                    acr: grant.acr,
                    extra: super::extra_claims(
                        state,
                        grant.server,
                        TokenKind::Id,
                        &grant.client.client_id,
                        Some(grant.user),
                    ),
                },
                now,
            )
            .map_err(|_| OAuthError::server_error())?,
        )
    } else {
        None
    };
    for (token, kind, sub) in [
        (&access, TokenKind::Access, grant.user.login.as_str()),
        (&id, TokenKind::Id, grant.user.id.as_str()),
    ] {
        if let Some(token) = token {
            super::record_issued(
                state,
                grant.server,
                kind,
                token,
                &grant.client.client_id,
                sub,
                grant.scopes,
            );
        }
    }
    // Clients that registered an encryption key get the ID token as a JWE.
    let id = match (id, &grant.client.id_token_encryption) {
        (Some(mut token), Some(encryption)) => {
            token.token = encryption.encrypt(&token.token).map_err(|error| {
                tracing::warn!(client_id = %grant.client.client_id, %error, "ID token encryption failed");
                OAuthError::server_error()
            })?;
            Some(token)
        }
        (id, _) => id,
    };
    Ok((access, id))
}

/// A token-endpoint response for a user grant: access token, ID token when
/// `openid` was granted, and a refresh token when `refresh_token` is given.
/// Never contains `state`.
pub fn token_endpoint_response(
    state: &AppState,
    grant: &UserGrant<'_>,
    refresh: RefreshChoice,
    now: i64,
) -> Result<(Value, Issued), OAuthError> {
    let (access, id) = mint_user_tokens(state, grant, true, true, None, now)?;
    let access = access.ok_or_else(OAuthError::server_error)?;
    let tokens = UserTokens { access, id };
    let mut issued = Issued {
        tokens: tokens.jtis(),
        refresh_family: None,
    };
    let refresh_token = match refresh {
        RefreshChoice::None => None,
        RefreshChoice::New => {
            let value = state.store.issue_refresh_token(
                RefreshGrant {
                    issuer: grant.server.issuer.clone(),
                    client_id: grant.client.client_id.clone(),
                    user_id: grant.user.id.clone(),
                    auth_time: grant.auth_time,
                    scopes: grant.scopes.to_vec(),
                    family: String::new(),
                    acr: grant.acr.map(str::to_owned),
                },
                now,
            );
            issued.refresh_family = state.store.refresh_family(&value);
            Some(value)
        }
        RefreshChoice::Existing { token, family } => {
            issued.refresh_family = Some(family);
            Some(token)
        }
    };
    if let Some(family) = &issued.refresh_family {
        for (jti, exp) in &issued.tokens {
            state.store.record_family_token(family, jti, *exp);
        }
    }
    let mut body = json!({
        "token_type": super::token_type(grant.dpop_jkt),
        "expires_in": grant.lifetime,
        "access_token": tokens.access.token,
        "scope": grant.scopes.join(" "),
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = Value::from(refresh_token);
    }
    if let Some(id) = tokens.id {
        body["id_token"] = Value::from(id.token);
    }
    Ok((body, issued))
}

/// Whether the response carries a refresh token, and which.
#[derive(Debug)]
pub enum RefreshChoice {
    None,
    /// Start a new family.
    New,
    /// Return this token of this family (a rotation result or a static token).
    Existing {
        token: String,
        family: String,
    },
}

/// A refresh token is issued when `offline_access` was granted and the
/// client may use the refresh_token grant.
pub fn wants_refresh(client: &Client, scopes: &[String]) -> bool {
    client.allows_grant("refresh_token") && scopes.iter().any(|s| s == "offline_access")
}
