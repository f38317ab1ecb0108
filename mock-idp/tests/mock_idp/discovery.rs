//! DISC: discovery documents of the org and custom servers.

use serde_json::Value;

use crate::support::{http, redact_base, start, start_with};

async fn get_json(url: &str) -> (u16, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn disc_01_custom_server_document_names_its_issuer_and_endpoints() {
    let idp = start().await;
    let (status, doc) = get_json(&idp.discovery_url()).await;
    assert_eq!(status, 200);
    let issuer = idp.issuer();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert!(!issuer.ends_with('/'));
    assert_eq!(issuer, format!("{}/oauth2/default", idp.base_url()));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/v1/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/v1/keys"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{issuer}/v1/introspect")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{issuer}/v1/revoke"));
    // Every advertised endpoint is really served (none answers 404).
    for field in [
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        let url = doc[field].as_str().unwrap();
        let status = http()
            .post(url)
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 404, "{field} {url}");
    }
    let status = http()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn disc_custom_server_documents_match_snapshots() {
    let idp = start().await;
    let (_, oidc) = get_json(&idp.discovery_url()).await;
    let (status, oauth) = get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        idp.issuer()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(oauth["issuer"], oidc["issuer"]);
    insta::assert_json_snapshot!(
        "custom_openid_configuration",
        redact_base(&oidc, idp.base_url())
    );
    insta::assert_json_snapshot!(
        "custom_oauth_authorization_server",
        redact_base(&oauth, idp.base_url())
    );
}

#[tokio::test]
async fn disc_org_server_lives_at_the_root_with_endpoints_under_oauth2_v1() {
    let idp = start().await;
    let (status, doc) = get_json(&format!(
        "{}/.well-known/openid-configuration",
        idp.base_url()
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], idp.base_url());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/oauth2/v1/keys", idp.base_url())
    );
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/oauth2/v1/token", idp.base_url())
    );
    // client_credentials is a custom-server grant only.
    let grants = doc["grant_types_supported"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!grants.iter().any(|g| g == "client_credentials"), "{doc}");
    insta::assert_json_snapshot!(
        "org_openid_configuration",
        redact_base(&doc, idp.base_url())
    );
}

#[tokio::test]
async fn disc_unknown_authorization_server_is_okta_e0000007() {
    let idp = start().await;
    let response = http()
        .get(format!(
            "{}/oauth2/nope/.well-known/openid-configuration",
            idp.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
    assert_eq!(body["errorLink"], "E0000007");
    assert!(
        body["errorSummary"]
            .as_str()
            .unwrap()
            .contains("nope (AuthorizationServer)")
    );
    assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
}

#[tokio::test]
async fn disc_client_id_query_is_accepted_and_an_unknown_one_refused() {
    let idp = start().await;
    let (status, doc) = get_json(&format!(
        "{}?client_id={}",
        idp.discovery_url(),
        crate::support::WEB_CLIENT_ID
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], idp.issuer().as_str());
    let (status, body) = get_json(&format!("{}?client_id=0oaUNKNOWN", idp.discovery_url())).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "invalid_client");
}

#[tokio::test]
async fn disc_several_custom_servers_each_have_their_own_issuer_and_keys() {
    let idp = start_with(
        r#"
[[authorization_servers]]
id = "aus7ms2wards000x7d1"
audience = "api://wards"
[[authorization_servers.scopes]]
name = "wards.read"
metadata_publish = "ALL_CLIENTS"
"#,
    )
    .await;
    let wards = idp.issuer_of("aus7ms2wards000x7d1").unwrap();
    let (status, doc) = get_json(&format!("{wards}/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], wards.as_str());
    // The OpenID Connect scopes, then the server's published custom scopes.
    let scopes = doc["scopes_supported"].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "openid"), "{doc}");
    assert_eq!(scopes.last().unwrap(), "wards.read", "{doc}");
    let default_keys: Value = http()
        .get(idp.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ward_keys: Value = http()
        .get(format!("{wards}/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(default_keys["keys"][0]["kid"], ward_keys["keys"][0]["kid"]);
}

#[tokio::test]
async fn disc_public_url_sets_the_issuer_for_clients_behind_a_proxy() {
    let idp = mock_idp::MockIdp::builder()
        .public_url("https://idp.example.test/")
        .start()
        .await
        .unwrap();
    assert_eq!(idp.issuer(), "https://idp.example.test/oauth2/default");
    let (_, doc) = get_json(&format!(
        "http://{}/oauth2/default/.well-known/openid-configuration",
        idp.addr()
    ))
    .await;
    assert_eq!(doc["issuer"], "https://idp.example.test/oauth2/default");
    assert_eq!(
        doc["jwks_uri"],
        "https://idp.example.test/oauth2/default/v1/keys"
    );
}
