//! TOK-CC: the client credentials grant on a custom authorization server.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, WEB_CLIENT_ID, WEB_CLIENT_SECRET, access_token,
    client_credentials, decode_parts, expect_oauth_error, http, post_basic, start, start_with,
    verify_independently,
};

#[tokio::test]
async fn tok_cc_01_basic_auth_gets_a_bearer_token_that_is_never_cached() {
    let idp = start().await;
    let response = client_credentials(&idp, "beds.read").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "beds.read");
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    // TOK-CC-02: no refresh token; never an ID token or state.
    for absent in ["refresh_token", "id_token", "state"] {
        assert!(body.get(absent).is_none(), "{absent} in {body}");
    }
}

#[tokio::test]
async fn tok_cc_01_client_secret_post_works_too() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "beds.read beds.write"),
            ("client_id", SERVICE_CLIENT_ID),
            ("client_secret", SERVICE_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "beds.read beds.write");
}

#[tokio::test]
async fn tok_cc_09_access_token_has_oktas_claims_and_verifies_independently() {
    let idp = start().await;
    let token = access_token(&idp, "beds.read").await;
    let claims =
        verify_independently(&idp.jwks_uri(), &token, &idp.issuer(), "api://default").await;
    let (header, _) = decode_parts(&token);
    assert_eq!(header["alg"], "RS256");
    assert!(
        header.get("typ").is_none(),
        "Okta's header is {{kid, alg}} only: {header}"
    );
    assert_eq!(claims["ver"], 1);
    assert!(claims["jti"].as_str().unwrap().starts_with("AT."));
    assert_eq!(claims["cid"], SERVICE_CLIENT_ID);
    assert_eq!(claims["sub"], SERVICE_CLIENT_ID);
    assert_eq!(claims["scp"], serde_json::json!(["beds.read"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims.get("nbf").is_none(), "Okta issues no nbf");
    assert!(
        claims.get("uid").is_none(),
        "no user behind a client_credentials token"
    );
    let redacted = {
        let mut c = claims.clone();
        for volatile in ["jti", "iat", "exp"] {
            c[volatile] = Value::from(format!("[{volatile}]"));
        }
        crate::support::redact_base(&c, idp.base_url())
    };
    insta::assert_json_snapshot!("client_credentials_access_token_claims", redacted);
}

#[tokio::test]
async fn tok_cc_token_lifetime_follows_the_server_and_policy_configuration() {
    let idp = start_with(
        r#"
[[authorization_servers]]
id = "short"
access_token_lifetime = 300
[[authorization_servers.scopes]]
name = "s"
[[authorization_servers.policies]]
name = "longer for the service app"
clients = ["0oa7ms2bedsvc000x7d1"]
grant_types = ["client_credentials"]
access_token_lifetime = 900
"#,
    )
    .await;
    let issuer = idp.issuer_of("short").unwrap();
    let response = post_basic(
        &format!("{issuer}/v1/token"),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", "s")],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 900);
}

#[tokio::test]
async fn tok_cc_08_default_scopes_are_granted_when_none_is_asked_for() {
    let idp = start_with(
        r#"
[[authorization_servers]]
id = "withdefaults"
[[authorization_servers.scopes]]
name = "beds.default"
default = true
[[authorization_servers.scopes]]
name = "beds.other"
"#,
    )
    .await;
    let issuer = idp.issuer_of("withdefaults").unwrap();
    let response = post_basic(
        &format!("{issuer}/v1/token"),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "beds.default");
}

#[tokio::test]
async fn tok_cc_08_no_scope_and_no_default_scope_is_invalid_scope() {
    let idp = start().await;
    let response = post_basic(
        &idp.token_endpoint(),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials")],
    )
    .await;
    let body = expect_oauth_error(response, 400, "invalid_scope").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("default scopes")
    );
}

#[tokio::test]
async fn tok_cc_03_openid_is_refused_with_client_credentials() {
    let idp = start().await;
    let body = expect_oauth_error(
        client_credentials(&idp, "openid beds.read").await,
        400,
        "invalid_scope",
    )
    .await;
    assert_eq!(
        body["error_description"],
        "Cannot request 'openid' scopes using client credentials."
    );
}

#[tokio::test]
async fn tok_cc_07_unknown_scope_is_invalid_scope() {
    let idp = start().await;
    let body = expect_oauth_error(
        client_credentials(&idp, "beds.read beds.delete").await,
        400,
        "invalid_scope",
    )
    .await;
    assert_eq!(
        body["error_description"],
        "One or more scopes are not configured for the authorization server resource."
    );
}

#[tokio::test]
async fn tok_cc_07_a_scope_outside_the_clients_policy_is_refused() {
    let idp = start_with(
        r#"
[[authorization_servers]]
id = "strict"
[[authorization_servers.scopes]]
name = "read"
[[authorization_servers.scopes]]
name = "admin"
[[authorization_servers.policies]]
name = "readers"
clients = ["0oa7ms2bedsvc000x7d1"]
grant_types = ["client_credentials"]
scopes = ["read"]
"#,
    )
    .await;
    let token_url = format!("{}/v1/token", idp.issuer_of("strict").unwrap());
    let ok = post_basic(
        &token_url,
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", "read")],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let refused = post_basic(
        &token_url,
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read admin"),
        ],
    )
    .await;
    expect_oauth_error(refused, 400, "invalid_scope").await;
}

#[tokio::test]
async fn tok_cc_06_a_client_without_the_grant_is_unauthorized_client() {
    let idp = start().await;
    let response = http()
        .post(idp.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "beds.read"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let body = expect_oauth_error(response, 400, "unauthorized_client").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("authorization_code")
    );
}

#[tokio::test]
async fn tok_cc_06_no_matching_policy_is_access_denied() {
    let idp = start_with(
        r#"
[[authorization_servers]]
id = "closed"
[[authorization_servers.scopes]]
name = "read"
[[authorization_servers.policies]]
name = "web only"
clients = ["0oa7ms2bedweb000x7d2"]
"#,
    )
    .await;
    let token_url = format!("{}/v1/token", idp.issuer_of("closed").unwrap());
    let response = post_basic(
        &token_url,
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", "read")],
    )
    .await;
    expect_oauth_error(response, 401, "access_denied").await;
}

#[tokio::test]
async fn tok_cc_the_org_server_refuses_client_credentials() {
    let idp = start().await;
    let response = post_basic(
        &format!("{}/oauth2/v1/token", idp.base_url()),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "client_credentials"), ("scope", "beds.read")],
    )
    .await;
    let body = expect_oauth_error(response, 400, "unsupported_grant_type").await;
    assert_eq!(
        body["error_description"],
        "'client_credentials' grant type can only be used with a custom authorization server."
    );
}

