//! RT: refresh tokens (offline_access), rotation, reuse detection, revocation.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    WEB_CLIENT_ID, WEB_CLIENT_SECRET, expect_oauth_error, http, introspect, post_basic, start,
};
use crate::user_support::*;

async fn refresh_web(
    idp: &mock_idp::MockIdp,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", WEB_CLIENT_ID),
        ("client_secret", WEB_CLIENT_SECRET),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    http()
        .post(idp.token_endpoint())
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn refresh_spa(idp: &mock_idp::MockIdp, token: &str) -> reqwest::Response {
    http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", SPA_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
}

async fn spa_refresh_token(idp: &mock_idp::MockIdp) -> Value {
    let (code, verifier) = spa_code(idp, "openid profile offline_access").await;
    redeem_spa(idp, &code, Some(&verifier))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn rt_01_08_refresh_returns_a_new_access_token_and_keeps_the_scope() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 43, "RT-11: at least 256 bits");
    let response = refresh_web(&idp, refresh, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_ne!(body["access_token"], tokens["access_token"]);
    assert_eq!(body["scope"], "openid profile offline_access");
    // The web client's tokens are STATIC: the same refresh token comes back.
    assert_eq!(body["refresh_token"], refresh);
    assert!(body.get("state").is_none());
}

#[tokio::test]
async fn oidc_13_no_offline_access_means_no_refresh_token() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile").await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn rt_03_another_clients_refresh_token_is_invalid_grant() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid offline_access").await;
    let response = post_basic(
        &idp.token_endpoint(),
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    expect_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn rt_02_a_confidential_client_must_authenticate_to_refresh() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid offline_access").await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", WEB_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn rt_04_05_scope_may_narrow_but_not_widen() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = refresh_web(&idp, refresh, Some("openid email")).await;
    expect_oauth_error(response, 400, "invalid_scope").await;
    let response = refresh_web(&idp, refresh, Some("openid")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
}

#[tokio::test]
async fn rt_06_rotation_for_the_spa_with_okta_leeway() {
    let idp = start().await;
    let first = spa_refresh_token(&idp).await;
    let old = first["refresh_token"].as_str().unwrap();
    let second: Value = refresh_spa(&idp, old).await.json().await.unwrap();
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old, "rotated");
    // Within the 30 s leeway the old token still works.
    idp.clock().advance(Duration::from_secs(10));
    assert_eq!(refresh_spa(&idp, old).await.status(), 200);
    // After it, the old token is refused.
    idp.clock().advance(Duration::from_secs(30));
    expect_oauth_error(refresh_spa(&idp, old).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn rt_07_replaying_a_rotated_token_revokes_the_family_and_its_access_tokens() {
    let idp = start().await;
    let first = spa_refresh_token(&idp).await;
    let old = first["refresh_token"].as_str().unwrap();
    let second: Value = refresh_spa(&idp, old).await.json().await.unwrap();
    let current = second["refresh_token"].as_str().unwrap();
    let access = second["access_token"].as_str().unwrap();
    idp.clock().advance(Duration::from_secs(31));
    expect_oauth_error(refresh_spa(&idp, old).await, 400, "invalid_grant").await;
    expect_oauth_error(refresh_spa(&idp, current).await, 400, "invalid_grant").await;
    assert_eq!(introspect(&idp, access).await["active"], false);
}

#[tokio::test]
async fn rt_09_a_refreshed_id_token_keeps_sub_aud_auth_time_and_drops_the_nonce() {
    let idp = start().await;
    let token = session_token(&idp).await;
    let mut params = web_params("openid profile offline_access", "s");
    params.push(("nonce", "nonce-1"));
    params.push(("sessionToken", &token));
    let code = query(&location(&get(&authorize_url(&idp, &params)).await))["code"].clone();
    let tokens: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let original = verify_id_token(&idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    assert_eq!(original["nonce"], "nonce-1");
    idp.clock().advance(Duration::from_secs(60));
    let refreshed: Value = refresh_web(&idp, tokens["refresh_token"].as_str().unwrap(), None)
        .await
        .json()
        .await
        .unwrap();
    let claims =
        verify_id_token(&idp, refreshed["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    for name in ["iss", "sub", "aud", "auth_time"] {
        assert_eq!(claims[name], original[name], "{name}");
    }
    assert!(claims["iat"].as_i64() > original["iat"].as_i64());
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn rt_10_garbage_or_revoked_refresh_tokens_are_invalid_grant() {
    let idp = start().await;
    expect_oauth_error(
        refresh_web(&idp, "garbage", None).await,
        400,
        "invalid_grant",
    )
    .await;
    let tokens = web_tokens(&idp, "openid offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let response = http()
        .post(format!("{}/v1/revoke", idp.issuer()))
        .form(&[
            ("token", refresh),
            ("token_type_hint", "refresh_token"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    expect_oauth_error(refresh_web(&idp, refresh, None).await, 400, "invalid_grant").await;
    // Revoking the refresh token took the access tokens of its grant along.
    assert_eq!(introspect(&idp, access).await["active"], false);
    assert_eq!(introspect(&idp, refresh).await["active"], false);
}

#[tokio::test]
async fn rt_12_an_idle_refresh_token_expires_after_the_window() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid offline_access").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    idp.clock().advance(Duration::from_secs(6 * 24 * 3600));
    assert_eq!(refresh_web(&idp, refresh, None).await.status(), 200);
    idp.clock().advance(Duration::from_secs(7 * 24 * 3600 + 1));
    expect_oauth_error(refresh_web(&idp, refresh, None).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn intro_refresh_tokens_introspect_with_oktas_fields() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid offline_access").await;
    let body = introspect(&idp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], WEB_CLIENT_ID);
    assert_eq!(body["username"], USER_LOGIN);
    assert_eq!(body["sub"], USER_LOGIN);
    assert_eq!(body["scope"], "openid offline_access");
    assert!(body["exp"].is_i64());
    assert!(body.get("jti").is_none() && body.get("uid").is_none());
}
