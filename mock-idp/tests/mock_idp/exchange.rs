//! Token exchange (RFC 8693, Okta's on-behalf-of on custom servers) and the
//! JWT bearer grant (RFC 7523), driven by Python (requests, PyJWT,
//! cryptography) as an independent client, plus the org server's refusal.

use serde_json::json;

use crate::support::{expect_oauth_error, http, python_peer_summary, python_with, start};
use crate::user_support::{TEST_CLIENT_ID, TEST_CLIENT_SECRET, USER_LOGIN, USER_PASSWORD};

const SSWS_TOKEN: &str = "00mockIdpSswsApiToken7ms2Bx7dY2qLw9ZtR4vNc";

#[tokio::test]
async fn token_exchange_and_jwt_bearer_with_pyjwt_and_their_negative_cases() {
    let Some(python) = python_with("token exchange", &["requests", "jwt", "cryptography"]) else {
        return;
    };
    let idp = start().await;
    let seen = python_peer_summary(
        &python,
        "exchange_and_jwt_bearer.py",
        &[
            &idp.issuer(),
            SSWS_TOKEN,
            TEST_CLIENT_ID,
            TEST_CLIENT_SECRET,
            USER_LOGIN,
            USER_PASSWORD,
        ],
    )
    .await;
    assert_eq!(
        seen,
        json!({
            "exchange": {"sub": USER_LOGIN, "cid_is_exchanger": true},
            "exchange_refused": true,
            "jwt_bearer": USER_LOGIN,
            "jwt_bearer_refused": true,
        })
    );
}

#[tokio::test]
async fn token_exchange_is_for_custom_servers_only_and_needs_the_grant_type() {
    let idp = start().await;
    let exchange = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", "x"),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", "api://default"),
        ("scope", "beds.read"),
    ];
    let org = http()
        .post(format!("{}/oauth2/v1/token", idp.base_url()))
        .basic_auth(TEST_CLIENT_ID, Some(TEST_CLIENT_SECRET))
        .form(&exchange)
        .send()
        .await
        .unwrap();
    expect_oauth_error(org, 400, "unsupported_grant_type").await;
    let not_registered = http()
        .post(idp.token_endpoint())
        .basic_auth(TEST_CLIENT_ID, Some(TEST_CLIENT_SECRET))
        .form(&exchange)
        .send()
        .await
        .unwrap();
    expect_oauth_error(not_registered, 400, "unauthorized_client").await;
    let org_doc = crate::support::get_json(&format!(
        "{}/.well-known/openid-configuration",
        idp.base_url()
    ))
    .await;
    assert!(
        !org_doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:ietf:params:oauth:grant-type:token-exchange"))
    );
}
