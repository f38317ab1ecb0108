//! DPoP proofs (RFC 9449) as Okta's DPoP guide checks them: a JWT with
//! `typ: dpop+jwt`, an asymmetric `alg` and the public `jwk` that signed it,
//! `htm`/`htu` naming this request, a fresh `iat`, a `jti`, the server's
//! `nonce`, and `ath` when it accompanies an access token. No state: the
//! caller keeps nonces and used `jti`s, so the mock's token endpoint and the
//! gateway share these rules.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How far a proof's `iat` may be from now, either way (seconds).
pub const IAT_WINDOW: i64 = 300;

/// What the proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub method: &'a str,
    /// The request URL without query and fragment.
    pub url: &'a str,
    pub now: i64,
    /// A nonce the server accepts, when it requires one: `is_fresh_nonce(nonce)`.
    pub nonce_required: bool,
    /// The access token the proof accompanies (for `ath`).
    pub access_token: Option<&'a str>,
}

/// A proof that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The JWK SHA-256 thumbprint (RFC 7638) of the key: `cnf.jkt`.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// `invalid_dpop_proof`, with what is wrong.
    Invalid(&'static str),
    /// The server wants a (fresh) nonce: `use_dpop_nonce`.
    NonceRequired,
}

/// The `alg` names a proof may use at Okta's token endpoint (discovery's
/// `dpop_signing_alg_values_supported`).
pub fn algorithm_names() -> impl Iterator<Item = &'static str> {
    OKTA_ALGORITHMS.iter().map(|(name, _)| *name)
}

/// The asymmetric algorithms Okta accepts in proofs, by name.
pub const OKTA_ALGORITHMS: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
];

/// The algorithms a resource server accepts (RFC 9449 names no mandatory set; these are the
/// asymmetric ones clients use). Never `none`, never an HMAC: a proof proves a private key.
pub const RESOURCE_ALGORITHMS: &[(&str, Algorithm)] = &[
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("RS256", Algorithm::RS256),
    ("PS256", Algorithm::PS256),
    ("EdDSA", Algorithm::EdDSA),
];

fn part(segment: &str) -> Option<Map<String, Value>> {
    let bytes = B64.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// RFC 7638: SHA-256 over the required members, in lexicographic order, no spaces.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match text("kty")? {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            text("e")?,
            text("n")?
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            text("crv")?,
            text("x")?,
            text("y")?
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            text("crv")?,
            text("x")?
        ),
        _ => return None,
    };
    Some(B64.encode(Sha256::digest(canonical.as_bytes())))
}

/// `ath`: base64url(SHA-256(access token)).
pub fn access_token_hash(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// Checks `proof` against `expected` with Okta's algorithms; `is_fresh_nonce` says whether a
/// nonce is the server's.
pub fn verify(
    proof: &str,
    expected: &Expected<'_>,
    is_fresh_nonce: impl Fn(&str) -> bool,
) -> Result<Proof, ProofError> {
    verify_with(proof, expected, OKTA_ALGORITHMS, is_fresh_nonce)
}

/// RFC 9449 §4.3 / RFC 3986 §6.2.2–6.2.3: `htu` without query and fragment, scheme and host
/// compared without case, a default port the same as none.
pub fn normalize_htu(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    if let Some(port) = default_port
        && authority.ends_with(port)
    {
        authority.truncate(authority.len() - port.len());
    }
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{authority}{path}")
}

/// [`verify`] with the algorithms in `algorithms`.
pub fn verify_with(
    proof: &str,
    expected: &Expected<'_>,
    algorithms: &[(&str, Algorithm)],
    is_fresh_nonce: impl Fn(&str) -> bool,
) -> Result<Proof, ProofError> {
    let invalid = ProofError::Invalid;
    let mut segments = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(invalid("The DPoP proof is not a signed JWT."));
    };
    let header = part(header_b64).ok_or(invalid("The DPoP proof header is not valid JSON."))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(invalid("The DPoP proof 'typ' must be 'dpop+jwt'."));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|alg| algorithms.iter().find(|(name, _)| *name == alg))
        .map(|(_, alg)| *alg)
        .ok_or(invalid(
            "The DPoP proof 'alg' must be an asymmetric algorithm.",
        ))?;
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid(
            "The DPoP proof header must carry the public 'jwk'.",
        ));
    };
    if jwk.contains_key("d") {
        return Err(invalid(
            "The DPoP proof 'jwk' must not contain a private key.",
        ));
    }
    let jkt = thumbprint(jwk).ok_or(invalid(
        "The DPoP proof 'jwk' is not an RSA, EC or OKP key.",
    ))?;
    let key: jsonwebtoken::jwk::Jwk = serde_json::from_value(Value::Object(jwk.clone()))
        .map_err(|_| invalid("The DPoP proof 'jwk' is not a valid key."))?;
    let key = DecodingKey::from_jwk(&key)
        .map_err(|_| invalid("The DPoP proof 'jwk' is not a valid key."))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(proof, &key, &validation)
        .map_err(|_| invalid("The DPoP proof signature is invalid."))?;
    let claims = part(claims_b64).ok_or(invalid("The DPoP proof claims are not valid JSON."))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("htm") != Some(expected.method) {
        return Err(invalid(
            "The DPoP proof 'htm' does not match the request method.",
        ));
    }
    if normalize_htu(text("htu").unwrap_or_default()) != normalize_htu(expected.url) {
        return Err(invalid(
            "The DPoP proof 'htu' does not match the request URL.",
        ));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(invalid("The DPoP proof must have an 'iat' claim."))?;
    if (iat - expected.now).abs() > IAT_WINDOW {
        return Err(invalid(
            "The DPoP proof 'iat' is too far from the server's time.",
        ));
    }
    let jti = text("jti")
        .filter(|jti| !jti.is_empty())
        .ok_or(invalid("The DPoP proof must have a 'jti' claim."))?;
    let nonce = text("nonce");
    if expected.nonce_required && !nonce.is_some_and(&is_fresh_nonce) {
        return Err(ProofError::NonceRequired);
    }
    if let Some(token) = expected.access_token
        && text("ath") != Some(access_token_hash(token).as_str())
    {
        return Err(invalid(
            "The DPoP proof 'ath' does not match the access token.",
        ));
    }
    Ok(Proof {
        jkt,
        jti: jti.to_owned(),
        iat,
        nonce: nonce.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk: Map<String, Value> = serde_json::from_str(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn htu_is_compared_as_rfc_9449_normalises_it() {
        for (a, b) in [
            (
                "HTTPS://Api.Example.com:443/beds?x=1#f",
                "https://api.example.com/beds",
            ),
            ("http://h:80", "http://h/"),
        ] {
            assert_eq!(normalize_htu(a), normalize_htu(b), "{a}");
        }
        assert_ne!(
            normalize_htu("https://h:8443/beds"),
            normalize_htu("https://h/beds")
        );
        assert_ne!(
            normalize_htu("https://h/Beds"),
            normalize_htu("https://h/beds")
        );
    }

    #[test]
    fn malformed_proofs_are_invalid_not_panics() {
        let expected = Expected {
            method: "POST",
            url: "https://idp/token",
            now: 0,
            nonce_required: false,
            access_token: None,
        };
        for proof in [
            "",
            "a.b",
            "a.b.c.d",
            "e30.e30.",
            "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.x",
        ] {
            assert!(matches!(
                verify(proof, &expected, |_| true),
                Err(ProofError::Invalid(_))
            ));
        }
    }
}
