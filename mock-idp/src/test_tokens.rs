//! Tokens minted without a flow, for other teams' tests: valid ones with any
//! claims, and deliberately bad ones (expired, wrong issuer or audience,
//! `alg: none`, HS256 keyed with the public key, unknown `kid`, bad signature).

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::ids;
use crate::keys::{KeyRing, SigningKey};
use crate::state::AppState;

/// The longest `expires_in` a test token may ask for (10 years).
pub const MAX_LIFETIME: i64 = 10 * 365 * 24 * 3600;

/// What kind of token to mint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestTokenKind {
    #[default]
    Access,
    Id,
}

/// How the token should be wrong, if at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    #[default]
    Valid,
    Expired,
    WrongIssuer,
    WrongAudience,
    AlgNone,
    Hs256PublicKey,
    UnknownKid,
    BadSignature,
}

/// A request for a test token (the body of `POST /__mock/tokens`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestTokenRequest {
    /// Custom server id (`default` when absent; `org` for the org server).
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub kind: TestTokenKind,
    pub client_id: String,
    /// A user's login, for user tokens.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claims to add or override.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Lifetime in seconds (the server's when absent).
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub flavor: Flavor,
}

/// Mints the requested token; errors say which field is wrong.
pub fn mint(state: &AppState, request: &TestTokenRequest) -> Result<String, String> {
    let server = match request.server.as_deref() {
        None => state
            .custom_server("default")
            .or_else(|| state.servers().nth(1))
            .unwrap_or_else(|| state.org()),
        Some("org") => state.org(),
        Some(id) => state
            .custom_server(id)
            .ok_or_else(|| format!("server: no authorization server {id:?}"))?,
    };
    let user = match &request.user {
        Some(login) => Some(
            state
                .user_by_login(login)
                .ok_or_else(|| format!("user: no user {login:?}"))?,
        ),
        None => None,
    };
    if request.kind == TestTokenKind::Id && user.is_none() {
        return Err("user: an ID token needs a user".into());
    }
    if let Some(expires_in) = request.expires_in
        && !(1..=MAX_LIFETIME).contains(&expires_in)
    {
        // `now + expires_in` must not wrap; an expired token is `flavor: expired`.
        return Err(format!(
            "expires_in: must be between 1 and {MAX_LIFETIME} seconds (10 years)"
        ));
    }
    let now = state.clock.now();
    let lifetime = request
        .expires_in
        .unwrap_or_else(|| i64::try_from(server.access_token_lifetime).unwrap_or(3600));
    let mut claims = Map::new();
    claims.insert("ver".into(), json!(1));
    claims.insert("iss".into(), json!(server.issuer));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + lifetime));
    match (request.kind, &user) {
        (TestTokenKind::Access, _) => {
            claims.insert("jti".into(), json!(ids::access_token_jti()));
            claims.insert("aud".into(), json!(server.audience));
            claims.insert("cid".into(), json!(request.client_id));
            if let Some(user) = &user {
                claims.insert("uid".into(), json!(user.id));
                claims.insert("auth_time".into(), json!(now));
            }
            claims.insert("scp".into(), json!(request.scopes));
            let sub = user
                .as_ref()
                .map_or(request.client_id.as_str(), |u| u.login.as_str());
            claims.insert("sub".into(), json!(sub));
        }
        (TestTokenKind::Id, Some(user)) => {
            let mut scopes = request.scopes.clone();
            if scopes.is_empty() {
                scopes = vec!["openid".into(), "profile".into(), "email".into()];
            }
            claims.extend(crate::tokens::user_claims(user, &scopes, true));
            claims.insert("jti".into(), json!(ids::id_token_jti()));
            claims.insert("aud".into(), json!(request.client_id));
            claims.insert("amr".into(), json!(["pwd"]));
            claims.insert("idp".into(), json!(state.org_id()));
            claims.insert("auth_time".into(), json!(now));
        }
        (TestTokenKind::Id, None) => unreachable!("checked above"),
    }
    match request.flavor {
        Flavor::Expired => {
            claims.insert("iat".into(), json!(now - lifetime - 300));
            claims.insert("exp".into(), json!(now - 300));
        }
        Flavor::WrongIssuer => {
            claims.insert(
                "iss".into(),
                json!("https://attacker.example/oauth2/default"),
            );
        }
        Flavor::WrongAudience => {
            claims.insert("aud".into(), json!("api://someone-else"));
        }
        _ => {}
    }
    claims.extend(request.claims.clone());
    let keys = match request.kind {
        TestTokenKind::Access => server.access_token_keys(),
        TestTokenKind::Id => &server.keys,
    };
    sign(keys, &claims, request.flavor)
}

fn sign(keys: &KeyRing, claims: &Map<String, Value>, flavor: Flavor) -> Result<String, String> {
    let active = keys.active();
    let payload = B64.encode(serde_json::to_vec(claims).map_err(|e| e.to_string())?);
    let with_header = |header: Value| format!("{}.{payload}", B64.encode(header.to_string()));
    match flavor {
        Flavor::AlgNone => Ok(format!(
            "{}.",
            with_header(json!({"kid": active.kid(), "alg": "none"}))
        )),
        Flavor::Hs256PublicKey => {
            // The RS→HS confusion attack: HMAC keyed with the public key a verifier holds.
            let message = with_header(json!({"kid": active.kid(), "alg": "HS256"}));
            let key = hmac::Key::new(hmac::HMAC_SHA256, active.public_key_pem().as_bytes());
            let tag = hmac::sign(&key, message.as_bytes());
            Ok(format!("{message}.{}", B64.encode(tag.as_ref())))
        }
        Flavor::UnknownKid => {
            let stranger = SigningKey::fresh().map_err(|e| e.to_string())?;
            stranger.sign_jwt(claims).map_err(|e| e.to_string())
        }
        Flavor::BadSignature => {
            let genuine = active.sign_jwt(claims).map_err(|e| e.to_string())?;
            let other = active
                .sign_jwt(&json!({"other": "content"}))
                .map_err(|e| e.to_string())?;
            let (message, _) = genuine.rsplit_once('.').unwrap_or((&genuine, ""));
            let (_, wrong_signature) = other.rsplit_once('.').unwrap_or(("", ""));
            Ok(format!("{message}.{wrong_signature}"))
        }
        _ => active.sign_jwt(claims).map_err(|e| e.to_string()),
    }
}
