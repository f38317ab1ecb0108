//! INTRO: remote introspection (RFC 7662) with Okta's response fields.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, WEB_CLIENT_ID, WEB_CLIENT_SECRET, access_token,
    expect_oauth_error, http, introspect, post_basic, start,
};

#[tokio::test]
async fn intro_01_an_active_token_reports_oktas_fields() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read beds.write").await;
    let body = introspect(&idp, &token).await;
    assert_eq!(body["active"], json!(true), "INTRO-08: a JSON boolean");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "beds.read beds.write");
    assert_eq!(body["client_id"], SERVICE_CLIENT_ID);
    assert_eq!(body["sub"], SERVICE_CLIENT_ID);
    assert_eq!(body["aud"], "api://default");
    assert_eq!(body["iss"], idp.issuer().as_str());
    assert!(body["jti"].as_str().unwrap().starts_with("AT."));
    assert!(
        body["exp"].is_i64() && body["iat"].is_i64(),
        "INTRO-09: NumericDates"
    );
}

#[tokio::test]
async fn intro_any_authenticated_client_may_introspect() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = http()
        .post(format!("{}/v1/introspect", idp.issuer()))
        .form(&[
            ("token", token.as_str()),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true);
}

#[tokio::test]
async fn intro_04_garbage_unknown_and_foreign_tokens_are_exactly_inactive() {
    let idp = start().await;
    let other = start().await;
    let foreign = access_token(&other, "beds.read").await;
    let genuine = access_token(&idp, "beds.read").await;
    let (header_and_claims, _) = genuine.rsplit_once('.').unwrap();
    let tampered = format!("{header_and_claims}.AAAA");
    for token in ["garbage", "a.b.c", "", foreign.as_str(), tampered.as_str()] {
        if token.is_empty() {
            continue;
        }
        assert_eq!(
            introspect(&idp, token).await,
            json!({"active": false}),
            "INTRO-07 for {token:.20}"
        );
    }
}

#[tokio::test]
async fn intro_05_an_expired_token_is_inactive() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    idp.clock().advance(Duration::from_secs(3601));
    assert_eq!(introspect(&idp, &token).await, json!({"active": false}));
}

#[tokio::test]
async fn intro_02_introspection_without_client_authentication_is_401() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = http()
        .post(format!("{}/v1/introspect", idp.issuer()))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 401, "invalid_client").await;
    assert!(
        body.get("active").is_none(),
        "no token metadata without authentication"
    );
}

#[tokio::test]
async fn intro_03_invalid_caller_credentials_are_401() {
    let idp = start().await;
    let response = post_basic(
        &format!("{}/v1/introspect", idp.issuer()),
        SERVICE_CLIENT_ID,
        "bad",
        &[("token", "x")],
    )
    .await;
    expect_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn intro_a_missing_token_parameter_is_invalid_request() {
    let idp = start().await;
    let response = post_basic(
        &format!("{}/v1/introspect", idp.issuer()),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("token_type_hint", "access_token")],
    )
    .await;
    let body = expect_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(
        body["error_description"],
        "The 'token' parameter is required."
    );
}

#[tokio::test]
async fn intro_a_token_of_another_authorization_server_is_inactive_there() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = post_basic(
        &format!("{}/oauth2/v1/introspect", idp.base_url()),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("token", token.as_str())],
    )
    .await;
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"active": false})
    );
}

#[tokio::test]
async fn intro_l01_org_access_tokens_are_opaque_to_clients_and_introspected() {
    // Okta signs the org server's access tokens with a key it never publishes: a client (or a
    // gateway) must introspect them. Its ID tokens still verify with the published keys.
    let idp = start().await;
    let (client, secret) = (
        crate::user_support::TEST_CLIENT_ID,
        crate::user_support::TEST_CLIENT_SECRET,
    );
    let org = format!("{}/oauth2/v1", idp.base_url());
    let response = post_basic(
        &format!("{org}/token"),
        client,
        secret,
        &[
            ("grant_type", "password"),
            ("username", crate::user_support::USER_LOGIN),
            ("password", crate::user_support::USER_PASSWORD),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let kid = |token: &str| crate::support::decode_parts(token).0["kid"].clone();
    let access = body["access_token"].as_str().unwrap();
    let id = body["id_token"].as_str().unwrap();
    let jwks = crate::support::get_json(&format!("{org}/keys")).await;
    let published: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert!(
        !published.contains(&&kid(access)),
        "the access token's key is not published"
    );
    assert!(published.contains(&&kid(id)), "the ID token's key is");
    let answer: Value = post_basic(
        &format!("{org}/introspect"),
        client,
        secret,
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(answer["active"], json!(true), "{answer}");
    let userinfo = http()
        .get(format!("{org}/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    // The default custom server's access tokens stay verifiable with its published keys.
    let custom = access_token(&idp, "beds.read").await;
    crate::support::verify_independently(&idp.jwks_uri(), &custom, &idp.issuer(), "api://default")
        .await;
}
