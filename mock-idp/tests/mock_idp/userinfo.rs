//! UI: the userinfo endpoint.

use serde_json::Value;

use crate::support::{WEB_CLIENT_ID, access_token, http, start};
use crate::user_support::*;

fn userinfo_url(idp: &mock_idp::MockIdp) -> String {
    format!("{}/v1/userinfo", idp.issuer())
}

#[tokio::test]
async fn ui_01_02_04_get_and_post_return_claims_whose_sub_matches_the_id_token() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile email").await;
    let access = tokens["access_token"].as_str().unwrap();
    let id = verify_id_token(&idp, tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID).await;
    let response = http()
        .get(userinfo_url(&idp))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sub"], id["sub"]);
    assert_eq!(body["sub"], USER_ID);
    assert_eq!(body["given_name"], "Alex");
    assert_eq!(body["family_name"], "Nurse");
    assert_eq!(body["email_verified"], true, "UI-05: a boolean");
    assert_eq!(body["zoneinfo"], "Europe/London");
    let response = http()
        .post(userinfo_url(&idp))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn ui_10_only_claims_of_granted_scopes() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid email").await;
    let body: Value = http()
        .get(userinfo_url(&idp))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["email"], USER_LOGIN);
    assert!(
        body.get("name").is_none() && body.get("given_name").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn ui_06_no_token_is_401_with_a_bare_bearer_challenge() {
    let idp = start().await;
    let response = http().get(userinfo_url(&idp)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );
}

#[tokio::test]
async fn ui_07_an_invalid_or_expired_token_is_401_invalid_token() {
    let idp = start().await;
    let tokens = web_tokens(&idp, "openid profile").await;
    for token in [
        "garbage".to_owned(),
        format!("{}x", tokens["access_token"].as_str().unwrap()),
    ] {
        let response = http()
            .get(userinfo_url(&idp))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(response.text().await.unwrap().is_empty());
    }
    idp.clock().advance(std::time::Duration::from_secs(3601));
    let response = http()
        .get(userinfo_url(&idp))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // An ID token is not an access token.
    let response = http()
        .get(userinfo_url(&idp))
        .bearer_auth(tokens["id_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn ui_08_a_token_without_openid_is_403_insufficient_scope() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = http()
        .get(userinfo_url(&idp))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    let tokens = web_tokens(&idp, "profile").await;
    let response = http()
        .get(userinfo_url(&idp))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
