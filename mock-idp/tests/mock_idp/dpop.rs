//! DPoP (RFC 9449) at the token endpoint, introspection and userinfo, with
//! proofs made by Python (PyJWT + cryptography), and the client setting that
//! requires it.

use serde_json::json;

use crate::support::{
    expect_oauth_error, http, python_peer_summary, python_with, start, start_with,
};
use crate::user_support::{TEST_CLIENT_ID, TEST_CLIENT_SECRET, USER_LOGIN, USER_PASSWORD};

#[tokio::test]
async fn dpop_proofs_from_pyjwt_bind_tokens_with_a_nonce_and_userinfo_checks_them() {
    let Some(python) = python_with("DPoP", &["requests", "jwt", "cryptography"]) else {
        return;
    };
    let idp = start().await;
    let seen = python_peer_summary(
        &python,
        "dpop_flow.py",
        &[
            &idp.issuer(),
            TEST_CLIENT_ID,
            TEST_CLIENT_SECRET,
            USER_LOGIN,
            USER_PASSWORD,
        ],
    )
    .await;
    assert_eq!(
        seen,
        json!({"bound": true, "refused": true, "userinfo": true})
    );
}

#[tokio::test]
async fn dpop_bound_access_tokens_client_setting_refuses_a_request_without_a_proof() {
    let idp = start_with(
        r#"
[[clients]]
client_id = "0oa7ms2dpoponly000x9b"
client_secret = "mock-idp-dpop-only-secret-4Hq8Zt2Lm6Wc"
application_type = "service"
grant_types = ["client_credentials"]
response_types = []
dpop_bound_access_tokens = true
"#,
    )
    .await;
    let response = http()
        .post(idp.token_endpoint())
        .basic_auth(
            "0oa7ms2dpoponly000x9b",
            Some("mock-idp-dpop-only-secret-4Hq8Zt2Lm6Wc"),
        )
        .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "invalid_dpop_proof").await;
    assert!(body["error_description"].as_str().unwrap().contains("DPoP"));
    // A malformed proof is a clear 400, for a client that does not require DPoP too.
    let garbage = http()
        .post(idp.token_endpoint())
        .basic_auth(
            crate::support::SERVICE_CLIENT_ID,
            Some(crate::support::SERVICE_CLIENT_SECRET),
        )
        .header("dpop", "not.a.proof")
        .form(&[("grant_type", "client_credentials"), ("scope", "beds.read")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(garbage, 400, "invalid_dpop_proof").await;
}
