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

/// Okta's error shape (docs/okta-behaviour.md §10): what okta-sdk-python and
/// okta-auth-js read.
async fn expect_okta_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], code, "{body}");
    assert_eq!(body["errorLink"], code, "{body}");
    assert!(body["errorSummary"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
    assert!(body["errorCauses"].is_array());
    body
}

#[tokio::test]
async fn authn_refuses_a_wrong_ssws_token_with_e0000011_and_accepts_a_valid_one() {
    let idp = start().await;
    let login = serde_json::json!({"username": USER_LOGIN, "password": USER_PASSWORD});
    for wrong in [
        "SSWS not-a-real-token",
        "SSWS",
        "ssws  00mockIdpSswsApiToken",
    ] {
        let response = http()
            .post(format!("{}/api/v1/authn", idp.base_url()))
            .header("authorization", wrong)
            .json(&login)
            .send()
            .await
            .unwrap();
        let body = expect_okta_error(response, 401, "E0000011").await;
        assert_eq!(body["errorSummary"], "Invalid token provided");
    }
    let response = http()
        .post(format!("{}/api/v1/authn", idp.base_url()))
        .header(
            "authorization",
            "SSWS 00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc",
        )
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "SUCCESS");
}

#[tokio::test]
async fn authn_oversized_body_is_an_okta_json_error() {
    let idp = start().await;
    let big = serde_json::json!({"username": "a".repeat(3_000_000), "password": "b"});
    let response = authn(&idp, big).await;
    let body = expect_okta_error(response, 413, "E0000003").await;
    assert!(
        body["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
}

#[tokio::test]
async fn authn_success_advertises_no_links_and_cancel_refuses_unknown_state_tokens() {
    let idp = start().await;
    let response = authn(
        &idp,
        serde_json::json!({"username": USER_LOGIN, "password": USER_PASSWORD}),
    )
    .await;
    let body: Value = response.json().await.unwrap();
    // Okta's SUCCESS carries a sessionToken, no stateToken and nothing to cancel.
    assert!(body.get("_links").is_none(), "{body}");
    assert!(body.get("stateToken").is_none(), "{body}");
    let cancel = format!("{}/api/v1/authn/cancel", idp.base_url());
    for state_token in [
        serde_json::json!({"stateToken": "00never-issued-state-token"}),
        serde_json::json!({}),
    ] {
        let response = http()
            .post(&cancel)
            .json(&state_token)
            .send()
            .await
            .unwrap();
        expect_okta_error(response, 401, "E0000011").await;
    }
    let response = http()
        .post(&cancel)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_okta_error(response, 400, "E0000003").await;
}
