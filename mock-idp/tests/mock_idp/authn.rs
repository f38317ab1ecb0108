//! Okta's Authentication API (`POST /api/v1/authn`) and the sessionToken
//! exchange at /authorize: the headless login real Okta offers.

use std::time::Duration;

use serde_json::Value;

use crate::support::{http, start};
use crate::user_support::*;

async fn authn(idp: &mock_idp::MockIdp, body: Value) -> reqwest::Response {
    http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn authn_success_returns_oktas_transaction() {
    let idp = start().await;
    let response = authn(
        &idp,
        serde_json::json!({"username": USER_LOGIN, "password": USER_PASSWORD,
            "options": {"multiOptionalFactorEnroll": false, "warnBeforePasswordExpired": false}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "SUCCESS");
    assert!(body["sessionToken"].as_str().unwrap().len() >= 20);
    let expires = body["expiresAt"].as_str().unwrap();
    assert!(
        expires.ends_with(".000Z") && expires.len() == 24,
        "{expires}"
    );
    assert_eq!(body["_embedded"]["user"]["id"], USER_ID);
    assert_eq!(body["_embedded"]["user"]["profile"]["login"], USER_LOGIN);
    assert_eq!(body["_embedded"]["user"]["profile"]["firstName"], "Alex");
}

#[tokio::test]
async fn authn_bad_credentials_are_e0000004() {
    let idp = start().await;
    for body in [
        serde_json::json!({"username": USER_LOGIN, "password": "nope"}),
        serde_json::json!({"username": "nobody@example.com", "password": USER_PASSWORD}),
        serde_json::json!({}),
    ] {
        let response = authn(&idp, body).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errorCode"], "E0000004");
        assert_eq!(body["errorSummary"], "Authentication failed");
        assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
    }
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000003");
}

#[tokio::test]
async fn session_token_gives_a_code_without_any_page_even_with_prompt_none() {
    let idp = start().await;
    let mut params = web_params("openid", "s");
    params.push(("prompt", "none"));
    let response = authorize_with_session_token(&idp, &params).await;
    assert_eq!(response.status(), 302);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("sid=")
    );
    let code = query(&location(&response))["code"].clone();
    assert_eq!(redeem_web(&idp, &code, &[]).await.status(), 200);
}

#[tokio::test]
async fn session_token_is_single_use() {
    let idp = start().await;
    let token = session_token(&idp).await;
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", &token));
    params.push(("prompt", "none"));
    let url = authorize_url(&idp, &params);
    assert!(query(&location(&get(&url).await)).contains_key("code"));
    let q = query(&location(&get(&url).await));
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn session_token_expires_after_five_minutes() {
    let idp = start().await;
    let token = session_token(&idp).await;
    idp.clock().advance(Duration::from_secs(301));
    let mut params = web_params("openid", "s");
    params.push(("sessionToken", &token));
    params.push(("prompt", "none"));
    let q = query(&location(&get(&authorize_url(&idp, &params)).await));
    assert_eq!(q["error"], "login_required");
    // Without prompt=none an unusable sessionToken falls back to the login page.
    params.pop();
    assert_eq!(get(&authorize_url(&idp, &params)).await.status(), 200);
}
