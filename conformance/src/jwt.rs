//! Just enough JOSE to judge a server: split and decode a compact JWS, select
//! the key by `kid` from a raw JWKS and verify, and forge hostile tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::Value;

/// A decoded (not yet verified) compact JWS.
#[derive(Debug, Clone)]
pub struct Jwt {
    pub header: Value,
    pub claims: Value,
    /// `base64url(header) "." base64url(claims)`.
    pub signing_input: String,
    /// The third segment.
    pub signature: String,
}

impl Jwt {
    /// Splits and decodes; `None` if it is not a three-segment JWS of JSON objects.
    pub fn decode(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
        if !header.is_object() || !claims.is_object() {
            return None;
        }
        Some(Self {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: s.to_owned(),
        })
    }

    /// Header member as a string.
    pub fn h(&self, name: &str) -> Option<&str> {
        self.header.get(name)?.as_str()
    }

    /// Claim as a string.
    pub fn c(&self, name: &str) -> Option<&str> {
        self.claims.get(name)?.as_str()
    }

    /// Claim as an integer.
    pub fn n(&self, name: &str) -> Option<i64> {
        self.claims.get(name)?.as_i64()
    }

    /// True when `aud` is `v` or an array containing it.
    pub fn aud_contains(&self, v: &str) -> bool {
        match self.claims.get("aud") {
            Some(Value::String(s)) => s == v,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(v)),
            _ => false,
        }
    }
}

fn alg_of(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

fn kty_for(alg: &str) -> &'static str {
    match alg.get(..2) {
        Some("RS" | "PS") => "RSA",
        Some("ES") => "EC",
        _ if alg == "EdDSA" => "OKP",
        _ => "?",
    }
}