#[tokio::test]
async fn tok_gen_missing_and_unknown_grant_types_are_refused() {
    let idp = start().await;
    let missing = post_basic(
        &idp.token_endpoint(),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("scope", "beds.read")],
    )
    .await;
    let body = expect_oauth_error(missing, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("'grant_type'")
    );
    let unknown = post_basic(
        &idp.token_endpoint(),
        SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET,
        &[("grant_type", "urn:example:magic")],
    )
    .await;
    expect_oauth_error(unknown, 400, "unsupported_grant_type").await;
}

#[tokio::test]
async fn tok_cc_tokens_expire_by_the_servers_clock() {
    let idp = mock_idp::MockIdp::builder()
        .clock(mock_idp::Clock::frozen_at(1_800_000_000))
        .start()
        .await
        .unwrap();
    let token = access_token(&idp, "beds.read").await;
    assert_eq!(
        crate::support::introspect(&idp, &token).await["active"],
        true
    );
    idp.clock().advance(Duration::from_secs(3599));
    assert_eq!(
        crate::support::introspect(&idp, &token).await["active"],
        true
    );
    idp.clock().advance(Duration::from_secs(1));
    assert_eq!(
        crate::support::introspect(&idp, &token).await,
        serde_json::json!({"active": false})
    );
}
