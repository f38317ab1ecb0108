//! Minting access tokens with Okta's claims, and recognising our own tokens
//! again (for introspection, revocation and userinfo).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids;
use crate::state::AuthServer;

/// Claims of an Okta access token, in Okta's order. No `nbf`: Okta omits it,
/// and njwt rejects `nbf >= now` within the same second.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims {
    pub ver: u8,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub cid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub scp: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    pub sub: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest<'a> {
    pub client_id: &'a str,
    pub scopes: &'a [String],
    /// The user, for user flows: (user id, login, auth_time).
    pub user: Option<(&'a str, &'a str, i64)>,
    pub lifetime: u64,
    pub extra: Map<String, Value>,
}

/// A minted token and its identity.
#[derive(Debug, Clone)]
pub struct MintedToken {
    pub token: String,
    pub jti: String,
    pub exp: i64,
}

impl std::fmt::Display for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.token)
    }
}

/// Signs an access token with the server's active key.
pub fn mint_access_token(
    server: &AuthServer,
    request: AccessTokenRequest<'_>,
    now: i64,
) -> Result<MintedToken, serde_json::Error> {
    let lifetime = i64::try_from(request.lifetime).unwrap_or(i64::MAX / 2);
    let claims = AccessTokenClaims {
        ver: 1,
        jti: ids::access_token_jti(),
        iss: server.issuer.clone(),
        aud: server.audience.clone(),
        iat: now,
        exp: now + lifetime,
        cid: request.client_id.to_owned(),
        uid: request.user.map(|(id, _, _)| id.to_owned()),
        scp: request.scopes.to_vec(),
        auth_time: request.user.map(|(_, _, at)| at),
        // Okta's system `sub`: the user's login for user flows, else the client id.
        sub: request.user.map_or_else(
            || request.client_id.to_owned(),
            |(_, login, _)| login.to_owned(),
        ),
        extra: Map::new(),
    };
    // Extra claims may add to or override the standard ones (custom claims,
    // or a test's deliberately odd `aud`/`exp`).
    let Value::Object(mut map) = serde_json::to_value(&claims)? else {
        unreachable!("a struct serialises to an object")
    };
    map.extend(request.extra);
    let token = server.access_token_keys().active().sign_jwt(&map)?;
    Ok(MintedToken {
        token,
        jti: map
            .get("jti")
            .and_then(Value::as_str)
            .map_or(claims.jti, str::to_owned),
        exp: map.get("exp").and_then(Value::as_i64).unwrap_or(claims.exp),
    })
}

/// Why a presented token is not one of ours, or no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    Malformed,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    Expired,
    Revoked,
}

/// Verifies a JWT signed by this server: signature with one of its keys,
/// issuer, expiry against `now`, and whether it was withdrawn (revoked, or its
/// client deleted; see `AppState::is_withdrawn`). Returns the claims.
pub fn verify_own_jwt(
    server: &AuthServer,
    token: &str,
    now: i64,
    is_withdrawn: impl Fn(&Map<String, Value>) -> bool,
) -> Result<Map<String, Value>, Inactive> {
    let (message, signature) = token.rsplit_once('.').ok_or(Inactive::Malformed)?;
    let (header_b64, payload_b64) = message.split_once('.').ok_or(Inactive::Malformed)?;
    let header: Value = decode_json_part(header_b64)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(Inactive::BadSignature);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Inactive::UnknownKey)?;
    let key = server
        .key_rings()
        .find_map(|ring| ring.find(kid))
        .ok_or(Inactive::UnknownKey)?;
    if !key.verify(message.as_bytes(), signature) {
        return Err(Inactive::BadSignature);
    }
    let Value::Object(claims) = decode_json_part(payload_b64)? else {
        return Err(Inactive::Malformed);
    };
    if claims.get("iss").and_then(Value::as_str) != Some(server.issuer.as_str()) {
        return Err(Inactive::WrongIssuer);
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        _ => return Err(Inactive::Expired),
    }
    if is_withdrawn(&claims) {
        return Err(Inactive::Revoked);
    }
    Ok(claims)
}

fn decode_json_part(part: &str) -> Result<Value, Inactive> {
    let bytes = B64.decode(part).map_err(|_| Inactive::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Inactive::Malformed)
}

/// Splits a space-separated scope parameter, keeping order and dropping repeats.
pub fn split_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|existing| existing == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

