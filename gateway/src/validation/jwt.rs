//! Splitting and decoding a compact JWS without trusting it: the header and claims are read
//! strictly (wrongly typed registered claims and duplicate keys are errors), and nothing here
//! says the token is valid. Signature checks live in `local` and `hmac`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// Upper bound on a token's length; longer ones are rejected before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The JOSE header fields the gateway reads.
#[derive(Debug, Deserialize)]
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `kid`; must be a string when present.
    pub kid: Option<String>,
    /// `typ`.
    pub typ: Option<String>,
    /// `crit`: the gateway understands no extensions, so any is a rejection.
    pub crit: Option<serde_json::Value>,
}

/// `aud`: a string or an array of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// Whether any value satisfies `accept`.
    pub fn any(&self, mut accept: impl FnMut(&str) -> bool) -> bool {
        match self {
            Self::One(a) => accept(a),
            Self::Many(v) => v.iter().any(|a| accept(a)),
        }
    }

    /// The single audience, if there is exactly one.
    pub fn single(&self) -> Option<&str> {
        match self {
            Self::One(a) => Some(a),
            Self::Many(v) if v.len() == 1 => Some(&v[0]),
            Self::Many(_) => None,
        }
    }
}

/// `scope` in its two shapes: Okta's `scp` array or RFC 8693's space-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScopeClaim {
    /// Space-separated.
    Text(String),
    /// Array.
    List(Vec<String>),
}

impl ScopeClaim {
    /// The scopes as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::Text(s) => s.split_ascii_whitespace().map(str::to_owned).collect(),
            Self::List(v) => v.clone(),
        }
    }
}

/// The claims the gateway reads. Registered time claims are integers or the token is rejected.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// `iss`.
    pub iss: Option<String>,
    /// `aud`.
    pub aud: Option<Audience>,
    /// `exp`.
    pub exp: Option<u64>,
    /// `iat`.
    pub iat: Option<u64>,
    /// `nbf`.
    pub nbf: Option<u64>,
    /// `sub`.
    pub sub: Option<String>,
    /// Okta's client id claim.
    pub cid: Option<String>,
    /// RFC 9068's client id claim.
    pub client_id: Option<String>,
    /// Authorized party (ID tokens).
    pub azp: Option<String>,
    /// Okta's scopes.
    pub scp: Option<ScopeClaim>,
    /// RFC 9068 scopes.
    pub scope: Option<ScopeClaim>,
    /// `jti`.
    pub jti: Option<String>,
}

impl Claims {
    /// The scopes from `scp`, else `scope`.
    pub fn scopes(&self) -> Vec<String> {
        self.scp
            .as_ref()
            .or(self.scope.as_ref())
            .map(ScopeClaim::to_vec)
            .unwrap_or_default()
    }

    /// Checks `exp` (required), `iat` (required) and `nbf` against `now` with `skew` seconds.
    pub fn check_times(&self, now: u64, skew: u64) -> Result<(), &'static str> {
        let exp = self.exp.ok_or("the token has no exp")?;
        if now > exp.saturating_add(skew) {
            return Err("the token has expired");
        }
        let iat = self.iat.ok_or("the token has no iat")?;
        if iat > now.saturating_add(skew) {
            return Err("the token was issued in the future");
        }
        if let Some(nbf) = self.nbf
            && nbf > now.saturating_add(skew)
        {
            return Err("the token is not valid yet");
        }
        Ok(())
    }
}

/// A decoded, not yet verified, compact JWS.
#[derive(Debug)]
pub struct Jwt<'a> {
    /// The header.
    pub header: Header,
    /// The header's algorithm, parsed (never `none`).
    pub alg: Algorithm,
    /// The claims.
    pub claims: Claims,
    /// `base64(header) "." base64(claims)`: what the signature covers.
    pub message: &'a str,
    /// The signature part, base64url.
    pub signature: &'a str,
}

/// Whether `token` has the shape of a compact JWS (three parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Decodes `token`. Errors are static descriptions safe to return to the client.
pub fn decode(token: &str) -> Result<Jwt<'_>, &'static str> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("the token is too large");
    }
    let (message, signature) = token.rsplit_once('.').ok_or("the token is not a JWT")?;
    let (header_b64, claims_b64) = message.split_once('.').ok_or("the token is not a JWT")?;
    if claims_b64.contains('.') {
        return Err("the token is not a JWT");
    }
    if signature.is_empty() {
        return Err("the token is not signed");
    }
    // Strict, canonical base64url (no padding, no stray trailing bits): one signature has one
    // spelling, so a token cannot be re-encoded into a "different" token that still verifies.
    if URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err("the token signature is not base64url");
    }
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| "the token header is not base64url")?;
    let header: Header =
        serde_json::from_slice(&header_bytes).map_err(|_| "the token header is malformed")?;
    if header.crit.is_some() {
        return Err("the token uses critical header extensions");
    }
    let alg: Algorithm = header
        .alg
        .parse()
        .map_err(|_| "the token's algorithm is not accepted")?;
    let claims_bytes = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| "the token claims are not base64url")?;
    let claims: Claims =
        serde_json::from_slice(&claims_bytes).map_err(|_| "the token claims are malformed")?;
    Ok(Jwt {
        header,
        alg,
        claims,
        message,
        signature,
    })
}

/// Whether `alg` is one of the HMAC algorithms.
pub fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Verifies `jwt`'s signature with `key` under `alg` (which the caller bound to the key).
pub fn verify_signature(
    jwt: &Jwt<'_>,
    key: &jsonwebtoken::DecodingKey,
    alg: Algorithm,
) -> Result<(), &'static str> {
    match jsonwebtoken::crypto::verify(jwt.signature, jwt.message.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        _ => Err("the token signature is invalid"),
    }
}
