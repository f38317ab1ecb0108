//! CAUTH: client authentication at the token endpoint, and its errors.

use serde_json::{Value, json};

use crate::support::{
    SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, expect_oauth_error, http, post_basic, start,
    start_with,
};

const CC: [(&str, &str); 2] = [("grant_type", "client_credentials"), ("scope", "beds.read")];

#[tokio::test]
async fn cauth_08_no_credentials_is_invalid_client() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&CC)
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 401, "invalid_client").await;
    assert_eq!(body["error_description"], "No client credentials found.");
}

#[tokio::test]
async fn cauth_03_wrong_basic_secret_is_401_with_a_basic_challenge() {
    let idp = start().await;
    let response = post_basic(
        &idp.token_endpoint(),
        SERVICE_CLIENT_ID,
        "wrong-secret",
        &CC,
    )
    .await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let body = expect_oauth_error(response, 401, "invalid_client").await;
    assert!(
        !body.to_string().contains("wrong-secret"),
        "the presented secret is not echoed"
    );
}

#[tokio::test]
async fn cauth_04_wrong_secret_in_the_body_is_invalid_client() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            CC[0],
            CC[1],
            ("client_id", SERVICE_CLIENT_ID),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn cauth_unknown_client_is_invalid_client() {
    let idp = start().await;
    let response = post_basic(&idp.token_endpoint(), "0oaDoesNotExist00000", "secret", &CC).await;
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn cauth_07_two_authentication_methods_at_once_are_refused() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
        .form(&[
            CC[0],
            CC[1],
            ("client_id", SERVICE_CLIENT_ID),
            ("client_secret", SERVICE_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Cannot supply multiple client credentials.")
    );
}

#[tokio::test]
async fn cauth_06_credentials_in_the_query_string_are_refused() {
    let idp = start().await;
    let response = http()
        .post(format!(
            "{}?client_secret={SERVICE_CLIENT_SECRET}",
            idp.token_endpoint()
        ))
        .basic_auth(SERVICE_CLIENT_ID, Some(SERVICE_CLIENT_SECRET))
        .form(&CC)
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(
        body["error_description"],
        "Client credentials cannot be supplied via query parameters."
    );
}

#[tokio::test]
async fn cauth_02_secrets_with_reserved_characters_work_when_form_encoded_in_basic() {
    let secret = "p:a%ss+w rd&=/x-very-long-secret-value";
    let idp = start_with(&format!(
        r#"
[[clients]]
client_id = "0oa7ms2oddsecret00x1"
client_secret = "{secret}"
grant_types = ["client_credentials"]
"#
    ))
    .await;
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    // reqwest's basic_auth does no form encoding, so build the header by hand.
    use base64::Engine as _;
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("0oa7ms2oddsecret00x1:{encoded}"))
    );
    let response = http()
        .post(idp.token_endpoint())
        .header("authorization", header)
        .form(&CC)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // curl -u style (no form encoding) is accepted too.
    let raw = post_basic(&idp.token_endpoint(), "0oa7ms2oddsecret00x1", secret, &CC).await;
    assert_eq!(raw.status(), 200);
}

/// A client registered for private_key_jwt, and its private key.
async fn private_key_jwt_mock() -> (mock_idp::MockIdp, mock_idp::SigningKey) {
    let key = tokio::task::spawn_blocking(mock_idp::SigningKey::generate)
        .await
        .unwrap()
        .unwrap();
    let (n, e) = key.public_components();
    let idp = start_with(&format!(
        r#"
[[clients]]
client_id = "0oa7ms2pkjwt0000x7d1"
client_name = "Key-based service"
grant_types = ["client_credentials"]
token_endpoint_auth_method = "private_key_jwt"
jwks = {{ keys = [ {{ kty = "RSA", kid = "{kid}", use = "sig", alg = "RS256", n = "{n}", e = "{e}" }} ] }}
"#,
        kid = key.kid()
    ))
    .await;
    (idp, key)
}