/// What an ID token is issued for.
#[derive(Debug, Clone)]
pub struct IdTokenRequest<'a> {
    pub client_id: &'a str,
    pub user: &'a crate::state::User,
    pub auth_time: i64,
    pub scopes: &'a [String],
    /// Only when one was sent to /authorize.
    pub nonce: Option<&'a str>,
    /// The access token issued alongside (for `at_hash`).
    pub access_token: Option<&'a str>,
    /// The code issued alongside from /authorize (for `c_hash`).
    pub code: Option<&'a str>,
    /// The `idp` claim: the org id for a native Okta login.
    pub idp: &'a str,
    /// The `acr` claim: the `acr_values` entry the login satisfied, when one was asked for.
    pub acr: Option<&'a str>,
    /// Claims to add or override (custom claims from the control API).
    pub extra: Map<String, Value>,
}

/// ID tokens live an hour on Okta (not configurable).
pub const ID_TOKEN_LIFETIME: i64 = 3600;

/// Signs an ID token with Okta's claims (docs/okta-behaviour.md §4).
pub fn mint_id_token(
    server: &AuthServer,
    request: IdTokenRequest<'_>,
    now: i64,
) -> Result<MintedToken, serde_json::Error> {
    let user = request.user;
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::from(user.id.as_str()));
    // With an access token, the profile claims stay minimal (name, email,
    // preferred_username); the rest comes from /userinfo.
    let full = request.access_token.is_none();
    for (name, value) in user_claims(user, request.scopes, full) {
        if name != "sub" {
            claims.insert(name, value);
        }
    }
    let jti = ids::id_token_jti();
    let exp = now + ID_TOKEN_LIFETIME;
    claims.insert("ver".into(), Value::from(1));
    claims.insert("iss".into(), Value::from(server.issuer.as_str()));
    claims.insert("aud".into(), Value::from(request.client_id));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(exp));
    claims.insert("jti".into(), Value::from(jti.as_str()));
    claims.insert("amr".into(), serde_json::json!(["pwd"]));
    claims.insert("idp".into(), Value::from(request.idp));
    if let Some(nonce) = request.nonce {
        claims.insert("nonce".into(), Value::from(nonce));
    }
    claims.insert("auth_time".into(), Value::from(request.auth_time));
    if let Some(acr) = request.acr {
        claims.insert("acr".into(), Value::from(acr));
    }
    if let Some(access_token) = request.access_token {
        claims.insert("at_hash".into(), Value::from(half_hash(access_token)));
    }
    if let Some(code) = request.code {
        claims.insert("c_hash".into(), Value::from(half_hash(code)));
    }
    claims.extend(request.extra);
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(exp);
    let token = server.keys.active().sign_jwt(&claims)?;
    Ok(MintedToken { token, jti, exp })
}

/// `at_hash` / `c_hash` for RS256: base64url of the left half of SHA-256.
pub fn half_hash(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    B64.encode(&digest[..16])
}

/// The user's OpenID Connect claims for the granted scopes (userinfo, and
/// with `full = false` the short form an ID token carries next to an access
/// token). `sub` is always the user id.
pub fn user_claims(user: &crate::state::User, scopes: &[String], full: bool) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|g| g == s);
    let profile = |name: &str| user.profile_str(name).filter(|v| !v.is_empty());
    let mut out = Map::new();
    out.insert("sub".into(), Value::from(user.id.as_str()));
    if has("profile") {
        let name = match (profile("firstName"), profile("lastName")) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            (Some(one), None) | (None, Some(one)) => one.to_owned(),
            (None, None) => profile("displayName").unwrap_or(&user.login).to_owned(),
        };
        out.insert("name".into(), Value::from(name));
        out.insert(
            "preferred_username".into(),
            Value::from(user.login.as_str()),
        );
        if full {
            for (claim, attribute) in [
                ("given_name", "firstName"),
                ("family_name", "lastName"),
                ("middle_name", "middleName"),
                ("nickname", "nickName"),
                ("locale", "locale"),
                ("zoneinfo", "timeZone"),
                ("profile", "profileUrl"),
            ] {
                if let Some(value) = profile(attribute) {
                    out.insert(claim.into(), Value::from(value));
                }
            }
        }
    }
    if has("email") {
        let email = profile("email").unwrap_or(&user.login);
        out.insert("email".into(), Value::from(email));
        if full {
            out.insert("email_verified".into(), Value::Bool(true));
        }
    }
    if has("phone")
        && full
        && let Some(phone) = profile("mobilePhone").or_else(|| profile("primaryPhone"))
    {
        out.insert("phone_number".into(), Value::from(phone));
    }
    if has("address") && full {
        let mut address = Map::new();
        for (claim, attribute) in [
            ("street_address", "streetAddress"),
            ("locality", "city"),
            ("region", "state"),
            ("postal_code", "zipCode"),
            ("country", "countryCode"),
        ] {
            if let Some(value) = profile(attribute) {
                address.insert(claim.into(), Value::from(value));
            }
        }
        if !address.is_empty() {
            out.insert("address".into(), Value::Object(address));
        }
    }
    if has("groups") {
        out.insert("groups".into(), serde_json::json!(user.groups));
    }
    out
}
