//! Splitting and decoding a compact JWS without trusting it: the header and claims are read
//! strictly (wrongly typed registered claims and duplicate keys are errors), and nothing here
//! says the token is valid. Signature checks live in `local` and `hmac`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::token_memo::TokenMemo;

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
            // Space-delimited (RFC 6749 §3.3): a tab is part of a (malformed) scope, not a
            // separator, so it cannot turn one scope into two.
            Self::Text(s) => s
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
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
    /// `cnf` (RFC 7800): a DPoP key or client-certificate binding.
    pub cnf: Option<super::dpop::Confirmation>,
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

/// The decoded, not yet trusted, header and claims of a compact JWS.
#[derive(Debug)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The header's algorithm, parsed (never `none`).
    pub alg: Algorithm,
    /// The claims.
    pub claims: Claims,
    /// Every claim, as JSON (for claims rules).
    pub all_claims: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// A decoded, not yet verified, compact JWS. Derefs to its [`Decoded`] parts.
#[derive(Debug)]
pub struct Jwt<'a> {
    /// Header and claims, shared with [`DecodedTokens`] when it remembers them.
    pub parts: Arc<Decoded>,
    /// `base64(header) "." base64(claims)`: what the signature covers.
    pub message: &'a str,
    /// The signature part, base64url.
    pub signature: &'a str,
    /// SHA-256 of the whole token: the key under which its decoded parts and its verified
    /// signature are remembered.
    pub digest: [u8; 32],
}

impl std::ops::Deref for Jwt<'_> {
    type Target = Decoded;

    fn deref(&self) -> &Decoded {
        &self.parts
    }
}

/// Whether `token` has the shape of a compact JWS (three parts).
pub fn looks_like_jwt(token: &str) -> bool {
    // `split` finds the dots with memchr; counting every byte was a measurable share.
    let mut parts = token.split('.');
    parts.nth(2).is_some() && parts.next().is_none()
}

/// SHA-256 of `token`.
pub fn digest(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

/// Splits `token` into message and signature, checking the shape.
fn split(token: &str) -> Result<(&str, &str, &str, &str), &'static str> {
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
    Ok((message, signature, header_b64, claims_b64))
}

/// Decodes `token`. Errors are static descriptions safe to return to the client.
pub fn decode(token: &str) -> Result<Jwt<'_>, &'static str> {
    decode_with_digest(token, digest(token))
}

fn decode_with_digest(token: &str, digest: [u8; 32]) -> Result<Jwt<'_>, &'static str> {
    let (message, signature, header_b64, claims_b64) = split(token)?;
    // Strict, canonical base64url (no padding, no stray trailing bits): one signature has one
    // spelling, so a token cannot be re-encoded into a "different" token that still verifies.
    // 1024 bytes: an RSA-8192 signature, the largest any accepted key makes.
    let mut sig = [0u8; 1024];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut sig) {
        Ok(_) => {}
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            return Err("the token signature is too long");
        }
        Err(_) => return Err("the token signature is not base64url"),
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
    // Parsed a second time as a whole only after the typed parse (which refuses duplicate
    // registered claims) succeeded; accepted tokens are decoded once and remembered.
    let all_claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&claims_bytes).map_err(|_| "the token claims are malformed")?;
    Ok(Jwt {
        parts: Arc::new(Decoded {
            header,
            alg,
            claims,
            all_claims: Arc::new(all_claims),
        }),
        message,
        signature,
        digest,
    })
}

/// Entries (over all workers) beyond which expired ones are swept (and, if none expired, all
/// are dropped).
const MAX_DECODED: usize = 50_000;
/// The longest decoded parts are remembered, seconds.
const MAX_DECODED_TTL: u64 = 300;

