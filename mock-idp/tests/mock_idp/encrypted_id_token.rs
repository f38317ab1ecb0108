//! Encrypted ID tokens: a client with `id_token_encrypted_response_alg`
//! receives its ID token as a JWE (RSA-OAEP-256 + A256GCM) that only its
//! private key opens, with the signed ID token inside.

use josekit::jwk::alg::rsa::RsaKeyPair;
use serde_json::Value;

use crate::support::{post_basic, start_with, verify_independently};

#[tokio::test]
async fn a_client_with_an_encryption_key_gets_a_jwe_id_token_it_can_open() {
    let pair: RsaKeyPair = josekit::jwe::RSA_OAEP_256.generate_key_pair(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("enc-1");
    public.set_key_use("enc");
    let public: Value = serde_json::from_str(&public.to_string()).unwrap();
    let idp = start_with(&format!(
        r#"
[[clients]]
client_id = "0oa7ms2encrypt00x7d1"
client_secret = "encrypting-client-secret-0123456789abcdef"
application_type = "native"
grant_types = ["authorization_code", "password"]
redirect_uris = ["http://localhost:8080/cb"]
id_token_encrypted_response_alg = "RSA-OAEP-256"
id_token_encrypted_response_enc = "A256GCM"
jwks = {{ keys = [ {{ kty = "RSA", kid = "enc-1", use = "enc", n = "{n}", e = "{e}" }} ] }}
"#,
        n = public["n"].as_str().unwrap(),
        e = public["e"].as_str().unwrap(),
    ))
    .await;
    let doc: Value = crate::support::http()
        .get(idp.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["id_token_encryption_alg_values_supported"][0],
        "RSA-OAEP-256"
    );

    let response = post_basic(
        &idp.token_endpoint(),
        "0oa7ms2encrypt00x7d1",
        "encrypting-client-secret-0123456789abcdef",
        &[
            ("grant_type", "password"),
            ("username", "alex.nurse@example.com"),
            ("password", "CorrectHorse!2026"),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let jwe = body["id_token"].as_str().unwrap();
    assert_eq!(jwe.split('.').count(), 5, "a compact JWE");

    let decrypter = josekit::jwe::RSA_OAEP_256
        .decrypter_from_jwk(&pair.to_jwk_private_key())
        .unwrap();
    let (inner, header) = josekit::jwe::deserialize_compact(jwe, &decrypter).unwrap();
    assert_eq!(header.content_encryption(), Some("A256GCM"));
    assert_eq!(header.content_type(), Some("JWT"));
    let inner = String::from_utf8(inner).unwrap();
    let claims = verify_independently(
        &idp.jwks_uri(),
        &inner,
        &idp.issuer(),
        "0oa7ms2encrypt00x7d1",
    )
    .await;
    assert_eq!(claims["email"], "alex.nurse@example.com");

    // Another key cannot open it.
    let stranger = josekit::jwe::RSA_OAEP_256.generate_key_pair(2048).unwrap();
    let wrong = josekit::jwe::RSA_OAEP_256
        .decrypter_from_jwk(&stranger.to_jwk_private_key())
        .unwrap();
    assert!(josekit::jwe::deserialize_compact(jwe, &wrong).is_err());
}

#[tokio::test]
async fn asking_for_encryption_without_an_encryption_key_is_a_config_error() {
    let text = format!(
        "{}\n{}",
        mock_idp::config::DEFAULT_CONFIG_TOML,
        r#"
[[clients]]
client_id = "0oa7ms2nokey000x7d1"
client_secret = "some-secret-value-0123456789"
id_token_encrypted_response_alg = "RSA-OAEP-256"
redirect_uris = ["http://localhost:8080/cb"]
"#
    );
    let error = mock_idp::Config::from_toml(&text).unwrap_err().to_string();
    assert!(error.contains(".jwks"), "{error}");
}
