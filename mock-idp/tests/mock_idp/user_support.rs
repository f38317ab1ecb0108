//! Helpers for the user-flow tests: the default config's user and clients,
//! PKCE pairs, headless login through `/api/v1/authn` + `sessionToken`, and
//! reading codes and tokens out of redirects.

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use mock_idp::MockIdp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{WEB_CLIENT_ID, WEB_CLIENT_SECRET, http};

pub const USER_LOGIN: &str = "alex.nurse@example.com";
pub const USER_PASSWORD: &str = "CorrectHorse!2026";
pub const USER_ID: &str = "00u7ms2nurse0000x7d1";
pub const WEB_REDIRECT: &str = "http://localhost:8080/authorization-code/callback";
pub const SPA_CLIENT_ID: &str = "0oa7ms2bedspa000x7d3";
pub const SPA_REDIRECT: &str = "http://localhost:8080/login/callback";
pub const TEST_CLIENT_ID: &str = "0oa7ms2bedtst000x7d4";
pub const TEST_CLIENT_SECRET: &str = "mock-idp-test-secret-Hq5wZ2nLp8Xc4Tv7Mb3Rk9Gs";
pub const POST_LOGOUT: &str = "http://localhost:8080/";

/// A PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", mock_idp::ids::random_token(), "-._~abc");
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// base64url(left half of SHA-256), recomputed here for at_hash / c_hash.
pub fn half_hash(value: &str) -> String {
    B64.encode(&Sha256::digest(value.as_bytes())[..16])
}

pub fn authorize_endpoint(idp: &MockIdp) -> String {
    format!("{}/v1/authorize", idp.issuer())
}

/// The authorize URL with these parameters.
pub fn authorize_url(idp: &MockIdp, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&authorize_endpoint(idp)).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Typical parameters for the web client's code flow.
pub fn web_params<'a>(scope: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", WEB_CLIENT_ID),
        ("response_type", "code"),
        ("scope", scope),
        ("redirect_uri", WEB_REDIRECT),
        ("state", state),
    ]
}

/// `POST /api/v1/authn`; returns the sessionToken.
pub async fn session_token(idp: &MockIdp) -> String {
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .json(&serde_json::json!({"username": USER_LOGIN, "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["sessionToken"].as_str().unwrap().to_owned()
}

/// GET the authorize URL without following redirects.
pub async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

/// The `Location` of a redirect response (panics otherwise).
pub fn location(response: &reqwest::Response) -> url::Url {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

/// Query parameters of a URL as a map.
pub fn query(url: &url::Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Fragment parameters of a URL as a map.
pub fn fragment(url: &url::Url) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Headless login: authn → authorize with sessionToken → the 302's parameters.
pub async fn authorize_with_session_token(
    idp: &MockIdp,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let token = session_token(idp).await;
    let mut params = params.to_vec();
    params.push(("sessionToken", &token));
    get(&authorize_url(idp, &params)).await
}

/// A code for the web client with `scope` (headless), and its state.
pub async fn web_code(idp: &MockIdp, scope: &str) -> String {
    let response = authorize_with_session_token(idp, &web_params(scope, "st-1")).await;
    let params = query(&location(&response));
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    params["code"].clone()
}

/// Redeems a code with the web client (client_secret_post).
pub async fn redeem_web(idp: &MockIdp, code: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_REDIRECT),
        ("client_id", WEB_CLIENT_ID),
        ("client_secret", WEB_CLIENT_SECRET),
    ];
    form.extend_from_slice(extra);
    http()
        .post(idp.token_endpoint())
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The web client's token response for `scope` (asserts 200).
pub async fn web_tokens(idp: &MockIdp, scope: &str) -> Value {
    let code = web_code(idp, scope).await;
    let response = redeem_web(idp, &code, &[]).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A PKCE code for the public SPA client, and its verifier.
pub async fn spa_code(idp: &MockIdp, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let response = authorize_with_session_token(
        idp,
        &[
            ("client_id", SPA_CLIENT_ID),
            ("response_type", "code"),
            ("scope", scope),
            ("redirect_uri", SPA_REDIRECT),
            ("state", "spa-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    (query(&location(&response))["code"].clone(), verifier)
}

/// Redeems a code with the public SPA client (client_id only + verifier).
pub async fn redeem_spa(idp: &MockIdp, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", SPA_REDIRECT),
        ("client_id", SPA_CLIENT_ID),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    http()
        .post(idp.token_endpoint())
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Verifies an ID token independently: JWKS over HTTP, RS256, iss, aud.
pub async fn verify_id_token(idp: &MockIdp, token: &str, client_id: &str) -> Value {
    crate::support::verify_independently(&idp.jwks_uri(), token, &idp.issuer(), client_id).await
}

/// An HTTP client with a cookie jar (a browser's session), no redirects.
pub fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// The value of a hidden input in a page.
pub fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// The login page's form, as a browser would fill it.
pub struct LoginForm {
    pub action: String,
    pub transaction: String,
    pub csrf: String,
}

/// Opens the login page at `url` (a 200 HTML page).
pub async fn open_login(client: &reqwest::Client, url: &str) -> LoginForm {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = response.text().await.unwrap();
    let action = body
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    LoginForm {
        action,
        transaction: hidden(&body, "transaction"),
        csrf: hidden(&body, "csrf"),
    }
}

/// Submits the login form.
pub async fn submit(
    client: &reqwest::Client,
    form: &LoginForm,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(&form.action)
        .form(&[
            ("transaction", form.transaction.as_str()),
            ("csrf", form.csrf.as_str()),
            ("username", username),
            ("password", password),
            ("action", "login"),
        ])
        .send()
        .await
        .unwrap()
}

/// The `sid=…` pair a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|pair| pair.starts_with("sid=")))
        .expect("a session cookie")
        .to_owned()
}

/// A password grant for the test client at the org server; the HTTP status.
pub async fn password_grant(idp: &MockIdp, login: &str, password: &str) -> u16 {
    crate::support::post_basic(
        &idp.token_endpoint(),
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        &[
            ("grant_type", "password"),
            ("username", login),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await
    .status()
    .as_u16()
}