/// SHA-256 of a token → its decoded header and claims, for tokens that were accepted (so
/// garbage cannot crowd the accepted ones out). Decoding is a pure function of the token's
/// bytes, so a hit skips base64 and JSON without trusting anything more: every check (issuer,
/// audience, times, signature via the key's own memo) still runs on every request.
///
/// Each proxy worker keeps its own (see `TokenMemo`).
pub struct DecodedTokens(TokenMemo<Arc<Decoded>>);

impl Default for DecodedTokens {
    fn default() -> Self {
        Self(TokenMemo::new(MAX_DECODED))
    }
}

impl std::fmt::Debug for DecodedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedTokens")
            .field("len", &self.0.len())
            .finish()
    }
}

impl DecodedTokens {
    /// Decodes `token`, from memory when it was accepted before. The flag says it was a hit.
    pub fn decode<'a>(&self, token: &'a str, now: u64) -> (Result<Jwt<'a>, &'static str>, bool) {
        let digest = digest(token);
        match self.0.get(&digest, now) {
            Some(parts) => match split(token) {
                Ok((message, signature, _, _)) => (
                    Ok(Jwt {
                        parts,
                        message,
                        signature,
                        digest,
                    }),
                    true,
                ),
                Err(e) => (Err(e), false),
            },
            None => (decode_with_digest(token, digest), false),
        }
    }

    /// Remembers `jwt`'s decoded parts, until its `exp` (at most [`MAX_DECODED_TTL`] s).
    pub fn remember(&self, jwt: &Jwt<'_>, now: u64) {
        let until = jwt
            .claims
            .exp
            .unwrap_or(now)
            .min(now.saturating_add(MAX_DECODED_TTL));
        if until >= now {
            self.0.insert(jwt.digest, jwt.parts.clone(), until, now);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        let b = |s: &str| URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.{}",
            b(r#"{"alg":"RS256","kid":"k1"}"#),
            b(claims),
            b("not-a-real-signature")
        )
    }

    #[test]
    fn remembered_tokens_decode_alike_and_others_do_not_hit() {
        let memo = DecodedTokens::default();
        let t = token(r#"{"iss":"https://as","sub":"nurse","exp":2000,"iat":1000}"#);
        let (first, hit) = memo.decode(&t, 1000);
        let first = first.unwrap();
        assert!(!hit);
        memo.remember(&first, 1000);
        let (second, hit) = memo.decode(&t, 1001);
        let second = second.unwrap();
        assert!(hit);
        assert_eq!(second.claims.sub.as_deref(), Some("nurse"));
        assert_eq!(second.header.kid.as_deref(), Some("k1"));
        assert_eq!(
            (second.message, second.signature),
            (first.message, first.signature)
        );
        assert_eq!(second.digest, first.digest);

        // Another token, even one differing only in its signature, is decoded afresh.
        let other = format!("{}.{}", first.message, URL_SAFE_NO_PAD.encode("other"));
        let (decoded, hit) = memo.decode(&other, 1001);
        assert!(!hit);
        assert_ne!(decoded.unwrap().digest, first.digest);
        // Past the token's exp it is no longer remembered.
        assert!(!memo.decode(&t, 2001).1);
    }

    #[test]
    fn expired_tokens_are_not_remembered() {
        let memo = DecodedTokens::default();
        let t = token(r#"{"exp":999,"iat":900}"#);
        let jwt = memo.decode(&t, 1000).0.unwrap();
        memo.remember(&jwt, 1000);
        assert!(!memo.decode(&t, 1000).1);
    }

    #[test]
    fn malformed_signatures_are_refused_by_kind() {
        let t = token(r#"{"exp":2000}"#);
        let (message, _) = t.rsplit_once('.').unwrap();
        let padded = format!("{message}.AAAA=");
        assert_eq!(
            decode(&padded).unwrap_err(),
            "the token signature is not base64url"
        );
        let long = format!("{message}.{}", "A".repeat(1400));
        assert_eq!(
            decode(&long).unwrap_err(),
            "the token signature is too long"
        );
    }
}
