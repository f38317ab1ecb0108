//! Calling Okta's management API (`/api/v1/…`) with the default SSWS token.

#![allow(dead_code)]

use mock_idp::MockIdp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::http;

pub const SSWS: &str = "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";

/// A management call: the status, the `Link` header and the JSON body (Null when empty).
pub async fn call(
    idp: &MockIdp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", idp.base_url()))
        .header("authorization", SSWS)
        .header("accept", "application/json");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let link = response
        .headers()
        .get("link")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, link, body)
}

pub async fn get(idp: &MockIdp, path: &str) -> (u16, Value) {
    let (status, _, body) = call(idp, Method::GET, path, None).await;
    (status, body)
}

pub async fn post(idp: &MockIdp, path: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = call(idp, Method::POST, path, Some(body)).await;
    (status, body)
}

/// Creates an active user with a password; returns its id.
pub async fn create_user(idp: &MockIdp, login: &str, password: &str) -> String {
    let (status, user) = post(
        idp,
        "/api/v1/users?activate=true",
        json!({
            "profile": {"firstName": "Sam", "lastName": "Porter", "email": login, "login": login},
            "credentials": {"password": {"value": password}},
        }),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["status"], "ACTIVE");
    user["id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/authn` for a login; the status and body.
pub async fn authn(idp: &MockIdp, login: &str, password: &str) -> (u16, Value) {
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .json(&json!({"username": login, "password": password}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The ID token claims a user gets through authn + authorize (sessionToken) + code.
pub async fn id_token_for(idp: &MockIdp, login: &str, password: &str, scope: &str) -> Value {
    use crate::user_support::*;
    let (status, body) = authn(idp, login, password).await;
    assert_eq!(status, 200, "{body}");
    let token = body["sessionToken"].as_str().unwrap();
    let mut params = web_params(scope, "s");
    params.push(("sessionToken", token));
    let response = crate::user_support::get(&authorize_url(idp, &params)).await;
    let code = query(&location(&response))["code"].clone();
    let tokens: Value = redeem_web(idp, &code, &[]).await.json().await.unwrap();
    verify_id_token(
        idp,
        tokens["id_token"].as_str().unwrap(),
        crate::support::WEB_CLIENT_ID,
    )
    .await
}
