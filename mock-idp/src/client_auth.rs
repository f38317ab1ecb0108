//! Client authentication at the token, introspection and revocation
//! endpoints: `client_secret_basic`, `client_secret_post`, `private_key_jwt`,
//! `client_secret_jwt` and `none` (public clients). Secrets are compared in
//! constant time and never appear in errors.

use std::sync::Arc;

use axum::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::error::OAuthError;
use crate::form::OAuthForm;
use crate::state::{AppState, Client};

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const MULTIPLE_CREDENTIALS: &str = "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.";
const AUTH_FAILED: &str =
    "Client authentication failed. Either the client or the client credentials are invalid.";
const BAD_SECRET: &str = "The client secret supplied for a confidential client is invalid.";
const BAD_ASSERTION_SIGNATURE: &str = "The client_assertion signature is invalid.";

/// How the client proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    ClientSecretJwt,
    /// A public client naming itself with `client_id` only.
    None,
}

#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client: Arc<Client>,
    pub method: AuthMethod,
    /// The DPoP key (its thumbprint) the tokens of this request are bound to.
    pub dpop_jkt: Option<String>,
}

/// Credentials from an `Authorization: Basic` header: `client_id[:secret]`,
/// each part form-urlencoded before base64 (RFC 6749 §2.3.1). Many clients
/// (curl -u, for one) skip that encoding, so the raw form is kept too and
/// either may match.
struct BasicCredentials {
    client_id: String,
    raw_client_id: String,
    secret: Option<String>,
    raw_secret: Option<String>,
}

fn basic_credentials(form: &OAuthForm) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = form.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || {
        OAuthError::invalid_client(
            "Found Authentication header but was not valid client credentials.",
        )
    };
    let value = value.to_str().map_err(|_| invalid())?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Err(invalid());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
    // okta-auth-js sends `Basic base64(client_id)` with no colon for public clients.
    let (id, secret) = match decoded.split_once(':') {
        Some((id, secret)) => (id, Some(secret).filter(|s| !s.is_empty())),
        None => (decoded.as_str(), None),
    };
    if id.is_empty() {
        return Err(invalid());
    }
    Ok(Some(BasicCredentials {
        client_id: form_decode(id),
        raw_client_id: id.to_owned(),
        secret: secret.map(form_decode),
        raw_secret: secret.map(str::to_owned),
    }))
}

/// `application/x-www-form-urlencoded` decoding of one value; invalid escapes stay literal.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_owned())
}

/// Authenticates the calling client. `endpoint_url` is the full URL of the
/// endpoint being called: client assertions must name it as their audience.
pub fn authenticate(
    state: &AppState,
    form: &OAuthForm,
    endpoint_url: &str,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(form)?;
    let body_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let presented = usize::from(basic.as_ref().is_some_and(|b| b.secret.is_some()))
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some() || form.contains("client_assertion_type"));
    if presented > 1 {
        return Err(OAuthError::invalid_request(MULTIPLE_CREDENTIALS));
    }
    if let (Some(basic), Some(body_id)) = (&basic, form.get("client_id"))
        && basic.client_id != body_id
        && basic.raw_client_id != body_id
    {
        return Err(OAuthError::invalid_request(MULTIPLE_CREDENTIALS));
    }

    if form.contains("client_assertion_type") || assertion.is_some() {
        return authenticate_assertion(state, form, endpoint_url);
    }

    // (candidate client ids, candidate secrets): the Basic header offers its
    // decoded and raw forms; the body offers exactly what was posted.
    let (ids, secrets, method): (Vec<&str>, Vec<&str>, AuthMethod) = match &basic {
        Some(basic) => (
            vec![basic.client_id.as_str(), basic.raw_client_id.as_str()],
            basic
                .secret
                .iter()
                .chain(&basic.raw_secret)
                .map(String::as_str)
                .collect(),
            AuthMethod::ClientSecretBasic,
        ),
        None => match form.get("client_id") {
            Some(id) => (
                vec![id],
                body_secret.into_iter().collect(),
                AuthMethod::ClientSecretPost,
            ),
            None => return Err(OAuthError::invalid_client("No client credentials found.")),
        },
    };
    let client = ids
        .iter()
        .find_map(|id| state.client(id))
        .ok_or_else(|| OAuthError::invalid_client(AUTH_FAILED))?;
    if secrets.is_empty() {
        if client.is_public() {
            return Ok(AuthenticatedClient {
                client,
                method: AuthMethod::None,
                dpop_jkt: None,
            });
        }
        return Err(OAuthError::invalid_client("No client credentials found."));
    }
    match (
        &client.client_secret,
        client.token_endpoint_auth_method.as_str(),
    ) {
        (Some(expected), "client_secret_basic" | "client_secret_post") => {
            // Evaluate every candidate: no early exit that would time the comparison.
            let matched = secrets
                .iter()
                .fold(false, |found, s| expected.matches(s) | found);
            if matched {
                Ok(AuthenticatedClient {
                    client,
                    method,
                    dpop_jkt: None,
                })
            } else {
                Err(OAuthError::invalid_client(BAD_SECRET))
            }
        }
        // Registered for an assertion or as public: a secret is the wrong method.
        _ => Err(OAuthError::invalid_client(AUTH_FAILED)),
    }
}

