//! TOK-AC / PKCE / password: redeeming codes at the token endpoint.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    WEB_CLIENT_ID, WEB_CLIENT_SECRET, decode_parts, expect_oauth_error, http, introspect,
    post_basic, start,
};
use crate::user_support::*;

#[tokio::test]
async fn tok_ac_01_11_code_redeems_for_access_and_id_tokens_without_state() {
    let idp = start().await;
    let code = web_code(&idp, "openid profile email").await;
    let response = redeem_web(&idp, &code, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email");
    assert!(
        body.get("state").is_none(),
        "never state in a token response"
    );
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    assert!(body["id_token"].is_string());
    let (_, at) = decode_parts(body["access_token"].as_str().unwrap());
    assert_eq!(at["uid"], USER_ID);
    assert_eq!(at["sub"], USER_LOGIN);
    assert_eq!(at["cid"], WEB_CLIENT_ID);
    assert!(at["auth_time"].is_i64());
}

#[tokio::test]
async fn tok_ac_02_code_is_single_use() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    assert_eq!(redeem_web(&idp, &code, &[]).await.status(), 200);
    expect_oauth_error(redeem_web(&idp, &code, &[]).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn tok_ac_03_a_replayed_code_revokes_what_the_first_redemption_issued() {
    let idp = start().await;
    let code = web_code(&idp, "openid profile offline_access").await;
    let first: Value = redeem_web(&idp, &code, &[]).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&idp, access).await["active"], true);
    expect_oauth_error(redeem_web(&idp, &code, &[]).await, 400, "invalid_grant").await;
    assert_eq!(
        introspect(&idp, access).await,
        serde_json::json!({"active": false})
    );
    let userinfo = http()
        .get(format!("{}/v1/userinfo", idp.issuer()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn tok_ac_04_a_used_code_is_still_refused_30_seconds_later() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    assert_eq!(redeem_web(&idp, &code, &[]).await.status(), 200);
    idp.clock().advance(Duration::from_secs(30));
    expect_oauth_error(redeem_web(&idp, &code, &[]).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn tok_ac_05_redirect_uri_must_match_the_authorize_request() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://oauth.pstmn.io/v1/callback"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_grant").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );
}

#[tokio::test]
async fn tok_ac_06_missing_redirect_uri_is_refused() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn tok_ac_07_a_code_issued_to_another_client_is_invalid_grant() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    let response = post_basic(
        &idp.token_endpoint(),
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_REDIRECT),
        ],
    )
    .await;
    expect_oauth_error(response, 400, "invalid_grant").await;
    // The rightful client can still redeem it.
    assert_eq!(redeem_web(&idp, &code, &[]).await.status(), 200);
}

#[tokio::test]
async fn tok_ac_08_a_code_redeemed_after_300_seconds_is_invalid_grant() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    idp.clock().advance(Duration::from_secs(301));
    expect_oauth_error(redeem_web(&idp, &code, &[]).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn tok_ac_09_a_garbage_code_is_invalid_grant() {
    let idp = start().await;
    let response = redeem_web(&idp, "not-a-code", &[]).await;
    expect_oauth_error(response, 400, "invalid_grant").await;
}

#[tokio::test]
async fn tok_ac_10_pkce_01_public_client_redeems_with_client_id_and_verifier_only() {
    let idp = start().await;
    let (code, verifier) = spa_code(&idp, "openid offline_access").await;
    let response = redeem_spa(&idp, &code, Some(&verifier)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["id_token"].is_string());
    assert!(body["refresh_token"].is_string(), "offline_access granted");
}

#[tokio::test]
async fn pkce_02_a_wrong_verifier_is_invalid_grant() {
    let idp = start().await;
    let (code, _) = spa_code(&idp, "openid").await;
    let (other, _) = pkce();
    expect_oauth_error(
        redeem_spa(&idp, &code, Some(&other)).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn pkce_03_a_missing_verifier_is_refused() {
    let idp = start().await;
    let (code, _) = spa_code(&idp, "openid").await;
    expect_oauth_error(redeem_spa(&idp, &code, None).await, 400, "invalid_request").await;
}

#[tokio::test]
async fn pkce_04_a_verifier_for_a_code_issued_without_challenge_is_a_downgrade() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    let (verifier, _) = pkce();
    let response = redeem_web(&idp, &code, &[("code_verifier", &verifier)]).await;
    expect_oauth_error(response, 400, "invalid_grant").await;
}

fn spa_params<'a>(challenge: Option<&'a str>, method: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", SPA_REDIRECT),
        ("state", "s"),
    ];
    if let Some(challenge) = challenge {
        params.push(("code_challenge", challenge));
    }
    if let Some(method) = method {
        params.push(("code_challenge_method", method));
    }
    params
}

