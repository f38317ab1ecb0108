//! One DPoP proof verification (parse, JWK → key, one signature check, claims): what a
//! DPoP request costs the gateway on top of its token. ES256 and RS256 (2048-bit) proofs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const URL: &str = "https://gw.example/beds/hospitals";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e30.sig";

fn claims() -> Value {
    json!({ "htm": "GET", "htu": URL, "iat": 1_800_000_000, "jti": "j-1",
            "ath": dpop::access_token_hash(TOKEN) })
}

fn sign(alg: Algorithm, key: &EncodingKey, jwk: Value) -> String {
    let mut header = Header::new(alg);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(jwk).unwrap());
    jsonwebtoken::encode(&header, &claims(), key).unwrap()
}

fn es256() -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({ "kty": "EC", "crv": "P-256",
                      "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]) });
    sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk,
    )
}

fn rs256() -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec()));
    let public = pair.public_key();
    let jwk = json!({ "kty": "RSA",
        "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
        "e": B64.encode(public.exponent().big_endian_without_leading_zero()) });
    sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk,
    )
}

fn bench(c: &mut Criterion) {
    let expected = dpop::Expected {
        method: "GET",
        url: URL,
        now: 1_800_000_000,
        nonce_required: false,
        access_token: Some(TOKEN),
    };
    for (name, proof) in [("es256", es256()), ("rs256", rs256())] {
        assert!(dpop::verify_with(&proof, &expected, dpop::RESOURCE_ALGORITHMS, |_| true).is_ok());
        c.bench_function(&format!("dpop_verify_{name}"), |b| {
            b.iter(|| dpop::verify_with(&proof, &expected, dpop::RESOURCE_ALGORITHMS, |_| true))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