/// What Okta takes from a client's registered keys (no RSA-PSS).
fn is_registered_key_alg(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
    )
}

/// The client's registered public keys that may have signed a JWT with this header.
fn registered_keys(client: &Client, header: &jsonwebtoken::Header) -> Vec<DecodingKey> {
    client
        .jwks
        .iter()
        .filter(|jwk| header.kid.is_none() || jwk.common.key_id == header.kid)
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .collect()
}

/// The claims of `jwt` if one of `keys` signed it with `alg`; time and audience are
/// the caller's to check (against the mock clock and the endpoint).
fn signed_claims(jwt: &str, alg: Algorithm, keys: &[DecodingKey]) -> Option<Value> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    keys.iter()
        .find_map(|key| jsonwebtoken::decode::<Value>(jwt, key, &validation).ok())
        .map(|data| data.claims)
}

/// The claims of a JWT the client signed with one of its registered keys: the JWT
/// bearer grant's assertion.
pub fn client_signed_claims(client: &Client, jwt: &str) -> Option<Value> {
    let header = jsonwebtoken::decode_header(jwt).ok()?;
    if !is_registered_key_alg(header.alg) {
        return None;
    }
    signed_claims(jwt, header.alg, &registered_keys(client, &header))
}

fn authenticate_assertion(
    state: &AppState,
    form: &OAuthForm,
    endpoint_url: &str,
) -> Result<AuthenticatedClient, OAuthError> {
    let no_challenge = |e: OAuthError| e.with_challenge(None);
    if form.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
        return Err(OAuthError::invalid_request(
            "The client_assertion_type is invalid.",
        ));
    }
    let assertion = form.require("client_assertion")?;
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| no_challenge(OAuthError::invalid_client(BAD_ASSERTION_SIGNATURE)))?;
    // Who the assertion claims to be: from client_id, else its (unverified) iss.
    let claimed_id = match form.get("client_id") {
        Some(id) => id.to_owned(),
        None => jsonwebtoken::dangerous::insecure_decode::<Value>(assertion)
            .ok()
            .and_then(|data| {
                data.claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| no_challenge(OAuthError::invalid_client(AUTH_FAILED)))?,
    };
    let client = state
        .client(&claimed_id)
        .ok_or_else(|| no_challenge(OAuthError::invalid_client(AUTH_FAILED)))?;
    let (keys, method) = match client.token_endpoint_auth_method.as_str() {
        "private_key_jwt" => {
            if !is_registered_key_alg(header.alg) {
                return Err(no_challenge(OAuthError::invalid_client(
                    BAD_ASSERTION_SIGNATURE,
                )));
            }
            (registered_keys(&client, &header), AuthMethod::PrivateKeyJwt)
        }
        "client_secret_jwt" => {
            if !matches!(
                header.alg,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err(no_challenge(OAuthError::invalid_client(
                    BAD_ASSERTION_SIGNATURE,
                )));
            }
            let secret = client
                .client_secret
                .as_ref()
                .map(|s| s.expose().as_bytes())
                .unwrap_or_default();
            if secret.len() < 32 {
                return Err(no_challenge(OAuthError::invalid_client(
                    "The client secret is too short to verify a JWT HMAC.",
                )));
            }
            (
                vec![DecodingKey::from_secret(secret)],
                AuthMethod::ClientSecretJwt,
            )
        }
        _ => return Err(no_challenge(OAuthError::invalid_client(AUTH_FAILED))),
    };
    let claims = signed_claims(assertion, header.alg, &keys)
        .ok_or_else(|| no_challenge(OAuthError::invalid_client(BAD_ASSERTION_SIGNATURE)))?;

    let claim_str = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim_str("iss") != Some(client.client_id.as_str())
        || claim_str("sub") != Some(client.client_id.as_str())
    {
        return Err(no_challenge(OAuthError::invalid_client(
            "The issuer and subject claims of client_assertion must be the client_id.",
        )));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == endpoint_url,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(endpoint_url)),
        _ => false,
    };
    if !audience_ok {
        return Err(no_challenge(OAuthError::invalid_client(
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        )));
    }
    let now = state.clock.now();
    let exp = claims.get("exp").and_then(Value::as_i64);
    match exp {
        Some(exp) if exp > now => {
            if exp > now + 3600 {
                return Err(no_challenge(OAuthError::invalid_client(
                    "The client_assertion token has an expiration too far into the future.",
                )));
            }
        }
        Some(_) => {
            return Err(no_challenge(OAuthError::invalid_client(
                "The client_assertion token is expired.",
            )));
        }
        None => {
            return Err(no_challenge(OAuthError::invalid_client(
                "The client_assertion token must have an expiration.",
            )));
        }
    }
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat > now + 60)
    {
        return Err(no_challenge(OAuthError::invalid_client(
            "The client_assertion token was issued in the future.",
        )));
    }
    if let (Some(jti), Some(exp)) = (claim_str("jti"), exp) {
        let key = format!("{}\u{0}{jti}", client.client_id);
        if !state.store.use_assertion(&key, exp, now) {
            return Err(no_challenge(OAuthError::invalid_client(
                "The client_assertion token has already been used.",
            )));
        }
    }
    Ok(AuthenticatedClient {
        client,
        method,
        dpop_jkt: None,
    })
}