#[tokio::test]
async fn pkce_05_a_public_client_without_code_challenge_is_refused_at_authorize() {
    let idp = start().await;
    let response = authorize_with_session_token(&idp, &spa_params(None, None)).await;
    let q = query(&location(&response));
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn pkce_06_07_08_only_s256_is_accepted() {
    let idp = start().await;
    let (verifier, _) = pkce();
    for method in [Some("S512"), Some("plain"), None] {
        let response = get(&authorize_url(&idp, &spa_params(Some(&verifier), method))).await;
        let q = query(&location(&response));
        assert_eq!(q["error"], "invalid_request", "{method:?}");
        assert!(q["error_description"].contains("S256"), "{q:?}");
    }
}

#[tokio::test]
async fn pkce_09_a_verifier_outside_43_to_128_unreserved_characters_fails() {
    let idp = start().await;
    for verifier in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}!", "a".repeat(50)),
    ] {
        let challenge = {
            use base64::Engine as _;
            use sha2::Digest as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let response =
            authorize_with_session_token(&idp, &spa_params(Some(&challenge), Some("S256"))).await;
        let code = query(&location(&response))["code"].clone();
        expect_oauth_error(
            redeem_spa(&idp, &code, Some(&verifier)).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

#[tokio::test]
async fn pkce_10_a_malformed_code_challenge_is_refused_at_authorize() {
    let idp = start().await;
    for challenge in [
        "short",
        "has spaces in it and is long enough to pass the length check",
    ] {
        let response = get(&authorize_url(
            &idp,
            &spa_params(Some(challenge), Some("S256")),
        ))
        .await;
        assert_eq!(query(&location(&response))["error"], "invalid_request");
    }
}

#[tokio::test]
async fn pkce_11_a_verifier_from_another_flow_fails() {
    let idp = start().await;
    let (code_a, _) = spa_code(&idp, "openid").await;
    let (_, verifier_b) = spa_code(&idp, "openid").await;
    expect_oauth_error(
        redeem_spa(&idp, &code_a, Some(&verifier_b)).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn password_grant_works_for_a_client_that_allows_it() {
    let idp = start().await;
    let response = post_basic(
        &idp.token_endpoint(),
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        &[
            ("grant_type", "password"),
            ("username", USER_LOGIN),
            ("password", USER_PASSWORD),
            ("scope", "openid email offline_access"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["refresh_token"].is_string());
    let claims = verify_id_token(&idp, body["id_token"].as_str().unwrap(), TEST_CLIENT_ID).await;
    assert_eq!(claims["sub"], USER_ID);
    assert_eq!(claims["email"], USER_LOGIN);
}

#[tokio::test]
async fn password_grant_refuses_bad_credentials_and_clients_without_the_grant() {
    let idp = start().await;
    let response = post_basic(
        &idp.token_endpoint(),
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        &[
            ("grant_type", "password"),
            ("username", USER_LOGIN),
            ("password", "wrong"),
            ("scope", "openid"),
        ],
    )
    .await;
    expect_oauth_error(response, 400, "invalid_grant").await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "password"),
            ("username", USER_LOGIN),
            ("password", USER_PASSWORD),
            ("scope", "openid"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn spa_token_and_userinfo_responses_allow_the_spas_origin_only() {
    let idp = start().await;
    let (code, verifier) = spa_code(&idp, "openid profile").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", SPA_REDIRECT),
        ("client_id", SPA_CLIENT_ID),
        ("code_verifier", verifier.as_str()),
    ];
    let response = http()
        .post(idp.token_endpoint())
        .header("origin", "http://localhost:8080")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:8080"
    );
    let body: Value = response.json().await.unwrap();
    let userinfo = format!("{}/v1/userinfo", idp.issuer());
    let preflight = http()
        .request(reqwest::Method::OPTIONS, &userinfo)
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let response = http()
        .get(&userinfo)
        .header("origin", "https://attacker.example")
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn browser_requests_to_the_token_endpoint_must_use_pkce() {
    let idp = start().await;
    let code = web_code(&idp, "openid").await;
    let response = http()
        .post(idp.token_endpoint())
        .header("origin", "http://localhost:8080")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_REDIRECT),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 401, "invalid_client").await;
}