fn assertion(key: &mock_idp::SigningKey, claims: &Value, alg: jsonwebtoken::Algorithm) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(key.kid().to_owned());
    let encoding = match alg {
        jsonwebtoken::Algorithm::HS256 => {
            jsonwebtoken::EncodingKey::from_secret(key.public_key_pem().as_bytes())
        }
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key_pem().as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

async fn token_with_assertion(idp: &mock_idp::MockIdp, assertion: &str) -> reqwest::Response {
    http()
        .post(idp.token_endpoint())
        .form(&[
            CC[0],
            CC[1],
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

fn claims(idp: &mock_idp::MockIdp, aud: &str, exp_in: i64, jti: &str) -> Value {
    let now = idp.clock().now();
    json!({"iss": "0oa7ms2pkjwt0000x7d1", "sub": "0oa7ms2pkjwt0000x7d1", "aud": aud,
           "iat": now, "exp": now + exp_in, "jti": jti})
}

#[tokio::test]
async fn cauth_10_private_key_jwt_authenticates_and_cauth_13_replay_is_refused() {
    let (idp, key) = private_key_jwt_mock().await;
    let signed = assertion(
        &key,
        &claims(&idp, &idp.token_endpoint(), 300, "jti-1"),
        jsonwebtoken::Algorithm::RS256,
    );
    let response = token_with_assertion(&idp, &signed).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let replay = token_with_assertion(&idp, &signed).await;
    let body = expect_oauth_error(replay, 401, "invalid_client").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already been used")
    );
}

#[tokio::test]
async fn cauth_12_bad_assertions_are_invalid_client() {
    let (idp, key) = private_key_jwt_mock().await;
    let cases = [
        (
            "wrong audience",
            assertion(
                &key,
                &claims(&idp, &idp.issuer(), 300, "a"),
                jsonwebtoken::Algorithm::RS256,
            ),
        ),
        (
            "expired",
            assertion(
                &key,
                &claims(&idp, &idp.token_endpoint(), -10, "b"),
                jsonwebtoken::Algorithm::RS256,
            ),
        ),
        (
            "too far ahead",
            assertion(
                &key,
                &claims(&idp, &idp.token_endpoint(), 7200, "c"),
                jsonwebtoken::Algorithm::RS256,
            ),
        ),
        // RS→HS confusion: HMAC keyed with the client's public key.
        (
            "hmac with the public key",
            assertion(
                &key,
                &claims(&idp, &idp.token_endpoint(), 300, "d"),
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        // Okta takes RS256/384/512 and ES256/384/512 assertions only, not RSA-PSS.
        (
            "signed PS256 with the registered key",
            assertion(
                &key,
                &claims(&idp, &idp.token_endpoint(), 300, "g"),
                jsonwebtoken::Algorithm::PS256,
            ),
        ),
        ("unsigned", {
            let signed = assertion(
                &key,
                &claims(&idp, &idp.token_endpoint(), 300, "e"),
                jsonwebtoken::Algorithm::RS256,
            );
            let mut parts: Vec<&str> = signed.split('.').collect();
            parts[0] = "eyJhbGciOiJub25lIn0"; // {"alg":"none"}
            format!("{}.{}.", parts[0], parts[1])
        }),
    ];
    for (case, signed) in cases {
        let response = token_with_assertion(&idp, &signed).await;
        assert_eq!(response.status(), 401, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{case}: {body}");
    }
    let mut wrong_sub = claims(&idp, &idp.token_endpoint(), 300, "f");
    wrong_sub["sub"] = json!("someone-else");
    let response = token_with_assertion(
        &idp,
        &assertion(&key, &wrong_sub, jsonwebtoken::Algorithm::RS256),
    )
    .await;
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn cauth_09_a_private_key_jwt_client_cannot_use_a_secret() {
    let (idp, _key) = private_key_jwt_mock().await;
    let response = post_basic(&idp.token_endpoint(), "0oa7ms2pkjwt0000x7d1", "guess", &CC).await;
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn cauth_a_wrong_assertion_type_is_invalid_request() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            CC[0],
            CC[1],
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", "x.y.z"),
        ])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(
        body["error_description"],
        "The client_assertion_type is invalid."
    );
}