/// The keys of a JWKS that are compatible with `jwt` (same `kid` when the
/// token has one, matching `kty`, `alg` if the key names one, `use` = sig if present).
pub fn candidate_keys<'a>(jwt: &Jwt, jwks: &'a Value) -> Vec<&'a Value> {
    let alg = jwt.h("alg").unwrap_or("");
    let kid = jwt.h("kid");
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
                .filter(|k| k.get("kty").and_then(Value::as_str) == Some(kty_for(alg)))
                .filter(|k| {
                    k.get("alg")
                        .and_then(Value::as_str)
                        .is_none_or(|a| a == alg)
                })
                .filter(|k| {
                    k.get("use")
                        .and_then(Value::as_str)
                        .is_none_or(|u| u == "sig")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Verifies `jwt` against the JWKS: its `kid` must select exactly one
/// compatible key, and that key must verify the signature (JWKS-09, IDT-09).
pub fn verify(jwt: &Jwt, jwks: &Value) -> Result<(), String> {
    let alg_name = jwt.h("alg").unwrap_or("");
    let Some(alg) = alg_of(alg_name) else {
        return Err(format!(
            "header alg `{alg_name}` is not an asymmetric JWS algorithm"
        ));
    };
    let keys = candidate_keys(jwt, jwks);
    if jwt.h("kid").is_some() && keys.len() != 1 {
        return Err(format!(
            "kid {:?} selects {} compatible keys (want exactly 1)",
            jwt.h("kid"),
            keys.len()
        ));
    }
    let mut last = String::from("no compatible key");
    for k in keys {
        let key = match key_of(k) {
            Ok(key) => key,
            Err(e) => {
                last = e;
                continue;
            }
        };
        match jsonwebtoken::crypto::verify(&jwt.signature, jwt.signing_input.as_bytes(), &key, alg)
        {
            Ok(true) => return Ok(()),
            Ok(false) => last = "signature does not verify".into(),
            Err(e) => last = format!("verify error: {e}"),
        }
    }
    Err(last)
}

fn key_of(k: &Value) -> Result<DecodingKey, String> {
    let s = |n: &str| k.get(n).and_then(Value::as_str).unwrap_or("");
    match s("kty") {
        "RSA" => DecodingKey::from_rsa_components(s("n"), s("e")).map_err(|e| e.to_string()),
        "EC" => DecodingKey::from_ec_components(s("x"), s("y")).map_err(|e| e.to_string()),
        "OKP" => DecodingKey::from_ed_components(s("x")).map_err(|e| e.to_string()),
        other => Err(format!("unsupported kty {other}")),
    }
}

/// Bits in an RSA JWK's modulus.
pub fn rsa_bits(k: &Value) -> Option<usize> {
    let n = URL_SAFE_NO_PAD.decode(k.get("n")?.as_str()?).ok()?;
    let first = n.iter().position(|b| *b != 0)?;
    let lead = n[first];
    Some((n.len() - first - 1) * 8 + (8 - lead.leading_zeros() as usize))
}

/// True for unpadded base64url.
pub fn is_b64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encodes a JSON value as a base64url segment.
pub fn seg(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Assembles `header.claims.signature` from parts (the signature as given).
pub fn forge(header: &Value, claims: &Value, signature: &str) -> String {
    format!("{}.{}.{signature}", seg(header), seg(claims))
}

/// An HS256 token keyed with `secret` (algorithm-confusion probes).
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", seg(header), seg(claims));
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .unwrap_or_default();
    format!("{input}.{sig}")
}

/// A valid token with one signature byte changed.
pub fn tamper_signature(token: &str) -> String {
    let Some((input, sig)) = token.rsplit_once('.') else {
        return format!("{token}x");
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    if let Some(b) = bytes.get_mut(10) {
        *b ^= 0x5a;
    } else {
        bytes.push(1);
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A token with the claims changed and the original signature kept.
pub fn with_claims(token: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let Some(jwt) = Jwt::decode(token) else {
        return token.to_owned();
    };
    let mut claims = jwt.claims.clone();
    if let Some(o) = claims.as_object_mut() {
        edit(o);
    }
    forge(&jwt.header, &claims, &jwt.signature)
}

/// An RSA key the attacker controls: signs RS256 tokens and publishes its own JWK.
pub struct AttackerKey {
    pair: aws_lc_rs::rsa::KeyPair,
    pub kid: String,
}

impl std::fmt::Debug for AttackerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttackerKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl AttackerKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> Option<Self> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).ok()?;
        Some(Self {
            pair,
            kid: format!("attacker-{}", random(6)),
        })
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        let pk = self.pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(pk.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(pk.exponent().big_endian_without_leading_zero()),
        })
    }

    /// `header.claims` signed RS256 with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", seg(header), seg(claims));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        if self
            .pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .is_err()
        {
            sig.clear();
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// base64url(SHA-256(input)) — the PKCE S256 transform.
pub fn s256(input: &str) -> String {
    use sha2::Digest as _;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(input.as_bytes()))
}

/// `at_hash` / `c_hash` for `alg`: base64url of the left half of the hash.
pub fn half_hash(alg: &str, value: &str) -> Option<String> {
    use sha2::Digest as _;
    let d: Vec<u8> = match &alg[alg.len().saturating_sub(3)..] {
        "256" => sha2::Sha256::digest(value.as_bytes()).to_vec(),
        "384" => sha2::Sha384::digest(value.as_bytes()).to_vec(),
        "512" => sha2::Sha512::digest(value.as_bytes()).to_vec(),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(&d[..d.len() / 2]))
}

/// A random URL-safe string of `bytes` random bytes.
pub fn random(bytes: usize) -> String {
    use rand::RngCore as _;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_vector() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn attacker_tokens_verify_only_with_the_attacker_key() {
        let k = AttackerKey::generate().unwrap();
        let t = k.sign(
            &serde_json::json!({"alg":"RS256","kid":k.kid}),
            &serde_json::json!({"a":1}),
        );
        let j = Jwt::decode(&t).unwrap();
        assert!(verify(&j, &serde_json::json!({"keys":[k.jwk()]})).is_ok());
        assert!(verify(&j, &serde_json::json!({"keys":[]})).is_err());
    }

    #[test]
    fn forge_roundtrip() {
        let t = forge(
            &serde_json::json!({"alg":"none"}),
            &serde_json::json!({"a":1}),
            "",
        );
        let j = Jwt::decode(&t).unwrap();
        assert_eq!(j.h("alg"), Some("none"));
        assert_eq!(j.n("a"), Some(1));
    }
}
