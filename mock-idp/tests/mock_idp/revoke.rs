//! REV: revocation (RFC 7009), and its effect on introspection.

use serde_json::json;

use crate::support::{
    SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, WEB_CLIENT_ID, WEB_CLIENT_SECRET, access_token,
    expect_oauth_error, http, introspect, post_basic, start,
};

fn revoke_url(idp: &mock_idp::MockIdp) -> String {
    format!("{}/v1/revoke", idp.issuer())
}

#[tokio::test]
async fn rev_04_a_revoked_access_token_is_inactive_at_once() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    assert_eq!(introspect(&idp, &token).await["active"], true);
    let response = post_basic(
        &revoke_url(&idp),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.text().await.unwrap().is_empty(),
        "Okta answers with an empty body"
    );
    assert_eq!(introspect(&idp, &token).await, json!({"active": false}));
}

#[tokio::test]
async fn rev_05_unknown_garbage_and_already_revoked_tokens_still_get_200() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    for _ in 0..2 {
        let response = post_basic(
            &revoke_url(&idp),
            SERVICE_CLIENT_ID,
            SERVICE_CLIENT_SECRET,
            &[("token", token.as_str())],
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    for garbage in ["garbage", "eyJhbGciOiJub25lIn0.e30."] {
        let response = post_basic(
            &revoke_url(&idp),
            SERVICE_CLIENT_ID,
            SERVICE_CLIENT_SECRET,
            &[("token", garbage)],
        )
        .await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn rev_06_a_wrong_token_type_hint_still_revokes() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = post_basic(
        &revoke_url(&idp),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[
            ("token", token.as_str()),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(introspect(&idp, &token).await["active"], false);
}

#[tokio::test]
async fn rev_08_a_client_cannot_revoke_another_clients_token() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = http()
        .post(revoke_url(&idp))
        .form(&[
            ("token", token.as_str()),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(
        introspect(&idp, &token).await["active"],
        true,
        "the token stays active"
    );
}

#[tokio::test]
async fn rev_07_revocation_needs_client_authentication() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let response = http()
        .post(revoke_url(&idp))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    expect_oauth_error(response, 401, "invalid_client").await;
    assert_eq!(introspect(&idp, &token).await["active"], true);
}

#[tokio::test]
async fn rev_09_a_missing_token_is_invalid_request() {
    let idp = start().await;
    let response = post_basic(
        &revoke_url(&idp),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("token_type_hint", "access_token")],
    )
    .await;
    expect_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn rev_10_get_is_refused() {
    let idp = start().await;
    let response = http().get(revoke_url(&idp)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000022");
}
