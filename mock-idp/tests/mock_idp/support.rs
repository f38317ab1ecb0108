//! The shared harness: start a mock, talk to it, and verify its tokens with
//! code that shares nothing with the server (raw JSON in, jsonwebtoken out).

#![allow(dead_code)]

use base64::Engine as _;
use mock_idp::MockIdp;
use serde_json::Value;

pub const SERVICE_CLIENT_ID: &str = "0oa7ms2bedsvc000x7d1";
pub const SERVICE_CLIENT_SECRET: &str = "mock-idp-service-secret-Bx7dY2qLw9ZtR4vNc8Hs";
pub const WEB_CLIENT_ID: &str = "0oa7ms2bedweb000x7d2";
pub const WEB_CLIENT_SECRET: &str = "mock-idp-web-secret-Kp3sT8vXq2Lm6Wn9Rc4Jz7Fd";

/// The default mock on 127.0.0.1:0.
pub async fn start() -> MockIdp {
    MockIdp::start().await.expect("mock-idp starts")
}

/// A mock with a configuration made of the default plus `extra` TOML.
pub async fn start_with(extra: &str) -> MockIdp {
    let text = format!("{}\n{extra}", mock_idp::config::DEFAULT_CONFIG_TOML);
    MockIdp::builder()
        .config_toml(&text)
        .expect("test config is valid")
        .start()
        .await
        .expect("mock-idp starts")
}

/// The default configuration with `settings` (TOML lines) added to its `[server]` table.
pub fn default_config_with_server_settings(settings: &str) -> String {
    mock_idp::config::DEFAULT_CONFIG_TOML.replacen(
        "[server]\n",
        &format!("[server]\n{settings}\n"),
        1,
    )
}

/// A mock with the default configuration plus `settings` in its `[server]` table.
pub async fn start_with_server_settings(settings: &str) -> MockIdp {
    MockIdp::builder()
        .config_toml(&default_config_with_server_settings(settings))
        .expect("test config is valid")
        .start()
        .await
        .expect("mock-idp starts")
}

/// An HTTP client that never follows redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// GET, expecting a JSON body.
pub async fn get_json(url: &str) -> Value {
    http()
        .get(url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json body")
}

/// POST a JSON body, expecting a JSON answer.
pub async fn post_json(url: &str, body: &Value) -> Value {
    http()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json body")
}

/// A form POST with Basic client authentication.
pub async fn post_basic(
    url: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http()
        .post(url)
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .expect("request")
}

/// client_credentials with the default service client; returns the raw response.
pub async fn client_credentials(idp: &MockIdp, scope: &str) -> reqwest::Response {
    post_basic(
        &idp.token_endpoint(),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", scope)],
    )
    .await
}

/// An access token for the default service client.
pub async fn access_token(idp: &MockIdp, scope: &str) -> String {
    let response = client_credentials(idp, scope).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Parses an OAuth error response and checks its shape: status, JSON, both fields.
pub async fn expect_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

pub async fn introspect(idp: &MockIdp, token: &str) -> Value {
    let response = post_basic(
        &format!("{}/v1/introspect", idp.issuer()),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Verifies a token the way an independent resource server would: fetch the
/// JWKS over HTTP, build the key from `n`/`e`, check signature, iss and aud.
pub async fn verify_independently(
    jwks_uri: &str,
    token: &str,
    issuer: &str,
    audience: &str,
) -> Value {
    let jwks: Value = http()
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header_b64 = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header_b64)
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"].as_str().expect("kid in header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid is published");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the published JWKS")
        .claims
}

/// The token's header and claims, decoded without verification (for shape checks).
pub fn decode_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = || {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts.next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    (next(), next())
}

/// Replaces the mock's base URL in a document so snapshots are stable.
pub fn redact_base(value: &Value, base: &str) -> Value {
    serde_json::from_str(&value.to_string().replace(base, "http://[mock]")).unwrap()
}

/// The Python interpreter for independent clients (`TEST_PYTHON`, else `python3`) if it
/// has `modules`; None (after printing `SKIPPED: …`) when not, unless
/// `PEER_TESTS=required`, which makes their absence a failure.
pub fn python_with(test: &str, modules: &[&str]) -> Option<String> {
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = format!("import {}", modules.join(", "));
    let found = std::process::Command::new(&python)
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(python);
    }
    let message = format!(
        "{test}: {python} cannot import {} (set TEST_PYTHON to the venv of .ci/requirements.txt)",
        modules.join(", ")
    );
    assert!(
        std::env::var("PEER_TESTS").as_deref() != Ok("required"),
        "{message}"
    );
    #[allow(clippy::print_stderr)]
    {
        eprintln!("SKIPPED: {message}");
    }
    None
}

/// Runs a Python peer script from `tests/mock_idp/peers/` with `args`; the JSON
/// summary it prints on success, a panic with its stderr otherwise.
pub async fn python_peer_summary(python: &str, script: &str, args: &[&str]) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mock_idp/peers")
        .join(script);
    let mut command = std::process::Command::new(python);
    command.arg(&path).args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the python peer's thread")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON summary ({e}):\n{stdout}"))
}
